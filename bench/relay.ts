/**
 * Issue 2/3 benchmark: three nodes in one process, B -> A -> C, where B and C
 * have no port so every message crosses A. Messages/s for 1 KiB binary
 * payloads and small JSON objects (windowed sender, steady state after a
 * warm-up, every payload checked), and the 1 KiB round trip B -> C -> B
 * (median, p99), for relaymesh (E2E encrypted), a raw `ws` relay of the same
 * shape, the original peer-relay@0.0.2 and js-libp2p 3 through a circuit
 * relay v2, all in this run. The floor of a sealed relay is the raw relay's
 * time per message plus one AES-256-GCM seal and one open of 1 KiB with
 * node:crypto, timed in this run (all three nodes share one thread, so the
 * costs add up).
 *
 * Then A alone in a child process: its CPU per relayed message, relaymesh
 * against a raw ws forwarder (BENCH_RELAY_CPU=0 skips it).
 *
 *   node dist/bench/relay.js            (BENCH_REPEAT=3 BENCH_ONLY=relaymesh,raw,libp2p,cpu BENCH_MEASURE_MS=3000)
 */
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { nativeAead, nobleAead } from '../src/crypto/aead.js';
import { Pipeline, PingPong } from './lib/pipeline.js';
import { checkBytes, checkJson, makeBytes, makeJson } from './lib/payloads.js';
import { bestAndSpread, median, p99, timeOp } from './lib/stats.js';
import { fmt, machineLine, pct, printTable, ratio } from './lib/table.js';
import type { RelayShape } from './lib/relay-shape.js';
import { startRemoteRaw, startRemoteRelaymesh, type RemoteRelay } from './lib/relay-process.js';
import { startRelaymesh } from './lib/relay-relaymesh.js';
import { startRawWs } from './lib/relay-raw-ws.js';
import { peerRelayAvailable, startPeerRelay } from './lib/relay-peer-relay.js';
import { LIBP2P_CONFIG, libp2pAvailable, startLibp2p } from './lib/relay-libp2p.js';

type Kind = 'bytes' | 'json';

interface System {
  id: string;
  label: string;
  start: () => Promise<RelayShape>;
  kinds: Kind[];
  rtt: boolean;
}

const SYSTEMS: System[] = [
  { id: 'raw', label: 'raw ws relay (baseline)', start: startRawWs, kinds: ['bytes', 'json'], rtt: true },
  { id: 'relaymesh', label: 'relaymesh (E2E, native AES-GCM)', start: () => startRelaymesh(), kinds: ['bytes', 'json'], rtt: true },
  { id: 'noble', label: 'relaymesh (E2E, noble AES-GCM)', start: () => startRelaymesh('relaymesh-noble', { aead: nobleAead }), kinds: ['bytes'], rtt: false },
  { id: 'peer-relay', label: 'peer-relay@0.0.2', start: startPeerRelay, kinds: ['bytes', 'json'], rtt: true },
  { id: 'libp2p', label: 'js-libp2p 3 circuit relay v2 (noise, yamux)', start: startLibp2p, kinds: ['bytes', 'json'], rtt: true },
];

interface Results { rates: Record<Kind, number[]>; rttMedian: number[]; rttP99: number[] }

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);

async function throughput(shape: RelayShape, kind: Kind, measureMs: number): Promise<number> {
  const make = kind === 'bytes' ? makeBytes : makeJson;
  const check = kind === 'bytes' ? checkBytes : checkJson;
  const pipe = new Pipeline((seq) => shape.send('B', make(seq)), { window: env('BENCH_WINDOW', 128), warmupMs: 500, measureMs, drainMs: 5000 });
  shape.onReceive('C', (p) => { const seq = check(p); if (seq < 0) pipe.corrupt(); else pipe.delivered(seq); });
  const r = await pipe.run();
  shape.onReceive('C', () => {});
  if (!r.ok) throw new Error(`${shape.name} ${kind}: sent ${r.sent}, delivered ${r.delivered}, missing ${r.missing}, duplicates ${r.duplicates}, corrupt ${r.corrupt}`);
  return r.msgsPerSec;
}

