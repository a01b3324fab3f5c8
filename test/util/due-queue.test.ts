/** DueQueue: one timer for many items, each called once, in due order, never early. */
import test from 'tape';
import { DueQueue, type DueItem } from '../../src/util/due-queue.js';
import { waitFor } from '../helpers/testnet.js';

function item(name: string, log: { name: string; early: boolean }[], again?: () => void): DueItem {
  const it: DueItem = {
    dueAt: 0, dueSlot: -1,
    onDue() { log.push({ name, early: Date.now() < it.dueAt }); again?.(); },
  };
  return it;
}

test('items fire once each, in due order, none before its time; cancelled and moved items as told', async (t) => {
  const q = new DueQueue();
  const log: { name: string; early: boolean }[] = [];
  const now = Date.now();
  const names = ['e', 'b', 'd', 'a', 'c', 'x', 'm'];
  const items = names.map((n) => item(n, log));
  const at: Record<string, number> = { a: 10, b: 20, c: 30, d: 40, e: 50, x: 25, m: 5 };
  names.forEach((n, i) => q.schedule(items[i], now + at[n]));
  t.equal(q.size, 7, 'seven queued');
  q.cancel(items[5]);
  t.equal(items[5].dueSlot, -1, 'a cancelled item is out of the queue');
  q.schedule(items[6], now + 60);
  t.equal(q.size, 6, 'moving an item does not queue it twice');
  t.ok(await waitFor(() => log.length >= 6, 5000, 5), 'six items ran');
  t.deepEqual(log.map((l) => l.name), ['a', 'b', 'c', 'd', 'e', 'm'], 'in due order, the moved one last, the cancelled one never');
  t.ok(log.every((l) => !l.early), 'none ran before it was due');
  t.equal(q.size, 0, 'nothing left queued');
});

test('an item may schedule itself again from its call; one that throws does not stop the others', async (t) => {
  const q = new DueQueue();
  const log: { name: string; early: boolean }[] = [];
  let ticks = 0;
  const repeating: DueItem = item('r', log, () => { if (++ticks < 3) q.schedule(repeating, Date.now() + 5); });
  const thrower: DueItem = { dueAt: 0, dueSlot: -1, onDue() { throw new Error('from an item'); } };
  const after = item('after', log);
  const errors: string[] = [];
  const onErr = (err: Error) => errors.push(err.message);
  process.on('uncaughtException', onErr);
  const now = Date.now();
  q.schedule(repeating, now + 5);
  q.schedule(thrower, now + 8);
  q.schedule(after, now + 8);
  t.ok(await waitFor(() => ticks === 3 && log.length === 4, 5000, 5), 'four calls ran');
  process.off('uncaughtException', onErr);
  t.equal(ticks, 3, 'the repeating item ran three times');
  t.ok(log.some((l) => l.name === 'after'), 'the item due with the thrower still ran');
  t.deepEqual(errors, ['from an item'], "the thrower's error was reported, not swallowed");
});
