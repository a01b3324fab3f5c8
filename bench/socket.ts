/**
 * Issue 5 benchmark: 1200-byte datagrams through PeerRelay.Socket, B -> A -> C
 * (A is the only node with a port and relays; B and C link only to A), and
 * over a direct link, next to node:dgram on 127.0.0.1 in the same run:
 * datagrams/s one way (at most WINDOW unreceived) and echo round trip.
 * Every path is checked for the right bytes from the right sender first.
 *
 *   node dist/bench/socket.js     (BENCH_DATAGRAMS=20000 BENCH_ROUNDS=3 BENCH_PINGS=1000)
 */
import dgram from 'node:dgram';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { PeerRelay } from '../src/index.js';
import { createSocket } from '../socket/index.js';
import { fmt, machineLine, printTable, ratio } from './lib/table.js';
import { median, p99 } from './lib/stats.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SIZE = 1200;
/** Unreceived datagrams allowed in flight: 128 x 1200 B stays under dgram's default receive buffer. */
const WINDOW = 128;

interface Sock {
  send(msg: Buffer, port: number, address: string, cb?: (err: Error | null) => void): void;
  on(ev: 'message', fn: (msg: Buffer, rinfo: { address: string; port: number }) => void): void;
  address(): { address: string; port: number };
  close(cb?: () => void): void;
}
interface Path { name: string; a: Sock; b: Sock; close(): Promise<void> }

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`socket bench: wrong result: ${what}`);
}

const bind = (s: Sock & { bind(p: number, a: string, cb: () => void): void }) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));

async function dgramPath(): Promise<Path> {
  const a = dgram.createSocket('udp4');
  const b = dgram.createSocket('udp4');
  await bind(a); await bind(b);
  return { name: 'node:dgram, 127.0.0.1', a, b, close: async () => { a.close(); b.close(); } };
}

type Relay = 'in-process' | 'worker' | 'none';

/** Node A in a worker thread: its own event loop, as a relay on another host would have. */
async function relayInWorker(): Promise<{ url: string; stop: () => Promise<void> }> {
  const w = new Worker(new URL(import.meta.url), { workerData: { role: 'relay' } });
  const url = await new Promise<string>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  return { url, stop: async () => { w.postMessage('stop'); await new Promise((r) => w.once('exit', r)); } };
}

async function meshPath(relay: Relay): Promise<Path> {
  const start = async (opts: ConstructorParameters<typeof PeerRelay>[0]) => {
    const n = new PeerRelay({ host: '127.0.0.1', ...opts });
    if (opts?.port !== undefined) await new Promise<void>((r) => n.once('listening', () => r()));
    return n;
  };
  const worker = relay === 'worker' ? await relayInWorker() : null;
  const hub = worker ? null : await start({ port: 0 });
  const hubUrl = worker ? worker.url : hub!.url;
  const leafB = await start({ bootstrap: [hubUrl], targetLinks: 1 });
  const leafC = relay !== 'none' ? await start({ bootstrap: [hubUrl], targetLinks: 1 }) : hub!;
  while (leafB.peers.length === 0 || leafC.peers.length === 0) await new Promise((r) => setTimeout(r, 10));
  check(relay === 'none' || !leafB.peers.some((p) => Buffer.from(p).equals(Buffer.from(leafC.id))), 'B and C are not linked');
  // A hosts no socket (a bootstrap node): its alias service answers B's lookup for C's alias.
  const a = createSocket({ type: 'udp4', peer: leafB }) as unknown as Sock;
  const b = createSocket({ type: 'udp4', peer: leafC }) as unknown as Sock;
  await bind(a as never); await bind(b as never);
  const nodes = [...new Set([hub, leafB, leafC].filter((n): n is PeerRelay => n !== null))];
  const names: Record<Relay, string> = {
    'in-process': 'PeerRelay.Socket, B -> A -> C, one thread',
    worker: 'PeerRelay.Socket, B -> A -> C, A in a worker',
    none: 'PeerRelay.Socket, direct link',
  };
  return {
    name: names[relay],
    a, b,
    close: async () => {
      await Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r()))));
      await worker?.stop();
    },
  };
}

interface Meter { round(n: number): Promise<number>; pings(k: number): Promise<number[]>; lost(): number }

