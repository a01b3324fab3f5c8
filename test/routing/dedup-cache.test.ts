import test from 'tape';
import fc from 'fast-check';
import { DedupCache } from '../../src/routing/dedup-cache.js';
import { BoundedMap } from '../../src/util/bounded-map.js';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

interface FakeLink { n: number; isClosed: boolean }

/**
 * The Map-based cache this one replaced (session 5, 5101fea), as the model:
 * one object per id in a two-generation BoundedMap, a new generation every
 * maxAgeMs, entries older than maxAgeMs not returned.
 */
class ModelCache {
  readonly map: BoundedMap<number, { at: number; delivered: boolean; parent: FakeLink | null; tried: Set<FakeLink> }>;
  generationAt: number | null = null;
  constructor(readonly maxEntries: number, readonly maxAgeMs: number) { this.map = new BoundedMap(Math.max(2, maxEntries)); }
  age(now: number): void {
    if (this.generationAt === null) this.generationAt = now;
    else if (now - this.generationAt >= this.maxAgeMs) {
      if (now - this.generationAt >= 2 * this.maxAgeMs) this.map.clear();
      else this.map.rotate();
      this.generationAt = now;
    }
  }
  get(key: number, now: number) {
    this.age(now);
    const e = this.map.get(key);
    if (e && now - e.at > this.maxAgeMs) { this.map.delete(key); return undefined; }
    return e;
  }
  add(key: number, now: number) {
    this.age(now);
    const e = { at: now, delivered: false, parent: null, tried: new Set<FakeLink>() };
    this.map.set(key, e);
    return e;
  }
}

type Op =
  | { op: 'add' | 'find'; key: number; dt: number }
  | { op: 'deliver' | 'parent' | 'try'; key: number; link: number; dt: number }
  | { op: 'close' | 'open'; link: number; dt: number };

const opArb = (keys: number): fc.Arbitrary<Op> => {
  const key = fc.integer({ min: 0, max: keys - 1 }).map((k) => k * 0x9e3779b1 + (k % 2) * 2 ** 52);
  const link = fc.integer({ min: 0, max: 11 });
  const dt = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 }));
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('add' as const, 'find' as const), key, dt }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('deliver' as const, 'parent' as const, 'try' as const), key, link, dt }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('close' as const, 'open' as const), link, dt }) },
  );
};

test('the typed-array dedup cache answers as the Map-based one did: entries, delivered, parent, tried, expiry, bound (links closing and new ones reusing ids)', (t) => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 40 }), fc.array(opArb(60), { maxLength: 400 }), (maxEntries, ops) => {
    const cache = new DedupCache<FakeLink>(maxEntries, 1000);
    const model = new ModelCache(maxEntries, 1000);
    // Slots of links: closing a slot's link and opening it again makes a new link object.
    const links: FakeLink[] = Array.from({ length: 12 }, (_, n) => ({ n, isClosed: false }));
    let now = 0;
    for (const o of ops) {
      now += o.dt;
      if (o.op === 'close') { links[o.link].isClosed = true; continue; }
      if (o.op === 'open') { if (links[o.link].isClosed) links[o.link] = { n: o.link, isClosed: false }; continue; }
      const key = (o as { key: number }).key;
      if (o.op === 'add') { cache.add(key, now); model.add(key, now); continue; }
      const h = cache.find(key, now);
      const m = model.get(key, now);
      if ((h >= 0) !== (m !== undefined)) return false;
      if (h < 0 || !m) continue;
      if (cache.delivered(h) !== m.delivered) return false;
      // A parent that has closed may read as null (the Router treats both alike: it never sends on a closed link).
      const p = cache.parent(h);
      if (p !== m.parent && !(p === null && m.parent?.isClosed)) return false;
      if (cache.triedCount(h) !== m.tried.size) return false;
      const view = cache.tried(h);
      // nextHop asks only about open links (a closed one has left the routing table).
      for (const l of links) if (!l.isClosed && view.has(l) !== m.tried.has(l)) return false;
      if (o.op === 'deliver') { cache.setDelivered(h); m.delivered = true; }
      if (o.op === 'parent') { cache.setParent(h, links[o.link]); m.parent = links[o.link]; }
      if (o.op === 'try') { cache.addTried(h, links[o.link]); m.tried.add(links[o.link]); }
      if (cache.size !== model.map.size) return false;
    }
    return cache.size === model.map.size && cache.size <= Math.max(2, maxEntries);
  }), { numRuns: 300 });
  t.pass('300 random sequences agree with the Map-based cache');
  t.end();
});

