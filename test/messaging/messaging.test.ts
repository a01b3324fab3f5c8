import test from 'tape';
import { startNode, waitFor, FAST } from '../helpers/testnet.js';
import { startClient, makeClient, inbox, nextError } from '../helpers/messaging.js';
import { MessagingPeer, generateKeyPair } from '../../src/index.js';

test('two clients on one node exchange authenticated messages both ways', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const a = inbox(alice);
  const b = inbox(bob);
  await alice.sendMessage('bob', 'hello bob');
  await bob.sendMessage('alice', 'hello alice');
  t.ok(await waitFor(() => a.length === 1 && b.length === 1), 'each receives one message');
  t.deepEqual(b[0], { message: 'hello bob', fromId: 'alice', info: { algorithm: 'relaymesh-im-v1', authenticated: true } }, 'bob gets alice\'s message, authenticated');
  t.deepEqual(a[0], { message: 'hello alice', fromId: 'bob', info: { algorithm: 'relaymesh-im-v1', authenticated: true } }, 'alice gets bob\'s message, authenticated');
});

test('discover lists the other registered clients', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  await startClient(t, node, 'bob');
  await startClient(t, node, 'carol');
  t.deepEqual((await alice.discoverPeers()).sort(), ['bob', 'carol'], 'bob and carol');
});

test('many requests in flight are each answered with their own result', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const ids = ['p0', 'p1', 'p2', 'p3', 'p4'];
  const peers = await Promise.all(ids.map((id) => startClient(t, node, id)));
  const asker = await startClient(t, node, 'asker');
  const keys = await Promise.all([
    ...ids.map((id) => asker.requestPublicKey(id)),
    asker.discoverPeers(),
    ...ids.map((id) => asker.requestPublicKey(id)),
  ]);
  ids.forEach((id, i) => {
    t.deepEqual([...(keys[i] as Uint8Array)], [...peers[i].config.publicKey], `key of ${id} is ${id}'s`);
    t.deepEqual([...(keys[i + ids.length + 1] as Uint8Array)], [...peers[i].config.publicKey], `second key of ${id} is ${id}'s`);
  });
  t.deepEqual((keys[ids.length] as string[]).sort(), ids, 'discover answered in the middle');
});

test('messages sent concurrently all arrive, in order', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  await Promise.all(Array.from({ length: 200 }, (_, i) => alice.sendMessage('bob', `m${i}`)));
  t.ok(await waitFor(() => b.length === 200), '200 arrive');
  t.deepEqual(b.map((r) => r.message), Array.from({ length: 200 }, (_, i) => `m${i}`), 'in order');
});

test('a 1 MiB message arrives intact', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  const big = 'x'.repeat(1024 * 1024 - 3) + 'end';
  await alice.sendMessage('bob', big);
  t.ok(await waitFor(() => b.length === 1), 'arrives');
  t.equal(b[0]?.message.length, big.length, 'same length');
  t.ok(b[0]?.message === big, 'same content');
});

test('sending to an unknown client reports PEER_NOT_FOUND', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  try {
    await alice.sendMessage('nobody', 'hi');
    t.fail('should reject');
  } catch (err) {
    t.equal((err as { code: string }).code, 'ERR_PEER_NOT_FOUND', 'ERR_PEER_NOT_FOUND');
    t.equal((err as { info: { errorType: string } }).info.errorType, 'PEER_NOT_FOUND', 'server error type kept');
  }
});

test('a second client with a taken id is refused while the owner is connected', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  await startClient(t, node, 'alice');
  const impostor = makeClient(t, node, 'alice');
  try {
    await impostor.connect();
    t.fail('should reject');
  } catch (err) {
    t.equal((err as { code: string }).code, 'ERR_CLIENT_ID_TAKEN', 'ERR_CLIENT_ID_TAKEN');
  }
});

test('an id stays reserved for its owner\'s signing key after the owner leaves', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const seed = new Uint8Array(32).fill(7);
  const owner = await startClient(t, node, 'alice', { signingSeed: seed });
  owner.disconnect();
  t.ok(await waitFor(() => node.signaling!.clients().length === 0), 'owner gone');
  const other = makeClient(t, node, 'alice');
  await other.connect().then(() => t.fail('other key accepted'), (err) => t.equal(err.code, 'ERR_CLIENT_ID_TAKEN', 'another key is refused'));
  const back = makeClient(t, node, 'alice', { signingSeed: seed });
  await back.connect();
  t.ok(back.isConnected, 'the owner\'s key gets the id back');
});

