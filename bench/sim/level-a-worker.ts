/**
 * Simulator level a, one worker thread: a Shard (its own event loop, its own
 * CPU queue) driven by the orchestrator over the worker's parent port. Its
 * ThreadNetwork is joined to every other worker's by the ports in
 * workerData; links between workers are real links carried over them.
 *
 * Calls: { id, method, args } -> { id, result } or { id, error }; events
 * (delivered, undeliverable, log lines) go up batched once per turn.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Shard, type ShardEvent } from './level-a-shard.js';
import { ThreadNetwork } from '../../src/transport/thread-network.js';

const { node, ports } = workerData as { node: Record<string, unknown> | undefined; ports: MessagePort[] };
let events: ShardEvent[] = [];
let scheduled = false;
const shard = new Shard(node, true, (e) => {
  events.push(e);
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => { scheduled = false; const ev = events; events = []; parentPort!.postMessage({ events: ev }); });
});
for (const p of ports) (shard.net as ThreadNetwork).attach(p);

type Method = 'prepare' | 'create' | 'views' | 'stats' | 'zeroPeers' | 'knownIn' | 'knows' | 'gc' | 'destroy' | 'expect' | 'send' | 'finish' | 'close';
parentPort!.on('message', async (m: { id: number; method: Method; args: unknown[] }) => {
  try {
    const fn = (shard[m.method] as (...a: unknown[]) => unknown).bind(shard);
    const result = await fn(...m.args);
    if (m.method === 'close') { parentPort!.postMessage({ id: m.id, result: null }); parentPort!.close(); return; }
    parentPort!.postMessage({ id: m.id, result }, result instanceof Uint8Array ? [result.buffer as ArrayBuffer] : []);
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) });
  }
});
