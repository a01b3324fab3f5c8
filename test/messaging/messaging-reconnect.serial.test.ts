import test from 'tape';
import { startNode, waitFor, urlOf, FAST, sleep } from '../helpers/testnet.js';
import { startClient, inbox, makeClient, nextError } from '../helpers/messaging.js';
import type { ConnectionState } from '../../src/index.js';

test('a client reconnects after its server restarts, re-registers, and sends what was queued', async (t) => {
  const first = await startNode(t, { port: 0, ...FAST });
  const port = first.address()!.port;
  const alice = await startClient(t, first, 'alice');
  const bob = await startClient(t, first, 'bob', { reconnect: { baseDelayMs: 100 } });
  const b = inbox(bob);
  const states: ConnectionState[] = [];
  alice.onConnectionStateChange((s) => states.push(s));
  await alice.sendMessage('bob', 'before');
  t.ok(await waitFor(() => b.length === 1), 'first message arrives');
  await new Promise<void>((r) => first.destroy(() => r()));
  t.ok(await waitFor(() => !alice.isConnected && !bob.isConnected), 'both notice the server is gone');
  await alice.sendMessage('bob', 'while reconnecting');
  const second = await startNode(t, { port, ...FAST });
  t.ok(await waitFor(() => alice.isConnected && bob.isConnected, 20_000), 'both reconnect to the restarted server');
  t.deepEqual(second.signaling!.clients().map((c) => c.clientId).sort(), ['alice', 'bob'], 'both re-registered');
  t.ok(await waitFor(() => b.length === 2), 'the queued message is delivered');
  t.equal(b[1]?.message, 'while reconnecting', 'in order, after the first');
  t.deepEqual(states.slice(0, 2), ['disconnected', 'reconnecting'], 'alice went disconnected, then reconnecting');
  t.equal(states[states.length - 1], 'connected', 'and ends connected');
  t.equal(urlOf(second), urlOf(first), 'same URL');
});

test('reconnection gives up after maxAttempts and reports it', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const peer = makeClient(t, node, 'quitter', { reconnect: { baseDelayMs: 20, maxAttempts: 3 } });
  await peer.connect();
  const states: ConnectionState[] = [];
  peer.onConnectionStateChange((s) => states.push(s));
  const err = nextError(peer);
  await new Promise<void>((r) => node.destroy(() => r()));
  const e = await err;
  t.equal(e.type, 'CONNECTION_LOST', 'onError CONNECTION_LOST');
  await sleep(50);
  t.equal(states.filter((s) => s === 'reconnecting').length, 3, 'three attempts');
  t.equal(states[states.length - 1], 'disconnected', 'ends disconnected');
});

test('a request cut off by a dropped connection fails fast, and its retry is answered after reconnecting', async (t) => {
  const first = await startNode(t, { port: 0, ...FAST });
  const port = first.address()!.port;
  first.signaling!.addHandler('work', () => new Promise(() => undefined));
  const peer = await startClient(t, first, 'worker', { reconnect: { baseDelayMs: 100 } });
  const errors: string[] = [];
  const pending = peer.sendToServerAndWait({ type: 'work', payload: { n: 1 } }, 'work_done', { timeout: 15_000, retryCount: 1, errorHandler: (e) => errors.push(e.code) });
  await sleep(100);
  await new Promise<void>((r) => first.destroy(() => r()));
  const second = await startNode(t, { port, ...FAST });
  second.signaling!.addHandler('work', (_c, p: any) => ({ type: 'work_done', payload: { n: p.n + 1 } }));
  t.deepEqual(await pending, { n: 2 }, 'the retry is answered by the restarted server');
  t.deepEqual(errors, ['ERR_NOT_CONNECTED'], 'the first attempt failed with ERR_NOT_CONNECTED, not a 15 s timeout');
});
