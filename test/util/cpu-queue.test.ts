/**
 * The process's CPU queue for work that may wait (link handshakes' KEM steps,
 * work made ahead): at once when idle; once a turn's slice is spent, later
 * jobs wait for later turns, link work before work made ahead, and timers run
 * between the slices. Orders and counts are asserted, never durations.
 */
import test from 'tape';
import { CpuQueue, CpuPriority, SLICE_MS } from '../../src/util/cpu-queue.js';

/** Busy work of about `ms` (a KEM step stand-in). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* work */ }
}
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

test('a job runs at once while the queue is idle and the turn\'s slice is not spent', async (t) => {
  await nextTurn();
  const q = new CpuQueue();
  let ran = false;
  q.run(CpuPriority.LINK, () => { ran = true; });
  t.ok(ran, 'ran synchronously');
  t.equal(q.waiting, 0);
  t.end();
});

test('past the slice, jobs wait for later turns; link work goes before work made ahead; timers run between slices', async (t) => {
  await nextTurn();
  const q = new CpuQueue();
  const order: string[] = [];
  let timerRanAfter = -1;
  q.run(CpuPriority.LINK, () => spin(SLICE_MS + 2)); // spends this turn's slice
  for (let i = 0; i < 3; i++) q.run(CpuPriority.AHEAD, () => { order.push(`ahead${i}`); spin(SLICE_MS / 2 + 1); });
  for (let i = 0; i < 3; i++) {
    q.run(CpuPriority.LINK, () => {
      order.push(`link${i}`);
      if (i === 0) setTimeout(() => { timerRanAfter = order.length; }, 0); // due while the queue still holds work
      spin(SLICE_MS / 2 + 1);
    });
  }
  t.deepEqual(order, [], 'nothing more ran in the turn whose slice was spent');
  t.equal(q.waiting, 6, 'six jobs wait');
  t.equal(q.urgent, 3, 'three of them handshake work: work made ahead is not urgent');
  t.ok(q.backlogMs > 0, 'the backlog is estimated');
  for (let turns = 0; q.waiting > 0 && turns < 100; turns++) await nextTurn();
  t.deepEqual(order, ['link0', 'link1', 'link2', 'ahead0', 'ahead1', 'ahead2'], 'link work first, in order, then work made ahead');
  t.ok(timerRanAfter > 0 && timerRanAfter < order.length, `a timer due meanwhile ran between slices (after ${timerRanAfter} of ${order.length} jobs)`);
  t.equal(q.counters.queued, 6);
  t.end();
});

test('a job that throws does not stop the jobs after it', async (t) => {
  await nextTurn();
  const q = new CpuQueue();
  const errors: unknown[] = [];
  const onError = (err: unknown) => { errors.push(err); };
  process.on('uncaughtException', onError);
  t.teardown(() => { process.off('uncaughtException', onError); });
  q.run(CpuPriority.LINK, () => spin(SLICE_MS + 1));
  const ran: number[] = [];
  q.run(CpuPriority.LINK, () => { throw new Error('boom'); });
  q.run(CpuPriority.LINK, () => { ran.push(2); });
  for (let turns = 0; q.waiting > 0 && turns < 100; turns++) await nextTurn();
  await nextTurn();
  t.deepEqual(ran, [2], 'the next job ran');
  t.equal(errors.length, 1, 'the error was rethrown, not swallowed');
  t.end();
});

test('a job that adds a job does not run it inside itself: it waits its turn (no recursion)', async (t) => {
  await nextTurn();
  const q = new CpuQueue();
  const order: string[] = [];
  let depth = 0;
  const chain = (n: number) => () => {
    depth++;
    t.equal(depth, 1, `job ${n} runs alone, not nested in another`);
    order.push(`start ${n}`);
    if (n < 3) q.run(CpuPriority.LINK, chain(n + 1));
    order.push(`end ${n}`);
    depth--;
  };
  q.run(CpuPriority.LINK, chain(1));
  t.deepEqual(order, ['start 1', 'end 1'], 'the first ran at once; the one it added waits');
  t.equal(q.waiting, 1);
  while (q.waiting > 0) await nextTurn();
  t.deepEqual(order, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'], 'each ran after the one that added it');
  t.end();
});
