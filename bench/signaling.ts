/**
 * Issue 6 benchmark: encrypted messages/s between two MessagingPeers through
 * one node and through two nodes, next to a raw `ws` relay (one hop, and two chained hops: the two-node shape) forwarding
 * frames of the same sizes in the same run; then registration and discover
 * round-trips/s with 1,000 connected clients. Every path is checked for the
 * right content before it is timed.
 *
 * Then (issue 16) a public node with BENCH_SCALE (10,000) raw IM clients held by a child process:
 * registration rate (distinct proofs, each one ML-DSA verify; then one proof replayed, answered by the
 * cache), RSS per client, the node's longest event-loop stall while 100 clients leave at once and the
 * others hear of it, and destroy() time; a second node on a link makes the node re-sign its roster after changes.
 *
 *   node dist/bench/signaling.js    (BENCH_SIZES=64,1024,16384 BENCH_MESSAGES=2000 BENCH_ROUNDS=3 BENCH_CLIENTS=1000 BENCH_SCALE=10000
 *                                    BENCH_DISTINCT=300 BENCH_LEAVERS=100 BENCH_PEER=1; BENCH_ONLY=scale: that part only;
 *                                    BENCH_ONLY=messages: the MessagingPeer msg/s table only)
 */
import { pathToFileURL, fileURLToPath } from 'node:url';
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { PeerRelay, MessagingPeer, generateKeyPair } from '../src/index.js';
import { toBase64 } from '../src/util/bytes.js';
import { fmt, machineLine, printTable, ratio } from './lib/table.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [64, 1024, 16 * 1024];
const WINDOW = 256;

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`signaling bench: wrong result: ${what}`);
}

async function startNode(opts: ConstructorParameters<typeof PeerRelay>[0] = {}): Promise<PeerRelay> {
  // Every client of this bench comes from 127.0.0.1: the per-address caps are lifted.
  const base = { ratePerSecond: 1e6, rateBurst: 1e6, maxClients: 5000, maxConnections: 20_000, maxConnectionsPerAddress: 20_000, registrationsPerSecondPerAddress: 1e6, verifiesPerSecond: 1e6 };
  const { signaling, ...rest } = opts;
  const node = new PeerRelay({ host: '127.0.0.1', port: 0, ...rest, signaling: { ...base, ...(signaling || {}) } });
  await new Promise<void>((resolve, reject) => { node.once('listening', resolve); node.once('error', reject); });
  return node;
}
const urlOf = (n: PeerRelay) => `ws://127.0.0.1:${n.address()!.port}`;
const destroy = (n: PeerRelay) => new Promise<void>((r) => n.destroy(() => r()));

/** Messages a path lost (its pump gave up on them after STALL_MS without progress), by path. */
const lost = new Map<string, number>();
const STALL_MS = 10_000;

/** Sends n items keeping at most WINDOW unreceived; resolves to items/s (a lost item is counted under `path`, not waited for). */
async function pump(n: number, send: (i: number) => void | Promise<void>, received: () => number, path = ''): Promise<number> {
  const base = received();
  const start = performance.now();
  let progress = performance.now();
  let seen = base;
  const stalled = () => {
    if (received() !== seen) { seen = received(); progress = performance.now(); }
    return performance.now() - progress > STALL_MS;
  };
  let given = 0;
  for (let i = 0; i < n; i++) {
    while (i - (received() - base) - given >= WINDOW) {
      await new Promise((r) => setImmediate(r));
      if (stalled()) { given = i - (received() - base); break; }
    }
    await send(i);
  }
  while (received() - base < n && !stalled()) await new Promise((r) => setImmediate(r));
  const missing = n - (received() - base);
  if (missing > 0) lost.set(path, (lost.get(path) ?? 0) + missing);
  return ((received() - base) * 1000) / (performance.now() - start);
}

/**
 * A raw ws relay: every frame from client a reaches client b unchanged. `hops` 1: through one `ws` server (a -> X -> b);
 * 2: the same shape as two signaling nodes, through two chained `ws` forwarders (a -> X -> Y -> b, X dialling Y as
 * a ws client, so its frames to Y are masked as a node's link frames are).
 */
