/**
 * Simulator level a: real code, real crypto. N PeerRelay nodes in this
 * process on the in-memory transport, each bootstrapping to 1-3 random
 * earlier nodes; hops are DATA transmissions counted on the wire through the
 * network's interceptor.
 */
import { PeerRelay, MemoryNetwork } from '../../src/index.js';
import type { PeerRelayOptions } from '../../src/peer-relay.js';
import { toHex } from '../../src/util/bytes.js';
import { CloseReason, FrameType } from '../../src/wire/frames.js';
import { MsgType, OFF_FROM, OFF_TO, OFF_TTL } from '../../src/wire/envelope.js';
import { DEFAULT_LIMITS } from '../../src/util/limits.js';
import { linkHandshakes } from '../../src/link/link.js';
import { cpuQueue } from '../../src/util/cpu-queue.js';
import { deliveryResult, holes, randomPairs, seededRandom, spread, type DeliveryResult, type Spread } from './measure.js';

export interface LevelAOptions {
  nodes: number;
  /** Fraction of nodes destroyed (then as many new ones joining). */
  churn: number;
  /** Random pairs per delivery round. */
  pairs: number;
  /** Pairs started per second in a round (each new pair sets up a session: three ML-KEM operations a side). */
  pairRate: number;
  /** Stop waiting for convergence after this long (ms). */
  maxSettleMs: number;
  /** Settling time after churn before measuring again (ms). */
  churnSettleMs: number;
  seed: number;
  /** Node options for every node (limits). */
  node?: Partial<PeerRelayOptions>;
  log?: (line: string) => void;
}

export interface Phase {
  name: string;
  nodes: number;
  /** Time from the phase's start until routing-table holes reached 0 (or the cap). */
  settleMs: number;
  holes: { holes: number; pairs: number };
  links: Spread;
  delivery: DeliveryResult;
}

export interface LevelAReport {
  level: 'a';
  buildMs: number;
  rssPerNodeKiB: number;
  idleCpuPerNodeUs: number;
  phases: Phase[];
}

/** What the interceptor counts in a round, by origin and destination (hex ids). */
interface Wire { data: Map<string, number>; path: Map<string, number> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLevelA(o: LevelAOptions): Promise<LevelAReport> {
  const log = o.log ?? (() => {});
  const rand = seededRandom(o.seed);
  const net = new MemoryNetwork();
  // Hops on the wire: DATA transmissions by (origin, destination) during a round, retransmitted copies
  // included; and the path of the first copy that reached the destination's own link (from its TTL).
  let counting: Wire | null = null;
  const ttl = o.node?.ttl ?? DEFAULT_LIMITS.ttl;
  const frames = new Map<string, number>();
  const FRAME_NAMES = new Map(Object.entries(FrameType).map(([k, v]) => [v as number, k]));
  const MSG_NAMES = new Map(Object.entries(MsgType).map(([k, v]) => [v as number, k]));
  const CLOSE_NAMES = new Map(Object.entries(CloseReason).map(([k, v]) => [v as number, k]));
  net.intercept = (f, _from, to) => {
    const name = f[0] === FrameType.CLOSE ? `CLOSE:${CLOSE_NAMES.get(f[1]) ?? f[1]}${f[1] === CloseReason.PROTOCOL_ERROR ? `(${new TextDecoder().decode(f.subarray(2, 24))})` : ''}`
      : f[0] === FrameType.ROUTE ? `ROUTE:${MSG_NAMES.get(f[1]) ?? f[1]}` : FRAME_NAMES.get(f[0]) ?? String(f[0]);
    frames.set(name, (frames.get(name) ?? 0) + 1);
    if (counting && f[0] === FrameType.ROUTE && f[1] === MsgType.DATA) {
      const dest = toHex(f.subarray(OFF_TO, OFF_TO + 20));
      const key = toHex(f.subarray(OFF_FROM, OFF_FROM + 20)) + dest;
      counting.data.set(key, (counting.data.get(key) ?? 0) + 1);
      if (to === `mem://${dest}` && !counting.path.has(key)) counting.path.set(key, ttl + 1 - f[OFF_TTL]);
    }
    return f;
  };
  const nodes: PeerRelay[] = [];
  // Event-loop lag, for the log lines: how late this process runs its timers.
  let lagMax = 0, lagSum = 0, lagN = 0, lagDue = performance.now() + 100;
  const lagTimer = setInterval(() => {
    const late = Math.max(0, performance.now() - lagDue);
    lagMax = Math.max(lagMax, late); lagSum += late; lagN++;
    lagDue = performance.now() + 100;
  }, 100);
  const lagLine = (): string => {
    const s = `lag mean ${(lagSum / Math.max(1, lagN)).toFixed(0)} ms max ${lagMax.toFixed(0)} ms`;
    lagMax = lagSum = lagN = 0;
    const fr = [...frames].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(' ');
    frames.clear();
    return `${s} · link handshakes ${linkHandshakes.inProgress}, CPU queue ${cpuQueue.urgent}/${cpuQueue.waiting} · frames ${fr}`;
  };
  const make = (pool: PeerRelay[]) => {
    const fanout = 1 + Math.floor(rand() * 3);
    const bootstrap = new Set<string>();
    for (let k = 0; k < fanout && pool.length > 0; k++) bootstrap.add(`mem://${pool[Math.floor(rand() * pool.length)].identity.idHex}`);
    const node = new PeerRelay({ ...o.node, memory: net, bootstrap: [...bootstrap] });
    node.on('error', (err) => log(`node error: ${err.message}`));
    return node;
  };

  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  for (let i = 0; i < o.nodes; i++) {
    nodes.push(make(nodes));
    if (i % 100 === 99) await sleep(0); // let links form while building, as a real mesh grows
  }
  await waitFor(() => nodes.every((n) => n.peers.length > 0), 120_000);
  const buildMs = performance.now() - t0;
  log(`built ${o.nodes} nodes in ${(buildMs / 1000).toFixed(1)} s · ${lagLine()}`);

