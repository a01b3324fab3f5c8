/**
 * PeerRelay.Socket over real WebSocket meshes on loopback: ports, the seed's
 * id addresses, authenticated rinfo, IPv4 aliases resolved across the mesh,
 * bad input and bounded queues.
 */
import test, { type Test } from 'tape';
import { PeerRelay, Channel } from '../../src/index.js';
import { createSocket, Socket, aliasOf, parsePrefix, DEFAULT_ALIAS_PREFIX } from '../../socket/index.js';
import { randomBytes, toHex } from '../../src/util/bytes.js';
import { FAST, startNode, urlOf, waitFor } from '../helpers/testnet.js';

type Rinfo = { address: string; family: string; port: number; size: number };

function sock(t: Test, opts: ConstructorParameters<typeof Socket>[0]): Socket {
  const s = createSocket(opts as never);
  t.teardown(() => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } }));
  return s;
}

function bound(s: Socket, port = 0): Promise<Socket> {
  return new Promise((resolve) => s.bind(port, () => resolve(s)));
}

function nextMessage(s: Socket, ms = 10_000): Promise<[Buffer, Rinfo]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram in time')), ms);
    s.once('message', (m, r) => { clearTimeout(timer); resolve([m, r]); });
  });
}

async function linkedPair(t: Test): Promise<[PeerRelay, PeerRelay]> {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST });
  await waitFor(() => a.peers.length > 0 && b.peers.length > 0);
  return [a, b];
}

/** A chain n0 - n1 - ... : every node links only to its neighbours. */
async function chain(t: Test, n: number): Promise<PeerRelay[]> {
  const nodes: PeerRelay[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startNode(t, { port: 0, bootstrap: i ? [urlOf(nodes[i - 1])] : [], ...FAST, maxLinks: i === 0 || i === n - 1 ? 1 : 2, targetLinks: 1 }));
    if (i) await waitFor(() => nodes[i].peers.length === 1);
  }
  return nodes;
}

test('PeerRelay.Socket from the main entry is the dgram-shaped Socket', (t) => {
  t.equal(PeerRelay.Socket, Socket, 'PeerRelay.Socket === Socket');
  t.end();
});

test('the seed\'s socket: hex id addresses, six-argument send, close() destroys a node without a port', async (t) => {
  const Sock = PeerRelay.Socket;
  const a = new Sock({ port: 0, host: '127.0.0.1', ...FAST });
  t.teardown(() => new Promise<void>((r) => a.peer.destroy(() => r())));
  await new Promise<void>((r) => a.peer.once('listening', () => r()));
  const b = new Sock({ bootstrap: [urlOf(a.peer)], ...FAST });
  t.teardown(() => new Promise<void>((r) => b.peer.destroy(() => r())));
  await bound(a, 7); await bound(b, 8);
  t.deepEqual(a.address(), { address: toHex(a.peer.id), family: 'peer-relay', port: 7 }, 'address() is the node id, family peer-relay');
  const got = nextMessage(a);
  b.send(Buffer.from('--seed--'), 2, 4, 7, toHex(a.peer.id));
  const [msg, rinfo] = await got;
  t.equal(msg.toString(), 'seed', 'the slice offset 2, length 4 arrives');
  t.deepEqual(rinfo, { address: toHex(b.peer.id), family: 'peer-relay', port: 8, size: 4 }, 'rinfo names the sender by id');
  await new Promise<void>((r) => t.doesNotThrow(() => b.close(() => r()), 'close() on a node without a port does not throw'));
  t.ok(b.peer.destroyed, 'the socket\'s own node is destroyed');
});

test('ports demultiplex datagrams to the sockets of one node', async (t) => {
  const [a, b] = await linkedPair(t);
  const s1 = await bound(sock(t, { type: 'udp4', peer: a }), 4000);
  const s2 = await bound(sock(t, { type: 'udp4', peer: a }), 4001);
  const sender = sock(t, { type: 'udp4', peer: b });
  const seen: string[] = [];
  s1.on('message', (m) => seen.push(`4000:${m}`));
  s2.on('message', (m) => seen.push(`4001:${m}`));
  sender.send('one', 4000, s1.address().address);
  sender.send('two', 4001, s1.address().address);
  t.ok(await waitFor(() => seen.length === 2), 'both arrive');
  t.deepEqual(seen.sort(), ['4000:one', '4001:two'], 'each at its own port');
});

