/**
 * protoo request/response round trips per second with 100 concurrent clients:
 * a relaymesh node (protoo dialect, application 'request' handler) against
 * protoo-server from npm (WebSocketServer + Room, same handler), in the same
 * run. The clients run in a child process (one event loop, as a worker thread
 * would be) so the server under test has its process, and its CPU time per
 * round trip is measured apart from theirs; each client is a ws socket speaking protoo framing (subprotocol
 * `protoo`) with one request outstanding, so every count is a full round trip.
 * A bare `ws` echo server (parse, answer the same response frame, nothing
 * else) runs beside them as the floor any ws-based server pays per round trip.
 * Every server is checked to echo a request correctly before timing; rounds
 * alternate between them and the best round of each counts. The clients'
 * child prints its own busy time per round trip, to tell a client-bound run.
 *
 *   node dist/bench/protoo.js [seconds-per-round]
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { PeerRelay } from '../src/index.js';
import { protooServerOf } from '../src/signaling/protoo-server.js';
import { fmt, machineLine, printTable, ratio } from './lib/table.js';

const CLIENTS = 100;
const ROUNDS = 5;
/** An SDP offer of typical size (audio + video + data, ~4 KB), what signaling mostly carries. */
function sdpOffer(): string {
  const lines = ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1 2', 'a=msid-semantic: WMS stream'];
  for (const [mid, kind] of [[0, 'audio'], [1, 'video'], [2, 'application']] as const) {
    lines.push(`m=${kind} 9 UDP/TLS/RTP/SAVPF 111 103 104 9 0 8 106 105 13 110 112 113 126`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
      'a=ice-ufrag:khLS', 'a=ice-pwd:cxLzteJaJBou3DspNaPsJhlQ', 'a=ice-options:trickle',
      'a=fingerprint:sha-256 FA:14:42:3B:C7:97:1B:E8:AE:0C:2E:E3:91:73:9F:D9:4F:7B:2F:FE:1E:6A:7F:2B:4C:6E:0B:84:7C:9B:1A:5D',
      'a=setup:actpass', `a=mid:${mid}`, 'a=sendrecv', 'a=rtcp-mux');
    for (let pt = 96; pt < 104; pt++) lines.push(`a=rtpmap:${pt} ${kind === 'audio' ? 'opus/48000/2' : 'VP8/90000'}`, `a=rtcp-fb:${pt} nack pli`, `a=fmtp:${pt} minptime=10;useinbandfec=1`);
  }
  return lines.join('\r\n') + '\r\n';
}

const PAYLOADS = [
  { label: 'small request (~60 B)', data: { text: 'hello protoo', n: 42, list: [1, 2, 3] } as unknown },
  { label: 'SDP offer (~4 KB)', data: { type: 'offer', sdp: sdpOffer() } as unknown },
];

interface Server { name: string; url: string; close(): Promise<void> }

async function relaymeshServer(): Promise<Server> {
  const node = new PeerRelay({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => node.once('listening', () => r()));
  protooServerOf(node.signaling!).on('peer', (peer) => peer.on('request', (req, accept) => accept(req.data)));
  return { name: 'relaymesh', url: `ws://127.0.0.1:${node.address()!.port}/`, close: () => new Promise((r) => node.destroy(() => r())) };
}

async function protooServer(): Promise<Server> {
  const protoo: any = createRequire(import.meta.url)('protoo-server');
  const httpServer = http.createServer();
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', () => r()));
  const wss = new protoo.WebSocketServer(httpServer);
  const room = new protoo.Room();
  wss.on('connectionrequest', async (info: any, accept: () => unknown) => {
    const peerId = new URL(info.request.url, 'http://x').searchParams.get('peerId');
    const peer = await room.createPeer(peerId, accept());
    peer.on('request', (req: any, acc: (d: unknown) => void) => acc(req.data));
  });
  const port = (httpServer.address() as { port: number }).port;
  return {
    name: 'protoo-server 4', url: `ws://127.0.0.1:${port}/`,
    close: async () => { room.close(); wss.stop(); httpServer.closeAllConnections(); await new Promise((r) => httpServer.close(r)); },
  };
}

/**
 * The floor: a bare `ws` server (no protoo layer, no limits, no registry) that parses each request and
 * answers it with the same response frame. What any server built on ws spends at least per round trip.
 */
async function wsEchoFloor(): Promise<Server> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (p) => (p.has('protoo') ? 'protoo' : false) });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    ws.send(JSON.stringify({ response: true, id: m.id, ok: true, data: m.data }));
  }));
  return {
    name: 'bare ws echo (floor)', url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`,
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }),
  };
}

// ------------------------------------------------------------ client side (child process)

interface Job { url: string; clients: number; ms: number; check: boolean; data: unknown }

async function clientsRun(job: Job): Promise<{ count: number; ok: boolean; busyMs: number }> {
  const sockets = await Promise.all(Array.from({ length: job.clients }, (_, i) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${job.url}?peerId=bench-${i}-${Math.random().toString(36).slice(2)}`, 'protoo');
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
  let ok = true;
  if (job.check) {
    const ws = sockets[0];
    const answer = await new Promise<any>((resolve) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString())));
      ws.send(JSON.stringify({ request: true, id: 1, method: 'echo', data: job.data }));
    });
    ok = answer.response === true && answer.id === 1 && answer.ok === true && JSON.stringify(answer.data) === JSON.stringify(job.data);
  }
  let count = 0;
  let running = true;
  const elu0 = performance.eventLoopUtilization();
  await new Promise<void>((resolve) => {
    let live = sockets.length;
    sockets.forEach((ws, i) => {
      let id = 1000;
      const fire = () => ws.send(JSON.stringify({ request: true, id: ++id, method: 'echo', data: job.data }));
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.response !== true || m.id !== id || m.ok !== true) { ok = false; }
        if (!running) { if (--live === 0) resolve(); return; }
        count++;
        fire();
      });
      if (i >= 0) fire();
    });
    setTimeout(() => { running = false; }, job.ms);
  });
  const busyMs = performance.eventLoopUtilization(elu0).active;
  for (const ws of sockets) ws.terminate();
  return { count, ok, busyMs };
}