  const phases: Phase[] = [];
  const phase = async (name: string, live: PeerRelay[], capMs: number): Promise<Phase> => {
    const start = performance.now();
    let h = holes(live, 400_000, rand);
    while (h.holes > 0 && performance.now() - start < capMs) {
      await sleep(2000);
      h = holes(live, 400_000, rand);
      log(`${name}: t=${((performance.now() - start) / 1000).toFixed(0)} s holes ${h.holes}/${h.pairs} · ${lagLine()} · ${dropLine(live)}`);
    }
    const settleMs = performance.now() - start;
    const delivery = await deliver(live, o.pairs, o.pairRate, rand, (m) => { counting = m; });
    const p: Phase = { name, nodes: live.length, settleMs, holes: h, links: spread(live.map((n) => n.peers.length)), delivery };
    log(`${name}: delivered ${delivery.delivered}/${delivery.sent}, path p50 ${delivery.path?.p50} p99 ${delivery.path?.p99}, DATA transmissions p50 ${delivery.hops.p50} p99 ${delivery.hops.p99} · ${lagLine()} · ${dropLine(live)}`);
    return p;
  };

  phases.push(await phase('built', nodes, o.maxSettleMs));
  global.gc?.();
  const rssPerNodeKiB = (process.memoryUsage().rss - rss0) / 1024 / nodes.length;
  const cpu0 = process.cpuUsage();
  await sleep(5000);
  const cpu = process.cpuUsage(cpu0);
  const idleCpuPerNodeUs = (cpu.user + cpu.system) / 5 / nodes.length; // µs of CPU per node per second

  if (o.churn > 0) {
    const kill = Math.round(nodes.length * o.churn);
    const order = nodes.map((n, i) => ({ n, r: rand() + i * 0 })).sort((a, b) => a.r - b.r).map((x) => x.n);
    const dead = new Set(order.slice(0, kill));
    for (const n of dead) n.destroy();
    const alive = nodes.filter((n) => !dead.has(n));
    log(`churn: destroyed ${kill} nodes`);
    phases.push(await phase(`after ${Math.round(o.churn * 100)} % left`, alive, o.churnSettleMs));
    for (let i = 0; i < kill; i++) alive.push(make(alive.slice(0, alive.length - i)));
    log(`churn: ${kill} new nodes joined`);
    phases.push(await phase(`after ${kill} joined`, alive, o.churnSettleMs));
    nodes.length = 0;
    nodes.push(...alive);
  }
  clearInterval(lagTimer);
  await Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r()))));
  return { level: 'a', buildMs, rssPerNodeKiB, idleCpuPerNodeUs, phases };
}

