/**
 * Simulator level a: real code, real crypto. N PeerRelay nodes on the
 * in-memory transport, each bootstrapping to 1-3 random earlier nodes; hops
 * are DATA transmissions counted on the wire through the network's
 * interceptor.
 *
 * With `workers` 1 (the default) every node lives in this thread, on one
 * MemoryNetwork and one event loop. With W > 1 the nodes are spread round
 * robin over W worker threads (level-a-worker.ts), each with its own event
 * loop and CPU queue; a link between nodes of two workers is a real link
 * over a ThreadNetwork port. This thread then only drives the run and adds
 * up what the workers report: routing tables for the holes, links, wire
 * counts, deliveries; RSS and CPU are the whole process's.
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import type { PeerRelayOptions } from '../../src/peer-relay.js';
import { toHex } from '../../src/util/bytes.js';
import { Shard, type ShardEvent, type ShardStats, type WireCounts } from './level-a-shard.js';
import { commonPrefix, deliveryResult, holes, randomPairs, seededRandom, spread, walks, deepHoles, type DeliveryResult, type NodeView, type Spread } from './measure.js';

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
  /** Worker threads to spread the nodes over (1: all in this thread). */
  workers?: number;
  /** Node options for every node (limits); plain data (it is copied to the workers). */
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
  /** Fraction of the links that join nodes of two threads (0 with one thread). */
  crossThreadLinks: number;
  delivery: DeliveryResult;
}

export interface LevelAReport {
  level: 'a';
  workers: number;
  buildMs: number;
  rssPerNodeKiB: number;
  idleCpuPerNodeUs: number;
  phases: Phase[];
}

/** A node as the orchestrator knows it: its id and where it lives. */
interface NodeRef { id: string; shard: number; local: number }

/** The calls every shard answers, here or in a worker. */
interface ShardHandle {
  prepare(count: number): Promise<string[]>;
  create(list: [string, string[]][]): Promise<number[]>;
  views(): Promise<Uint8Array>;
  stats(): Promise<ShardStats>;
  zeroPeers(): Promise<number>;
  knownIn(list: [number, string][]): Promise<number[]>;
  knows(list: [number, string][]): Promise<boolean[]>;
  gc(): Promise<void>;
  destroy(indices: number[]): Promise<void>;
  expect(receive: [number, string, string][], send: [number, string][]): Promise<void>;
  send(list: [number, string, string][]): Promise<void>;
  finish(): Promise<WireCounts>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shard in this thread: calls run at once, as the single-thread simulator always ran them. */
function localShard(node: Partial<PeerRelayOptions> | undefined, onEvent: (e: ShardEvent) => void): ShardHandle {
  const s = new Shard(node, false, onEvent);
  const wrap = <A extends unknown[], R>(f: (...a: A) => R | Promise<R>) => (...a: A): Promise<R> => {
    try { return Promise.resolve(f.apply(s, a)); } catch (err) { return Promise.reject(err); }
  };
  return {
    prepare: wrap(s.prepare), create: wrap(s.create), views: wrap(s.views), stats: wrap(s.stats), zeroPeers: wrap(s.zeroPeers), knownIn: wrap(s.knownIn), knows: wrap(s.knows),
    gc: wrap(s.gc), destroy: wrap(s.destroy), expect: wrap(s.expect), send: wrap(s.send), finish: wrap(s.finish), close: wrap(s.close),
  };
}

/** W workers, each a shard, their networks joined pairwise by one MessageChannel. */
function workerShards(w: number, node: Partial<PeerRelayOptions> | undefined, onEvent: (e: ShardEvent) => void, log: (l: string) => void): { handles: ShardHandle[]; workers: Worker[] } {
  const ports: MessagePort[][] = Array.from({ length: w }, () => []);
  for (let i = 0; i < w; i++) {
    for (let j = i + 1; j < w; j++) {
      const { port1, port2 } = new MessageChannel();
      ports[i].push(port1);
      ports[j].push(port2);
    }
  }
  const workers: Worker[] = [];
  const handles: ShardHandle[] = [];
  for (let i = 0; i < w; i++) {
    const worker = new Worker(new URL('./level-a-worker.js', import.meta.url), {
      workerData: { node, ports: ports[i] }, transferList: ports[i],
      // A young generation of 192 MiB (semi-spaces of 64 MiB, as level b runs with --max-semi-space-size=64):
      // with the default 16 MiB semi-spaces, scavenges took 14 % of a settling 10,000-node worker's CPU.
      resourceLimits: { maxOldGenerationSizeMb: 12_000, maxYoungGenerationSizeMb: 192 },
    });
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    let next = 0;
    let ended: Error | null = null;
    worker.on('message', (m: { events?: ShardEvent[]; id?: number; result?: unknown; error?: string }) => {
      if (m.events) { for (const e of m.events) onEvent(e); return; }
      const p = pending.get(m.id!);
      if (!p) return;
      pending.delete(m.id!);
      if (m.error !== undefined) p.reject(new Error(`worker ${i}: ${m.error}`)); else p.resolve(m.result);
    });
    const fail = (err: Error) => {
      ended ??= err;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    worker.on('error', (err) => { log(`worker ${i} failed: ${err.stack ?? err.message}`); fail(err); });
    worker.on('exit', (code) => fail(new Error(`worker ${i} exited (${code})`)));
    const call = (method: string) => (...args: unknown[]): Promise<never> => {
      if (ended) return Promise.reject(ended);
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        worker.postMessage({ id, method, args });
      });
    };
    handles.push({
      prepare: call('prepare'), create: call('create'), views: call('views'), stats: call('stats'), zeroPeers: call('zeroPeers'), knownIn: call('knownIn'), knows: call('knows'),
      gc: call('gc'), destroy: call('destroy'), expect: call('expect'), send: call('send'), finish: call('finish'), close: call('close'),
    });
    workers.push(worker);
  }
  return { handles, workers };
}

