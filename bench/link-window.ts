/**
 * Issue 17 (session 9): how the link window paces frames longer than it
 * (PROTOCOL.md §3.6, "Frames longer than the window"). Two nodes, each on its
 * own `worker_threads` thread (own event loop): X listens, Y dials it, X sends
 * Y sealed messages of SIZE bytes with `send()`, waiting for `'drain'` when it
 * returns false; Y counts them. A message over 16 KiB is sealed alone, so a
 * 240 KiB message is one ~240 KiB DATA frame, as a mesh batch of 15 messages
 * of 16 KiB is between two signaling nodes.
 *
 * With a delay, Y dials X through a loopback TCP proxy on a third thread that
 * holds every chunk it reads for DELAY ms before writing it on (both ways, in
 * order): a link with a round trip, as between two machines. Without one, the
 * two nodes are one loopback hop apart.
 *
 *   node dist/bench/link-window.js
 *   (BENCH_DELAYS=0,1 BENCH_SIZES=245760,65536,16384 BENCH_ROUNDS=3 BENCH_LINK_WINDOW=65536 BENCH_BYTES=150000000)
 */
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { PeerRelay } from '../src/peer-relay.js';
import { fmt, printTable } from './lib/table.js';

interface Init { role: 'sender' | 'receiver' | 'proxy'; url?: string; port?: number; delay?: number; linkWindow?: number }
type Msg = { t: string; [k: string]: unknown };

const env = (name: string, dflt: number): number => (process.env[name] ? Number(process.env[name]) : dflt);
const list = (name: string, dflt: number[]): number[] => (process.env[name] ? process.env[name]!.split(',').map(Number) : dflt);

/** The proxy thread: every chunk read is written on DELAY ms later, in order, both ways. */
function proxy(init: Init): void {
  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on('data', (d) => { setTimeout(() => { if (!to.destroyed) to.write(d); }, init.delay); });
    from.on('close', () => setTimeout(() => to.destroy(), init.delay! + 1));
    from.on('error', () => {});
  };
  const server = net.createServer((c) => {
    const u = net.connect(init.port!, '127.0.0.1');
    c.setNoDelay(true);
    u.setNoDelay(true);
    pipe(c, u);
    pipe(u, c);
  });
  server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ t: 'ready', port: (server.address() as net.AddressInfo).port }));
  parentPort!.on('message', (m: Msg) => { if (m.t === 'stop') { server.close(); process.exit(0); } });
}

async function node(init: Init): Promise<void> {
  const port = parentPort!;
  const o = init.linkWindow ? { linkWindow: init.linkWindow } : {};
  const n = init.role === 'sender' ? new PeerRelay({ host: '127.0.0.1', port: 0, ...o }) : new PeerRelay({ bootstrap: [init.url!], targetLinks: 1, ...o });
  if (init.role === 'sender') {
    await new Promise<void>((r) => n.once('listening', () => r()));
    port.postMessage({ t: 'listening', url: `ws://127.0.0.1:${n.address()!.port}` });
  }
  let got = 0;
  let want = Infinity;
  n.on('message', () => { if (++got === want) port.postMessage({ t: 'done' }); });
  while (n.peers.length === 0) await new Promise((r) => setTimeout(r, 20));
  port.postMessage({ t: 'ready', id: n.id });
  port.on('message', async (m: Msg) => {
    if (m.t === 'expect') { want = got + (m.n as number); port.postMessage({ t: 'ok' }); }
    else if (m.t === 'send') {
      const data = new Uint8Array(m.size as number).fill(7);
      for (let i = 0; i < (m.n as number); i++) if (!n.send(m.to as string, data)) await new Promise<void>((r) => n.once('drain', () => r()));
    } else if (m.t === 'stop') {
      n.destroy(() => { port.postMessage({ t: 'stopped' }); port.close(); });
    }
  });
}

if (!isMainThread && (workerData as { linkWindowBench?: Init })?.linkWindowBench) {
  const init = (workerData as { linkWindowBench: Init }).linkWindowBench;
  if (init.role === 'proxy') proxy(init);
  else void node(init);
}

class Thread {
  readonly w: Worker;
  constructor(init: Init) {
    this.w = new Worker(new URL(import.meta.url), { workerData: { linkWindowBench: init } });
    this.w.on('error', (err) => { console.error(`${init.role} failed:`, err); });
  }
  next(t: string, ms = 120_000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${t}' within ${ms} ms`)), ms);
      const on = (m: Msg) => { if (m.t === t) { clearTimeout(timer); this.w.off('message', on); resolve(m); } };
      this.w.on('message', on);
    });
  }
  call(m: Msg, answer: string, ms?: number): Promise<Msg> { const p = this.next(answer, ms); this.w.postMessage(m); return p; }
}

/** msg/s of `n` messages of `size` bytes from X to Y (every one delivered, or the run fails). */
async function run(delay: number, size: number, n: number, linkWindow: number | undefined): Promise<number> {
  const x = new Thread({ role: 'sender', linkWindow });
  const xReady = x.next('ready');
  let url = (await x.next('listening')).url as string;
  let p: Thread | null = null;
  if (delay > 0) {
    p = new Thread({ role: 'proxy', port: Number(url.split(':').pop()), delay });
    url = `ws://127.0.0.1:${(await p.next('ready')).port}`;
  }
  const y = new Thread({ role: 'receiver', url, linkWindow });
  const yr = await y.next('ready');
  await xReady;
  const warm = Math.max(4, Math.floor(n / 20));
  await y.call({ t: 'expect', n: warm }, 'ok');
  const warmed = y.next('done');
  x.w.postMessage({ t: 'send', to: yr.id, size, n: warm }); // sets up the session, warms both ends
  await warmed;
  await y.call({ t: 'expect', n }, 'ok');
  const done = y.next('done');
  const t0 = performance.now();
  x.w.postMessage({ t: 'send', to: yr.id, size, n });
  await done;
  const rate = (n * 1000) / (performance.now() - t0);
  await Promise.all([x.call({ t: 'stop' }, 'stopped'), y.call({ t: 'stop' }, 'stopped')]);
  if (p) { p.w.postMessage({ t: 'stop' }); await p.w.terminate(); }
  return rate;
}

async function main(): Promise<void> {
  const delays = list('BENCH_DELAYS', [0, 1]);
  const sizes = list('BENCH_SIZES', [245760, 65536, 16384]);
  const rounds = env('BENCH_ROUNDS', 3);
  const bytes = env('BENCH_BYTES', 150e6);
  const linkWindow = env('BENCH_LINK_WINDOW', 0) || undefined;
  const rows: (string | number)[][] = [];
  for (const delay of delays) {
    for (const size of sizes) {
      // Fewer messages with a delay: a windowed link there moves a few MB/s for small frames.
      const n = Math.max(200, Math.floor(bytes / size / (delay > 0 ? 8 : 1)));
      const rates: number[] = [];
      for (let i = 0; i < rounds; i++) rates.push(await run(delay, size, n, linkWindow));
      rows.push([`${delay} ms`, fmt(size), fmt(n), rates.map((r) => fmt(r)).join(' / '), fmt(Math.max(...rates) * size / 1e6)]);
    }
  }
  printTable(`Sealed messages X -> Y, each node on its own thread (link window ${fmt(linkWindow ?? 65536)} B)`,
    ['added one-way delay', 'message B', 'messages', 'msg/s per round', 'best MB/s'], rows);
  process.exit(0);
}

if (isMainThread) main().catch((err) => { console.error(err); process.exit(1); });
