/**
 * Issue 4 benchmark: a direct WebRTC link between two port-less nodes B and C
 * (formed by connect() through a hub A) against a raw simple-peer data channel
 * in the same run, both over @roamhq/wrtc with loopback host candidates only.
 * Messages/s for 1 KiB payloads (windowed sender, every payload checked, the
 * hub must relay none), 1 KiB round trip (median, p99), and the time to form a
 * WebRTC link through one relay (connect() until the link is open; raw: offer
 * to 'connect' with signals passed in-process).
 *
 *   node dist/bench/webrtc.js      (BENCH_REPEAT=2 BENCH_MEASURE_MS=1500 BENCH_LINKS=15)
 */
import { pathToFileURL } from 'node:url';
import SimplePeer from 'simple-peer';
import { PeerRelay } from '../src/index.js';
import { loopbackWrtc } from '../test/helpers/webrtc-loopback.js';
import { Pipeline, PingPong } from './lib/pipeline.js';
import { checkBytes, makeBytes } from './lib/payloads.js';
import { bestAndSpread, median, now, p90, p99 } from './lib/stats.js';
import { fmt, machineLine, pct, printTable, ratio } from './lib/table.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');

/** Two endpoints: send from B, receive at C (and the reverse for echoes). */
interface Pair {
  name: string;
  send(from: 'B' | 'C', payload: Uint8Array): void;
  onReceive(at: 'B' | 'C', fn: (p: unknown) => void): void;
  /** Throws if the run broke the pair's promise (relaymesh: the hub carried data). */
  verify(): void;
  close(): Promise<void>;
}

/**
 * With both ends of a @roamhq/wrtc channel in one process, a sender that
 * sends from inside the receive callback starves Node's timers (the harness
 * never stops); both systems hand receipts to the harness in a setImmediate.
 */
const deferred = (fn: () => void) => setImmediate(fn);

async function rawPeers(): Promise<[SimplePeer.Instance, SimplePeer.Instance]> {
  const b = new SimplePeer({ initiator: true, wrtc: loopbackWrtc() as never, config: { iceServers: [] } });
  const c = new SimplePeer({ wrtc: loopbackWrtc() as never, config: { iceServers: [] } });
  b.on('signal', (s) => c.signal(s));
  c.on('signal', (s) => b.signal(s));
  await Promise.all([b, c].map((p) => new Promise((r) => p.once('connect', r))));
  return [b, c];
}

async function startRaw(): Promise<Pair> {
  const [b, c] = await rawPeers();
  const peers = { B: b, C: c };
  const handlers = { B: (_p: unknown) => {}, C: (_p: unknown) => {} };
  b.on('data', (d: Buffer) => deferred(() => handlers.B(d)));
  c.on('data', (d: Buffer) => deferred(() => handlers.C(d)));
  return {
    name: 'raw simple-peer',
    send: (from, p) => peers[from].send(p),
    onReceive: (at, fn) => { handlers[at] = fn; },
    verify: () => {},
    close: async () => { b.destroy(); c.destroy(); },
  };
}