async function rawRelay(hops: 1 | 2 = 1): Promise<{ send: (s: string | Buffer) => void; received: () => number; last: () => string; close: () => Promise<void> }> {
  const servers: WebSocketServer[] = [];
  const listen = async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    servers.push(wss);
    return { wss, port: (wss.address() as { port: number }).port };
  };
  const dial = async (port: number) => { const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false }); await new Promise((r) => ws.once('open', r)); return ws; };
  const x = await listen();
  // A server socket forwards to `next()`: the other client on the same server (one hop), or X's link to Y.
  const forward = (wss: WebSocketServer, next: (from: WebSocket) => WebSocket | undefined) => wss.on('connection', (ws) => {
    ws.on('message', (d: RawData, bin: boolean) => next(ws)?.send(d as Buffer, { binary: bin }));
  });
  let a: WebSocket;
  let b: WebSocket;
  const dialled: WebSocket[] = [];
  if (hops === 1) {
    const socks: WebSocket[] = [];
    x.wss.on('connection', (ws) => socks.push(ws));
    forward(x.wss, (from) => socks.find((s) => s !== from)); // as before session 10: the one-hop figures stay comparable
    a = await dial(x.port);
    b = await dial(x.port);
    while (x.wss.clients.size < 2) await new Promise((r) => setTimeout(r, 5));
  } else {
    const y = await listen();
    // Y's first connection is X's link, the next one client b; Y forwards what the link brings to b.
    let linkAtY: WebSocket | undefined;
    let toB: WebSocket | undefined;
    y.wss.on('connection', (ws) => { if (!linkAtY) linkAtY = ws; else toB = ws; });
    forward(y.wss, (from) => (from === linkAtY ? toB : undefined));
    const link = await dial(y.port); // X -> Y
    while (!linkAtY) await new Promise((r) => setTimeout(r, 5));
    forward(x.wss, () => link);
    a = await dial(x.port);
    b = await dial(y.port);
    while (x.wss.clients.size < 1 || !toB) await new Promise((r) => setTimeout(r, 5));
    dialled.push(link);
  }
  let count = 0;
  let last = '';
  b.on('message', (d: RawData) => { count++; last = String(d); });
  return {
    send: (s) => a.send(s), received: () => count, last: () => last,
    close: async () => {
      for (const ws of [a, b, ...dialled]) ws.terminate();
      for (const wss of servers) { for (const c of wss.clients) c.terminate(); await new Promise((r) => wss.close(() => r(null))); }
    },
  };
}

async function pair(sender: PeerRelay, receiver: PeerRelay, tag: string): Promise<{ a: MessagingPeer; b: MessagingPeer; got: string[]; count: () => number; frameBytes: (size: number) => number }> {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const a = new MessagingPeer({ serverUrl: urlOf(sender), clientId: `a-${tag}`, ...ka, maxQueued: 100_000 });
  const b = new MessagingPeer({ serverUrl: urlOf(receiver), clientId: `b-${tag}`, ...kb });
  await a.connect();
  await b.connect();
  const got: string[] = [];
  let n = 0;
  b.onMessage((m) => { n++; if (got.length < 2) got.push(m); else got[1] = m; });
  for (let i = 0; i < 200 && !(await a.discoverPeers()).includes(`b-${tag}`); i++) await new Promise((r) => setTimeout(r, 25));
  await a.sendMessage(`b-${tag}`, 'warm-up');
  while (n < 1) await new Promise((r) => setTimeout(r, 5));
  // The frame our client puts on the wire for a lone `size`-byte message (steady state, no session init): a binary
  // single record (src/signaling/im-binary.ts: kind, id "m1000", target, sid, seq, ciphertext, tag).
  const frameBytes = (size: number) => 4 + 'm1000'.length + Buffer.byteLength(`b-${tag}`) + 24 + size + 16;
  return { a, b, got, count: () => n, frameBytes };
}

