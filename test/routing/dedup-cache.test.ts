import test from 'tape';
import fc from 'fast-check';
import { DedupCache, TriedLinks } from '../../src/routing/dedup-cache.js';

test('TriedLinks answers has/size as a Set of the links added, for any sequence of adds', (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 10 }), (adds, probes) => {
    const tried = new TriedLinks<object>();
    const links = Array.from({ length: 9 }, () => ({}));
    const set = new Set<object>();
    for (const a of adds) { tried.add(links[a]); set.add(links[a]); }
    if (tried.size !== set.size) return false;
    return probes.every((p) => tried.has(links[p]) === set.has(links[p]));
  }));
  t.pass('100 random sequences agree with a Set');
  t.end();
});

test('a dedup entry is its own tried set, starts undelivered without a parent, and expires after two ages', (t) => {
  const cache = new DedupCache<string>(16, 1000);
  const e = cache.add(7, 0);
  t.equal(e.tried, e, 'the entry is its tried set');
  t.equal(e.tried.size, 0, 'no link tried yet');
  t.equal(e.delivered, false);
  t.equal(e.parent, null);
  e.tried.add('a').add('b').add('a');
  t.equal(cache.get(7, 500)?.tried.size, 2, 'two distinct links remembered');
  t.equal(cache.get(7, 1500), undefined, 'older than maxAgeMs: gone');
  t.end();
});
