/**
 * Fairness between a signaling server's clients (issue 13): one client that
 * reads nothing is bounded (maxBufferedBytes) and closed with 1013 "too slow",
 * while the others are still served. Raw `ws` clients of the IM dialect.
 */
import test from 'tape';
import { startNode, urlOf, waitFor } from '../helpers/testnet.js';
import { rawSocket } from '../helpers/messaging.js';
import { imRegisterFrame } from '../helpers/im-register.js';

test('a client that reads nothing is closed with 1013 "too slow" and the others are still served', async (t) => {
  const node = await startNode(t, { port: 0, signaling: { maxBufferedBytes: 256 * 1024, ratePerSecond: 100_000, rateBurst: 100_000 } });
  const slow = await rawSocket(t, urlOf(node));
  slow.send(imRegisterFrame('slow'));
  t.equal((await slow.next()).type, 'register', 'the slow client registered');
  const fast = await rawSocket(t, urlOf(node));
  fast.send(imRegisterFrame('fast'));
  t.equal((await fast.next()).type, 'register', 'the fast client registered');
  let reason = '';
  const closed = new Promise<number>((resolve) => slow.ws.on('close', (code, why) => { reason = why.toString(); resolve(code); }));
  // The slow client stops reading: its socket is paused, so the kernel buffers fill, then the server's.
  (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const blob = 'x'.repeat(16 * 1024);
  let sent = 0;
  // 32 MiB for the slow client: far beyond the kernel's buffers and maxBufferedBytes.
  const gone = () => node.signaling!.stats().clients < 2;
  while (sent < 2048 && !gone()) {
    for (let i = 0; i < 64; i++) fast.send({ type: 'message', payload: { targetId: 'slow', message: { algorithm: 'x', blob } } });
    sent += 64;
    await new Promise((r) => setTimeout(r, 5));
  }
  t.ok(await waitFor(gone, 20_000), `the server dropped the slow client (after ${sent} messages of 16 KiB)`);
  fast.frames.length = 0;
  fast.send({ type: 'discover', payload: {}, id: 'after' });
  let answer: any;
  for (;;) {
    answer = await fast.next(10_000);
    if (answer.id === 'after') break;
  }
  t.equal(answer.type, 'discover', 'the fast client is still answered');
  // Reading again, the slow client gets what was buffered, then the close with its reason.
  (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  t.equal(await closed, 1013, 'the slow client was closed with 1013');
  t.equal(reason, 'too slow', 'and the reason "too slow"');
});