async function throughput(rows: (string | number)[][]): Promise<void> {
  const n = env('BENCH_MESSAGES', 2000);
  const x = await startNode();
  const y = await startNode({ bootstrap: [urlOf(x)] });
  while (x.peers.length === 0 || y.peers.length === 0) await new Promise((r) => setTimeout(r, 20));
  const one = await pair(x, x, 'one');
  const two = await pair(x, y, 'two');
  const raw = await rawRelay(1);
  const raw2 = await rawRelay(2);
  for (const size of SIZES) {
    const text = 'm'.repeat(size - 8);
    const frame = Buffer.alloc(one.frameBytes(size), 0x66);
    // Check before timing: each path delivers the exact text.
    for (const p of [one, two]) {
      const before = p.count();
      await p.a.sendMessage(p.b.config.clientId, `${text}#check!`.slice(0, size));
      const t0 = Date.now();
      while (p.count() === before && Date.now() - t0 < STALL_MS) await new Promise((r) => setTimeout(r, 2));
      check(p.count() === before || p.got[1] === `${text}#check!`.slice(0, size), `message of ${size} bytes arrives intact`);
    }
    for (const r of [raw, raw2]) {
      r.send(frame);
      while (r.received() === 0 || r.last().length !== frame.length) await new Promise((res) => setTimeout(res, 2));
    }
    const m = Math.max(300, Math.floor(n / Math.max(1, size / 4096)));
    await pump(Math.min(m, 500), () => raw.send(frame), raw.received); // warm-up
    await pump(Math.min(m, 500), () => raw2.send(frame), raw2.received);
    // Interleaved rounds, best of each: the machine is shared, so single runs are noisy.
    let rawRate = 0;
    let raw2Rate = 0;
    let oneRate = 0;
    let twoRate = 0;
    for (let round = 0; round < env('BENCH_ROUNDS', 3); round++) {
      rawRate = Math.max(rawRate, await pump(m, () => raw.send(frame), raw.received));
      oneRate = Math.max(oneRate, await pump(m, (i) => one.a.sendMessage(one.b.config.clientId, `${i}`.padEnd(size, '.')), one.count, `one node, ${size} B`));
      twoRate = Math.max(twoRate, await pump(m, (i) => two.a.sendMessage(two.b.config.clientId, `${i}`.padEnd(size, '.')), two.count, `two nodes, ${size} B`));
      raw2Rate = Math.max(raw2Rate, await pump(m, () => raw2.send(frame), raw2.received));
    }
    // The floor of a relay that seals each message once: the raw relay's time per message plus one AES-256-GCM seal and open.
    const floorRate = 1e6 / (1e6 / rawRate + aeadMicros(size));
    rows.push([`${fmt(size)} B (frame ${fmt(frame.length)} B)`, fmt(rawRate), fmt(floorRate), ratio(floorRate, rawRate), fmt(oneRate), ratio(oneRate, rawRate), fmt(twoRate), ratio(twoRate, rawRate), fmt(raw2Rate), ratio(twoRate, raw2Rate)]);
  }
  for (const p of [one, two]) { p.a.disconnect(); p.b.disconnect(); }
  await raw.close();
  await raw2.close();
  await destroy(y);
  await destroy(x);
}

/** µs of one AES-256-GCM seal plus one open of `size` bytes with node:crypto (best of 3 runs of 300 ms). */
function aeadMicros(size: number): number {
  const key = randomBytes(32);
  const pt = randomBytes(size);
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 300) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      const ct = Buffer.concat([c.update(pt), c.final()]);
      const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      d.setAuthTag(c.getAuthTag());
      d.update(ct);
      d.final();
      n++;
    }
    best = Math.min(best, ((performance.now() - start) * 1000) / n);
  }
  return best;
}

