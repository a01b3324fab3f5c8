import test from 'tape';
import SimplePeer from 'simple-peer';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';
import { connector, type ConnectorClient } from '../helpers/connector-client.js';
import { rawSocket } from '../helpers/messaging.js';
import { imRegisterFrame } from '../helpers/im-register.js';
import { loopbackWrtc } from '../helpers/webrtc-loopback.js';
import type { PeerRelay } from '../../src/index.js';

async function twoNodes(t: test.Test): Promise<[PeerRelay, PeerRelay]> {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { port: 0, bootstrap: [urlOf(a)], ...FAST });
  await waitFor(() => a.peers.length === 1 && b.peers.length === 1);
  return [a, b];
}

test('a Connector client gets Client_Details with a 22-character id, on /connector and on /p2p', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const a = await connector(t, `${urlOf(node)}/connector`);
  const b = await connector(t, `${urlOf(node)}/p2p`);
  t.match(a.id, /^[2-9A-HJ-NP-Za-km-z]{22}$/, 'the id is 22 characters of the short-id alphabet');
  t.notEqual(a.id, b.id, 'ids differ');
  t.ok(node.signaling!.clients().some((c) => c.clientId === b.id && c.dialect === 'connector'), 'the client is registered in the shared core');
});

test('Offer, Answer, Candidate and Message reach a client on another node with from added and to removed', async (t) => {
  const [na, nb] = await twoNodes(t);
  const a = await connector(t, `${urlOf(na)}/connector`);
  const b = await connector(t, `${urlOf(nb)}/connector`);
  t.ok(await waitFor(() => na.signaling!.homeOf(b.id) !== undefined && nb.signaling!.homeOf(a.id) !== undefined), 'each node learns the other\'s client from its roster');
  for (const event of ['Offer', 'Answer', 'Candidate', 'Message']) {
    a.send({ event, to: b.id, data: { n: event } });
    const got = await b.next(event);
    t.deepEqual([got.event, got.data, got.from, 'to' in got], [event, { n: event }, a.id, false], `${event} is relayed with from and without to`);
  }
  a.send({ event: 'Message', to: b.id, data: 'hellow world' });
  t.equal((await b.next('Message')).data, 'hellow world', 'a string payload is relayed as is');
  a.send({ event: 'Connect', to: b.id, data: { sdp: 'v=0', candidate: 'cand' } });
  const offer = await b.next('Offer');
  t.deepEqual(offer.data, { sdp: 'v=0', candidate: 'cand' }, 'Connect arrives as an Offer with both its sdp and its candidate');
});

test('Connector errors: Not_Found, Missing_Fields, Unsupported_Event, and frames that are not JSON', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const a = await connector(t, `${urlOf(node)}/connector`);
  a.send({ event: 'Message', to: '7KjNqESrhhTkEfXgFuaGWJ', data: 'x' });
  const nf = await a.next('Not_Found');
  t.deepEqual([nf.type, nf.data.message], ['error', 'Client with given 7KjNqESrhhTkEfXgFuaGWJ not found'], 'unknown target gives Not_Found with the seed message');
  a.send({ event: 'Offer', data: {} });
  t.equal((await a.next('Missing_Fields')).type, 'error', 'no to gives Missing_Fields');
  a.send({ event: 'Dance', data: {} });
  t.equal((await a.next('Unsupported_Event')).type, 'error', 'an unknown event gives Unsupported_Event');
  a.ws.send('{not json');
  t.equal((await a.next('Unsupported_Event')).type, 'error', 'a frame that is not JSON is answered, not fatal');
  a.send({ event: 'Message', to: a.id, data: 'still alive' });
  t.equal((await a.next('Message')).data, 'still alive', 'the connection still works');
});

test('an IM client and a Connector client on different nodes message each other', async (t) => {
  const [na, nb] = await twoNodes(t);
  const c = await connector(t, `${urlOf(na)}/connector`);
  const im = await rawSocket(t, urlOf(nb));
  im.send(imRegisterFrame('im-user'));
  t.equal((await im.next()).type, 'register', 'the IM client registers on the other node');
  t.ok(await waitFor(() => na.signaling!.homeOf('im-user') !== undefined && nb.signaling!.homeOf(c.id) !== undefined), 'both nodes know both clients');
  c.send({ event: 'Message', to: 'im-user', data: { text: 'hi im' } });
  const m = await im.next();
  t.deepEqual([m.type, m.payload.fromId, m.payload.message], ['message', c.id, { event: 'Message', data: { text: 'hi im' } }], 'the IM client gets the Connector frame as its message');
  im.send({ type: 'message', payload: { targetId: c.id, message: { text: 'hi connector' } } });
  const back = await c.next('Message');
  t.deepEqual([back.data, back.from], [{ text: 'hi connector' }, 'im-user'], 'the Connector client gets the IM message as a Message event');
});

function signalOver(c: ConnectorClient, to: () => string, peer: SimplePeer.Instance): void {
  peer.on('signal', (s: any) => {
    const event = s.type === 'offer' ? 'Offer' : s.type === 'answer' ? 'Answer' : 'Candidate';
    c.send({ event, to: to(), data: s });
  });
}

test('two simple-peer clients on different mesh nodes open a data channel using only Connector events', async (t) => {
  const [na, nb] = await twoNodes(t);
  const a = await connector(t, `${urlOf(na)}/connector`);
  const b = await connector(t, `${urlOf(nb)}/connector`);
  t.ok(await waitFor(() => na.signaling!.homeOf(b.id) !== undefined && nb.signaling!.homeOf(a.id) !== undefined), 'each node learns the other\'s client from its roster');
  const wrtc = loopbackWrtc();
  const pa = new SimplePeer({ initiator: true, wrtc: wrtc as any, trickle: true });
  const pb = new SimplePeer({ wrtc: wrtc as any, trickle: true });
  t.teardown(() => { pa.destroy(); pb.destroy(); });
  signalOver(a, () => b.id, pa);
  signalOver(b, () => a.id, pb);
  const relayTo = (c: ConnectorClient, p: SimplePeer.Instance) => c.ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (['Offer', 'Answer', 'Candidate'].includes(f.event)) p.signal(f.data);
  });
  relayTo(a, pa);
  relayTo(b, pb);
  const got = new Promise<string>((resolve) => pb.once('data', (d: Buffer) => resolve(d.toString())));
  await new Promise<void>((resolve) => pa.once('connect', () => resolve()));
  pa.send('over the data channel');
  t.equal(await got, 'over the data channel', 'the data channel carries data between the clients');
});