test('binding a port taken on the same node fails with EADDRINUSE', async (t) => {
  const a = await startNode(t, FAST);
  await bound(sock(t, { type: 'udp4', peer: a }), 5353);
  const second = sock(t, { type: 'udp4', peer: a });
  const err = await new Promise<Error & { code?: string }>((r) => { second.once('error', r); second.bind(5353); });
  t.equal(err.code, 'EADDRINUSE', 'EADDRINUSE through error');
  await bound(second, 5354);
  t.equal(second.address().port, 5354, 'the socket can bind another port after');
});

test('rinfo.address is the authenticated sender, not the relay', async (t) => {
  const [b, a, c] = await chain(t, 3);
  const sb = await bound(sock(t, { type: 'udp4', peer: b }));
  const sc = await bound(sock(t, { type: 'udp4', peer: c }));
  sock(t, { type: 'udp4', peer: a });
  const got = nextMessage(sc);
  sb.send('via A', sc.address().port, sc.address().address);
  const [, rinfo] = await got;
  t.equal(rinfo.address, sb.address().address, 'the address is B\'s alias');
  t.equal(rinfo.port, sb.address().port, 'the port is B\'s');
  t.ok(a.stats().relayed > 0, 'A relayed it');
});

test('an alias resolves across the mesh to a node never heard from', async (t) => {
  // A hub with three leaves; each leaf links only to the hub, so a leaf learns another's id by lookup.
  const hub = await startNode(t, { port: 0, ...FAST });
  const leaves: PeerRelay[] = [];
  for (let i = 0; i < 3; i++) leaves.push(await startNode(t, { bootstrap: [urlOf(hub)], ...FAST, targetLinks: 1 }));
  t.ok(await waitFor(() => hub.peers.length === 3 && leaves.every((l) => l.peers.length === 1)), 'every leaf links to the hub');
  const [s0, , s2] = await Promise.all([...leaves, hub].map((peer) => bound(sock(t, { type: 'udp4', peer }))));
  t.notOk(leaves[0].peers.some((p) => toHex(p) === toHex(leaves[2].id)), 'the two leaves are not linked');
  const got = nextMessage(s2);
  s0.send('far', s2.address().port, s2.address().address);
  const [msg, rinfo] = await got;
  t.equal(msg.toString(), 'far', 'the datagram reaches the node its alias names');
  t.equal(rinfo.address, s0.address().address, 'from the sender\'s alias');
  const reply = nextMessage(s0);
  s2.send('back', rinfo.port, rinfo.address);
  t.equal((await reply)[0].toString(), 'back', 'the reply to rinfo comes back');
});

test('a datagram to an alias no node answers for is dropped before it leaves: the callback gets EHOSTUNREACH, never success, and it is counted', async (t) => {
  const [a, b] = await linkedPair(t);
  const s = await bound(sock(t, { type: 'udp4', peer: a }));
  sock(t, { type: 'udp4', peer: b });
  const prefix = parsePrefix(DEFAULT_ALIAS_PREFIX);
  const taken = new Set([aliasOf(a.id, prefix), aliasOf(b.id, prefix)]);
  let alias = '10.0.0.1';
  for (let i = 2; taken.has(alias); i++) alias = `10.0.0.${i}`;
  const [err, n] = await new Promise<[(Error & { code?: string; syscall?: string; address?: string; port?: number }) | null, number | undefined]>((r) => s.send('void', 9, alias, (e, k) => r([e, k])));
  t.equal(err?.code, 'EHOSTUNREACH', 'the callback gets EHOSTUNREACH');
  t.equal(err?.syscall, 'send', 'from send');
  t.equal(err?.address, alias, 'naming the alias');
  t.equal(err?.port, 9, 'and the port');
  t.equal(n, undefined, 'no byte count');
  t.equal(a.stats().dropped.dgram_unresolved, 1, 'counted as unresolved');
  t.equal(s.getSendQueueSize(), 0, 'nothing left queued');
});