async function roundTrip(shape: RelayShape): Promise<number[]> {
  const pp = new PingPong((seq) => shape.send('B', makeBytes(seq)), { warmup: 200, samples: 3000, maxMs: 1500, timeoutMs: 5000 });
  shape.onReceive('C', (p) => shape.send('C', p as object));
  shape.onReceive('B', (p) => pp.pong(checkBytes(p)));
  const r = await pp.run();
  if (r.bad) throw new Error(`${shape.name}: ${r.bad} wrong echoes`);
  return r.samples;
}

/** 1 KiB B -> A -> C with A in its own process: msg/s and A's CPU per relayed message (µs). */
async function relayCpu(start: () => Promise<RemoteRelay>, measureMs: number): Promise<{ rate: number; usPerMsg: number }> {
  const shape = await start();
  try {
    const pipe = new Pipeline((seq) => shape.send('B', makeBytes(seq)), { window: env('BENCH_WINDOW', 128), warmupMs: 500, measureMs, drainMs: 5000 });
    shape.onReceive('C', (p) => { const seq = checkBytes(p); if (seq < 0) pipe.corrupt(); else pipe.delivered(seq); });
    const c0 = await shape.cpuUs();
    const r = await pipe.run();
    const c1 = await shape.cpuUs();
    if (!r.ok) throw new Error(`${shape.name}: sent ${r.sent}, delivered ${r.delivered}, missing ${r.missing}`);
    return { rate: r.msgsPerSec, usPerMsg: (c1 - c0) / r.delivered };
  } finally {
    await shape.close();
  }
}

