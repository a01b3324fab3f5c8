/**
 * The socket's send buffer (socket/sender.ts): datagrams waiting for bind are
 * counted against sendBufferSize, and the counts return to 0 once they go.
 */
import test from 'tape';
import { createSocket, type Socket } from '../../socket/index.js';
import { SOCKET_LIMITS } from '../../src/util/limits.js';
import { randomBytes, toHex } from '../../src/util/bytes.js';
import { FAST, startNode } from '../helpers/testnet.js';

test('datagrams refused for a full send buffer before bind leave the queue counts at what is held, never below 0', async (t) => {
  const node = await startNode(t, { ...FAST });
  const s: Socket = createSocket({ type: 'peer-relay', peer: node });
  t.teardown(() => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } }));
  const size = 150_000; // two of them pass the default send buffer
  t.ok(size < SOCKET_LIMITS.sendBufferSize && 2 * size > SOCKET_LIMITS.sendBufferSize, 'one fits the buffer, two do not');
  const counts: [number, number][] = [];
  const sample = () => counts.push([s.getSendQueueSize(), s.getSendQueueCount()]);
  const listening = new Promise<void>((r) => s.once('listening', () => r()));
  const results = [0, 1, 2].map(() => new Promise<string | null>((resolve) => {
    s.send(Buffer.alloc(size), 9, toHex(node.id), (err) => resolve(err ? (err as Error & { code: string }).code : null));
    sample();
  }));
  t.deepEqual(counts, [[size, 1], [size, 1], [size, 1]], 'the first waits for the implicit bind; the two refused hold nothing and release nothing');
  await listening; // the first send binds the socket implicitly, as in dgram
  sample();
  const codes = await Promise.all(results);
  sample();
  t.deepEqual(codes, ['EMSGSIZE', 'ENOBUFS', 'ENOBUFS'], 'the two past the buffer get ENOBUFS; the one that waited is too large for a datagram once sent');
  t.ok(counts.every(([bytes, n]) => bytes >= 0 && n >= 0), 'size and count never go below 0');
  t.deepEqual(counts.at(-1), [0, 0], 'both are 0 once the queue has gone');
  t.end();
});

test('a failed bind fails the sends that waited for it: their bytes leave getSendQueueSize and each callback gets the bind\'s code', async (t) => {
  const node = await startNode(t, { ...FAST });
  const s: Socket = createSocket({ type: 'peer-relay', peer: node });
  t.teardown(() => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } }));
  const bindError = new Promise<Error & { code?: string }>((r) => s.once('error', r));
  s.bind(7, 'ab'.repeat(20)); // an address that is not this node: EADDRNOTAVAIL, after the sends below are queued
  const results = [100, 200].map((n) => new Promise<[string | undefined, number | undefined]>((resolve) => {
    s.send(Buffer.alloc(n), 9, toHex(node.id), (err, bytes) => resolve([(err as Error & { code?: string } | null)?.code, bytes]));
  }));
  t.deepEqual([s.getSendQueueSize(), s.getSendQueueCount()], [300, 2], 'both wait for the bind');
  t.equal((await bindError).code, 'EADDRNOTAVAIL', 'bind fails');
  t.deepEqual([s.getSendQueueSize(), s.getSendQueueCount()], [0, 0], 'their bytes are released');
  t.deepEqual(await Promise.all(results), [['EADDRNOTAVAIL', undefined], ['EADDRNOTAVAIL', undefined]], 'each callback reports the loss, never success');
});

test('a datagram the node drops before it leaves (a congested link refuses it) gets ENOBUFS through its callback, never success', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST, maxFlowBuffer: 200_000 });
  const b = await startNode(t, { bootstrap: [`ws://127.0.0.1:${a.address()!.port}`], ...FAST });
  await new Promise<void>((r) => { const check = () => (a.peers.length && b.peers.length ? r() : setTimeout(check, 20)); check(); });
  const sa: Socket = createSocket({ type: 'peer-relay', peer: a });
  const sb: Socket = createSocket({ type: 'peer-relay', peer: b });
  t.teardown(() => new Promise<void>((r) => { try { sa.close(); sb.close(() => r()); } catch { r(); } }));
  await new Promise<void>((r) => sb.bind(9, () => r()));
  await new Promise<void>((r) => sa.bind(0, () => r()));
  // One datagram first, so the session exists and the rest are sealed at once.
  const first = new Promise<void>((r) => sb.once('message', () => r()));
  sa.send('hi', 9, toHex(b.id));
  await first;
  let received = 0;
  sb.on('message', () => { received++; });
  const N = 200;
  const results = await Promise.all(Array.from({ length: N }, () => new Promise<string | null>((resolve) => {
    sa.send(Buffer.alloc(60_000), 9, toHex(b.id), (err) => resolve(err ? (err as Error & { code: string }).code : null));
  })));
  const ok = results.filter((r) => r === null).length;
  const refused = results.filter((r) => r === 'ENOBUFS').length;
  t.equal(ok + refused, N, 'every callback reports success or ENOBUFS');
  t.ok(refused > 0, `some of ${N} x 60 kB sent at once pass the link's 200 kB flow buffer (${refused} refused)`);
  t.equal(a.stats().dropped.congested, refused, 'each ENOBUFS is a datagram the node dropped as congested');
  const end = Date.now() + 20_000;
  while (received < ok && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  t.equal(received, ok, 'every datagram reported sent arrives');
});

test('a datagram that waits for a session the node never gets is reported lost through its callback (EHOSTUNREACH), never success', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST, sessionTimeoutMs: 1500 });
  const b = await startNode(t, { bootstrap: [`ws://127.0.0.1:${a.address()!.port}`], ...FAST });
  await new Promise<void>((r) => { const check = () => (a.peers.length && b.peers.length ? r() : setTimeout(check, 20)); check(); });
  const s: Socket = createSocket({ type: 'peer-relay', peer: a });
  t.teardown(() => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } }));
  const nobody = toHex(randomBytes(20)); // an id no node of the mesh has
  const [err, n] = await new Promise<[(Error & { code?: string; syscall?: string; address?: string }) | null, number | undefined]>((resolve) => {
    s.send('to nobody', 9, nobody, (e, k) => resolve([e, k]));
  });
  t.equal(err?.code, 'EHOSTUNREACH', 'the callback reports the loss once the node gives up on the session');
  t.equal(err?.syscall, 'send', 'as a send error');
  t.equal(err?.address, nobody, 'naming the destination');
  t.equal(n, undefined, 'no byte count');
  // And one to a live node whose session opens only after the send still reports success once it left.
  const sb: Socket = createSocket({ type: 'peer-relay', peer: b });
  t.teardown(() => new Promise<void>((r) => { try { sb.close(() => r()); } catch { r(); } }));
  await new Promise<void>((r) => sb.bind(9, () => r()));
  const got = new Promise<void>((r) => sb.once('message', () => r()));
  const [err2, n2] = await new Promise<[Error | null, number | undefined]>((resolve) => s.send('to b', 9, toHex(b.id), (e, k) => resolve([e, k])));
  t.equal(err2, null, 'a datagram that waited for a new session reports success once sent');
  t.equal(n2, 4, 'with its byte count');
  await got;
});
