/**
 * Issue 13 benchmark: flow control. Nodes A (with a port), B, C and D (without:
 * every message crosses A), each on its own thread (worker_threads: its own
 * event loop, as separate machines would have), over WebSocket on 127.0.0.1,
 * 1 KiB binary messages, in one run:
 *
 *   - throughput B -> C of a blast that respects the signal (send until it
 *     returns false, then wait for 'drain'), against the windowed sender of
 *     bench/relay.ts (at most 128 messages sent and not yet delivered);
 *     target: drain >= 0.9 x windowed;
 *   - latency of a light flow D -> C (one stamped message every 10 ms), alone
 *     and while B blasts (windowed: 128 KiB in flight, about two link windows, so
 *     a little queues at A; respecting 'drain'; ignoring send()); target: p99
 *     under the flood <= 5 x p99 alone.
 *
 * Deliveries are counted by C in shared memory, so the windowed sender sees
 * them at once; every message must arrive (or, when the signal is ignored,
 * be delivered or reported undeliverable).
 *
 *   node dist/bench/flow.js     (BENCH_MEASURE_MS=3000 BENCH_REPEAT=2 BENCH_LIGHT=300 BENCH_LINK_WINDOW=65536)
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { PeerRelay } from '../src/index.js';
import { fmt, machineLine, printTable, ratio } from './lib/table.js';
import { median, p99, bestAndSpread } from './lib/stats.js';
import { flowPayload, wallMs } from './lib/flow-receiver.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const WINDOW = 128;
/** Shared counters: delivered from B (tag 0), delivered from D (tag 1). */
const DELIVERED_B = 0;

type Role = 'relay' | 'sink' | 'blaster' | 'light';
interface Init { role: Role; url?: string; counters: SharedArrayBuffer; linkWindow?: number }
type Cmd =
  | { t: 'target'; id: string }
  | { t: 'windowed' | 'drain' | 'ignore'; warmupMs: number; measureMs: number }
  | { t: 'light'; count: number; intervalMs: number }
  | { t: 'latencies' }
  | { t: 'stop' };

// ------------------------------------------------------------------ worker side

function worker(init: Init): void {
  const port = parentPort!;
  const ctr = new Int32Array(init.counters);
  const limits = init.linkWindow ? { linkWindow: init.linkWindow } : {};
  const node = new PeerRelay(init.role === 'relay' ? { port: 0, host: '127.0.0.1', ...limits } : { bootstrap: [init.url!], targetLinks: 1, ...limits });
  let target: Buffer | null = null;
  let undeliverable = 0;
  const codes: Record<string, number> = {};
  node.on('undeliverable', (err) => { undeliverable++; codes[err.code] = (codes[err.code] ?? 0) + 1; });
  const latencies: number[] = [];
  if (init.role === 'relay') node.once('listening', () => port.postMessage({ t: 'ready', id: node.identity.idHex, url: node.url }));
  else node.once('peer', () => port.postMessage({ t: 'ready', id: node.identity.idHex }));
  if (init.role === 'sink') {
    node.on('message', (data) => {
      if (!Buffer.isBuffer(data) || data.length !== 1024) return;
      if (data[4] === 0) { Atomics.add(ctr, DELIVERED_B, 1); Atomics.notify(ctr, DELIVERED_B); }
      else if (data[4] === 1) latencies.push(wallMs() - data.readDoubleBE(8));
    });
  }
  let seq = 0;
  const waitDelivered = async (seen: number) => {
    // Atomics.waitAsync is in Node 20 (V8); the ES2022 lib this project compiles with does not declare it.
    const w = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<unknown> | string } })
      .waitAsync(ctr, DELIVERED_B, seen, 100);
    if (w.async) await w.value;
  };
  const drain = () => new Promise<void>((r) => node.once('drain', () => r()));
  const tick = () => new Promise<void>((r) => setImmediate(r));
  port.on('message', async (m: Cmd) => {
    if (m.t === 'target') {
      target = Buffer.from(m.id, 'hex');
      // Session first: the first message pays the handshake.
      node.send(target, flowPayload(0, 9));
      port.postMessage({ t: 'ok' });
    } else if (m.t === 'windowed' || m.t === 'drain' || m.t === 'ignore') {
      const to = target!;
      const start = wallMs();
      const t0 = start + m.warmupMs;
      const t1 = t0 + m.measureMs;
      let d0 = -1;
      let d1 = -1;
      const sentAtStart = seq;
      const before = Atomics.load(ctr, DELIVERED_B);
      const lostBefore = undeliverable;
      while (wallMs() < t1) {
        if (d0 < 0 && wallMs() >= t0) d0 = Atomics.load(ctr, DELIVERED_B);
        if (m.t === 'windowed') {
          const seen = Atomics.load(ctr, DELIVERED_B);
          while (seq - sentAtStart - (Atomics.load(ctr, DELIVERED_B) - before) < WINDOW) node.send(to, flowPayload(seq++, 0));
          await waitDelivered(seen);
          await tick();
        } else if (m.t === 'drain') {
          if (!node.send(to, flowPayload(seq++, 0))) await drain();
        } else {
          for (let i = 0; i < 500; i++) node.send(to, flowPayload(seq++, 0));
          await tick();
        }
      }
      d1 = Atomics.load(ctr, DELIVERED_B);
      const measured = wallMs();
      const sent = seq - sentAtStart;
      // Everything sent must end delivered (or, ignoring the signal, reported).
      const end = wallMs() + 20_000;
      while (wallMs() < end && Atomics.load(ctr, DELIVERED_B) - before + (undeliverable - lostBefore) < sent) await new Promise((r) => setTimeout(r, 20));
      const delivered = Atomics.load(ctr, DELIVERED_B) - before;
      port.postMessage({ t: 'done', rate: ((d1 - d0) * 1000) / (measured - t0), sent, delivered, undeliverable: undeliverable - lostBefore, codes: { ...codes } });
    } else if (m.t === 'light') {
      const to = target!;
      for (let i = 0; i < m.count; i++) {
        node.send(to, flowPayload(i, 1, true));
        await new Promise((r) => setTimeout(r, m.intervalMs));
      }
      await new Promise((r) => setTimeout(r, 500));
      port.postMessage({ t: 'done', undeliverable });
    } else if (m.t === 'latencies') {
      port.postMessage({ t: 'latencies', latencies: latencies.splice(0) });
    } else if (m.t === 'stop') {
      node.destroy(() => { port.postMessage({ t: 'stopped' }); port.close(); });
    }
  });
}

