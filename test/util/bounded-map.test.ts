import test from 'tape';
import fc from 'fast-check';
import { BoundedMap } from '../../src/util/bounded-map.js';

test('a BoundedMap behaves as a Map for the keys it holds', (t) => {
  const m = new BoundedMap<string, number>(8);
  m.set('a', 1).set('b', 2);
  t.equal(m.get('a'), 1);
  t.ok(m.has('b'));
  t.notOk(m.has('c'));
  t.equal(m.get('c'), undefined);
  m.set('a', 3);
  t.equal(m.get('a'), 3, 'a set replaces the value');
  t.equal(m.size, 2, 'a replaced key is counted once');
  t.ok(m.delete('a'));
  t.notOk(m.delete('a'), 'deleting twice reports false');
  t.deepEqual([...m.keys()], ['b']);
  m.clear();
  t.equal(m.size, 0);
  t.end();
});

test('a BoundedMap never holds more than max entries and always keeps the most recent half (property)', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 2, max: 40 }),
    fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 300 }),
    (max, keys) => {
      const m = new BoundedMap<number, number>(max);
      keys.forEach((k, i) => m.set(k, i));
      if (m.size > max) return false;
      // The last ceil(max/2) distinct keys set are always held, with their last value.
      const recent: number[] = [];
      for (let i = keys.length - 1; i >= 0 && recent.length < Math.ceil(max / 2); i--) {
        if (!recent.includes(keys[i])) recent.push(keys[i]);
      }
      for (const k of recent) if (m.get(k) !== keys.lastIndexOf(k)) return false;
      // Entries and size agree, and no key is listed twice.
      const listed = [...m.keys()];
      return listed.length === m.size && new Set(listed).size === listed.length;
    },
  ));
  t.pass('bound and recency hold');
  t.end();
});

test('a key set again survives the eviction of its old generation', (t) => {
  const m = new BoundedMap<number, string>(4); // generations of 2
  m.set(1, 'one').set(2, 'two'); // 1 and 2 become the old generation
  m.set(1, 'uno'); // moves 1 to the current generation
  m.set(3, 'three'); // current fills: 2 (the old generation) is dropped
  t.equal(m.get(1), 'uno');
  t.notOk(m.has(2), 'the untouched old key is evicted');
  t.equal(m.get(3), 'three');
  t.end();
});

test('a bound under 2 is refused', (t) => {
  t.throws(() => new BoundedMap(1), RangeError);
  t.throws(() => new BoundedMap(2.5), RangeError);
  t.end();
});
