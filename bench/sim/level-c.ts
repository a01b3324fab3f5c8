/**
 * Simulator level c: multi-process on real WebSockets. `procs` child processes
 * (level-c-child.ts) each run their share of N real PeerRelay nodes (real
 * crypto), every node with a WebSocket port on 127.0.0.1 and bootstrapping to
 * 1-3 random earlier nodes of any process. The parent builds the mesh in
 * batches, collects every routing table for the holes against ground truth,
 * and sends random pairs; hops are first-copy DATA transmissions counted on the wire in
 * every process and added up here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fromHex } from '../../src/util/bytes.js';
import { deliveryResult, holes, randomPairs, seededRandom, spread, type DeliveryResult, type Spread } from './measure.js';

export interface LevelCOptions {
  nodes: number;
  /** Child processes the nodes are spread over. */
  procs: number;
  churn: number;
  pairs: number;
  /** Pairs started per second in a round. */
  pairRate: number;
  maxSettleMs: number;
  churnSettleMs: number;
  seed: number;
  log?: (line: string) => void;
}

export interface PhaseC {
  name: string;
  nodes: number;
  settleMs: number;
  holes: { holes: number; pairs: number };
  links: Spread;
  /** Fraction of all links that join nodes of two different processes. */
  crossProcessLinks: number;
  delivery: DeliveryResult;
}

export interface LevelCReport {
  level: 'c';
  procs: number;
  buildMs: number;
  rssPerNodeKiB: number;
  idleCpuPerNodeUs: number;
  phases: PhaseC[];
}

/** What the parent asks a child (each answered by a message with the same `rid`). */
export type ChildRequest = { rid: number } & Request;
type Request =
  | { t: 'init'; seed: number }
  | { t: 'build'; count: number; pool: string[] }
  | { t: 'view' }
  | { t: 'count' }
  | { t: 'send'; sends: { from: number; to: string; tag: string }[] }
  | { t: 'wire' }
  | { t: 'idle'; ms: number }
  | { t: 'kill'; locals: number[] }
  | { t: 'exit' };

/** What a child reports unasked: a probe arrived at one of its nodes, or its sender was told it is undeliverable. */
export type ChildEvent = { t: 'got'; tag: string } | { t: 'report'; tag: string; code: string };

interface Reply { rid: number; error?: string; [k: string]: unknown }

class Child {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>();
  #rid = 0;
  onEvent: (e: ChildEvent) => void = () => {};