/** Checks content and sender once, then offers one-way rounds and echo round trips. */
async function meter(p: Path): Promise<Meter> {
  let received = 0;
  let bad = 0;
  let lost = 0;
  const from = p.a.address();
  const to = p.b.address();
  p.b.on('message', (msg, rinfo) => {
    if (msg.length !== SIZE || rinfo.port !== from.port || rinfo.address !== from.address) bad++;
    if (msg[0] === 1) p.b.send(msg, rinfo.port, rinfo.address); else received++;
  });
  const payload = Buffer.alloc(SIZE, 0x5a);
  payload[0] = 0;
  // Correctness first: one datagram arrives whole, from the sender's address and port.
  const first = new Promise<void>((resolve) => (p.b as unknown as dgram.Socket).once('message', (msg, rinfo) => {
    check(msg.equals(payload) && rinfo.address === from.address && rinfo.port === from.port, `${p.name}: bytes or sender differ`);
    resolve();
  }));
  p.a.send(payload, to.port, to.address);
  await first;
  const round = async (n: number) => {
    const base = received;
    const lostBefore = lost;
    let sent = 0;
    const t0 = performance.now();
    let lastProgress = t0;
    let lastSeen = received;
    while (received - base + (lost - lostBefore) < n) {
      if (received !== lastSeen) { lastSeen = received; lastProgress = performance.now(); }
      const inFlight = sent - (received - base) - (lost - lostBefore);
      if (sent < n && inFlight < WINDOW) {
        p.a.send(payload, to.port, to.address);
        sent++;
        if (sent % 32 !== 0) continue;
      } else if (performance.now() - lastProgress > 200) {
        lost += inFlight; // UDP drops; do not wait for them
        continue;
      }
      await new Promise((res) => setImmediate(res));
    }
    check(bad === 0, `${p.name}: ${bad} datagrams of the wrong size or sender`);
    return ((received - base) * 1000) / (performance.now() - t0);
  };
  const pings = async (k: number) => {
    const rtt: number[] = [];
    const ping = Buffer.alloc(SIZE, 0x33);
    ping[0] = 1;
    for (let i = 0; i < k; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const on = (msg: Buffer) => { if (msg[0] === 1) { (p.a as unknown as dgram.Socket).off('message', on); resolve(); } };
        p.a.on('message', on);
        p.a.send(ping, to.port, to.address);
      });
      rtt.push(performance.now() - t0);
    }
    return rtt;
  };
  return { round, pings, lost: () => lost };
}

export async function run(): Promise<void> {
  const n = env('BENCH_DATAGRAMS', 20000);
  const rounds = env('BENCH_ROUNDS', 3);
  const pings = env('BENCH_PINGS', 1000);
  console.log(`${machineLine()}`);
  console.log(`${SIZE}-byte datagrams, ${n} per round, best of ${rounds} rounds interleaved across paths, window ${WINDOW}; ${pings} echo round trips`);
  const paths = [await dgramPath(), await meshPath('in-process'), await meshPath('worker'), await meshPath('none')];
  try {
    const meters = [];
    for (const p of paths) meters.push(await meter(p));
    const rates: number[][] = paths.map(() => []);
    // Rounds alternate between paths so a busy moment on a shared machine hits them all alike.
    for (let r = 0; r < rounds; r++) for (let i = 0; i < paths.length; i++) rates[i].push(await meters[i].round(n));
    const rows: (string | number)[][] = [];
    const base = Math.max(...rates[0]);
    for (let i = 0; i < paths.length; i++) {
      const rtt = await meters[i].pings(pings);
      const best = Math.max(...rates[i]);
      rows.push([paths[i].name, fmt(best), ratio(best, base), fmt(median(rtt), 3), fmt(p99(rtt), 3), fmt(meters[i].lost())]);
    }
    printTable('PeerRelay.Socket vs node:dgram, 1200-byte datagrams', ['path', 'datagrams/s', 'vs dgram', 'RTT median ms', 'RTT p99 ms', 'lost'], rows);
  } finally {
    for (const p of paths) await p.close();
  }
}

if (!isMainThread && (workerData as { role?: string })?.role === 'relay') {
  const node = new PeerRelay({ host: '127.0.0.1', port: 0 }); // no socket: a plain hub
  node.once('listening', () => parentPort!.postMessage(node.url));
  parentPort!.once('message', () => node.destroy(() => parentPort!.close()));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
