/** relaymesh in the B -> A -> C shape: A listens on loopback, B and C have no port, so every message crosses A. */
import { PeerRelay, type PeerRelayOptions } from '../../src/index.js';
import { once, type End, type RelayShape } from './relay-shape.js';

export async function startRelaymesh(name = 'relaymesh', opts: PeerRelayOptions = {}): Promise<RelayShape> {
  const a = new PeerRelay({ ...opts, port: 0, host: '127.0.0.1' });
  const nodes: PeerRelay[] = [a];
  const closeAll = () => Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r())))).then(() => undefined);
  try {
    await once(a, 'listening');
    const b = new PeerRelay({ ...opts, bootstrap: [a.url] });
    const c = new PeerRelay({ ...opts, bootstrap: [a.url] });
    nodes.push(b, c);
    await Promise.all([once(b, 'peer'), once(c, 'peer')]);
    const ends = { B: b, C: c };
    const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
    b.on('message', (d) => handlers.B(d));
    c.on('message', (d) => handlers.C(d));
    // Sessions both ways before timing: the first message pays the handshake.
    for (const [from, to] of [[b, c], [c, b]] as const) {
      const got = once(to, 'message');
      from.send(to.id, { warm: true });
      await got;
    }
    if (b.peers.length !== 1 || c.peers.length !== 1) throw new Error('B and C must link to A only');
    return {
      name,
      send: (from, payload) => { const f = ends[from]; f.send((from === 'B' ? c : b).id, payload); },
      onReceive: (at, cb) => { handlers[at] = cb; },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
