/**
 * A receiving node on its own thread (worker_threads), for flow-control tests
 * and bench/flow.ts: a PeerRelay without a port, bootstrapped off `url`, that
 * counts the 1 KiB messages it gets by sender and tag, checks each, records the
 * latency of those that carry a send time, and can be made slow (`spinUs` of
 * CPU per message) or stalled (`stallMs`: on the first message of tag 0 it
 * reads nothing for that long, like an application that stopped reading).
 *
 * Payload: seq u32 | tag u8 | 3 zero bytes | sent-at f64 (ms, timeOrigin + now) | fill (seq & 0xff).
 */
import { parentPort, workerData, isMainThread } from 'node:worker_threads';
import { PeerRelay } from '../../src/index.js';

export const FLOW_PAYLOAD = 1024;

/** Wall-clock milliseconds with sub-ms precision, comparable across threads of one process. */
export function wallMs(): number { return performance.timeOrigin + performance.now(); }

export function flowPayload(seq: number, tag: number, stamp = false): Buffer {
  const b = Buffer.alloc(FLOW_PAYLOAD, seq & 0xff);
  b.writeUInt32BE(seq >>> 0, 0);
  b[4] = tag;
  b[5] = b[6] = b[7] = 0;
  b.writeDoubleBE(stamp ? wallMs() : 0, 8);
  return b;
}

/** What the receiver reports: per sender hex, per tag, counts; bad payloads; latencies (ms) of stamped ones. */
export interface FlowCounts { got: Record<string, Record<number, number>>; corrupt: number; latencies: Record<string, number[]> }

export type ToReceiver = { t: 'counts' } | { t: 'reset' } | { t: 'stop' };
export type FromReceiver = { t: 'ready'; id: string } | { t: 'counts'; counts: FlowCounts } | { t: 'stopped' };

if (!isMainThread && parentPort && (workerData as { flowReceiver?: boolean })?.flowReceiver) {
  const { url, spinUs = 0, stallMs = 0 } = workerData as { url: string; spinUs?: number; stallMs?: number };
  const port = parentPort;
  const node = new PeerRelay({ bootstrap: [url], targetLinks: 1 });
  let counts: FlowCounts = { got: {}, corrupt: 0, latencies: {} };
  let stalled = stallMs === 0;
  node.once('peer', () => port.postMessage({ t: 'ready', id: node.identity.idHex } satisfies FromReceiver));
  node.on('message', (data, from) => {
    if (!Buffer.isBuffer(data)) return;
    const at = wallMs();
    const hex = Buffer.from(from).toString('hex');
    const seq = data.readUInt32BE(0);
    if (data.length !== FLOW_PAYLOAD || data[FLOW_PAYLOAD - 1] !== (seq & 0xff)) { counts.corrupt++; return; }
    const tag = data[4];
    const bySender = (counts.got[hex] ??= {});
    bySender[tag] = (bySender[tag] ?? 0) + 1;
    const sentAt = data.readDoubleBE(8);
    if (sentAt > 0) (counts.latencies[hex] ??= []).push(at - sentAt);
    if (!stalled && tag === 0) {
      stalled = true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stallMs);
    }
    if (spinUs > 0) { const end = performance.now() + spinUs / 1000; while (performance.now() < end); }
  });
  port.on('message', (m: ToReceiver) => {
    if (m.t === 'counts') port.postMessage({ t: 'counts', counts } satisfies FromReceiver);
    else if (m.t === 'reset') counts = { got: {}, corrupt: 0, latencies: {} };
    else if (m.t === 'stop') node.destroy(() => { port.postMessage({ t: 'stopped' } satisfies FromReceiver); port.close(); });
  });
}
