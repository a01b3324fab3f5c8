import test from 'tape';
import { SpareEphemeral, REFILL_DELAY_MS } from '../../src/session/spare-ephemeral.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('no pair is made before prime(); prime() makes one soon, and take() uses it', async (t) => {
  const s = new SpareEphemeral();
  t.teardown(() => s.stop());
  await wait(10);
  t.notOk(s.ready, 'nothing made unasked');
  s.prime();
  for (let i = 0; i < 200 && !s.ready; i++) await wait(5);
  t.ok(s.ready, 'made after prime()');
  const e = s.take();
  t.equal(e.publicKey.length, 1184, 'an ML-KEM-768 public key');
  t.notOk(s.ready, 'used once');
  t.end();
});

test('after take() the next pair waits for done(), and comes after it, not before', async (t) => {
  const s = new SpareEphemeral();
  t.teardown(() => s.stop());
  s.take();
  await wait(REFILL_DELAY_MS * 3);
  t.notOk(s.ready, 'no refill while the handshake that took one runs');
  s.done();
  for (let i = 0; i < 200 && !s.ready; i++) await wait(5);
  t.ok(s.ready, 'made once the handshake ended');
  t.end();
});

test('stop() makes no more pairs', async (t) => {
  const s = new SpareEphemeral();
  s.prime();
  s.stop();
  await wait(REFILL_DELAY_MS * 2);
  t.notOk(s.ready);
  t.end();
});