const CHILD_FLAG = 'RELAYMESH_PROTOO_BENCH_CLIENTS';
if (process.env[CHILD_FLAG] === '1') {
  process.once('message', (job: Job) => {
    clientsRun(job).then((r) => process.send!(r, () => process.exit(0)), (err) => { console.error(err); process.exit(1); });
  });
}

/** Runs the clients in a child process, so the server's process CPU time is the server's alone. */
function inChild(job: Job): Promise<{ count: number; ok: boolean; busyMs: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_FLAG]: '1' } });
    child.once('message', (r: { count: number; ok: boolean; busyMs: number }) => resolve(r));
    child.once('error', reject);
    child.once('exit', (code) => { if (code !== 0) reject(new Error(`protoo bench clients exited with ${code}`)); });
    child.send(job);
  });
}

// ------------------------------------------------------------ main

export async function run(secondsPerRound = 2): Promise<void> {
  const ms = secondsPerRound * 1000;
  // protoo-server is the baseline (the ratios' denominator); the bare ws echo shows the floor under both.
  const servers = [await relaymeshServer(), await protooServer(), await wsEchoFloor()];
  const rows: (string | number)[][] = [];
  try {
    for (const { label, data } of PAYLOADS) {
      for (const s of servers) {
        const r = await inChild({ url: s.url, clients: 4, ms: 200, check: true, data });
        if (!r.ok) throw new Error(`${s.name} did not echo the protoo request correctly`);
      }
      const best = new Map<string, { rt: number; busy: number; cpu: number; client: number }>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of round % 2 ? [...servers].reverse() : servers) {
          const elu0 = performance.eventLoopUtilization();
          const cpu0 = process.cpuUsage();
          const r = await inChild({ url: s.url, clients: CLIENTS, ms, check: false, data });
          const cpu = process.cpuUsage(cpu0);
          const elu = performance.eventLoopUtilization(elu0);
          if (!r.ok) throw new Error(`${s.name} answered a request wrongly`);
          const rt = r.count / secondsPerRound;
          if (rt > (best.get(s.name)?.rt ?? 0)) best.set(s.name, { rt, busy: (elu.active * 1000) / r.count, cpu: (cpu.user + cpu.system) / r.count, client: (r.busyMs * 1000) / r.count });
        }
      }
      const base = best.get(servers[1].name)!;
      for (const s of servers) {
        const b = best.get(s.name)!;
        rows.push([label, s.name, fmt(b.rt), ratio(b.rt, base.rt), fmt(b.cpu, 1), ratio(base.cpu, b.cpu), fmt(b.busy, 1), fmt(b.client, 1)]);
      }
    }
  } finally {
    for (const s of servers) await s.close();
  }
  printTable(`protoo request/response round trips/s, ${CLIENTS} concurrent clients, one request outstanding each (best of ${ROUNDS} alternating rounds of ${secondsPerRound} s)`,
    ['payload', 'server', 'round trips/s', 'vs protoo-server', 'server CPU µs/rt', 'server CPU saving', 'server busy µs/rt', 'client busy µs/rt'], rows);
  console.log(`\n'server CPU' is the server process's CPU time (user + system) per round trip: the clients run in a child process, so it is`
    + ` the server's alone, and other load on the machine does not count in it. 'server busy' / 'client busy' are the server's and the clients'`
    + ` event-loop active time per round trip (wall time, so preemption counts). When the clients' figure is the larger, the round trips/s are`
    + ` bound by the clients, not by the server, and the server CPU time decides.\n${machineLine()}`);
}

if (process.env[CHILD_FLAG] !== '1' && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run(Number(process.argv[2]) || 2).then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
