/**
 * The original: npm `peer-relay@0.0.2` (ws@1, JSON text links, per-message
 * compression on, as published) in the same B -> A -> C shape. It has no
 * binary messages, so 1 KiB payloads travel as base64 strings and are decoded
 * at the receiver (what an application of it would have to do).
 */
import { createRequire } from 'node:module';
import { once, type End, type RelayShape } from './relay-shape.js';

const require = createRequire(import.meta.url);

interface PrClient {
  id: Buffer;
  wsConnector: { _wss: { _server: { address(): { port: number } } } & NodeJS.EventEmitter | null };
  send(id: Buffer, data: unknown): void;
  destroy(cb: () => void): void;
  on(e: string, fn: (...a: any[]) => void): void;
  once(e: string, fn: (...a: any[]) => void): void;
  removeListener(e: string, fn: (...a: any[]) => void): void;
}

let patched = false;

/** peer-relay's ws@1 server binds 0.0.0.0; keep it on loopback. */
function loopbackOnly(): void {
  if (patched) return;
  const ws1 = require(require.resolve('ws', { paths: [require.resolve('peer-relay')] })) as { Server: any };
  const Original = ws1.Server;
  const Loopback = function (this: unknown, options: Record<string, unknown>, cb?: () => void) {
    return new Original({ ...options, host: '127.0.0.1' }, cb);
  };
  Loopback.prototype = Original.prototype;
  ws1.Server = Loopback;
  patched = true;
}

export function peerRelayAvailable(): boolean {
  try {
    require.resolve('peer-relay');
    return true;
  } catch {
    return false;
  }
}

export async function startPeerRelay(): Promise<RelayShape> {
  loopbackOnly();
  const PeerRelay = require('peer-relay') as new (opts: object) => PrClient;
  const a = new PeerRelay({ port: 0 });
  const nodes: PrClient[] = [a];
  const closeAll = () => Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r())))).then(() => undefined);
  try {
    await once(a.wsConnector._wss!, 'listening');
    const url = `ws://127.0.0.1:${a.wsConnector._wss!._server.address().port}`;
    const b = new PeerRelay({ bootstrap: [url] });
    const c = new PeerRelay({ bootstrap: [url] });
    nodes.push(b, c);
    await Promise.all([once(b, 'peer'), once(c, 'peer')]);
    const ends = { B: b, C: c };
    const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
    for (const at of ['B', 'C'] as const) {
      ends[at].on('message', (d: unknown) => handlers[at](typeof d === 'string' ? Buffer.from(d, 'base64') : d));
    }
    return {
      name: 'peer-relay@0.0.2',
      send: (from, payload) => {
        const to = from === 'B' ? c.id : b.id;
        ends[from].send(to, payload instanceof Uint8Array ? Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('base64') : payload);
      },
      onReceive: (at, cb) => { handlers[at] = cb; },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
