import test from 'tape';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import { startNode, urlOf, waitFor, sleep, FAST } from '../helpers/testnet.js';
import { protoo, nextNotification } from '../helpers/protoo-client.js';
import { connector } from '../helpers/connector-client.js';
import { loopbackWrtc } from '../helpers/webrtc-loopback.js';
import { rawSocket } from '../helpers/messaging.js';
import { imRegisterFrame } from '../helpers/im-register.js';
import { protooServerOf } from '../../src/signaling/protoo-server.js';
import type { PeerRelay } from '../../src/index.js';

async function twoNodes(t: test.Test): Promise<[PeerRelay, PeerRelay]> {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { port: 0, bootstrap: [urlOf(a)], ...FAST });
  await waitFor(() => a.peers.length === 1 && b.peers.length === 1);
  return [a, b];
}

test('protoo-client connects; requests are answered, and refused with errorCode and errorReason', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await protoo(t, node, 'alice');
  t.ok(alice.connected, 'the real protoo-client is connected');
  t.deepEqual(await alice.request('discover'), { peers: [] }, 'discover is answered');
  const room = await alice.request('create_room', { room: 'lobby', name: 'Lobby' });
  t.deepEqual(room, { room: 'lobby', name: 'Lobby', creator: 'alice', clients: ['alice'] }, 'create_room is answered with the room');
  await alice.request('join_room', { room: 'nowhere' }).then(() => t.fail('answered'), (err: any) => {
    t.equal(err.code, 404, 'an unknown room is refused with errorCode 404');
    t.match(err.message, /^ROOM_NOT_FOUND: /, 'errorReason names the error type');
  });
  await alice.request('join_room', { room: 'lobby' }).then(() => t.fail('answered'), (err: any) => t.equal(err.code, 409, 'joining twice is refused with 409'));
  await alice.request('fly', {}).then(() => t.fail('answered'), (err: any) => t.equal(err.code, 405, 'an unknown method is refused with 405'));
  await alice.request('request_public_key', { targetId: 'alice' }).then(() => t.fail('answered'), (err: any) => t.equal(err.code, 404, 'a keyless peer has no public key (404)'));
});

test('notifications both ways, and messages between protoo, Connector and protoo peers on different nodes', async (t) => {
  const [na, nb] = await twoNodes(t);
  const alice = await protoo(t, na, 'alice');
  const bob = await protoo(t, nb, 'bob');
  const carol = await connector(t, `${urlOf(nb)}/connector`);
  t.ok(await waitFor(() => na.signaling!.homeOf('bob') !== undefined && na.signaling!.homeOf(carol.id) !== undefined && nb.signaling!.homeOf('alice') !== undefined), 'rosters have spread');

  const toBob = nextNotification(bob, 'message');
  t.deepEqual(await alice.request('message', { targetId: 'bob', message: { hi: 1 } }), {}, 'message request is answered');
  t.deepEqual(await toBob, { fromId: 'alice', message: { hi: 1 } }, 'the server pushes a message notification to the peer on the other node');

  const seen = new Promise<any>((r) => protooServerOf(na.signaling!).getPeer('alice')!.once('notification', r));
  const again = nextNotification(bob, 'message');
  await alice.notify('message', { targetId: 'bob', message: { text: 'as a notification' } });
  t.deepEqual((await seen).method, 'message', 'the server application sees the client notification');
  t.deepEqual(await again, { fromId: 'alice', message: { text: 'as a notification' } }, 'a client notification is acted on too');

  const toAlice = nextNotification(alice, 'message');
  carol.send({ event: 'Message', to: 'alice', data: 'from connector' });
  t.deepEqual(await toAlice, { fromId: carol.id, message: { event: 'Message', data: 'from connector' } }, 'a Connector client reaches a protoo peer');
  await alice.request('message', { targetId: carol.id, message: { text: 'to connector' } });
  const m = await carol.next('Message');
  t.deepEqual([m.data, m.from], [{ text: 'to connector' }, 'alice'], 'a protoo peer reaches a Connector client');
  await alice.request('message', { targetId: 'bob', message: 'not an object' }).then(() => t.fail('answered'), (err: any) => t.equal(err.code, 400, 'a message that is not an object is refused with 400'));

  await alice.request('create_room', { room: 'r' });
  const joined = nextNotification(alice, 'join_room');
  t.deepEqual((await bob.request('join_room', { room: 'r' })).clients, ['alice', 'bob'], 'join_room across nodes answers with the members');
  t.deepEqual(await joined, { room: 'r', name: '', clients: ['alice', 'bob'], client: 'bob' }, 'members get a join_room notification');
  const said = nextNotification(alice, 'room_message');
  t.deepEqual(await bob.request('room_message', { room: 'r', data: 'yo' }), { delivered: 1 }, 'room_message reports how many got it');
  t.deepEqual(await said, { room: 'r', from: 'bob', data: 'yo' }, 'room_message notification reaches the member');
});

