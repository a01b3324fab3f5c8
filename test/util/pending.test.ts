import test from 'tape';
import { getEventListeners } from 'node:events';
import { PendingRequests } from '../../src/util/pending.js';
import type { RelayError } from '../../src/util/errors.js';

/**
 * Counts the timers set through the global setTimeout that are neither fired
 * nor cleared (PendingRequests unrefs its timers, so the process's active
 * resources do not show them).
 */
function trackTimers(t: test.Test): { live(): number } {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Set<unknown>();
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle: ReturnType<typeof setTimeout> = realSet(() => { live.delete(handle); fn(...args); }, ms);
    live.add(handle);
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle: ReturnType<typeof setTimeout> | undefined) => {
    live.delete(handle);
    realClear(handle);
  }) as typeof clearTimeout;
  t.teardown(() => { globalThis.setTimeout = realSet; globalThis.clearTimeout = realClear; });
  return { live: () => live.size };
}

const code = (e: unknown) => (e as RelayError).code;

/** The helper's timers are unref'd (a waiting request does not hold the process open): a test that waits for one keeps the process alive itself. */
function keepAlive(t: test.Test): void {
  const keep = setInterval(() => undefined, 60_000);
  t.teardown(() => clearInterval(keep));
}

test('an answer resolves its request and clears its timer and abort listener', async (t) => {
  const timers = trackTimers(t);
  const pending = new PendingRequests<string, number>({ max: 4, timeoutMs: 60_000 });
  const ac = new AbortController();
  const p = pending.add('a', { signal: ac.signal });
  t.equal(pending.size, 1);
  t.ok(pending.has('a'));
  t.equal(timers.live(), 1, 'one timer while waiting');
  t.equal(getEventListeners(ac.signal, 'abort').length, 1, 'one abort listener while waiting');
  t.ok(pending.resolve('a', 42), 'resolve reports a waiting request');
  t.equal(await p, 42);
  t.equal(pending.size, 0);
  t.equal(timers.live(), 0, 'no timer left behind');
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no abort listener left behind');
  t.notOk(pending.resolve('a', 43), 'a late answer finds nobody');
  t.end();
});

test('a request with no answer fails with ERR_TIMEOUT and leaves nothing behind', async (t) => {
  const timers = trackTimers(t);
  keepAlive(t);
  const pending = new PendingRequests<string, number>({ max: 4, timeoutMs: 60_000, what: 'lookup' });
  const ac = new AbortController();
  const err = await pending.add('a', { timeoutMs: 1, signal: ac.signal }).then(() => null, (e) => e);
  t.equal(code(err), 'ERR_TIMEOUT');
  t.match((err as Error).message, /lookup/, 'the message names the request');
  t.equal(pending.size, 0);
  t.equal(timers.live(), 0);
  t.equal(getEventListeners(ac.signal, 'abort').length, 0);
  t.notOk(pending.resolve('a', 1), 'an answer after the timeout finds nobody');
  t.end();
});

test('timeoutError makes the error of a request that timed out', async (t) => {
  keepAlive(t);
  const pending = new PendingRequests<string, number>({
    max: 4, timeoutMs: 1, timeoutError: (key, ms) => Object.assign(new Error(`custom ${String(key)} ${ms}`), { code: 'ERR_X' }),
  });
  const err = await pending.add('k').then(() => null, (e) => e);
  t.equal(code(err), 'ERR_X');
  t.equal((err as Error).message, 'custom k 1');
  t.end();
});

test('an abort fails the request with ERR_ABORTED, not ERR_TIMEOUT', async (t) => {
  const timers = trackTimers(t);
  const pending = new PendingRequests<string, number>({ max: 4, timeoutMs: 60_000 });
  const ac = new AbortController();
  const p = pending.add('a', { signal: ac.signal });
  ac.abort();
  const err = await p.then(() => null, (e) => e);
  t.equal(code(err), 'ERR_ABORTED');
  t.equal(pending.size, 0);
  t.equal(timers.live(), 0, 'the timer is cleared');
  t.notOk(pending.resolve('a', 1), 'an answer after the abort finds nobody');
  t.end();
});

