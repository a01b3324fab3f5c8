import test from 'tape';
import { WebSocket } from 'ws';
import { startNode, startMesh, waitFor, FAST } from '../helpers/testnet.js';
import { startClient, inbox, nextError } from '../helpers/messaging.js';
import { KIND_BATCH, KIND_SINGLE, parseDeliveredFrame } from '../../src/signaling/im-binary.js';
import { MESSAGING_LIMITS } from '../../src/util/limits.js';

type Sent = { ws: WebSocket; data: Uint8Array };

/** Records the binary frames nodes write to their clients (server-side sockets of `ws`) until the test ends. */
function spyNodeBinary(t: test.Test, rewrite?: (data: Uint8Array) => Uint8Array): Sent[] {
  const sent: Sent[] = [];
  const proto = WebSocket.prototype as unknown as { send: (...a: unknown[]) => void };
  const original = proto.send;
  proto.send = function (this: WebSocket & { _isServer?: boolean }, data: unknown, ...rest: unknown[]) {
    if (this._isServer && data instanceof Uint8Array && (rest[0] as { binary?: boolean } | undefined)?.binary) {
      sent.push({ ws: this, data: Uint8Array.from(data) });
      if (rewrite) data = rewrite(Uint8Array.from(data));
    }
    return original.call(this, data, ...rest);
  };
  t.teardown(() => { proto.send = original; });
  return sent;
}

test('messages to one peer in one turn reach it as one sealed binary batch record, in order and intact', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  await alice.sendMessage('bob', 'hello'); // starts the session (JSON envelope)
  t.ok(await waitFor(() => b.length === 1), 'the first message arrives');
  const sent = spyNodeBinary(t);
  const texts = Array.from({ length: 50 }, (_, i) => `m${i} ${'é'.repeat(i)}`);
  for (const s of texts) void alice.sendMessage('bob', s);
  t.ok(await waitFor(() => b.length === 51), 'all 50 arrive');
  t.deepEqual(b.slice(1).map((r) => r.message), texts, 'in order, each intact (UTF-8 included)');
  t.ok(b.every((r) => r.info.authenticated && r.info.algorithm === 'relaymesh-im-v1'), 'authenticated relaymesh-im-v1');
  const frames = sent.map((s) => parseDeliveredFrame(s.data));
  t.equal(frames.length, 1, 'the node wrote bob one binary frame for the 50');
  t.equal(frames[0]?.kind, KIND_BATCH, 'a batch record');
  t.equal(frames[0]?.from, 'alice', 'from alice');
});

test('a lone message after the session start is a single record; a long one goes alone', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  await alice.sendMessage('bob', 'start');
  t.ok(await waitFor(() => b.length === 1), 'the session starts');
  const sent = spyNodeBinary(t);
  await alice.sendMessage('bob', 'alone');
  t.ok(await waitFor(() => b.length === 2), 'the lone message arrives');
  t.deepEqual(sent.map((s) => s.data[0]), [KIND_SINGLE], 'as one single record');
  const long = 'L'.repeat(MESSAGING_LIMITS.maxBatchBytes + 10);
  void alice.sendMessage('bob', 'before');
  void alice.sendMessage('bob', long);
  void alice.sendMessage('bob', 'after');
  t.ok(await waitFor(() => b.length === 5), 'the three of one turn arrive');
  t.deepEqual(b.slice(2).map((r) => r.message.length), [6, long.length, 5], 'in order, the long one intact');
  t.deepEqual(sent.slice(1).map((s) => s.data[0]), [KIND_SINGLE, KIND_SINGLE, KIND_SINGLE], 'the long one over maxBatchBytes alone; so are its neighbours');
});

test('a binary record replayed by the node is refused as a replay and delivered once', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  await alice.sendMessage('bob', 'start');
  t.ok(await waitFor(() => b.length === 1), 'the session starts');
  const sent = spyNodeBinary(t);
  void alice.sendMessage('bob', 'one');
  void alice.sendMessage('bob', 'two');
  t.ok(await waitFor(() => b.length === 3), 'both arrive');
  t.equal(sent.length, 1, 'in one frame');
  const err = nextError(bob);
  sent[0].ws.send(sent[0].data, { binary: true }); // a node (or a recording of its traffic) sends it again
  t.equal((await err).type, 'REPLAY', 'bob reports a replay');
  t.equal(b.length, 3, 'nothing delivered twice');
});

test('a batch record passed off as a single one fails authentication (the nonce differs by kind)', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const b = inbox(bob);
  await alice.sendMessage('bob', 'start');
  t.ok(await waitFor(() => b.length === 1), 'the session starts');
  // The node flips the kind byte of what it forwards: batch (2) to single (1).
  const sent = spyNodeBinary(t, (d) => { d[0] = KIND_SINGLE; return d; });
  const err = nextError(bob);
  void alice.sendMessage('bob', 'x');
  void alice.sendMessage('bob', 'y');
  const e = await err;
  t.equal(sent[0]?.data[0], KIND_BATCH, 'alice sent a batch record');
  t.equal(e.type, 'DECRYPT_FAILED', `refused: ${e.details}`);
  t.equal(b.length, 1, 'nothing of it delivered');
});

test('batch records cross two nodes of a mesh intact and in order', async (t) => {
  const [x, y] = await startMesh(t, 2, { ...FAST });
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  const b = inbox(bob);
  t.ok(await waitFor(() => x.signaling!.stats().remoteClients >= 1), 'x knows bob');
  await alice.sendMessage('bob', 'start');
  t.ok(await waitFor(() => b.length === 1), 'the session starts');
  const sent = spyNodeBinary(t);
  const texts = Array.from({ length: 100 }, (_, i) => `n${i}`);
  for (const s of texts) void alice.sendMessage('bob', s);
  t.ok(await waitFor(() => b.length === 101), 'all 100 arrive');
  t.deepEqual(b.slice(1).map((r) => r.message), texts, 'in order');
  t.ok(sent.length >= 1 && sent.length < 100, `as ${sent.length} binary frames from bob's node`);
});