test('an IM client messages a protoo peer on another node, and the protoo peer answers, with keys registered over protoo', async (t) => {
  const [na, nb] = await twoNodes(t);
  const alice = await protoo(t, na, 'alice');
  const im = await rawSocket(t, urlOf(nb));
  im.send(imRegisterFrame('im-user'));
  t.equal((await im.next()).type, 'register', 'the IM client registers');
  t.ok(await waitFor(() => nb.signaling!.homeOf('alice') !== undefined && na.signaling!.homeOf('im-user') !== undefined), 'rosters have spread');
  const got = nextNotification(alice, 'message');
  im.send({ type: 'message', payload: { targetId: 'alice', message: { text: 'hi protoo' } } });
  t.deepEqual(await got, { fromId: 'im-user', message: { text: 'hi protoo' } }, 'the protoo peer gets the IM message as a message notification');
  await alice.request('message', { targetId: 'im-user', message: { text: 'hi im' } });
  const m = await im.next();
  t.deepEqual([m.type, m.payload.fromId, m.payload.message], ['message', 'alice', { text: 'hi im' }], 'the IM client gets the answer');
  const reg = (imRegisterFrame('alice') as { payload: Record<string, unknown> }).payload;
  t.deepEqual(await alice.request('register', reg), { success: true, clientId: 'alice' }, 'register over protoo adds keys to the peer');
  const key = await alice.request('request_public_key', { targetId: 'im-user' }) as { peerId: string; publicKey: number[] };
  t.deepEqual([key.peerId, key.publicKey.length], ['im-user', 1184], 'request_public_key returns the IM client\'s ML-KEM key across nodes');
  im.send({ type: 'request_public_key', payload: { targetId: 'alice' } });
  const k2 = await im.next();
  t.deepEqual([k2.type, k2.payload.publicKey.length], ['public_key_response', 1184], 'the IM client gets the protoo peer\'s key');
});

test('the server sends requests to a protoo-client peer: answered, refused, and core questions', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await protoo(t, node, 'alice');
  alice.on('request', (req: any, accept: any, reject: any) => {
    if (req.method === 'ping') accept({ n: req.data.n + 1 });
    else if (req.method === 'server_question') accept({ answer: req.data.question.q * 2 });
    else reject(418, 'teapot');
  });
  const peer = protooServerOf(node.signaling!).getPeer('alice')!;
  t.deepEqual(await peer.request('ping', { n: 1 }), { n: 2 }, 'a server-initiated request is answered');
  await peer.request('brew').then(() => t.fail('answered'), (err: any) => {
    t.equal(err.info.errorCode, 418, 'the client refusal carries its errorCode');
    t.equal(err.message, 'teapot', 'and its errorReason');
  });
  t.deepEqual(await node.signaling!.ask('alice', { q: 21 }), { answer: 42 }, 'a core question is a protoo request server_question');
  t.throws(() => peer.request(''), TypeError, 'an empty method is a TypeError');
});

test('a request the application never answers gets a 408 response', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { handlerTimeoutMs: 300 } });
  const alice = await protoo(t, node, 'alice');
  protooServerOf(node.signaling!).getPeer('alice')!.on('request', () => undefined);
  await alice.request('hang', {}).then(() => t.fail('answered'), (err: any) => t.equal(err.code, 408, 'errorCode 408 after the handler timeout'));
  t.deepEqual(await alice.request('discover'), { peers: [] }, 'the peer is still served');
});

