/**
 * One child process of simulator level c (bench/sim/level-c.ts): it runs its
 * share of the real PeerRelay nodes, each with a WebSocket port on 127.0.0.1,
 * and answers the parent's requests over the IPC channel. Hops are counted on
 * the wire: every ROUTE DATA frame any node of this process writes to a
 * WebSocket, by (origin, destination); the parent adds up the processes.
 */
import { PeerRelay } from '../../src/index.js';
import { WebSocketConnection } from '../../src/transport/websocket.js';
import { toHex } from '../../src/util/bytes.js';
import { FrameType } from '../../src/wire/frames.js';
import { EnvelopeFlags, MsgType, OFF_FLAGS, OFF_FROM, OFF_TO } from '../../src/wire/envelope.js';
import { seededRandom } from './measure.js';
import type { ChildEvent, ChildRequest } from './level-c.js';

const send = (m: ChildEvent | { rid: number; [k: string]: unknown }) => process.send!(m);
const nodes: (PeerRelay | null)[] = [];
let rand = seededRandom(1);
let rss0 = 0;

// Hops on the wire: transmissions of a message's first copy by (origin, destination) while a round
// counts. Retransmitted copies carry SPREAD bits (§4.5) and are left out: how many there are depends on
// how late a loaded machine runs the retransmission timers.
let wire: Map<string, number> | null = null;
const rawSend = WebSocketConnection.prototype.send;
WebSocketConnection.prototype.send = function (this: WebSocketConnection, f: Uint8Array) {
  if (wire && f[0] === FrameType.ROUTE && f[1] === MsgType.DATA && (f[OFF_FLAGS] & EnvelopeFlags.SPREAD) === 0) {
    const key = toHex(f.subarray(OFF_FROM, OFF_FROM + 20)) + toHex(f.subarray(OFF_TO, OFF_TO + 20));
    wire.set(key, (wire.get(key) ?? 0) + 1);
  }
  rawSend.call(this, f);
};

/** Per sender: the probe tags in flight by destination (undeliverable reports name only the destination). */
const pendingBySender = new Map<PeerRelay, Map<string, string[]>>();

function make(pool: string[]): Promise<PeerRelay> {
  const fanout = 1 + Math.floor(rand() * 3);
  const bootstrap = new Set<string>();
  for (let k = 0; k < fanout && pool.length > 0; k++) bootstrap.add(pool[Math.floor(rand() * pool.length)]);
  const node = new PeerRelay({ port: 0, host: '127.0.0.1', bootstrap: [...bootstrap], signaling: false });
  node.on('error', () => {});
  node.on('message', (data: unknown) => {
    const tag = (data as { probe?: string } | null)?.probe;
    if (typeof tag === 'string') send({ t: 'got', tag });
  });
  const pending = new Map<string, string[]>();
  pendingBySender.set(node, pending);
  node.on('undeliverable', (err, to) => {
    const list = pending.get(toHex(to));
    const tag = list?.shift();
    if (list && list.length === 0) pending.delete(toHex(to));
    if (tag !== undefined) send({ t: 'report', tag, code: err.code });
  });
  return new Promise((resolve) => node.once('listening', () => resolve(node)));
}

process.on('message', async (m: ChildRequest) => {
  try {
    switch (m.t) {
      case 'init':
        rand = seededRandom(m.seed);
        global.gc?.();
        rss0 = process.memoryUsage().rss;
        return send({ rid: m.rid });
      case 'build': {
        // Nodes of one batch bootstrap to nodes that already exist (this process's or others').
        const made = await Promise.all(Array.from({ length: m.count }, () => make(m.pool)));
        const base = nodes.length;
        nodes.push(...made);
        return send({ rid: m.rid, nodes: made.map((n, i) => ({ local: base + i, id: n.identity.idHex, url: n.url })) });
      }
      case 'view': {
        global.gc?.();
        const live = nodes.filter((n): n is PeerRelay => n !== null);
        const mem = process.memoryUsage();
        return send({
          rid: m.rid,
          nodes: nodes.map((n, i) => (n ? { local: i, id: n.identity.idHex, peers: n.peers.map((p) => toHex(p)) } : null)).filter((x) => x !== null),
          rssPerNodeKiB: live.length ? (mem.rss - rss0) / 1024 / live.length : 0,
        });
      }
      case 'count': wire = new Map(); return send({ rid: m.rid });
      case 'send': {
        // Paced by the parent: each request is one slice of the round.
        for (const s of m.sends) {
          const node = nodes[s.from];
          if (!node) { send({ t: 'report', tag: s.tag, code: 'SENDER_GONE' }); continue; }
          const pending = pendingBySender.get(node)!;
          const list = pending.get(s.to) ?? [];
          list.push(s.tag);
          pending.set(s.to, list);
          try {
            node.send(s.to, { probe: s.tag });
          } catch (err) {
            list.pop();
            send({ t: 'report', tag: s.tag, code: (err as { code?: string }).code ?? 'THROWN' });
          }
        }
        return send({ rid: m.rid });
      }
      case 'wire': {
        const out = wire ? [...wire] : [];
        wire = null;
        for (const p of pendingBySender.values()) p.clear();
        return send({ rid: m.rid, wire: out });
      }
      case 'idle': {
        const cpu0 = process.cpuUsage();
        await new Promise((r) => setTimeout(r, m.ms));
        const c = process.cpuUsage(cpu0);
        return send({ rid: m.rid, cpuUs: c.user + c.system, nodes: nodes.filter((n) => n).length });
      }
      case 'kill': {
        await Promise.all(m.locals.map((i) => {
          const n = nodes[i];
          nodes[i] = null;
          return n ? new Promise<void>((r) => n.destroy(() => r())) : Promise.resolve();
        }));
        return send({ rid: m.rid });
      }
      case 'exit': {
        await Promise.all(nodes.map((n) => (n ? new Promise<void>((r) => n.destroy(() => r())) : Promise.resolve())));
        send({ rid: m.rid });
        process.disconnect();
        return;
      }
    }
  } catch (err) {
    send({ rid: m.rid, error: (err as Error).stack ?? String(err) });
  }
});