test('addresses outside the mesh fail as dgram reports them', async (t) => {
  const a = await startNode(t, FAST);
  const s = await bound(sock(t, { type: 'udp4', peer: a }));
  const [e1] = await new Promise<[Error & { code?: string } | null]>((r) => s.send('x', 9, '8.8.8.8', (e) => r([e])));
  t.equal(e1?.code, 'ENETUNREACH', 'an IPv4 address outside the alias prefix: ENETUNREACH');
  const [e2] = await new Promise<[Error & { code?: string; syscall?: string } | null]>((r) => s.send('x', 9, 'router.example', (e) => r([e])));
  t.equal(e2?.code, 'ENOTFOUND', 'a host name: ENOTFOUND through the callback');
  t.equal(e2?.syscall, 'getaddrinfo', 'as a failed lookup');
  const e3 = await new Promise<Error & { code?: string }>((r) => { s.once('error', r); s.send('x', 9, 'router.example'); });
  t.equal(e3.code, 'ENOTFOUND', 'without a callback: ENOTFOUND through error');
});

test('datagrams for unbound ports are dropped and counted', async (t) => {
  const [a, b] = await linkedPair(t);
  const s = await bound(sock(t, { type: 'udp4', peer: a }), 1000);
  const sender = sock(t, { type: 'udp4', peer: b });
  const got = nextMessage(s);
  sender.send('nobody', 1001, s.address().address);
  sender.send('somebody', 1000, s.address().address);
  t.equal((await got)[0].toString(), 'somebody', 'the bound port receives its datagram');
  t.equal(a.stats().dropped.dgram_unbound_port, 1, 'the other is counted as unbound_port');
});

test('nothing a remote sends on the DGRAM channel crashes the socket', async (t) => {
  const [a, b] = await linkedPair(t);
  const s = await bound(sock(t, { type: 'udp4', peer: a }), 1000);
  const sender = sock(t, { type: 'udp4', peer: b });
  let errors = 0;
  s.on('error', () => errors++);
  const junk: Uint8Array[] = [
    new Uint8Array(0), new Uint8Array([3, 232]), new Uint8Array([3, 232, 0, 0, 1]), // short, source port 0
    new Uint8Array([0, 0, 0, 0]), new Uint8Array([0, 0, 0, 0, 9, 0, 0, 0, 1]), // resolver: empty, unknown type
    new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 10, 0, 0, 0]), // FIND with 0 bits
    new Uint8Array([0, 0, 0, 0, 2, 0, 0, 0, 7, 1, ...new Uint8Array(20)]), // unsolicited NODES
    new Uint8Array([0, 0, 0, 0, 2, 0, 0, 0, 7, 200]), // NODES with a bad count
  ];
  for (let i = 0; i < 200; i++) {
    const j = randomBytes(Math.floor(Math.random() * 64));
    if (j[0] === 3 && j[1] === 232 && j.length >= 4) j[0] = 4; // junk, not a datagram for port 1000 that would arrive first
    junk.push(j);
  }
  for (const j of junk) b.sendOnChannel(a.id, Channel.DGRAM, j);
  const got = nextMessage(s);
  sender.send('still here', 1000, s.address().address);
  t.equal((await got)[0].toString(), 'still here', 'a datagram after the junk is delivered');
  const d = a.stats().dropped;
  t.ok((d.dgram_malformed ?? 0) >= 5, 'malformed payloads are counted');
  t.ok((d.dgram_unexpected_answer ?? 0) >= 1, 'unsolicited answers are counted');
  t.equal(errors, 0, 'the socket emitted no error');
});