test('protoo-client reconnects after a drop, and does not after close code 4000', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const server = protooServerOf(node.signaling!);
  const alice = await protoo(t, node, 'alice');
  const first = server.getPeer('alice')!;
  const reopened = new Promise<void>((r) => alice.once('open', () => r()));
  const disconnected = new Promise<void>((r) => alice.once('disconnected', () => r()));
  for (const ws of node.listener!.clients()) if (ws.protocol === 'protoo') ws.terminate();
  await disconnected;
  t.pass('the client sees the drop');
  await reopened;
  t.ok(await waitFor(() => server.getPeer('alice') !== undefined && server.getPeer('alice') !== first), 'the client reconnected as a new server peer');
  t.deepEqual(await alice.request('discover'), { peers: [] }, 'requests work after reconnecting');

  let opens = 0;
  alice.on('open', () => opens++);
  const closed = new Promise<void>((r) => alice.once('close', () => r()));
  server.getPeer('alice')!.close();
  await closed;
  t.ok(alice.closed, 'close code 4000 closes the client for good');
  await sleep(1500);
  t.equal(opens, 0, 'no reconnection attempt follows');
  t.notOk(server.hasPeer('alice'), 'the server forgot the peer');
});

test('connectionrequest: the application accepts (choosing the peerId) or rejects before the upgrade', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const server = protooServerOf(node.signaling!);
  const accepted: string[] = [];
  server.on('connectionrequest', (info, accept, reject) => {
    if (info.peerId === 'mallory') return reject(403, 'Not Allowed');
    accept({ peerId: `app-${info.peerId}` }).then((p) => accepted.push(p.id));
  });
  const alice = await protoo(t, node, 'alice');
  t.deepEqual(accepted, ['app-alice'], 'accept resolves to the peer with the id the application chose');
  t.deepEqual(await alice.request('discover'), { peers: [] }, 'the accepted peer is served');
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${urlOf(node)}/?peerId=mallory`, 'protoo');
    t.teardown(() => ws.terminate());
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
  t.equal(status, 403, 'the rejected handshake gets HTTP 403');
});

test('two simple-peer clients on different mesh nodes open a data channel through protoo', async (t) => {
  const [na, nb] = await twoNodes(t);
  const alice = await protoo(t, na, 'alice');
  const bob = await protoo(t, nb, 'bob');
  t.ok(await waitFor(() => na.signaling!.homeOf('bob') !== undefined && nb.signaling!.homeOf('alice') !== undefined), 'rosters have spread');
  const wrtc = loopbackWrtc();
  const pa = new SimplePeer({ initiator: true, wrtc: wrtc as any });
  const pb = new SimplePeer({ wrtc: wrtc as any });
  t.teardown(() => { pa.destroy(); pb.destroy(); });
  // A late ICE candidate's request may still wait for its answer when teardown closes the peer: it rejects with
  // 'peer closed' then (left unhandled, that rejection crashed the file after its last assertion, under load).
  // A request refused while the peer is open fails the test.
  const signalOver = (peer: any, targetId: string) => (s: unknown) => {
    peer.request('message', { targetId, message: s }).catch((err: Error) => { if (!peer.closed) t.fail(`signal to ${targetId}: ${err.message}`); });
  };
  pa.on('signal', signalOver(alice, 'bob'));
  pb.on('signal', signalOver(bob, 'alice'));
  alice.on('notification', (n: any) => { if (n.method === 'message') pa.signal(n.data.message); });
  bob.on('notification', (n: any) => { if (n.method === 'message') pb.signal(n.data.message); });
  const got = new Promise<string>((resolve) => pb.once('data', (d: Buffer) => resolve(d.toString())));
  await new Promise<void>((resolve) => pa.once('connect', () => resolve()));
  pa.send('through protoo');
  t.equal(await got, 'through protoo', 'the data channel carries data between the clients');
});