/** One round: `count` random pairs each send one message; waits until each is delivered or reported. */
async function deliver(live: PeerRelay[], count: number, rate: number, rand: () => number, setCounting: (m: Wire | null) => void): Promise<DeliveryResult> {
  const pairs = randomPairs(live.length, count, rand);
  const wire: Wire = { data: new Map(), path: new Map() };
  setCounting(wire);
  const hopCounts: number[] = [];
  const keys: string[] = [];
  const reported: Record<string, number> = {};
  const round = Math.random().toString(36).slice(2);
  let settled = 0;
  const cleanups: (() => void)[] = [];
  // Per receiver: which probe tags it waits for; per sender: which destinations.
  const waitingAt = new Map<PeerRelay, Map<string, string>>();
  const sentTo = new Map<PeerRelay, Map<string, number>>();
  for (const [i, j] of pairs) {
    const a = live[i], b = live[j];
    const tag = `${round}:${i}:${j}`;
    const key = a.identity.idHex + b.identity.idHex;
    if (!waitingAt.has(b)) {
      const m = new Map<string, string>();
      waitingAt.set(b, m);
      const onMessage = (data: unknown) => {
        const t = (data as { probe?: string } | null)?.probe;
        const k = t !== undefined ? m.get(t) : undefined;
        if (k === undefined) return;
        m.delete(t!);
        keys.push(k);
        settled++;
      };
      b.on('message', onMessage);
      cleanups.push(() => b.off('message', onMessage));
    }
    waitingAt.get(b)!.set(tag, key);
    if (!sentTo.has(a)) {
      const m = new Map<string, number>();
      sentTo.set(a, m);
      const onUndeliverable = (err: { code: string }, to: Uint8Array) => {
        const hex = toHex(to);
        const n = m.get(hex);
        if (!n) return;
        if (n === 1) m.delete(hex); else m.set(hex, n - 1);
        reported[err.code] = (reported[err.code] ?? 0) + 1;
        settled++;
      };
      a.on('undeliverable', onUndeliverable);
      cleanups.push(() => a.off('undeliverable', onUndeliverable));
    }
    const m = sentTo.get(a)!;
    m.set(b.identity.idHex, (m.get(b.identity.idHex) ?? 0) + 1);
  }
  const gap = 1000 / rate;
  const t0 = performance.now();
  for (let k = 0; k < pairs.length; k++) {
    const [i, j] = pairs[k];
    try {
      live[i].send(live[j].id, { probe: `${round}:${i}:${j}` });
    } catch (err) {
      reported[(err as { code: string }).code ?? 'THROWN'] = (reported[(err as { code: string }).code ?? 'THROWN'] ?? 0) + 1;
      settled++;
    }
    const due = t0 + (k + 1) * gap;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
  }
  await waitFor(() => settled >= pairs.length, 30_000);
  // Transmissions are read at the end: retransmitted copies may still be on their way when the first arrives.
  await sleep(100);
  setCounting(null);
  for (const c of cleanups) c();
  for (const k of keys) hopCounts.push(wire.data.get(k) ?? 0);
  return deliveryResult(pairs.length, hopCounts, reported, keys.map((k) => wire.path.get(k) ?? 0));
}

/** Drops and detours summed over the nodes since the last call (the log's view of what goes wrong). */
let lastDrops = new Map<string, number>();
function dropLine(live: readonly PeerRelay[]): string {
  const now = new Map<string, number>();
  for (const n of live) {
    const s = n.stats();
    for (const [k, v] of Object.entries(s.dropped)) now.set(k, (now.get(k) ?? 0) + (v ?? 0));
    now.set('detour:loop', (now.get('detour:loop') ?? 0) + s.detours.loop);
    now.set('detour:backtrack', (now.get('detour:backtrack') ?? 0) + s.detours.backtrack);
  }
  const parts: string[] = [];
  for (const [k, v] of now) { const d = v - (lastDrops.get(k) ?? 0); if (d > 0) parts.push(`${k} ${d}`); }
  lastDrops = now;
  return parts.join(', ') || 'no drops';
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (cond()) return true;
    await sleep(100);
  }
  return cond();
}
