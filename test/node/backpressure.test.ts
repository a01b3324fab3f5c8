/**
 * send()'s 'drain' signal (src/node/backpressure.ts) against a host whose
 * byte counts the test sets: 'drain' comes once every blocked destination is
 * below the low water mark and not held by a CONGESTION report. Bounded waits
 * that fail loudly; nothing asserts on timing.
 */
import test, { type Test } from 'tape';
import { Backpressure, DRAIN_POLL_MS } from '../../src/node/backpressure.js';
import { CongestionKind } from '../../src/wire/envelope.js';

const LIMITS = { sendLowWaterMark: 100, maxSessions: 2, congestionHoldMs: 60_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function make(t: Test) {
  const bytes = new Map<string, number>();
  let drains = 0;
  const b = new Backpressure({ limits: LIMITS, pressure: (_to, hex) => bytes.get(hex) ?? 0, drain: () => { drains++; } });
  t.teardown(() => b.stop());
  return { b, bytes, drains: () => drains };
}

/** Waits up to `polls` poll periods for `cond`. */
async function within(polls: number, cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < polls && !cond(); i++) await sleep(DRAIN_POLL_MS);
  return cond();
}

test('drain comes once every blocked destination is below the low water mark, and once only', async (t) => {
  const { b, bytes, drains } = make(t);
  bytes.set('aa', 500).set('bb', 500);
  b.block('aa', new Uint8Array([0xaa]));
  b.block('bb', new Uint8Array([0xbb]));
  b.block('aa', new Uint8Array([0xaa]));
  bytes.set('aa', 0);
  await sleep(DRAIN_POLL_MS * 4);
  t.equal(drains(), 0, 'one destination is still above the mark');
  bytes.set('bb', LIMITS.sendLowWaterMark - 1);
  t.ok(await within(200, () => drains() === 1), 'drain once both are below');
  await sleep(DRAIN_POLL_MS * 4);
  t.equal(drains(), 1, 'no second drain without a new block');
});

test('writable() looks at once (no poll needed), and does nothing when nobody waits', async (t) => {
  const { b, bytes, drains } = make(t);
  b.writable();
  await new Promise((r) => setImmediate(r));
  t.equal(drains(), 0, 'nobody blocked: no drain');
  bytes.set('aa', 500);
  b.block('aa', new Uint8Array([0xaa]));
  bytes.set('aa', 0);
  b.writable();
  await new Promise((r) => setImmediate(r));
  t.equal(drains(), 1, 'drain on the next turn');
});

test('a STOP report holds a destination past the low water mark until GO', async (t) => {
  const { b, drains } = make(t);
  b.report(CongestionKind.STOP, 'aa');
  t.ok(b.held('aa'), 'held after STOP');
  t.notOk(b.held('bb'), 'another destination is not');
  b.block('aa', new Uint8Array([0xaa]));
  await sleep(DRAIN_POLL_MS * 4);
  t.equal(drains(), 0, 'no drain while held (its bytes are 0)');
  b.report(CongestionKind.GO, 'aa');
  t.notOk(b.held('aa'), 'GO lets it go');
  t.ok(await within(200, () => drains() === 1), 'drain follows');
});

test('holds are bounded by maxSessions: a hold past the bound is not kept', (t) => {
  const { b } = make(t);
  b.report(CongestionKind.STOP, 'aa');
  b.report(CongestionKind.STOP, 'bb');
  b.report(CongestionKind.STOP, 'cc');
  t.ok(b.held('aa') && b.held('bb'), 'the first two are held');
  t.notOk(b.held('cc'), 'the third is not kept (none has expired)');
  t.end();
});

test('stop() ends the looks: no drain after it', async (t) => {
  const { b, bytes, drains } = make(t);
  bytes.set('aa', 500);
  b.block('aa', new Uint8Array([0xaa]));
  b.stop();
  bytes.set('aa', 0);
  b.writable();
  await sleep(DRAIN_POLL_MS * 4);
  t.equal(drains(), 0);
});