if (!isMainThread && (workerData as { flowBench?: Init })?.flowBench) worker((workerData as { flowBench: Init }).flowBench);

// ------------------------------------------------------------------ main side

class Node {
  readonly w: Worker;
  id = '';
  url = '';
  constructor(init: Init) {
    this.w = new Worker(new URL(import.meta.url), { workerData: { flowBench: init } });
    this.w.on('error', (err) => { console.error(`${init.role} failed:`, err); });
  }
  next<T>(t: string): Promise<T> {
    return new Promise((resolve) => {
      const on = (m: { t: string }) => { if (m.t === t) { this.w.off('message', on); resolve(m as T); } };
      this.w.on('message', on);
    });
  }
  async ready(): Promise<this> { const m = await this.next<{ id: string; url?: string }>('ready'); this.id = m.id; this.url = m.url ?? ''; return this; }
  call<T>(cmd: Cmd, answer: string): Promise<T> { const p = this.next<T>(answer); this.w.postMessage(cmd); return p; }
  stop(): Promise<void> { return this.call<void>({ t: 'stop' }, 'stopped').then(() => undefined); }
}

interface Blast { rate: number; sent: number; delivered: number; undeliverable: number; codes: Record<string, number> }

async function start(): Promise<{ a: Node; b: Node; c: Node; d: Node; close(): Promise<void> }> {
  const counters = new SharedArrayBuffer(8);
  const linkWindow = env('BENCH_LINK_WINDOW', 0) || undefined;
  const a = await new Node({ role: 'relay', counters, linkWindow }).ready();
  const [b, c, d] = await Promise.all((['blaster', 'sink', 'light'] as Role[]).map((role) => new Node({ role, url: a.url, counters, linkWindow }).ready()));
  for (const s of [b, d]) await s.call({ t: 'target', id: c.id }, 'ok');
  await new Promise((r) => setTimeout(r, 500)); // sessions set up
  return { a, b, c, d, close: () => Promise.all([a, b, c, d].map((n) => n.stop())).then(() => undefined) };
}

type Flood = 'none' | 'windowed' | 'drain' | 'ignore';

async function lightRun(n: { b: Node; c: Node; d: Node }, count: number, flood: Flood): Promise<{ lat: number[]; lost: number; blast?: Blast }> {
  await n.c.call({ t: 'latencies' }, 'latencies');
  const ms = count * 10;
  const blast = flood === 'none' ? null : n.b.call<Blast>({ t: flood, warmupMs: 0, measureMs: ms + 500 }, 'done');
  if (blast) await new Promise((r) => setTimeout(r, 250));
  const light = await n.d.call<{ undeliverable: number }>({ t: 'light', count, intervalMs: 10 }, 'done');
  const b = blast ? await blast : undefined;
  const { latencies } = await n.c.call<{ latencies: number[] }>({ t: 'latencies' }, 'latencies');
  return { lat: latencies, lost: count - latencies.length, blast: b };
}