export async function run(): Promise<void> {
  const repeat = env('BENCH_REPEAT', 2);
  const measureMs = env('BENCH_MEASURE_MS', 1500);
  const only = process.env.BENCH_ONLY?.split(',');
  const hasLibp2p = await libp2pAvailable();
  const systems = SYSTEMS.filter((s) => (!only || only.includes(s.id)) && (s.id !== 'peer-relay' || peerRelayAvailable()) && (s.id !== 'libp2p' || hasLibp2p));
  const results = new Map<string, Results>(systems.map((s) => [s.id, { rates: { bytes: [], json: [] }, rttMedian: [], rttP99: [] }]));
  console.log(`relay bench: B -> A -> C over WebSocket on 127.0.0.1, ${repeat} runs of ${measureMs} ms each; ${machineLine()}`);
  if (systems.some((s) => s.id === 'libp2p')) console.log(`js-libp2p set-up: ${LIBP2P_CONFIG}`);
  for (let i = 0; i < repeat; i++) {
    for (const s of systems) {
      const shape = await s.start();
      const res = results.get(s.id)!;
      try {
        for (const kind of s.kinds) res.rates[kind].push(await throughput(shape, kind, measureMs));
        if (s.rtt) {
          const samples = await roundTrip(shape);
          res.rttMedian.push(median(samples));
          res.rttP99.push(p99(samples));
        }
      } finally {
        await shape.close();
      }
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  if (env('BENCH_RELAY_CPU', 1) && (!only || only.includes('cpu'))) {
    const rows: (string | number)[][] = [];
    const cpu: Record<string, number[]> = { raw: [], relaymesh: [] };
    const rates: Record<string, number[]> = { raw: [], relaymesh: [] };
    for (let i = 0; i < repeat; i++) {
      for (const [id, start] of [['raw', startRemoteRaw], ['relaymesh', startRemoteRelaymesh]] as const) {
        const r = await relayCpu(start, measureMs);
        cpu[id].push(r.usPerMsg);
        rates[id].push(r.rate);
      }
    }
    const rawUs = Math.min(...cpu.raw);
    for (const id of ['raw', 'relaymesh']) {
      const us = Math.min(...cpu[id]);
      rows.push([id === 'raw' ? 'raw ws forwarder' : 'relaymesh node A', fmt(Math.max(...rates[id])), fmt(us, 1), ratio(us, rawUs)]);
    }
    printTable('Relay process CPU: A in its own process, B and C in this one (1 KiB, best of runs)',
      ['relay A', 'msg/s', 'A CPU µs per message', 'vs raw forwarder'], rows);
  }
  sealOpen = Math.min(sealOpenUs(), sealOpenUs());
  console.log(`1 KiB AES-256-GCM seal + open (${(nativeAead ?? nobleAead).backend}): ${fmt(sealOpen, 1)} µs; floor = raw ws relay + that per message`);
  report(systems, results);
}

/** µs for one native AES-256-GCM seal + one open of a 1 KiB message (checked), timed now. */
function sealOpenUs(): number {
  const aead = nativeAead ?? nobleAead;
  const key = randomBytes(32), nonce = randomBytes(12), aad = randomBytes(56), pt = makeBytes(7);
  const sealed = aead.seal(key, nonce, pt, aad);
  const back = aead.open(key, nonce, sealed, aad);
  if (!back || checkBytes(Buffer.from(back)) !== 7) throw new Error('relay bench: AES-GCM round trip failed');
  return timeOp(() => aead.seal(key, nonce, pt, aad), 300).usPerOp + timeOp(() => aead.open(key, nonce, sealed, aad), 300).usPerOp;
}

let sealOpen = NaN;
/** msg/s of the raw relay plus one seal and one open per message. */
const floorRate = (raw: number): number => 1e6 / (1e6 / raw + sealOpen);

function report(systems: System[], results: Map<string, Results>): void {
  const best = (id: string, kind: Kind) => bestAndSpread(results.get(id)?.rates[kind] ?? []);
  const rows = systems.map((s) => {
    const r = results.get(s.id)!;
    const b = best(s.id, 'bytes');
    const j = best(s.id, 'json');
    const m = r.rttMedian.length ? Math.min(...r.rttMedian) : NaN;
    const p = r.rttP99.length ? Math.min(...r.rttP99) : NaN;
    return [s.label, fmt(b.best), pct(b.spread), ratio(b.best, best('raw', 'bytes').best), fmt(j.best), pct(j.spread),
      ratio(j.best, best('raw', 'json').best), Number.isFinite(m) ? fmt(m, 3) : '-', Number.isFinite(p) ? fmt(p, 3) : '-'];
  });
  const raw = best('raw', 'bytes').best;
  if (Number.isFinite(raw)) {
    rows.splice(1, 0, ['floor: raw ws + one AES-GCM seal + open (computed)', fmt(floorRate(raw)), '-', ratio(floorRate(raw), raw), '-', '-', '-', '-', '-']);
  }
  printTable('Relay B -> A -> C: best of runs (spread = (best - worst) / best)',
    ['system', '1 KiB msg/s', 'spread', 'vs raw', 'JSON msg/s', 'spread', 'vs raw', 'RTT median ms', 'RTT p99 ms'], rows);
  const rm = best('relaymesh', 'bytes').best;
  const checks: [string, number, number, number][] = [
    ['relaymesh / floor (raw ws + one seal + one open), 1 KiB', rm, floorRate(best('raw', 'bytes').best), 1.0],
    ['relaymesh / raw ws, 1 KiB', rm, best('raw', 'bytes').best, 0.5],
    ['relaymesh / raw ws, JSON', best('relaymesh', 'json').best, best('raw', 'json').best, 0.5],
    ['relaymesh / peer-relay@0.0.2, 1 KiB', rm, best('peer-relay', 'bytes').best, 10],
    ['relaymesh / peer-relay@0.0.2, JSON', best('relaymesh', 'json').best, best('peer-relay', 'json').best, 10],
    ['relaymesh / js-libp2p, 1 KiB', rm, best('libp2p', 'bytes').best, 10],
    ['relaymesh / js-libp2p, JSON', best('relaymesh', 'json').best, best('libp2p', 'json').best, 10],
    ['relaymesh (encrypted) / raw ws, 1 KiB (issue 3)', rm, best('raw', 'bytes').best, 0.35],
  ];
  printTable('Targets', ['ratio', 'measured', 'target', 'met'], checks.map(([name, a, b, target]) => {
    const has = Number.isFinite(a) && Number.isFinite(b) && b > 0;
    return [name, has ? ratio(a, b) : '-', `>= ${target}x`, has ? (a / b >= target ? 'yes' : 'NO') : '-'];
  }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
