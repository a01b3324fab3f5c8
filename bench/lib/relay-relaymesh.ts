/** relaymesh in the B -> A -> C shape: A listens on loopback, B and C have no port, so every message crosses A. */
import { PeerRelay, type PeerRelayOptions } from '../../src/index.js';
import { once, type End, type RelayShape } from './relay-shape.js';

/**
 * Starts B and C linked to the node A at `url` (here or in another process),
 * with sessions both ways before timing (the first message pays the
 * handshake). `close` destroys B and C; `nodes` are theirs.
 */
export async function relaymeshEnds(url: string, opts: PeerRelayOptions = {}): Promise<Pick<RelayShape, 'send' | 'onReceive' | 'close'>> {
  const b = new PeerRelay({ ...opts, bootstrap: [url] });
  const c = new PeerRelay({ ...opts, bootstrap: [url] });
  const close = () => Promise.all([b, c].map((n) => new Promise<void>((r) => n.destroy(() => r())))).then(() => undefined);
  try {
    await Promise.all([once(b, 'peer'), once(c, 'peer')]);
    const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
    b.on('message', (d) => handlers.B(d));
    c.on('message', (d) => handlers.C(d));
    for (const [from, to] of [[b, c], [c, b]] as const) {
      const got = once(to, 'message');
      from.send(to.id, { warm: true });
      await got;
    }
    if (b.peers.length !== 1 || c.peers.length !== 1) throw new Error('B and C must link to A only');
    const ends = { B: b, C: c };
    return {
      send: (from, payload) => { ends[from].send((from === 'B' ? c : b).id, payload); },
      onReceive: (at, cb) => { handlers[at] = cb; },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function startRelaymesh(name = 'relaymesh', opts: PeerRelayOptions = {}): Promise<RelayShape> {
  const a = new PeerRelay({ ...opts, port: 0, host: '127.0.0.1' });
  const destroyA = () => new Promise<void>((r) => a.destroy(() => r()));
  try {
    await once(a, 'listening');
    const ends = await relaymeshEnds(a.url, opts);
    return { name, send: ends.send, onReceive: ends.onReceive, close: async () => { await ends.close(); await destroyA(); } };
  } catch (err) {
    await destroyA();
    throw err;
  }
}
