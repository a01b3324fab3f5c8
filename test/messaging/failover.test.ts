import test from 'tape';
import { startMesh, startNode, waitFor, urlOf, FAST } from '../helpers/testnet.js';
import { startClient, inbox, nextError } from '../helpers/messaging.js';
import { MessagingPeer, generateKeyPair, type PeerRelay } from '../../src/index.js';
import type { MessagingError } from '../../src/messaging/inbound.js';

const destroy = (n: PeerRelay) => new Promise<void>((r) => n.destroy(() => r()));
const knows = (node: PeerRelay, id: string) => () => node.signaling!.discover().includes(id);

async function mesh(t: test.Test): Promise<PeerRelay[]> {
  const nodes = await startMesh(t, 3, { signaling: { rosterDelayMs: 20 } });
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length >= 2), 15_000), 'the 3 nodes are linked to each other');
  return nodes;
}

test('serverUrl takes an array: when its node dies for good the client moves to the next, keeps its id, and messages flow both ways', async (t) => {
  const [x, y, z] = await mesh(t);
  const alice = await startClient(t, [urlOf(x), urlOf(y)], 'alice', { reconnect: { baseDelayMs: 100 } });
  const bob = await startClient(t, z, 'bob');
  t.equal(alice.serverUrl, urlOf(x), 'alice starts on X, the first URL');
  t.ok(await waitFor(knows(z, 'alice')), 'Z knows alice');
  const a = inbox(alice);
  const b = inbox(bob);
  const errors: MessagingError[] = [];
  alice.onError((e) => errors.push(e));
  bob.onError((e) => errors.push(e));
  await bob.sendMessage('alice', 'before');
  t.ok(await waitFor(() => a.length === 1), 'a first message arrives');
  await destroy(x);
  t.ok(await waitFor(() => !alice.isConnected), 'alice notices X is gone');
  // Sent while alice has no server: bob's node holds it until alice registers again (on Y).
  await bob.sendMessage('alice', 'while moving');
  await alice.sendMessage('bob', 'queued while moving');
  t.ok(await waitFor(() => alice.isConnected, 20_000), 'alice reconnects');
  t.equal(alice.serverUrl, urlOf(y), 'to Y, the next URL');
  t.ok(y.signaling!.clients().some((c) => c.clientId === 'alice'), 'Y holds alice under her id');
  t.ok(await waitFor(() => a.some((m) => m.message === 'while moving'), 15_000), 'the message sent while she moved reaches her');
  t.ok(await waitFor(() => b.some((m) => m.message === 'queued while moving')), 'what she queued is sent after re-registering');
  await bob.sendMessage('alice', 'after');
  t.ok(await waitFor(() => a.some((m) => m.message === 'after')), 'and new messages reach her on Y');
  t.deepEqual(errors.map((e) => e.type), [], 'neither client saw an error');
});

test('connect() with an array skips a server that is down', async (t) => {
  const live = await startNode(t, { port: 0, ...FAST });
  const dead = await startNode(null, { port: 0, ...FAST });
  const deadUrl = urlOf(dead);
  await destroy(dead);
  const { publicKey, secretKey } = generateKeyPair();
  const p = new MessagingPeer({ serverUrl: [deadUrl, urlOf(live)], clientId: 'hopper', publicKey, secretKey });
  t.teardown(() => p.disconnect());
  await p.connect();
  t.equal(p.serverUrl, urlOf(live), 'registered on the second URL');
  t.ok(live.signaling!.clients().some((c) => c.clientId === 'hopper'), 'the live server holds it');
});

test('bad serverUrl arrays are refused with a TypeError', (t) => {
  const { publicKey } = generateKeyPair();
  for (const serverUrl of [[], ['http://x'], ['ws://a', 5], new Array(17).fill('ws://a')]) {
    t.throws(() => new MessagingPeer({ serverUrl: serverUrl as string[], clientId: 'c', publicKey }), TypeError, `refused: ${JSON.stringify(serverUrl).slice(0, 40)}`);
  }
  t.end();
});

