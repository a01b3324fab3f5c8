import test from 'tape';
import fc from 'fast-check';
import { IdSlab } from '../../src/util/id-slab.js';
import { closestIds } from '../../src/routing/routing-table.js';

const id = fc.uint8Array({ minLength: 20, maxLength: 20 });

test('closest() gives the same ids, in the same order, as closestIds over the same set (property)', (t) => {
  fc.assert(fc.property(fc.uniqueArray(id, { minLength: 0, maxLength: 60, selector: (b) => Buffer.from(b).toString('hex') }), id, fc.integer({ min: 1, max: 25 }), (ids, target, n) => {
    const slab = new IdSlab(64);
    for (const x of ids) slab.add(x);
    const got = slab.closest(target, n).map((b) => Buffer.from(b).toString('hex'));
    const want = closestIds(target, n, [ids]).map((b) => Buffer.from(b).toString('hex'));
    return JSON.stringify(got) === JSON.stringify(want);
  }), { numRuns: 200 });
  t.pass('same as closestIds');
  t.end();
});

test('removed slots are wiped and reused; copies stay as they were when the slot is reused', (t) => {
  const slab = new IdSlab(4);
  const a = new Uint8Array(20).fill(1);
  const b = new Uint8Array(20).fill(2);
  const c = new Uint8Array(20).fill(3);
  const sa = slab.add(a);
  const sb = slab.add(b);
  const copyOfA = slab.copy(sa);
  slab.remove(sa);
  t.equal(slab.size, 1);
  t.throws(() => slab.copy(sa), RangeError, 'a removed slot holds no id');
  t.notOk(slab.equals(sa, a), 'and equals nothing');
  t.equal(slab.add(c), sa, 'the freed slot is the next one used');
  t.deepEqual([...copyOfA], [...a], 'a copy made before is not changed by the reuse');
  t.ok(slab.equals(sb, b) && slab.equals(sa, c));
  t.deepEqual([...slab.slots()].sort(), [sa, sb].sort());
  t.deepEqual(slab.closest(a, 5, c).map((x) => x[0]), [2], 'exclude leaves an id out');
  t.end();
});

test('the buffer grows by doubling from 16 slots, never past maxSlots, and a full slab refuses with RangeError', (t) => {
  const slab = new IdSlab(40);
  t.equal(slab.capacity, 0, 'nothing allocated before the first id');
  const one = (k: number) => { const x = new Uint8Array(20); x[0] = k; x[1] = k >> 8; return x; };
  slab.add(one(0));
  t.equal(slab.capacity, 16);
  for (let k = 1; k < 17; k++) slab.add(one(k));
  t.equal(slab.capacity, 32);
  for (let k = 17; k < 40; k++) slab.add(one(k));
  t.equal(slab.capacity, 40, 'capped at maxSlots');
  t.throws(() => slab.add(one(41)), RangeError, 'full');
  t.throws(() => new IdSlab(8).add(new Uint8Array(19)), RangeError, 'a wrong-length id');
  t.end();
});