test('an entry remembers any number of tried links (beyond the two kept inline and across overflow chunks)', (t) => {
  const cache = new DedupCache<FakeLink>(64, 1000);
  const links = Array.from({ length: 30 }, (_, n) => ({ n, isClosed: false }));
  const h = cache.add(5, 0);
  const other = cache.add(6, 0);
  for (const l of links) { cache.addTried(h, l); cache.addTried(h, l); }
  cache.addTried(other, links[29]);
  t.equal(cache.triedCount(h), 30, 'thirty distinct links, each added twice');
  const view = cache.tried(cache.find(5, 1));
  t.ok(links.every((l) => view.has(l)), 'every one of them is in the tried set');
  t.notOk(view.has({ n: 99, isClosed: false }), 'a link never tried is not');
  t.equal(cache.triedCount(cache.find(6, 1)), 1, 'another entry keeps its own set');
  for (let k = 100; k < 130; k++) cache.add(k, 2); // the table grows twice, copying the entries
  const moved = cache.tried(cache.find(5, 3));
  t.ok(links.every((l) => moved.has(l)) && moved.size === 30, 'the tried links survive the table growing');
  t.end();
});

test('a dedup entry starts undelivered without a parent or tried links, and expires after two ages', (t) => {
  const cache = new DedupCache<FakeLink>(16, 1000);
  const a = { n: 1, isClosed: false };
  const b = { n: 2, isClosed: false };
  const e = cache.add(7, 0);
  t.equal(cache.triedCount(e), 0, 'no link tried yet');
  t.equal(cache.delivered(e), false);
  t.equal(cache.parent(e), null);
  cache.addTried(e, a); cache.addTried(e, b); cache.addTried(e, a);
  t.equal(cache.triedCount(cache.find(7, 500)), 2, 'two distinct links remembered');
  t.equal(cache.find(7, 1500), -1, 'older than maxAgeMs: gone');
  t.end();
});

test('a closed link\'s id is reused for a new link only once no entry can name it: the new link is never taken for tried or parent', (t) => {
  const cache = new DedupCache<FakeLink>(8, 1000);
  const old = { n: 1, isClosed: false };
  const h = cache.add(1, 0);
  cache.addTried(h, old);
  cache.setParent(h, old);
  old.isClosed = true;
  // Rotations by count (4 entries per generation): the entry moves to the old generation, then is dropped.
  const wrong: string[] = [];
  for (let k = 2; k < 40; k++) {
    const l = { n: k, isClosed: false };
    const e = cache.add(k, 0);
    cache.addTried(e, l);
    const first = cache.find(1, 0);
    if (first >= 0 && cache.tried(first).has(l)) wrong.push(`link ${k} tried`);
    if (first >= 0 && cache.parent(first) === l) wrong.push(`link ${k} parent`);
    l.isClosed = true;
  }
  t.deepEqual(wrong, [], 'no new link reads as tried or parent for the entry made before it');
  t.ok(cache.linkIds <= 3 * 4 + 2, `ids are reused: ${cache.linkIds} held for 39 links`);
  t.end();
});

test('the table gives back the room of a burst once the traffic is quiet again', (t) => {
  const cache = new DedupCache<FakeLink>(65536, 1000);
  for (let k = 0; k < 20_000; k++) cache.add(k, 0);
  t.equal(cache.size, 20_000);
  const big = cache.capacity;
  cache.add(1e9, 1000); // the burst is the old generation
  cache.add(1e9 + 1, 2000); // and is dropped
  t.equal(cache.size, 2);
  t.equal(cache.find(5, 2000), -1);
  cache.add(1e9 + 2, 3000);
  t.ok(cache.capacity <= 64, `two quiet generations later the tables hold ${cache.capacity} slots (${big} in the burst)`);
  t.ok(cache.find(1e9 + 1, 2000) >= 0);
  t.end();
});

test('the entries live outside the JS heap: 30,000 remembered messages with a parent and two tried links each add almost nothing to it', (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const links = Array.from({ length: 20 }, (_, n) => ({ n, isClosed: false }));
  const cache = new DedupCache<FakeLink>(65536, 120_000);
  const fill = (salt: number) => {
    for (let k = 0; k < 30_000; k++) {
      const h = cache.add(k * 7919 + salt, 0);
      cache.setParent(h, links[k % 20]);
      cache.addTried(h, links[k % 20]);
      cache.addTried(h, links[(k + 1) % 20]);
    }
  };
  // Once first, so that the tables have grown and the code is compiled: only what entries cost is measured.
  fill(0);
  cache.clear();
  gc();
  const before = process.memoryUsage().heapUsed;
  fill(1);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.equal(cache.size, 30_000);
  // One object per entry (the Map-based cache) was ~100 bytes each: ~3 MB here.
  t.ok(grown < 256 * 1024, `JS heap grew by ${grown} bytes for 30,000 entries`);
  t.end();
});