test('messages that can no longer be sent are reported (NOT_DELIVERED), never dropped silently', async (t) => {
  const node = await startNode(null, { port: 0, ...FAST });
  const peer = await startClient(t, node, 'lonely', { reconnect: { baseDelayMs: 20, maxAttempts: 2 } });
  const target = await startClient(t, node, 'target');
  await peer.requestPublicKey('target');
  target.disconnect();
  const errors: MessagingError[] = [];
  peer.onError((e) => errors.push(e));
  await destroy(node);
  t.ok(await waitFor(() => !peer.isConnected), 'the server is gone');
  await peer.sendMessage('target', 'one');
  await peer.sendMessage('target', 'two');
  t.ok(await waitFor(() => errors.some((e) => e.type === 'CONNECTION_LOST')), 'reconnection gives up');
  const lost = errors.find((e) => e.type === 'NOT_DELIVERED');
  t.ok(lost && /2 queued/.test(lost.details), 'and the 2 queued messages are reported as NOT_DELIVERED');
});

test('a message to a client that left and does not come back fails with PEER_NOT_FOUND after the wait, not silently', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { movingWaitMs: 1500 } });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  await alice.requestPublicKey('bob');
  bob.disconnect();
  t.ok(await waitFor(() => !node.signaling!.clients().some((c) => c.clientId === 'bob')), 'bob left');
  const err = nextError(alice);
  err.catch(() => undefined);
  let outcome = '';
  try {
    await alice.sendMessage('bob', 'are you there?');
    outcome = (await err).type;
  } catch (e) {
    outcome = (e as { code: string }).code;
  }
  t.ok(outcome === 'PEER_NOT_FOUND' || outcome === 'ERR_PEER_NOT_FOUND', `the sender hears PEER_NOT_FOUND once bob did not come back (${outcome})`);
});

test('a message a dying server took without acknowledging it is sent again to the next server', async (t) => {
  const { WebSocketServer } = await import('ws');
  const { ml_dsa65 } = await import('@noble/post-quantum/ml-dsa.js');
  const real = await startNode(t, { port: 0, ...FAST });
  const seed = new Uint8Array(32).fill(3);
  const target = await startClient(t, real, 'target', { signingSeed: seed });
  const got = inbox(target);
  // A server that registers the client, answers its key request, takes one message and dies without an ack.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const taken: string[] = [];
  wss.on('connection', (ws) => ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === 'register') ws.send(JSON.stringify({ type: 'register', id: f.id, payload: { success: true, clientId: f.payload.clientId } }));
    if (f.type === 'request_public_key') {
      ws.send(JSON.stringify({ type: 'public_key_response', id: f.id, payload: {
        peerId: 'target', publicKey: Array.from(target.config.publicKey), signingKey: Buffer.from(ml_dsa65.keygen(seed).publicKey).toString('base64'), capabilities: ['relaymesh-im-v1'],
      } }));
    }
    if (f.type === 'message') { taken.push(f.id); ws.terminate(); wss.close(); }
  }));
  const fakeUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  const sender = await startClient(t, [fakeUrl, urlOf(real)], 'sender', { reconnect: { baseDelayMs: 50 } });
  t.equal(sender.serverUrl, fakeUrl, 'the sender starts on the server that will drop it');
  const errors: MessagingError[] = [];
  sender.onError((e) => errors.push(e));
  await sender.sendMessage('target', 'do not lose me');
  t.ok(await waitFor(() => taken.length === 1), 'the first server took the message (with an id) and died');
  t.ok(await waitFor(() => got.some((m) => m.message === 'do not lose me'), 15_000), 'the message reaches the target through the next server');
  t.equal(sender.serverUrl, urlOf(real), 'the sender is on the real node now');
  t.deepEqual(errors.filter((e) => e.type === 'NOT_DELIVERED'), [], 'nothing was reported lost');
});