export async function runLevelA(o: LevelAOptions): Promise<LevelAReport> {
  const log = o.log ?? (() => {});
  const rand = seededRandom(o.seed);
  const w = Math.max(1, Math.floor(o.workers ?? 1));
  // What the shards report during a round.
  let round: { keys: string[]; reported: Record<string, number>; settled: number } | null = null;
  const onEvent = (e: ShardEvent) => {
    if (e.kind === 'log') { log(e.line); return; }
    if (!round) return;
    if (e.kind === 'delivered') round.keys.push(e.key);
    else round.reported[e.code] = (round.reported[e.code] ?? 0) + 1;
    round.settled++;
  };
  const { handles: shards, workers } = w === 1 ? { handles: [localShard(o.node, onEvent)], workers: [] as Worker[] } : workerShards(w, o.node, onEvent, log);
  const all = <T>(f: (s: ShardHandle, i: number) => Promise<T>): Promise<T[]> => Promise.all(shards.map(f));

  // The log's view: lag, handshakes, frames on the wire, drops and detours, summed over the shards.
  let lastDrops = new Map<string, number>();
  let lastCpu = process.cpuUsage(), lastWall = performance.now();
  const statLine = async (): Promise<string> => {
    const st = await all((s) => s.stats());
    // The process's CPU (all threads) in cores over the window, beside each loop's utilization: loops busy
    // all the time with fewer cores than threads means the machine, not the mesh, set the pace.
    const cpu = process.cpuUsage(lastCpu), wall = performance.now() - lastWall;
    lastCpu = process.cpuUsage(); lastWall = performance.now();
    const cores = (cpu.user + cpu.system) / 1000 / Math.max(1, wall);
    const lagSum = st.reduce((a, s) => a + s.lagSum, 0), lagN = st.reduce((a, s) => a + s.lagN, 0);
    const lagMax = Math.max(...st.map((s) => s.lagMax));
    const frames = new Map<string, number>();
    const drops = new Map<string, number>();
    for (const s of st) {
      for (const [k, v] of s.frames) frames.set(k, (frames.get(k) ?? 0) + v);
      for (const [k, v] of s.drops) drops.set(k, (drops.get(k) ?? 0) + v);
    }
    const fr = [...frames].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(' ');
    const parts: string[] = [];
    for (const [k, v] of drops) { const d = v - (lastDrops.get(k) ?? 0); if (d > 0) parts.push(`${k} ${d}`); }
    lastDrops = drops;
    const c = { started: 0, refused: 0, opened: 0, timedOut: 0, failed: 0, encaps: 0, decaps: 0, kemLost: 0, relinks: 0 };
    const early = new Map<string, number>();
    for (const s of st) {
      for (const k of Object.keys(c) as (keyof typeof c)[]) c[k] += k === 'relinks' ? s.relinks : s.counts[k];
      for (const [k, v] of Object.entries(s.counts.closedEarly)) early.set(k, (early.get(k) ?? 0) + v);
    }
    const ended = [...early].map(([k, v]) => `${k} ${v}`).join(' ') || 'none';
    const hsLine = `handshake ends: started ${c.started} opened ${c.opened} refused ${c.refused} timed out ${c.timedOut} failed ${c.failed}, KEM ops ${c.encaps + c.decaps} (${c.kemLost} in handshakes that never opened), closed < 30 s after open: ${ended}, re-link HELLOs ${c.relinks}`;
    const hs = st.map((s) => s.handshakes).join('+'), cq = st.map((s) => `${s.cpuUrgent}/${s.cpuWaiting}`).join(' ');
    return `lag mean ${(lagSum / Math.max(1, lagN)).toFixed(0)} ms max ${lagMax.toFixed(0)} ms · CPU ${cores.toFixed(2)} cores, loops busy ${st.map((s) => `${(s.elu * 100).toFixed(0)} %`).join('+')} · link handshakes ${hs}, CPU queue ${cq} · ${hsLine} · frames ${fr} · ${parts.join(', ') || 'no drops'}`;
  };

  let g = 0; // nodes made so far; node g lives in shard g % w
  /**
   * Makes `count` nodes, each bootstrapping to 1-3 random nodes of `pool` (and, with `growing`, of the ones
   * made before it in this call). Across threads a node is created once the nodes it bootstraps to in
   * other threads exist (in waves; with one thread there is one wave, as the simulator always ran).
   */
  const make = async (count: number, pool: NodeRef[], growing: boolean): Promise<NodeRef[]> => {
    const counts = shards.map((_, i) => { let c = 0; for (let k = 0; k < count; k++) if ((g + k) % w === i) c++; return c; });
    const ids = await all((s, i) => (counts[i] > 0 ? s.prepare(counts[i]) : Promise.resolve([])));
    const made: NodeRef[] = [];
    const plan: { wave: number; boot: string[] }[] = [];
    const next = shards.map(() => 0);
    for (let k = 0; k < count; k++) {
      const shard = (g + k) % w;
      const size = pool.length + (growing ? made.length : 0);
      const fanout = 1 + Math.floor(rand() * 3);
      const bootstrap = new Map<string, number>(); // url -> its wave if made in this call, else -1
      for (let b = 0; b < fanout && size > 0; b++) {
        const x = Math.floor(rand() * size);
        const to = x < pool.length ? pool[x] : made[x - pool.length];
        bootstrap.set(`mem://${to.id}`, x < pool.length ? -1 : plan[x - pool.length].wave + (made[x - pool.length].shard === shard ? 0 : 1));
      }
      plan.push({ wave: Math.max(0, ...bootstrap.values()), boot: [...bootstrap.keys()] });
      made.push({ id: ids[shard][next[shard]++], shard, local: -1 });
    }
    const waves = Math.max(0, ...plan.map((p) => p.wave)) + 1;
    for (let wave = 0; wave < waves; wave++) {
      const lists: [string, string[]][][] = shards.map(() => []);
      const refs: NodeRef[][] = shards.map(() => []);
      for (let k = 0; k < count; k++) {
        if (plan[k].wave !== wave) continue;
        lists[made[k].shard].push([made[k].id, plan[k].boot]);
        refs[made[k].shard].push(made[k]);
      }
      const locals = await all((s, i) => (lists[i].length > 0 ? s.create(lists[i]) : Promise.resolve([])));
      for (let i = 0; i < w; i++) refs[i].forEach((r, k) => { r.local = locals[i][k]; });
    }
    g += count;
    return made;
  };

  await all((s) => s.gc());
  (globalThis as { gc?: () => void }).gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const nodes: NodeRef[] = [];
  for (let i = 0; i < o.nodes; i += 100) {
    // 100 at a time, then a turn: let links form while building, as a real mesh grows.
    const made = await make(Math.min(100, o.nodes - i), nodes, true);
    nodes.push(...made);
    await sleep(0);
  }
  await waitFor(async () => (await all((s) => s.zeroPeers())).every((z) => z === 0), 120_000);
  const buildMs = performance.now() - t0;
  log(`built ${o.nodes} nodes in ${(buildMs / 1000).toFixed(1)} s (${w} thread${w > 1 ? 's' : ''}) · ${await statLine()}`);

  /** Every live node's id and links, in `live` order. */
  const views = async (live: readonly NodeRef[]): Promise<NodeView[]> => {
    const packed = await all((s) => s.views());
    const byShard = packed.map((b) => {
      const m = new Map<number, NodeView>();
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      let at = 0;
      while (at < b.length) {
        const local = v.getUint32(at);
        const id = b.subarray(at + 4, at + 24);
        const count = v.getUint16(at + 24);
        const peers: Uint8Array[] = [];
        for (let k = 0; k < count; k++) peers.push(b.subarray(at + 26 + 20 * k, at + 46 + 20 * k));
        m.set(local, { id, peers });
        at += 26 + 20 * count;
      }
      return m;
    });
    return live.map((n) => byShard[n.shard].get(n.local)!);
  };

  /**
   * Of up to 2,000 sampled holes (x, t): whether x knows any node in t's bucket (a link or a
   * contact), and how many nodes that bucket holds in truth.
   */
  const holeCauses = async (v: NodeView[], live: NodeRef[]): Promise<string> => {
    const asks: [number, string][][] = shards.map(() => []);
    const pop: number[][] = shards.map(() => []);
    const buckets = v.map((x) => new Set(x.peers.map((p) => commonPrefix(x.id, p))));
    for (let k = 0, tries = 0; k < 2000 && tries < 2_000_000; tries++) {
      const i = Math.floor(rand() * v.length), j = Math.floor(rand() * v.length);
      if (i === j) continue;
      const b = commonPrefix(v[i].id, v[j].id);
      if (buckets[i].has(b)) continue;
      let inBucket = 0;
      for (const y of v) if (y !== v[i] && commonPrefix(v[i].id, y.id) === b) inBucket++;
      asks[live[i].shard].push([live[i].local, toHex(v[j].id)]);
      pop[live[i].shard].push(inBucket);
      k++;
    }
    const known = await all((s, i) => (asks[i].length ? s.knownIn(asks[i]) : Promise.resolve([])));
    let none = 0, some = 0;
    const popNone: number[] = [], popSome: number[] = [];
    known.forEach((ks, s) => ks.forEach((c, k) => { if (c > 0) { some++; popSome.push(pop[s][k]); } else { none++; popNone.push(pop[s][k]); } }));
    const med = (a: number[]) => (a.length ? a.sort((x, y) => x - y)[a.length >> 1] : NaN);
    return `of ${none + some} sampled holes: ${none} where x knows no node in the bucket (its true population median ${med(popNone)}), ${some} where x knows one (population median ${med(popSome)})`;
  };

  const phases: Phase[] = [];
  const phase = async (name: string, live: NodeRef[], capMs: number): Promise<Phase> => {
    const start = performance.now();
    let v = await views(live);
    let h = holes(v, 400_000, rand);
    while (h.holes > 0 && performance.now() - start < capMs) {
      await sleep(2000);
      v = await views(live);
      h = holes(v, 400_000, rand);
      log(`${name}: t=${((performance.now() - start) / 1000).toFixed(0)} s holes ${h.holes}/${h.pairs} · ${await statLine()}`);
    }
    const settleMs = performance.now() - start;
    if (h.holes > 0) log(`${name}: ${holeProfile(v, rand)} · ${await holeCauses(v, live)}`);
    // Its own generator, so the round's pairs stay those of earlier runs.
    const w = walks(v, randomPairs(v.length, 2000, seededRandom(live.length)));
    const dh = deepHoles(v);
    const asksNear: [number, string][][] = shards.map(() => []);
    for (const [i, j] of dh.missing.slice(0, 2000)) asksNear[live[i].shard].push([live[i].local, toHex(v[j].id)]);
    const knowsNear = (await all((s, k) => (asksNear[k].length ? s.knows(asksNear[k]) : Promise.resolve([])))).flat().filter(Boolean).length;
    log(`${name}: near holes: ${pct(dh.deep, dh.nodes)} of nodes lack a link in one of their 3 deepest non-empty buckets, ${pct(dh.nearest, dh.nodes)} to their XOR-nearest node (${knowsNear} of ${Math.min(2000, dh.missing.length)} of those know it)`);
    log(`${name}: on the link graph alone (${w.pairs} pairs): greedy ${pct(w.greedy, w.pairs)} (stuck at prefix p50 ${w.stuckDepth.p50}, ${w.stuckDepth.min}-${w.stuckDepth.max}), walk within the TTL ${pct(w.walked, w.pairs)}, hops p50 ${w.hops.p50} p99 ${w.hops.p99} max ${w.hops.max}`);
    const links = spread(v.map((n) => n.peers.length));
    const shardOf = new Map(live.map((n) => [n.id, n.shard]));
    let ends = 0, cross = 0;
    v.forEach((n, k) => { for (const p of n.peers) { const s = shardOf.get(toHex(p)); if (s === undefined) continue; ends++; if (s !== live[k].shard) cross++; } });
    const delivery = await deliver(live);
    const p: Phase = { name, nodes: live.length, settleMs, holes: h, links, crossThreadLinks: ends ? cross / ends : 0, delivery };
    log(`${name}: delivered ${delivery.delivered}/${delivery.sent}, path p50 ${delivery.path?.p50} p99 ${delivery.path?.p99}, DATA transmissions p50 ${delivery.hops.p50} p99 ${delivery.hops.p99} · ${await statLine()}`);
    return p;
  };

  /** One round: `o.pairs` random pairs each send one message; waits until each is delivered or reported. */
  const deliver = async (live: NodeRef[]): Promise<DeliveryResult> => {
    const pairs = randomPairs(live.length, o.pairs, rand);
    const tagOf = Math.random().toString(36).slice(2);
    const receive: [number, string, string][][] = shards.map(() => []);
    const send: [number, string][][] = shards.map(() => []);
    for (const [i, j] of pairs) {
      const a = live[i], b = live[j];
      receive[b.shard].push([b.local, `${tagOf}:${i}:${j}`, a.id + b.id]);
      send[a.shard].push([a.local, b.id]);
    }
    const r = { keys: [] as string[], reported: {} as Record<string, number>, settled: 0 };
    round = r;
    await all((s, k) => s.expect(receive[k], send[k]));
    const gap = 1000 / o.pairRate;
    const t0 = performance.now();
    for (let k = 0; k < pairs.length; k++) {
      const [i, j] = pairs[k];
      void shards[live[i].shard].send([[live[i].local, live[j].id, `${tagOf}:${i}:${j}`]]);
      const due = t0 + (k + 1) * gap;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
    await waitFor(() => r.settled >= pairs.length, 30_000);
    // Transmissions are read at the end: retransmitted copies may still be on their way when the first arrives.
    await sleep(100);
    const counts = await all((s) => s.finish());
    round = null;
    const data = new Map<string, number>();
    const path = new Map<string, [number, number]>();
    for (const c of counts) {
      for (const [k, n] of c.data) data.set(k, (data.get(k) ?? 0) + n);
      for (const [k, p, t] of c.path) { const had = path.get(k); if (!had || t < had[1]) path.set(k, [p, t]); }
    }
    return deliveryResult(pairs.length, r.keys.map((k) => data.get(k) ?? 0), r.reported, r.keys.map((k) => path.get(k)?.[0] ?? 0));
  };

  phases.push(await phase('built', nodes, o.maxSettleMs));
  await all((s) => s.gc());
  (globalThis as { gc?: () => void }).gc?.();
  const rssPerNodeKiB = (process.memoryUsage().rss - rss0) / 1024 / nodes.length;
  const cpu0 = process.cpuUsage();
  await sleep(5000);
  const cpu = process.cpuUsage(cpu0);
  const idleCpuPerNodeUs = (cpu.user + cpu.system) / 5 / nodes.length; // µs of CPU per node per second (all threads)

  if (o.churn > 0) {
    const kill = Math.round(nodes.length * o.churn);
    const order = nodes.map((n) => ({ n, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.n);
    const dead = new Set(order.slice(0, kill));
    await all((s, i) => s.destroy([...dead].filter((n) => n.shard === i).map((n) => n.local)));
    const alive = nodes.filter((n) => !dead.has(n));
    log(`churn: destroyed ${kill} nodes`);
    phases.push(await phase(`after ${Math.round(o.churn * 100)} % left`, alive, o.churnSettleMs));
    alive.push(...(await make(kill, alive.slice(), false)));
    log(`churn: ${kill} new nodes joined`);
    phases.push(await phase(`after ${kill} joined`, alive, o.churnSettleMs));
  }
  await all((s) => s.close());
  await Promise.all(workers.map((wk) => wk.terminate()));
  return { level: 'a', workers: w, buildMs, rssPerNodeKiB, idleCpuPerNodeUs, phases };
}

/**
 * Where the holes are: the share of sampled pairs (x, t) that are holes, by the k-bucket t falls in
 * and by how many links x has, so a log says whether far buckets or thinly linked nodes miss them.
 */
function holeProfile(v: readonly NodeView[], rand: () => number): string {
  const buckets = v.map((x) => new Set(x.peers.map((p) => commonPrefix(x.id, p))));
  const byBucket = new Map<number, number>();
  const classes = [[0, 3], [4, 7], [8, 15], [16, 47], [48, Infinity]] as const;
  const byLinks = classes.map(() => ({ nodes: 0, pairs: 0, holes: 0 }));
  v.forEach((x) => { byLinks[classes.findIndex(([lo, hi]) => x.peers.length >= lo && x.peers.length <= hi)].nodes++; });
  const pairs = 200_000;
  let total = 0;
  for (let k = 0; k < pairs; k++) {
    const i = Math.floor(rand() * v.length), j = Math.floor(rand() * v.length);
    if (i === j) continue;
    const b = commonPrefix(v[i].id, v[j].id);
    const c = byLinks[classes.findIndex(([lo, hi]) => v[i].peers.length >= lo && v[i].peers.length <= hi)];
    c.pairs++;
    if (buckets[i].has(b)) continue;
    total++;
    c.holes++;
    byBucket.set(b, (byBucket.get(b) ?? 0) + 1);
  }
  const pct = (n: number, d: number) => `${(100 * n / Math.max(1, d)).toFixed(2)} %`;
  const bb = [...byBucket].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${b}:${pct(n, pairs)}`).join(' ');
  const bl = classes.map(([lo, hi], k) => `${lo}-${hi === Infinity ? '' : hi} links (${byLinks[k].nodes} nodes) ${pct(byLinks[k].holes, byLinks[k].pairs)}`).join(', ');
  return `holes ${pct(total, pairs)} of pairs; by the bucket of the pair ${bb}; by the links of x: ${bl}`;
}

const pct = (n: number, d: number): string => `${(100 * n / Math.max(1, d)).toFixed(2)} %`;

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await cond()) return true;
    await sleep(100);
  }
  return cond();
}
