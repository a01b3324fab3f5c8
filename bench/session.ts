/**
 * Issue 3 benchmark: end-to-end session set-up on loopback. For each run it
 * makes fresh nodes and times the cold first message from `send()` to the
 * receiver's 'message' (key lookup if needed, ML-KEM handshake, first sealed
 * DATA), then the second, warm message. Two shapes: a direct pair (B linked to
 * A: keys known from the link handshake) and a relayed pair B -> A -> C (B
 * must first fetch C's keys through A).
 *
 *   node dist/bench/session.js            (BENCH_SESSION_RUNS=30)
 */
import { pathToFileURL } from 'node:url';
import { PeerRelay } from '../src/index.js';
import { median, p90, now } from './lib/stats.js';
import { fmt, machineLine, printTable } from './lib/table.js';
import { once } from './lib/relay-shape.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const TARGET_MS = 5;

async function start(bootstrap?: string): Promise<PeerRelay> {
  const node = bootstrap ? new PeerRelay({ bootstrap: [bootstrap] }) : new PeerRelay({ port: 0, host: '127.0.0.1' });
  if (!bootstrap) await once(node, 'listening');
  else await once(node, 'peer');
  return node;
}

/** Times one message from `from` to `to`; checks it arrived intact. */
async function timeMessage(from: PeerRelay, to: PeerRelay, n: number): Promise<number> {
  const got = once(to, 'message');
  const t0 = now();
  from.send(to.id, { n, hello: 'session' });
  const [data, sender] = (await got) as [{ n: number; hello: string }, Uint8Array];
  const dt = now() - t0;
  if (data.n !== n || data.hello !== 'session' || !Buffer.from(sender).equals(Buffer.from(from.id))) throw new Error('session bench: wrong message');
  return dt;
}

async function oneRun(relayed: boolean): Promise<{ cold: number; warm: number }> {
  const nodes: PeerRelay[] = [];
  try {
    const a = await start();
    nodes.push(a);
    const b = await start(a.url);
    nodes.push(b);
    let to = a;
    if (relayed) {
      to = await start(a.url);
      nodes.push(to);
    }
    // Let the spare ephemeral key pair (made on setImmediate after start) exist, as on a node that ran a while.
    await new Promise((r) => setTimeout(r, 5));
    const cold = await timeMessage(b, to, 1);
    const warm = await timeMessage(b, to, 2);
    return { cold, warm };
  } finally {
    await Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r()))));
  }
}

export async function run(): Promise<void> {
  const runs = env('BENCH_SESSION_RUNS', 30);
  console.log(`session bench: ${runs} fresh node sets per shape on 127.0.0.1; ${machineLine()}`);
  const rows: (string | number)[][] = [];
  for (const relayed of [false, true]) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const r = await oneRun(relayed);
      if (i < 2) continue; // warm-up: JIT
      cold.push(r.cold);
      warm.push(r.warm);
    }
    const m = median(cold);
    rows.push([relayed ? 'relayed B -> A -> C (keys fetched)' : 'direct B -> A (keys from the link)', fmt(m, 2), fmt(p90(cold), 2),
      fmt(Math.min(...cold), 2), fmt(median(warm), 3), m < TARGET_MS ? 'yes' : 'NO']);
  }
  printTable(`Session set-up: cold first message, send() to 'message' (target: median < ${TARGET_MS} ms)`,
    ['shape', 'cold median ms', 'cold p90 ms', 'cold min ms', 'warm median ms', 'median < 5 ms'], rows);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
