/** Emitter: the EventEmitter subset links and connections use, with its semantics. */
import test from 'tape';
import { Emitter } from '../../src/util/emitter.js';

interface Ev { a: [n: number]; b: []; error: [err: Error] }

test('listeners run in the order added, with the emitter as this, and emit says whether there were any', (t) => {
  const e = new Emitter<Ev>();
  const seen: string[] = [];
  t.equal(e.emit('a', 1), false, 'no listener: false');
  e.on('a', function (this: unknown, n) { seen.push(`first ${n} ${this === e}`); });
  e.on('a', (n) => seen.push(`second ${n}`));
  t.equal(e.emit('a', 7), true, 'listeners: true');
  t.deepEqual(seen, ['first 7 true', 'second 7']);
  t.equal(e.listenerCount('a'), 2);
  t.end();
});

test('once runs one time; off removes a listener or its once wrapper, even during an emit', (t) => {
  const e = new Emitter<Ev>();
  const seen: string[] = [];
  const one = () => seen.push('one');
  e.once('b', one);
  e.emit('b');
  e.emit('b');
  t.deepEqual(seen, ['one'], 'once: one call');
  t.equal(e.listenerCount('b'), 0, 'and no listener left');
  e.once('b', one);
  e.off('b', one);
  e.emit('b');
  t.deepEqual(seen, ['one'], 'a once listener removed by its function does not run');
  const late = () => seen.push('late');
  e.on('b', () => { seen.push('remover'); e.off('b', late); });
  e.on('b', late);
  e.emit('b');
  t.deepEqual(seen, ['one', 'remover', 'late'], 'an emit runs the listeners it began with (as EventEmitter does)');
  e.emit('b');
  t.deepEqual(seen, ['one', 'remover', 'late', 'remover'], 'the removed one is gone from the next emit');
  t.end();
});

test("an 'error' with no listener throws it; with one, the listener gets it", (t) => {
  const e = new Emitter<Ev>();
  const err = new Error('boom');
  t.throws(() => e.emit('error', err), /boom/, 'thrown');
  let got: Error | null = null;
  e.on('error', (x) => { got = x; });
  e.emit('error', err);
  t.equal(got, err, 'handed to the listener');
  e.removeAllListeners();
  t.equal(e.listenerCount('error'), 0, 'removeAllListeners');
  t.end();
});
