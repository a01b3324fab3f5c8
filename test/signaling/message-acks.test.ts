import test from 'tape';
import { startNode, urlOf, FAST } from '../helpers/testnet.js';
import { rawSocket } from '../helpers/messaging.js';
import { imRegisterFrame } from '../helpers/im-register.js';
import { ACK_BATCH } from '../../src/signaling/types.js';

type Raw = Awaited<ReturnType<typeof rawSocket>>;

/** A raw IM client registered as `clientId` (with `capabilities`, if given). */
async function registered(t: test.Test, url: string, clientId: string, capabilities?: string[]): Promise<Raw> {
  const s = await rawSocket(t, url);
  const frame = imRegisterFrame(clientId) as { payload: Record<string, unknown> };
  if (capabilities) frame.payload.capabilities = capabilities;
  s.send({ ...frame, id: 'reg' });
  const answer = await s.next();
  if (answer.type !== 'register' || answer.id !== 'reg') throw new Error(`registration of ${clientId} failed: ${JSON.stringify(answer)}`);
  return s;
}

/** Writes `frames` in one socket write, so the server reads them in one chunk (one turn). */
function sendTogether(s: Raw, frames: unknown[]): void {
  const sock = (s.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  sock.cork();
  for (const f of frames) s.send(f);
  sock.uncork();
}

const msg = (id: string, targetId = 'bob') => ({ type: 'message', id, payload: { targetId, message: { algorithm: 'test', n: id } } });

test(`a client that registered ${ACK_BATCH} gets one message_ack for the messages of one turn, their ids in order`, async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const bob = await registered(t, urlOf(node), 'bob');
  const alice = await registered(t, urlOf(node), 'alice', [ACK_BATCH]);
  sendTogether(alice, [msg('m1'), msg('m2'), msg('m3')]);
  const ack = await alice.next();
  t.deepEqual(ack, { type: 'message_ack', id: 'm3', payload: { targetId: 'bob', ids: ['m1', 'm2', 'm3'] } }, 'one frame acknowledges all three');
  for (const n of ['m1', 'm2', 'm3']) t.deepEqual((await bob.next()).payload, { message: { algorithm: 'test', n }, fromId: 'alice' }, `bob gets ${n}`);
  alice.send({ type: 'discover', id: 'd1', payload: {} });
  t.equal((await alice.next()).id, 'd1', 'no further acknowledgement frame came before the next answer');
});

test('a client without the capability gets one message_ack per message, as before', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  await registered(t, urlOf(node), 'bob');
  const alice = await registered(t, urlOf(node), 'alice', ['relaymesh-im-v1']);
  sendTogether(alice, [msg('m1'), msg('m2')]);
  t.deepEqual(await alice.next(), { type: 'message_ack', id: 'm1', payload: { targetId: 'bob' } }, 'm1 acknowledged alone');
  t.deepEqual(await alice.next(), { type: 'message_ack', id: 'm2', payload: { targetId: 'bob' } }, 'm2 acknowledged alone');
});

test('batched acknowledgements keep their place before a refusal and an answer that follow them', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  await registered(t, urlOf(node), 'bob');
  const alice = await registered(t, urlOf(node), 'alice', [ACK_BATCH]);
  sendTogether(alice, [msg('m1'), msg('m2'), msg('m3', 'nobody'), msg('m4'), { type: 'discover', id: 'd1', payload: {} }, msg('m5')]);
  const frames = [await alice.next(), await alice.next(), await alice.next(), await alice.next(), await alice.next()];
  t.deepEqual(frames.map((f) => [f.type, f.id, f.payload?.ids ?? f.payload?.errorType]), [
    ['message_ack', 'm2', ['m1', 'm2']],
    ['error', 'm3', 'PEER_NOT_FOUND'],
    ['message_ack', 'm4', ['m4']],
    ['discover', 'd1', undefined],
    ['message_ack', 'm5', ['m5']],
  ], 'each frame comes where the one-by-one acknowledgements would have put it');
});