  constructor(readonly index: number) {
    this.#proc = fork(new URL('./level-c-child.js', import.meta.url), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#proc.on('message', (m: Reply | ChildEvent) => {
      if ('t' in m) return this.onEvent(m as ChildEvent);
      const w = this.#waiting.get((m as Reply).rid);
      if (!w) return;
      this.#waiting.delete((m as Reply).rid);
      if ((m as Reply).error) w.reject(new Error(`child ${this.index}: ${(m as Reply).error}`));
      else w.resolve(m);
    });
    this.#proc.on('exit', (code) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`child ${this.index} exited with ${code}`));
      this.#waiting.clear();
    });
  }

  call<R = Reply>(req: Request): Promise<R & Reply> {
    const rid = ++this.#rid;
    return new Promise((resolve, reject) => {
      this.#waiting.set(rid, { resolve, reject });
      this.#proc.send({ ...req, rid });
    });
  }

  kill(): void { if (this.#proc.exitCode === null) this.#proc.kill(); }
}

interface GlobalNode { child: number; local: number; id: string; url: string; alive: boolean }
interface ViewNode { local: number; id: string; peers: string[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLevelC(o: LevelCOptions): Promise<LevelCReport> {
  const log = o.log ?? (() => {});
  const rand = seededRandom(o.seed);
  const children = Array.from({ length: o.procs }, (_, i) => new Child(i));
  const all: GlobalNode[] = [];
  const events = new Map<string, (e: ChildEvent) => void>();
  for (const c of children) c.onEvent = (e) => events.get(e.tag)?.(e);
  try {
    await Promise.all(children.map((c, i) => c.call({ t: 'init', seed: o.seed * 1000 + i })));
    const alive = () => all.filter((n) => n.alive);
    /** Adds `count` nodes spread over the children in batches, each bootstrapping to nodes made before its batch. */
    const grow = async (count: number) => {
      let left = count;
      if (alive().length === 0) { await buildOn(0, 1, []); left--; }
      const batch = 10;
      while (left > 0) {
        const pool = alive().map((n) => n.url);
        const jobs: Promise<void>[] = [];
        for (const c of children) {
          const k = Math.min(batch, left);
          if (k <= 0) break;
          left -= k;
          jobs.push(buildOn(c.index, k, pool));
        }
        await Promise.all(jobs);
      }
    };
    const buildOn = async (child: number, count: number, pool: string[]) => {
      const r = await children[child].call<{ nodes: { local: number; id: string; url: string }[] }>({ t: 'build', count, pool });
      for (const n of r.nodes) all.push({ child, ...n, alive: true });
    };
    const view = async () => {
      const rs = await Promise.all(children.map((c) => c.call<{ nodes: ViewNode[]; rssPerNodeKiB: number }>({ t: 'view' })));
      const owner = new Map(all.map((n) => [n.id, n.child]));
      const nodes: { id: Uint8Array; peers: Uint8Array[] }[] = [];
      let links = 0, cross = 0, rssKiB = 0;
      const counts: number[] = [];
      rs.forEach((r, ci) => {
        rssKiB += r.rssPerNodeKiB * r.nodes.length;
        for (const v of r.nodes) {
          nodes.push({ id: fromHex(v.id), peers: v.peers.map(fromHex) });
          counts.push(v.peers.length);
          links += v.peers.length;
          cross += v.peers.filter((p) => owner.get(p) !== ci).length;
        }
      });
      return { nodes, links: spread(counts), crossProcessLinks: links ? cross / links : 0, rssPerNodeKiB: rssKiB / Math.max(1, nodes.length) };
    };

    const t0 = performance.now();
    await grow(o.nodes);
    const buildEnd = performance.now() + 120_000;
    while (performance.now() < buildEnd && (await view()).links.min === 0) await sleep(500);
    const buildMs = performance.now() - t0;
    log(`built ${o.nodes} nodes in ${o.procs} processes in ${(buildMs / 1000).toFixed(1)} s`);

    const phases: PhaseC[] = [];
    const phase = async (name: string, capMs: number): Promise<PhaseC> => {
      const start = performance.now();
      let v = await view();
      let h = holes(v.nodes, 400_000, rand);
      while (h.holes > 0 && performance.now() - start < capMs) {
        await sleep(2000);
        v = await view();
        h = holes(v.nodes, 400_000, rand);
        log(`${name}: t=${((performance.now() - start) / 1000).toFixed(0)} s holes ${h.holes}/${h.pairs}`);
      }
      const settleMs = performance.now() - start;
      const delivery = await deliver();
      log(`${name}: delivered ${delivery.delivered}/${delivery.sent}, hops p50 ${delivery.hops.p50} p99 ${delivery.hops.p99}`);
      return { name, nodes: v.nodes.length, settleMs, holes: h, links: v.links, crossProcessLinks: v.crossProcessLinks, delivery };
    };

    let round = 0;
    const deliver = async (): Promise<DeliveryResult> => {
      const live = alive();
      const pairs = randomPairs(live.length, o.pairs, rand);
      round++;
      const state = new Map<string, { key: string; got: boolean; code: string | null }>();
      let settled = 0;
      await Promise.all(children.map((c) => c.call({ t: 'count' })));
      for (const [k, [i, j]] of pairs.entries()) {
        const tag = `${round}:${k}`;
        state.set(tag, { key: live[i].id + live[j].id, got: false, code: null });
        events.set(tag, (e) => {
          const s = state.get(tag)!;
          if (s.got || s.code) return;
          if (e.t === 'got') s.got = true; else s.code = e.code;
          settled++;
        });
      }
      // Paced: a slice of the round every 100 ms, each slice one request per sending process.
      const perSlice = Math.max(1, Math.round(o.pairRate / 10));
      for (let k = 0; k < pairs.length; k += perSlice) {
        const bySender = new Map<number, { from: number; to: string; tag: string }[]>();
        for (let x = k; x < Math.min(pairs.length, k + perSlice); x++) {
          const [i, j] = pairs[x];
          const list = bySender.get(live[i].child) ?? [];
          list.push({ from: live[i].local, to: live[j].id, tag: `${round}:${x}` });
          bySender.set(live[i].child, list);
        }
        await Promise.all([...bySender].map(([ci, sends]) => children[ci].call({ t: 'send', sends })));
        await sleep(100);
      }
      const end = performance.now() + 30_000;
      while (settled < pairs.length && performance.now() < end) await sleep(100);
      const wire = new Map<string, number>();
      for (const r of await Promise.all(children.map((c) => c.call<{ wire: [string, number][] }>({ t: 'wire' })))) {
        for (const [key, n] of r.wire) wire.set(key, (wire.get(key) ?? 0) + n);
      }
      const hopCounts: number[] = [];
      const reported: Record<string, number> = {};
      for (const [tag, s] of state) {
        events.delete(tag);
        if (s.got) hopCounts.push(wire.get(s.key) ?? 0);
        else if (s.code) reported[s.code] = (reported[s.code] ?? 0) + 1;
      }
      return deliveryResult(pairs.length, hopCounts, reported);
    };

    phases.push(await phase('built', o.maxSettleMs));
    const rssPerNodeKiB = (await view()).rssPerNodeKiB;
    const idle = await Promise.all(children.map((c) => c.call<{ cpuUs: number; nodes: number }>({ t: 'idle', ms: 5000 })));
    const idleCpuPerNodeUs = idle.reduce((a, r) => a + r.cpuUs, 0) / 5 / Math.max(1, idle.reduce((a, r) => a + r.nodes, 0));

    if (o.churn > 0) {
      const live = alive();
      const kill = Math.round(live.length * o.churn);
      const dead = live.map((n) => ({ n, r: rand() })).sort((a, b) => a.r - b.r).slice(0, kill).map((x) => x.n);
      for (const n of dead) n.alive = false;
      await Promise.all(children.map((c) => c.call({ t: 'kill', locals: dead.filter((n) => n.child === c.index).map((n) => n.local) })));
      log(`churn: destroyed ${kill} nodes`);
      phases.push(await phase(`after ${Math.round(o.churn * 100)} % left`, o.churnSettleMs));
      await grow(kill);
      log(`churn: ${kill} new nodes joined`);
      phases.push(await phase(`after ${kill} joined`, o.churnSettleMs));
    }
    await Promise.all(children.map((c) => c.call({ t: 'exit' })));
    return { level: 'c', procs: o.procs, buildMs, rssPerNodeKiB, idleCpuPerNodeUs, phases };
  } finally {
    for (const c of children) c.kill();
  }
}
