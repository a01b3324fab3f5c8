import test from 'tape';
import { FIRST_RETRY_MS, MAX_PACED_RETRY_MS, MAX_RETRY_MS, RETRY_RTTS, RetryPacer, newPending } from '../../src/session/pending.js';

test('handshake retries back off from FIRST_RETRY_MS, doubling, up to MAX_RETRY_MS, with no round trip measured', (t) => {
  const p = new RetryPacer();
  t.equal(p.delay(1), FIRST_RETRY_MS);
  t.equal(p.delay(2), 2 * FIRST_RETRY_MS);
  t.equal(p.delay(10), MAX_RETRY_MS, 'capped');
  t.end();
});

test('a measured round trip paces retries: never sooner than RETRY_RTTS smoothed round trips, up to MAX_PACED_RETRY_MS', (t) => {
  const p = new RetryPacer();
  p.sample(3000);
  t.equal(p.srtt, 3000, 'the first sample is the estimate');
  t.equal(p.delay(1), RETRY_RTTS * 3000, 'the first retry waits two round trips');
  p.sample(11000);
  t.equal(p.srtt, 0.875 * 3000 + 0.125 * 11000, 'later samples are smoothed (weight 1/8)');
  p.sample(60_000);
  t.equal(p.delay(1), MAX_PACED_RETRY_MS, 'a huge round trip still retries within MAX_PACED_RETRY_MS');
  const fast = new RetryPacer();
  fast.sample(10);
  t.equal(fast.delay(1), FIRST_RETRY_MS, 'a fast mesh keeps the plain backoff');
  fast.sample(NaN);
  fast.sample(-5);
  t.equal(fast.srtt, 10, 'nonsense samples are ignored');
  t.end();
});

test('a new pending destination copies its id and starts with nothing sent', (t) => {
  const to = new Uint8Array(20).fill(7);
  const p = newPending(to, 1000, 10_000);
  to[0] = 0;
  t.equal(p.to[0], 7, 'its own copy of the id');
  t.equal(p.deadline, 11_000);
  t.equal(p.attempts, 0);
  t.equal(p.firstSentAt, 0);
  t.end();
});