test('sendToServerAndWait honours filterFn, timeout, retryCount and errorHandler', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { handlerTimeoutMs: 150 } });
  let calls = 0;
  node.signaling!.addHandler('custom_action', (_client, payload: any) => {
    calls++;
    return { type: 'custom_action_success', payload: { echo: payload.someData, n: calls } };
  });
  node.signaling!.addHandler('slow_action', () => new Promise(() => undefined));
  const peer = await startClient(t, node, 'alice');
  const res = await peer.sendToServerAndWait({ type: 'custom_action', payload: { someData: 'value' } }, 'custom_action_success');
  t.deepEqual(res, { echo: 'value', n: 1 }, 'custom answer payload');
  const errors: unknown[] = [];
  const started = calls;
  await peer.sendToServerAndWait({ type: 'slow_action', payload: {} }, 'slow_action_done', { timeout: 100, retryCount: 2, errorHandler: (e) => errors.push(e) })
    .then(() => t.fail('resolved'), (err) => t.equal(err.code, 'ERR_TIMEOUT', 'rejects with ERR_TIMEOUT'));
  t.equal(errors.length, 3, 'errorHandler sees each of 1 + 2 attempts');
  t.equal(calls, started, 'custom handler untouched by the slow ones');
  await peer.sendToServerAndWait({ type: 'custom_action', payload: { someData: 'v' } }, 'custom_action_success', {
    timeout: 300, filterFn: (m) => m.payload.echo === 'other',
  }).then(() => t.fail('filter ignored'), (err) => t.equal(err.code, 'ERR_TIMEOUT', 'an answer the filter refuses is not taken'));
  await peer.sendToServerAndWait({ type: 'no_such_type', payload: {} }, 'x')
    .then(() => t.fail('resolved'), (err) => t.equal(err.info?.errorType, 'INVALID_MESSAGE', `unknown type is an INVALID_MESSAGE error (${err.code} ${err.message})`));
});

test('a message that fails to decrypt goes to onError and later messages still arrive', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  const mallory = await startClient(t, node, 'mallory');
  const err = nextError(bob);
  await mallory.sendToServerAndWait({ type: 'message', payload: { targetId: 'bob', message: { algorithm: 'ml-kem-aes', serializedCipherText: 'AAAA', serializedEncryptedData: 'AAAA' } } }, 'never', { timeout: 200 }).catch(() => undefined);
  const e = await err;
  t.equal(e.code, 'ERR_DECRYPT_FAILED', 'onError gets ERR_DECRYPT_FAILED');
  const alice = await startClient(t, node, 'alice');
  await alice.sendMessage('bob', 'still here');
  t.ok(await waitFor(() => b.length === 1), 'next message arrives');
});

test('a client without secretKey reports undecryptable messages instead of throwing', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const kp = generateKeyPair();
  const bob = new MessagingPeer({ serverUrl: `ws://127.0.0.1:${node.address()!.port}`, clientId: 'bob', publicKey: kp.publicKey });
  t.teardown(() => bob.disconnect());
  await bob.connect();
  const alice = await startClient(t, node, 'alice');
  const err = nextError(bob);
  await alice.sendMessage('bob', 'hi');
  t.equal((await err).code, 'ERR_DECRYPT_FAILED', 'ERR_DECRYPT_FAILED');
});

test('constructor misuse throws TypeError naming the parameter', (t) => {
  const kp = generateKeyPair();
  t.throws(() => new MessagingPeer({ serverUrl: 'http://x', clientId: 'a', publicKey: kp.publicKey }), /serverUrl/, 'serverUrl');
  t.throws(() => new MessagingPeer({ serverUrl: 'ws://127.0.0.1:1', clientId: '', publicKey: kp.publicKey }), /clientId/, 'clientId');
  t.throws(() => new MessagingPeer({ serverUrl: 'ws://127.0.0.1:1', clientId: 'a', publicKey: new Uint8Array(3) }), /publicKey/, 'publicKey');
  t.end();
});

test('after disconnect, sends fail with ERR_NOT_CONNECTED instead of queueing', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  await startClient(t, node, 'bob');
  await alice.sendMessage('bob', 'first');
  alice.disconnect();
  alice.disconnect();
  t.pass('disconnect is idempotent');
  await alice.sendMessage('bob', 'late').then(() => t.fail('queued'), (e) => t.equal(e.code, 'ERR_NOT_CONNECTED', 'sendMessage: ERR_NOT_CONNECTED'));
  await alice.discoverPeers().then(() => t.fail('resolved'), (e) => t.equal(e.code, 'ERR_NOT_CONNECTED', 'discoverPeers: ERR_NOT_CONNECTED'));
  await alice.connect();
  t.deepEqual(await alice.discoverPeers(), ['bob'], 'connect() again works');
});

test('MessagingPeer reads batched acknowledgements: messages sent together are all acknowledged, none held as unacknowledged', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  // maxQueued bounds the unacknowledged messages: one left unacknowledged per round would pass it in the second round.
  const alice = await startClient(t, node, 'alice', { maxQueued: 20 });
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  const errors: string[] = [];
  alice.onError((e) => errors.push(e.type));
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => alice.sendMessage('bob', `r${round} #${i}`)));
    t.ok(await waitFor(() => b.length === 20 * (round + 1)), `round ${round}: bob got all 20`);
    // The acknowledgements follow the messages on alice's socket; a discover answer comes after them.
    await alice.discoverPeers();
  }
  t.deepEqual(errors, [], 'no UNACKNOWLEDGED (or other) error');
  t.deepEqual(b.map((m) => m.message), Array.from({ length: 60 }, (_, i) => `r${Math.floor(i / 20)} #${i % 20}`), 'in order');
});