/** Hub A with a port; B and C without, linked to each other by connect(). */
async function relaymeshTrio(): Promise<{ a: PeerRelay; b: PeerRelay; c: PeerRelay; close: () => Promise<void> }> {
  const a = new PeerRelay({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => a.once('listening', () => r()));
  const url = `ws://127.0.0.1:${a.address()!.port}`;
  const b = new PeerRelay({ wrtc: loopbackWrtc(), bootstrap: [url], targetLinks: 1 });
  const c = new PeerRelay({ wrtc: loopbackWrtc(), bootstrap: [url], targetLinks: 1 });
  await Promise.all([b, c].map((n) => new Promise<void>((r) => n.once('peer', () => r()))));
  const close = () => Promise.all([a, b, c].map((n) => new Promise<void>((r) => n.destroy(() => r())))).then(() => undefined);
  return { a, b, c, close };
}

async function startRelaymesh(): Promise<Pair> {
  const { a, b, c, close } = await relaymeshTrio();
  await b.connect(c.id);
  const kind = b.linkInfo().find((l) => l.id === hex(c.id))?.kind;
  if (kind !== 'webrtc') throw new Error(`expected a WebRTC link B-C, got ${kind}`);
  const nodes = { B: b, C: c };
  const other = { B: c, C: b };
  const handlers = { B: (_p: unknown) => {}, C: (_p: unknown) => {} };
  b.on('message', (d) => deferred(() => handlers.B(d)));
  c.on('message', (d) => deferred(() => handlers.C(d)));
  const relayed0 = a.stats().relayed;
  return {
    name: 'relaymesh',
    send: (from, p) => nodes[from].send(other[from].id, p),
    onReceive: (at, fn) => { handlers[at] = fn; },
    verify: () => { if (a.stats().relayed !== relayed0) throw new Error(`the hub relayed ${a.stats().relayed - relayed0} messages`); },
    close,
  };
}

async function throughput(pair: Pair, measureMs: number): Promise<number> {
  const pipe = new Pipeline((seq) => pair.send('B', makeBytes(seq)), { window: env('BENCH_WINDOW', 128), warmupMs: 500, measureMs, drainMs: 5000 });
  pair.onReceive('C', (p) => { const seq = checkBytes(p); if (seq < 0) pipe.corrupt(); else pipe.delivered(seq); });
  const r = await pipe.run();
  pair.onReceive('C', () => {});
  if (!r.ok) throw new Error(`${pair.name}: sent ${r.sent}, delivered ${r.delivered}, missing ${r.missing}, duplicates ${r.duplicates}, corrupt ${r.corrupt}`);
  pair.verify();
  return r.msgsPerSec;
}

async function roundTrip(pair: Pair): Promise<number[]> {
  const pp = new PingPong((seq) => pair.send('B', makeBytes(seq)), { warmup: 200, samples: 3000, maxMs: 1500, timeoutMs: 5000 });
  pair.onReceive('C', (p) => pair.send('C', p as Uint8Array));
  pair.onReceive('B', (p) => pp.pong(checkBytes(p)));
  const r = await pp.run();
  if (r.bad) throw new Error(`${pair.name}: ${r.bad} wrong echoes`);
  pair.verify();
  return r.samples;
}

/** connect() through hub A until the WebRTC link is open, `n` times (disconnecting in between). */
async function relaymeshSetup(n: number): Promise<number[]> {
  const { b, c, close } = await relaymeshTrio();
  const samples: number[] = [];
  try {
    // Warm the B-C end-to-end session, which connect() signals through.
    const warm = new Promise((r) => c.once('message', r));
    b.send(c.id, 'warm');
    await warm;
    for (let i = 0; i < n; i++) {
      const t0 = now();
      await b.connect(c.id);
      samples.push(now() - t0);
      if (b.linkInfo().find((l) => l.id === hex(c.id))?.kind !== 'webrtc') throw new Error('connect() did not form a WebRTC link');
      const gone = new Promise<void>((r) => {
        const on = (id: Uint8Array) => { if (hex(id) === hex(b.id)) { c.off('disconnect', on); r(); } };
        c.on('disconnect', on);
      });
      b.disconnect(c.id);
      await gone;
    }
  } finally {
    await close();
  }
  return samples;
}

async function rawSetup(n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const [b, c] = await rawPeers();
    samples.push(now() - t0);
    b.destroy();
    c.destroy();
  }
  return samples;
}

export async function run(): Promise<void> {
  const repeat = env('BENCH_REPEAT', 2);
  const measureMs = env('BENCH_MEASURE_MS', 1500);
  const links = env('BENCH_LINKS', 15);
  console.log(`webrtc bench: B -> C over a direct WebRTC data channel (@roamhq/wrtc, loopback), ${repeat} runs of ${measureMs} ms; ${machineLine()}`);
  const systems = [{ id: 'raw', label: 'raw simple-peer data channel (baseline)', start: startRaw },
    { id: 'relaymesh', label: 'relaymesh WebRTC link (E2E, native AES-GCM)', start: startRelaymesh }];
  const rates = new Map<string, number[]>(systems.map((s) => [s.id, []]));
  const rtts = new Map<string, number[][]>(systems.map((s) => [s.id, []]));
  for (let i = 0; i < repeat; i++) {
    for (const s of systems) {
      const pair = await s.start();
      try {
        rates.get(s.id)!.push(await throughput(pair, measureMs));
        rtts.get(s.id)!.push(await roundTrip(pair));
      } finally {
        await pair.close();
      }
      process.stdout.write('.');
    }
  }
  const setupRaw = await rawSetup(links);
  const setupMesh = await relaymeshSetup(links);
  process.stdout.write('\n');

  const best = (id: string) => bestAndSpread(rates.get(id)!);
  const rttOf = (id: string, f: (s: number[]) => number) => Math.min(...rtts.get(id)!.map(f));
  printTable('Direct WebRTC link, 1 KiB: best of runs (spread = (best - worst) / best)',
    ['system', '1 KiB msg/s', 'spread', 'vs raw', 'RTT median ms', 'RTT p99 ms'],
    systems.map((s) => [s.label, fmt(best(s.id).best), pct(best(s.id).spread), ratio(best(s.id).best, best('raw').best),
      fmt(rttOf(s.id, median), 3), fmt(rttOf(s.id, p99), 3)]));
  printTable(`Time to form a WebRTC link (${links} each)`, ['setup', 'median ms', 'p90 ms'], [
    ['raw simple-peer, signals passed in-process', fmt(median(setupRaw), 1), fmt(p90(setupRaw), 1)],
    ['relaymesh connect(id), signaling through one relay', fmt(median(setupMesh), 1), fmt(p90(setupMesh), 1)],
  ]);
  const r = best('relaymesh').best / best('raw').best;
  printTable('Targets', ['ratio', 'measured', 'target', 'met'], [
    ['relaymesh / raw simple-peer, 1 KiB msg/s', ratio(best('relaymesh').best, best('raw').best), '>= 0.5x', r >= 0.5 ? 'yes' : 'NO'],
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