test('an already-aborted signal fails at once and registers nothing', async (t) => {
  const timers = trackTimers(t);
  const pending = new PendingRequests<string, number>({ max: 4, timeoutMs: 60_000 });
  const ac = new AbortController();
  ac.abort();
  const err = await pending.add('a', { signal: ac.signal }).then(() => null, (e) => e);
  t.equal(code(err), 'ERR_ABORTED');
  t.equal(pending.size, 0);
  t.equal(timers.live(), 0);
  t.equal(getEventListeners(ac.signal, 'abort').length, 0);
  t.end();
});

test('the bound refuses the request past max with ERR_QUEUE_FULL; room frees when one settles', async (t) => {
  const pending = new PendingRequests<number, string>({ max: 2, timeoutMs: 60_000 });
  const a = pending.add(1);
  const b = pending.add(2);
  const err = await pending.add(3).then(() => null, (e) => e);
  t.equal(code(err), 'ERR_QUEUE_FULL');
  t.equal(pending.size, 2, 'the refused request is not held');
  pending.resolve(1, 'one');
  t.equal(await a, 'one');
  const c = pending.add(3);
  t.equal(pending.size, 2, 'a settled request makes room');
  pending.resolve(2, 'two');
  pending.resolve(3, 'three');
  t.deepEqual(await Promise.all([b, c]), ['two', 'three']);
  t.end();
});

test('reject fails one request; rejectAll fails every waiting request and clears every timer', async (t) => {
  const timers = trackTimers(t);
  const pending = new PendingRequests<number, string>({ max: 8, timeoutMs: 60_000 });
  const one = pending.add(1);
  t.ok(pending.reject(1, new Error('gone')));
  t.equal(((await one.then(() => null, (e) => e)) as Error).message, 'gone');
  t.notOk(pending.reject(1, new Error('again')), 'nothing to reject twice');
  const all = [2, 3, 4].map((k) => pending.add(k).then(() => null, (e) => e));
  t.deepEqual([...pending.keys()], [2, 3, 4]);
  pending.rejectAll(Object.assign(new Error('destroyed'), { code: 'ERR_DESTROYED' }));
  const errs = await Promise.all(all);
  t.deepEqual(errs.map(code), ['ERR_DESTROYED', 'ERR_DESTROYED', 'ERR_DESTROYED']);
  t.equal(pending.size, 0);
  t.equal(timers.live(), 0, 'no timer left behind');
  t.end();
});

test('a key already waiting is a caller bug and throws', (t) => {
  const pending = new PendingRequests<string, number>({ max: 4, timeoutMs: 60_000 });
  pending.add('a').catch(() => undefined);
  t.throws(() => pending.add('a'), /already pending/);
  pending.rejectAll(new Error('end'));
  t.end();
});

test('options are checked when the helper is made', (t) => {
  t.throws(() => new PendingRequests({ max: 0, timeoutMs: 1 }), RangeError);
  t.throws(() => new PendingRequests({ max: 1.5, timeoutMs: 1 }), RangeError);
  t.throws(() => new PendingRequests({ max: 1, timeoutMs: 0 }), RangeError);
  t.end();
});

test('fullError makes the error of a request refused by the bound', async (t) => {
  const pending = new PendingRequests<number, string>({ max: 1, timeoutMs: 60_000, fullError: (max) => Object.assign(new Error(`only ${max}`), { code: 'ERR_RATE_LIMITED' }) });
  pending.add(1).catch(() => undefined);
  const err = await pending.add(2).then(() => null, (e) => e);
  t.equal(code(err), 'ERR_RATE_LIMITED');
  t.equal((err as Error).message, 'only 1');
  pending.rejectAll(new Error('end'));
  t.end();
});

test('with keepAlive a waiting request holds the process open until it settles', async (t) => {
  // No other timer or handle is alive here: without keepAlive the process would
  // exit before the timeout and tape would report this test unfinished.
  const pending = new PendingRequests<string, number>({ max: 1, timeoutMs: 20, keepAlive: true });
  const err = await pending.add('a').then(() => null, (e) => e);
  t.equal(code(err), 'ERR_TIMEOUT');
  t.end();
});