test('a full send queue fails the send with ENOBUFS', async (t) => {
  const a = await startNode(t, { ...FAST, maxQueuePerPeer: 2 });
  const s = await bound(sock(t, { type: 'udp4', peer: a }));
  const nowhere = toHex(randomBytes(20));
  const results = await Promise.all([0, 1, 2].map(() => new Promise<string | null>((r) => s.send('q', 9, nowhere, (e) => r(e ? (e as Error & { code: string }).code : null)))));
  // The node has no links: the two queued are lost when it gives up on their session, and say so.
  t.deepEqual(results, ['EHOSTUNREACH', 'EHOSTUNREACH', 'ENOBUFS'], 'the third of a queue of two gets ENOBUFS; the two queued never report success');
});

test('several sockets share a node; closing one leaves the node, destroying the node closes the rest', async (t) => {
  const a = await startNode(t, FAST);
  const s1 = await bound(new Socket({ type: 'udp4', peer: a }));
  const s2 = await bound(new Socket({ type: 'udp4', peer: a }));
  await new Promise<void>((r) => s1.close(() => r()));
  t.notOk(a.destroyed, 'closing a socket on a shared node leaves the node running');
  const closed = new Promise<void>((r) => s2.once('close', r));
  a.destroy();
  await closed;
  t.throws(() => s2.send('x', 1), /Not running/, 'the remaining socket is closed with its node');
});

test('socket options are checked when the socket is made', (t) => {
  t.throws(() => createSocket({ type: 'udp4', aliasPrefix: '10.0.0.0/30' }), RangeError, 'an alias prefix longer than /24');
  t.throws(() => createSocket({ type: 'udp4', peer: {} as PeerRelay }), TypeError, 'a peer that is not a PeerRelay');
  t.throws(() => createSocket({ type: 'udp4', addressMode: 'dns' as never }), TypeError, 'an unknown address mode');
  t.end();
});

test('createSocket with a listener and no peer makes and owns its node', async (t) => {
  const got: string[] = [];
  const s = createSocket('udp4', (m) => got.push(m.toString()));
  t.teardown(() => new Promise<void>((r) => s.peer.destroy(() => r())));
  await bound(s);
  s.send('loop', s.address().port);
  t.ok(await waitFor(() => got.length === 1), 'the listener receives messages');
  t.equal(got[0], 'loop', 'the datagram sent to the own port');
  t.equal(s.address().family, 'IPv4', 'udp4 sockets use IPv4 aliases');
  await new Promise<void>((r) => s.close(() => r()));
  t.ok(s.peer.destroyed, 'close() destroys the node it made');
});

test('connecting to an alias no node answers for fails with EHOSTUNREACH', async (t) => {
  const a = await startNode(t, FAST);
  const s = await bound(sock(t, { type: 'udp4', peer: a }));
  const self = s.address().address;
  const nobody = self === '10.1.2.3' ? '10.1.2.4' : '10.1.2.3';
  const err = await new Promise<(Error & { code?: string; syscall?: string }) | undefined>((r) => s.connect(9, nobody, r));
  t.equal(err?.code, 'EHOSTUNREACH', 'EHOSTUNREACH through the callback');
  t.equal(err?.syscall, 'connect', 'syscall connect');
  t.throws(() => s.remoteAddress(), /Not connected/, 'the socket stays unconnected');
});

test('udp6 and peer-relay sockets address nodes by hex id', async (t) => {
  const [a, b] = await linkedPair(t);
  const s6 = await bound(sock(t, { type: 'udp6', peer: a }));
  const sp = await bound(sock(t, { type: 'peer-relay', peer: b }));
  t.equal(s6.address().address, toHex(a.id), 'udp6: the hex id');
  t.equal(sp.address().family, 'peer-relay', 'family peer-relay');
  const got = nextMessage(s6);
  sp.send('by id', s6.address().port, s6.address().address);
  const [msg, rinfo] = await got;
  t.equal(msg.toString(), 'by id', 'delivered');
  t.equal(rinfo.address, toHex(b.id), 'rinfo.address is the sender id');
});
