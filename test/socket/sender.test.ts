/**
 * The socket's send buffer (socket/sender.ts): datagrams waiting for bind are
 * counted against sendBufferSize, and the counts return to 0 once they go.
 */
import test from 'tape';
import { createSocket, type Socket } from '../../socket/index.js';
import { SOCKET_LIMITS } from '../../src/util/limits.js';
import { toHex } from '../../src/util/bytes.js';
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