export async function run(): Promise<void> {
  const repeat = env('BENCH_REPEAT', 2);
  const measureMs = env('BENCH_MEASURE_MS', 2000);
  const light = env('BENCH_LIGHT', 300);
  console.log(`flow bench: A (port), B, C, D each on its own thread, B/D -> A -> C over WebSocket on 127.0.0.1, 1 KiB; ${repeat} runs; ${machineLine()}`);
  const rates = { windowed: [] as number[], drain: [] as number[] };
  const checks: string[] = [];
  const lat: Record<Flood, number[]> = { none: [], windowed: [], drain: [], ignore: [] };
  const lost: Record<Flood, number> = { none: 0, windowed: 0, drain: 0, ignore: 0 };
  let ignoreBlast: Blast | undefined;
  for (let i = 0; i < repeat; i++) {
    const n = await start();
    try {
      for (const kind of ['windowed', 'drain'] as const) {
        const r = await n.b.call<Blast>({ t: kind, warmupMs: 500, measureMs }, 'done');
        rates[kind].push(r.rate);
        if (r.delivered !== r.sent) checks.push(`${kind}: sent ${r.sent}, delivered ${r.delivered}, undeliverable ${r.undeliverable}`);
      }
      for (const flood of ['none', 'windowed', 'drain', 'ignore'] as const) {
        const r = await lightRun(n, light, flood);
        lat[flood].push(...r.lat);
        lost[flood] += r.lost;
        if (flood === 'ignore') ignoreBlast = r.blast;
        if (r.blast && r.blast.delivered + r.blast.undeliverable !== r.blast.sent) checks.push(`flood (${flood}): sent ${r.blast.sent}, delivered ${r.blast.delivered}, undeliverable ${r.blast.undeliverable}`);
        if (flood === 'drain' && r.blast && r.blast.delivered !== r.blast.sent) checks.push(`flood respecting drain lost ${r.blast.sent - r.blast.delivered}`);
      }
    } finally {
      await n.close();
    }
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  const w = bestAndSpread(rates.windowed);
  const dr = bestAndSpread(rates.drain);
  printTable(`Throughput B -> A -> C, 1 KiB (best of ${repeat}; ${machineLine()})`, ['sender', 'msg/s', 'spread', 'vs windowed'], [
    [`windowed (${WINDOW} in flight)`, fmt(w.best), `${Math.round(w.spread * 100)}%`, '1.00x'],
    ["send() until false, then 'drain'", fmt(dr.best), `${Math.round(dr.spread * 100)}%`, ratio(dr.best, w.best)],
  ]);
  const row = (name: string, s: number[], l: number) => [name, String(s.length), fmt(median(s), 2), fmt(p99(s), 2), String(l)];
  printTable(`Light flow D -> A -> C, one message per 10 ms (${machineLine()})`, ['while B', 'samples', 'median ms', 'p99 ms', 'lost'], [
    row('is idle', lat.none, lost.none),
    row(`blasts, windowed (${WINDOW} in flight: little queues)`, lat.windowed, lost.windowed),
    row("blasts, waiting for 'drain'", lat.drain, lost.drain),
    row('blasts, ignoring send()', lat.ignore, lost.ignore),
  ]);
  if (ignoreBlast) console.log(`\nflood ignoring send() (last run): sent ${ignoreBlast.sent}, delivered ${ignoreBlast.delivered}, undeliverable ${ignoreBlast.undeliverable} (${JSON.stringify(ignoreBlast.codes)}, counted since the node started)`);
  const p0 = p99(lat.none);
  printTable('Targets', ['ratio', 'measured', 'target', 'met'], [
    ["drain-respecting / windowed throughput", ratio(dr.best, w.best), '>= 0.9x', dr.best / w.best >= 0.9 ? 'yes' : 'NO'],
    ["light p99 under a drain-respecting flood / alone", ratio(p99(lat.drain), p0), '<= 5x', p99(lat.drain) / p0 <= 5 ? 'yes' : 'NO'],
    ["light p99 under a drain-respecting flood / under a windowed one", ratio(p99(lat.drain), p99(lat.windowed)), '-', '-'],
    ['light p99 under a flood ignoring send() / alone', ratio(p99(lat.ignore), p0), '<= 5x', p99(lat.ignore) / p0 <= 5 ? 'yes' : 'NO'],
    ['light messages lost under the floods', String(lost.drain + lost.ignore), '0', lost.drain + lost.ignore === 0 ? 'yes' : 'NO'],
  ]);
  if (checks.length) throw new Error(`messages unaccounted for: ${checks.join('; ')}`);
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
