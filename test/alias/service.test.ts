/**
 * The alias service every node runs (src/alias/service.ts), over real
 * WebSocket meshes on loopback: aliases resolve through a hub that hosts no
 * socket (a bootstrap node never loads socket/), a lying hub's answer is not
 * believed, and a datagram that never leaves reports it through its callback.
 */
import test, { type Test } from 'tape';
import { Channel, type PeerRelay } from '../../src/index.js';
import { RelayNode } from '../../src/node/relay-node.js';
import { createSocket, aliasOf, parsePrefix, DEFAULT_ALIAS_PREFIX, type Socket } from '../../socket/index.js';
import { decodeResolver, encodeOwner } from '../../src/alias/wire.js';
import { toHex } from '../../src/util/bytes.js';
import { FAST, LOOPBACK, startNode, urlOf, waitFor } from '../helpers/testnet.js';

function sock(t: Test, peer: PeerRelay): Socket {
  const s = createSocket({ type: 'udp4', peer });
  t.teardown(() => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } }));
  return s;
}

function bound(s: Socket, port = 0): Promise<Socket> {
  return new Promise((resolve) => s.bind(port, () => resolve(s)));
}

/** Two leaves B and C linked only to `hubUrl`. */
async function leaves(t: Test, hubUrl: string): Promise<[PeerRelay, PeerRelay]> {
  const b = await startNode(t, { bootstrap: [hubUrl], ...FAST, targetLinks: 1 });
  const c = await startNode(t, { bootstrap: [hubUrl], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => b.peers.length === 1 && c.peers.length === 1), 'both leaves link to the hub');
  t.notOk(b.peers.some((p) => toHex(p) === toHex(c.id)), 'the leaves are not linked to each other');
  return [b, c];
}

test('an alias resolves through a hub that hosts no socket: the hub answers the lookup, and relays', async (t) => {
  const hub = await startNode(t, { port: 0, ...FAST }); // a bootstrap node: no socket/ loaded
  const [b, c] = await leaves(t, urlOf(hub));
  const [sb, sc] = await Promise.all([bound(sock(t, b)), bound(sock(t, c), 5683)]);
  const got = new Promise<[Buffer, { address: string; port: number }]>((r) => sc.once('message', (m, ri) => r([m, ri])));
  const [err, n] = await new Promise<[Error | null, number | undefined]>((r) => sb.send('through the hub', 5683, sc.address().address, (e, k) => r([e, k])));
  t.equal(err, null, 'the send succeeds');
  t.equal(n, 15, 'with its byte count');
  const [msg, rinfo] = await got;
  t.equal(msg.toString(), 'through the hub', 'the datagram reaches the node the alias names');
  t.equal(rinfo.address, sb.address().address, 'from the sender\'s alias');
  t.equal(hub.stats().dropped.unknown_channel, undefined, 'the hub dropped no lookup as unknown_channel');
  t.equal(b.stats().dropped.dgram_unresolved, undefined, 'nothing unresolved on the sender');
  t.ok(hub.stats().relayed > 0, 'the hub relayed the datagram');
  // The reply goes back by the alias the receiver saw.
  const reply = new Promise<Buffer>((r) => sb.once('message', (m) => r(m)));
  sc.send('back', rinfo.port, rinfo.address);
  t.equal((await reply).toString(), 'back', 'the reply to rinfo comes back');
});

test('a hub that lies about an alias (OWNER with its own keys) is not believed: the send fails with EHOSTUNREACH and nothing reaches the liar', async (t) => {
  // The alias is one no node of this mesh owns, so however much B learns of the mesh meanwhile
  // (discovery may name C to it), the only node claiming it is the liar.
  // The liar is a bare mesh core with its own DGRAM handler: every FIND gets OWNER with the liar's keys.
  const liar = new RelayNode({ host: LOOPBACK, port: 0, ...FAST });
  t.teardown(() => new Promise<void>((r) => liar.destroy(() => r())));
  await new Promise<void>((r) => liar.once('listening', () => r()));
  let finds = 0;
  let datagrams = 0;
  liar.registerChannel(Channel.DGRAM, (payload, from) => {
    const m = (payload[0] << 8 | payload[1]) === 0 ? decodeResolver(payload) : null;
    if (m?.type === 1) {
      finds++;
      liar.sendOnChannel(from, Channel.DGRAM, encodeOwner(m.m.reqId, liar.identity.publicKeys()));
    } else datagrams++;
  });
  const [b, c] = await leaves(t, `ws://${LOOPBACK}:${liar.address()!.port}`);
  const [sb, sc] = await Promise.all([bound(sock(t, b)), bound(sock(t, c), 7)]);
  let reached = 0;
  sc.on('message', () => { reached++; });
  const prefix = parsePrefix(DEFAULT_ALIAS_PREFIX);
  const taken = new Set([b, c, liar].map((n) => aliasOf(n.id, prefix)));
  let alias = '10.1.2.3';
  for (let i = 4; taken.has(alias); i++) alias = `10.1.2.${i}`;
  const [err] = await new Promise<[(Error & { code?: string; syscall?: string }) | null]>((r) => sb.send('lost', 7, alias, (e) => r([e])));
  t.ok(finds > 0, 'the sender asked the liar');
  t.equal(b.stats().dropped.dgram_bad_owner, finds, 'every lying answer was checked and counted, none believed');
  t.equal(err?.code, 'EHOSTUNREACH', 'the send callback reports the loss');
  t.equal(err?.syscall, 'send', 'as a send error');
  t.equal(datagrams, 0, 'no datagram went to the liar');
  t.equal(reached, 0, 'and none to C');
});