/** Registration and discover round-trips/s on a node holding `clients` clients (raw sockets, one shared key and proof). */
async function registry(clients: number): Promise<(string | number)[][]> {
  const node = await startNode();
  const kem = generateKeyPair().publicKey;
  const dsa = ml_dsa65.keygen(new Uint8Array(32).fill(1));
  const verification = { algorithm: 'ml-dsa', serializedSignedData: toBase64(ml_dsa65.sign(kem, dsa.secretKey)), serializedPublicKey: toBase64(dsa.publicKey), serializedMessage: toBase64(kem) };
  const publicKey = Array.from(kem);
  const socks: WebSocket[] = [];
  const waiters = new Map<WebSocket, ((f: any) => void)[]>();
  const open = async () => {
    const ws = new WebSocket(urlOf(node), { perMessageDeflate: false });
    waiters.set(ws, []);
    ws.on('message', (d: RawData) => waiters.get(ws)!.shift()?.(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    socks.push(ws);
    return ws;
  };
  const rtt = (ws: WebSocket, frame: unknown) => new Promise<any>((resolve) => { waiters.get(ws)!.push(resolve); ws.send(JSON.stringify(frame)); });
  for (let i = 0; i < clients; i++) await open();
  let next = 0;
  const registerAll = async () => {
    const start = performance.now();
    const lanes = Array.from({ length: 32 }, async () => {
      for (let i = next++; i < clients; i = next++) {
        const f = await rtt(socks[i], { type: 'register', payload: { clientId: `c${i}`, publicKey, verification } });
        check(f.type === 'register' && f.payload.clientId === `c${i}`, 'registration accepted');
      }
    });
    await Promise.all(lanes);
    return (clients * 1000) / (performance.now() - start);
  };
  const regRate = await registerAll();
  check(node.signaling!.clients().length === clients, `${clients} clients registered`);
  const first = await rtt(socks[0], { type: 'discover', payload: {} });
  check(first.payload.peers.length === Math.min(clients - 1, 1000), 'discover lists the others');
  const rounds = env('BENCH_DISCOVERS', 400);
  let start = performance.now();
  for (let i = 0; i < rounds; i++) await rtt(socks[i % clients], { type: 'discover', payload: {} });
  const discSeq = (rounds * 1000) / (performance.now() - start);
  start = performance.now();
  let k = 0;
  await Promise.all(Array.from({ length: 32 }, async () => { while (k++ < rounds) await rtt(socks[k % clients], { type: 'discover', payload: {} }); }));
  const discPar = (rounds * 1000) / (performance.now() - start);
  for (const ws of socks) ws.terminate();
  await destroy(node);
  return [
    [`register (one proof for all: verified once, then from the cache), 32 in flight`, fmt(regRate)],
    [`discover (${fmt(Math.min(clients - 1, 1000))} ids), one at a time`, fmt(discSeq)],
    [`discover, 32 in flight`, fmt(discPar)],
  ];
}

/** One IPC command to the swarm child; resolves with its answer. */
function ask(child: ChildProcess, cmd: Record<string, unknown>): Promise<any> {
  return new Promise((resolve, reject) => {
    child.once('message', (m: any) => (m.ok ? resolve(m) : reject(new Error(`swarm: ${m.error}`))));
    child.send(cmd);
  });
}

/** 10,000 clients on one node (issue 16): registration, RSS per client, the stall of 100 leaving at once, destroy(). */
async function scale(): Promise<(string | number)[][]> {
  const n = env('BENCH_SCALE', 10_000);
  const distinct = Math.min(n, env('BENCH_DISTINCT', 300));
  const leavers = Math.min(n - 1, env('BENCH_LEAVERS', 100));
  const batchEvery = 10; // every 10th client registers without relaymesh-presence-v1 (the published client's form)
  const node = await startNode({
    signaling: {
      maxClients: n, maxConnections: n + 100, maxConnectionsPerAddress: n + 100,
      registrationsPerSecondPerAddress: 1e6, verifiesPerSecond: 1e6, maxCachedProofs: n + 100, ...(process.env.BENCH_ROSTER_DELAY ? { rosterDelayMs: Number(process.env.BENCH_ROSTER_DELAY) } : {}),
    },
  });
  // A second node linked to it (BENCH_PEER=0: none): with a signaling core on a link the node signs and
  // sends its roster after every change (one ML-DSA sign over 10,000 ids), as a node on a mesh does.
  const peer = env('BENCH_PEER', 1) ? await startNode({ bootstrap: [urlOf(node)], signaling: { maxClients: n, maxRemoteIds: 2 * n } }) : null;
  while (peer && (node.peers.length === 0 || peer.peers.length === 0)) await new Promise((r) => setTimeout(r, 20));
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'lib', 'im-swarm.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    (globalThis as { gc?: () => void }).gc?.();
    const rss0 = process.memoryUsage().rss;
    const connected = await ask(child, { cmd: 'connect', url: urlOf(node), n });
    check(node.signaling!.stats().connections === n, `${n} connections counted`);
    const reg1 = await ask(child, { cmd: 'register', from: 0, to: distinct, distinct: true, batchEvery });
    const reg2 = await ask(child, { cmd: 'register', from: distinct, to: n, distinct: false, batchEvery });
    const stats = node.signaling!.stats();
    check(stats.clients === n, `${n} clients registered`);
    // The peer holds the node's roster of all n before the watch starts.
    const heard = async (k: number) => {
      const until = Date.now() + 20_000;
      while (peer && peer.signaling!.stats().remoteClients !== k) {
        check(Date.now() < until, `the peer holds a roster of ${k} (has ${peer.signaling!.stats().remoteClients})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await heard(n);
    (globalThis as { gc?: () => void }).gc?.();
    const rss1 = process.memoryUsage().rss;
    // The same watch over an idle second first: on a shared machine the scheduler alone makes stalls.
    const idle = monitorEventLoopDelay({ resolution: 1 });
    idle.enable();
    await new Promise((r) => setTimeout(r, 1000));
    idle.disable();
    // 100 leave at once; the node's event loop is watched until every other client heard of all of them.
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const framesBefore = node.signaling!.stats().presenceFrames;
    const cpu0 = process.cpuUsage();
    const left = await ask(child, { cmd: 'leave', n: leavers });
    // ... and until the peer holds the re-signed roster without the leavers (the sign is inside the watch).
    await heard(n - leavers);
    const cpu = process.cpuUsage(cpu0);
    lag.disable();
    check(node.signaling!.stats().clients === n - leavers, 'the leavers are gone');
    const frames = node.signaling!.stats().presenceFrames - framesBefore;
    if (peer) await destroy(peer);
    const t0 = performance.now();
    await destroy(node);
    const destroyMs = performance.now() - t0;
    return [
      [`connect ${fmt(n)} WebSockets (64 at a time)`, `${fmt((n * 1000) / connected.ms)} /s`],
      [`register, ${fmt(distinct)} distinct proofs (1 ML-DSA verify each), 32 in flight`, `${fmt((distinct * 1000) / reg1.ms)} /s`],
      [`register, ${fmt(n - distinct)} more with one proof (cache hit, no verify)`, `${fmt(((n - distinct) * 1000) / reg2.ms)} /s`],
      ['ML-DSA verifies done by the node', fmt(stats.proofVerifies)],
      [`RSS per registered client (node process, ${fmt(n)} clients)`, `${fmt((rss1 - rss0) / n / 1024)} KiB`],
      [`${fmt(leavers)} leave at once: longest event-loop stall of the node${peer ? ' (roster re-signed for a linked peer)' : ''}`, `${fmt(lag.max / 1e6)} ms (target < 100); idle second before: ${fmt(idle.max / 1e6)} ms`],
      [`${fmt(leavers)} leave at once: node CPU until all heard`, `${fmt((cpu.user + cpu.system) / 1000)} ms`],
      [`${fmt(leavers)} leave at once: until all ${fmt(n - leavers)} others heard of all of them`, `${fmt(left.ms)} ms, ${fmt(frames)} sink writes, ${fmt(left.frames)} frames`],
      [`destroy() with ${fmt(n - leavers)} clients`, `${fmt(destroyMs)} ms (target < 1000)`],
    ];
  } finally {
    await ask(child, { cmd: 'exit' }).catch(() => undefined);
    if (!node.destroyed) await destroy(node);
    if (peer && !peer.destroyed) await destroy(peer);
  }
}

export async function run(): Promise<void> {
  console.log(machineLine());
  if (process.env.BENCH_ONLY === 'scale') {
    printTable(`A public node with ${fmt(env('BENCH_SCALE', 10_000))} IM clients (held by a child process; every 10th without relaymesh-presence-v1)`, ['measure', 'value'], await scale());
    return;
  }
  const rows: (string | number)[][] = [];
  await throughput(rows);
  printTable('Encrypted messages/s between two MessagingPeers (relaymesh-im-v1) vs a raw ws relay of one lone message\'s frame (target >= 0.5x)',
    ['message size', 'raw ws relay msg/s', 'floor msg/s', 'floor vs raw', 'one node msg/s', 'vs raw', 'two nodes msg/s', 'vs raw', 'raw 2-hop relay msg/s', 'two nodes vs raw 2-hop'], rows);
  console.log('(best of BENCH_ROUNDS interleaved rounds; all three paths run in this one process: clients, servers and relay share the event loop.');
  console.log(' The raw relay forwards binary frames of the size a lone message takes on relaymesh\'s wire; floor = raw + one AES-256-GCM seal and open of the message, per message;');
  console.log(' \'vs raw\' is each path against the one-hop raw relay (client -> ws server -> client); the raw 2-hop relay has the two-node path\'s shape,');
  console.log(' client -> ws forwarder X -> ws forwarder Y -> client, and \'two nodes vs raw 2-hop\' is the two-node path against it)');
  for (const [path, k] of lost) console.log(`LOST: ${fmt(k)} messages on the ${path} path never arrived (given up after ${STALL_MS / 1000} s without progress)`);
  if (process.env.BENCH_ONLY === 'messages') return;
  const clients = env('BENCH_CLIENTS', 1000);
  printTable(`Signaling round-trips/s with ${fmt(clients)} connected clients on one node`, ['operation', 'round-trips/s'], await registry(clients));
  console.log(machineLine());
  printTable(`A public node with ${fmt(env('BENCH_SCALE', 10_000))} IM clients (held by a child process; every 10th without relaymesh-presence-v1)`, ['measure', 'value'], await scale());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
