/**
 * What reaches a MessagingPeer before the application has added its handler
 * (the seed's example adds them after `await connect()`) is held and handed to
 * the first handler, in order; past maxEarlyInbound it is reported, not lost.
 */
import test from 'tape';
import { startNode, FAST } from '../helpers/testnet.js';
import { makeClient } from '../helpers/messaging.js';
import { PeerHandlers } from '../../src/messaging/handlers.js';
import { MESSAGING_LIMITS } from '../../src/util/limits.js';
import type { MessagingError } from '../../src/messaging/inbound.js';

const info = { algorithm: 'test', authenticated: true };

test('a server question asked in the turn of the registration reaches a handler added after await connect()', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const answers: Promise<unknown>[] = [];
  // setImmediate runs before the event loop next reads sockets: the question is written right behind the register
  // answer, and the client reads both in one go, before connect() has resolved.
  node.signaling!.on('registration', (r) => { if (r.clientId === 'early') setImmediate(() => answers.push(node.signaling!.ask('early', 'first?'))); });
  const peer = makeClient(t, node, 'early');
  await peer.connect();
  const asked: string[] = [];
  peer.onServerQuestion((q, id) => { asked.push(q); peer.respondToServer(id, { got: q }); });
  t.equal(answers.length, 1, 'the server asked during the registration');
  t.deepEqual(await answers[0], { got: 'first?' }, 'the handler added after connect() got the question and answered it');
  t.deepEqual(asked, ['first?'], 'once');
});

test('messages and questions before the first handler are delivered to it in order, after the on...() call returns; later ones follow them', async (t) => {
  const h = new PeerHandlers();
  h.message('one', 'a', info);
  h.message('two', 'b', info);
  h.question('q1', 'id1');
  const got: string[] = [];
  h.addMessage((m, from) => got.push(`${from}:${m}`));
  t.deepEqual(got, [], 'not inside addMessage');
  h.message('three', 'c', info); // before the held ones are handed over
  await Promise.resolve();
  t.deepEqual(got, ['a:one', 'b:two', 'c:three'], 'held ones first, in order, then the one that came meanwhile');
  h.message('four', 'd', info);
  t.deepEqual(got.at(-1), 'd:four', 'then straight through');
  const questions: string[] = [];
  h.addQuestion((q, id) => questions.push(`${id}:${q}`));
  await Promise.resolve();
  t.deepEqual(questions, ['id1:q1'], 'the held question reaches the first question handler');
});

test(`past maxEarlyInbound (${MESSAGING_LIMITS.maxEarlyInbound}) an early message is reported NOT_DELIVERED, the held ones still arrive`, async (t) => {
  const h = new PeerHandlers();
  const errors: MessagingError[] = [];
  h.errors.add((e) => errors.push(e));
  for (let i = 0; i <= MESSAGING_LIMITS.maxEarlyInbound; i++) h.message(String(i), 'x', info);
  t.equal(errors.length, 1, 'one report');
  t.equal(errors[0]?.type, 'NOT_DELIVERED');
  t.equal(errors[0]?.code, 'ERR_QUEUE_FULL');
  let n = 0;
  h.addMessage(() => n++);
  await Promise.resolve();
  t.equal(n, MESSAGING_LIMITS.maxEarlyInbound, 'every held message arrives');
});
