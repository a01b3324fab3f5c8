import test from 'tape';
import fc from 'fast-check';
import { RoutingTable, compareDistance, LOOKAHEAD_MAX_LINKS } from '../../src/routing/routing-table.js';
import { DedupCache } from '../../src/routing/dedup-cache.js';
import { BoundedMap } from '../../src/util/bounded-map.js';
import { randomBytes, toHex } from '../../src/util/bytes.js';

const id = (first: number) => { const b = new Uint8Array(20); b[0] = first; return b; };

test('nextHop picks the direct link when the target is linked', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0x80), 'far');
  table.add(id(0x01), 'near');
  t.equal(table.nextHop(id(0x80), new Set())?.link, 'far');
  t.end();
});

test('nextHop picks the link closest by XOR and skips excluded ones', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0x80), 'a');
  table.add(id(0xc0), 'b');
  table.add(id(0x10), 'c');
  t.equal(table.nextHop(id(0xc1), new Set())?.link, 'b', '0xc0 is closest to 0xc1');
  t.equal(table.nextHop(id(0xc1), new Set(['b']))?.link, 'a', 'then 0x80');
  t.equal(table.nextHop(id(0xc1), new Set(['a', 'b', 'c'])), undefined, 'nothing left');
  t.end();
});

test('a full table reports false instead of holding a link it would ignore', (t) => {
  const table = new RoutingTable<number>(id(0), 3);
  t.ok(table.add(id(1), 1) && table.add(id(2), 2) && table.add(id(3), 3), 'three fit');
  t.notOk(table.add(id(4), 4), 'the fourth is refused');
  t.equal(table.size, 3);
  t.ok(table.add(id(3), 33), 'replacing an existing entry still works');
  t.equal(table.get(id(3)), 33);
  t.end();
});

test('every added link is returned by closest (no link the table ignores)', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 120 }), (n) => {
    const local = randomBytes(20);
    const table = new RoutingTable<number>(local, 128);
    const ids = Array.from({ length: n }, () => randomBytes(20));
    ids.forEach((x, i) => table.add(x, i));
    const all = table.closest(local, 1000).map((e) => toHex(e.id)).sort();
    return table.size === n && all.length === n && JSON.stringify(all) === JSON.stringify(ids.map(toHex).sort());
  }), { numRuns: 50 });
  t.pass('property holds for 50 random tables');
  t.end();
});

test('closest returns links in XOR order', (t) => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 60 }), (n) => {
    const table = new RoutingTable<number>(randomBytes(20), 64);
    for (let i = 0; i < n; i++) table.add(randomBytes(20), i);
    const target = randomBytes(20);
    const list = table.closest(target, n);
    for (let i = 1; i < list.length; i++) if (compareDistance(target, list[i - 1].id, list[i].id) > 0) return false;
    return true;
  }), { numRuns: 50 });
  t.pass('sorted for 50 random tables');
  t.end();
});

test('perBucket counts the links in each k-bucket as links are added and removed', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0x80), 'a');
  table.add(id(0xc0), 'b');
  table.add(id(0x01), 'c');
  table.add(id(0x80), 'a2');
  t.equal(table.perBucket()[0], 2, 'two links in bucket 0; replacing one does not count it twice');
  t.equal(table.perBucket()[7], 1, 'one in bucket 7');
  table.remove(id(0xc0));
  table.remove(id(0x55)); // not in the table
  t.equal(table.perBucket()[0], 1, 'a removed link is no longer counted');
  t.deepEqual(table.entries().map((e) => e.link).sort(), ['a2', 'c'], 'entries follow');
  t.end();
});

test('nextHop with a spread picks among the closest untried links only', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  for (const [first, name] of [[0x80, 'a'], [0x81, 'b'], [0x82, 'c'], [0x10, 'd']] as const) table.add(id(first), name);
  const picked = new Set<string>();
  for (let i = 0; i < 200; i++) picked.add(table.nextHop(id(0x83), new Set(['c']), undefined, 2)!.link);
  t.deepEqual([...picked].sort(), ['a', 'b'], 'the two closest after the excluded 0x82');
  t.end();
});

test('bucketIndex is the common prefix length with the local id', (t) => {
  const table = new RoutingTable<number>(id(0), 8);
  t.equal(table.bucketIndex(id(0x80)), 0);
  t.equal(table.bucketIndex(id(0x01)), 7);
  const x = new Uint8Array(20); x[19] = 1;
  t.equal(table.bucketIndex(x), 159);
  t.equal(table.bucketIndex(new Uint8Array(20)), 160);
  t.end();
});

test('the duplicate cache frees ids nobody asks for again within two ages, not when 65,536 newer ones arrive', (t) => {
  const cache = new DedupCache(65536, 1000);
  for (let k = 0; k < 100; k++) cache.add(k, 0);
  cache.add(1001, 999);
  t.equal(cache.size, 101, 'within one age everything is kept');
  t.ok(cache.find(5, 999) >= 0, 'and found');
  cache.add(1002, 1000);
  t.ok(cache.find(1001, 1500) >= 0, 'an id is remembered for at least the age after a new generation starts');
  cache.add(1003, 2000);
  t.ok(cache.size <= 2, `two ages on, the first 100 ids are freed (size ${cache.size})`);
  cache.add(1004, 10_000);
  t.equal(cache.size, 1, 'after a long quiet spell only the new id is held');
  t.end();
});

test('the duplicate cache is bounded and forgets old ids', (t) => {
  const cache = new DedupCache(4, 1000);
  for (const k of [1, 2, 3, 4, 5, 6]) cache.add(k, 0);
  t.ok(cache.size <= 4, `never more than maxEntries (${cache.size})`);
  t.equal(cache.find(1, 0), -1, 'the oldest was evicted');
  t.ok(cache.find(6, 0) >= 0 && cache.find(5, 0) >= 0, 'the newest are kept');
  t.equal(cache.find(6, 5000), -1, 'expired by age');
  t.end();
});

test('a bounded map keeps between max/2 and max of the most recent keys', (t) => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 64 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 500 }), (max, keys) => {
    const m = new BoundedMap<number, number>(max);
    const order: number[] = [];
    for (const k of keys) { m.set(k, k * 2); order.push(k); }
    if (m.size > max) return false;
    const distinctRecent = [...new Set(order.reverse())].slice(0, Math.floor(max / 2));
    return distinctRecent.every((k) => m.get(k) === k * 2);
  }), { numRuns: 200 });
  t.pass('bounded, and the most recent max/2 distinct keys are always present');
  t.end();
});

const head = (first: number) => (first << 24) >>> 0;

test('lookahead: nextHop takes the link whose advertised neighbour is closest, over a link closer by itself', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0xc0), 'closer-itself');
  table.add(id(0x90), 'knows-target');
  // Target 0xe1: 0xc0 is closer than 0x90, but 0x90 is linked to 0xe0.
  t.ok(table.setNeighbours(id(0x90), Uint32Array.of(head(0xe0), head(0x40))));
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'knows-target', 'two hops through 0x90 reach 0xe0');
  t.equal(table.nextHop(id(0xe1), new Set(), undefined, 1, false)?.link, 'closer-itself', 'without lookahead, the link closest by itself');
  t.equal(table.nextHop(id(0xe1), new Set(['knows-target']))?.link, 'closer-itself', 'an excluded link is skipped with its neighbours');
  t.end();
});

test('lookahead: a tie between a link and a neighbour at the same distance goes to the link itself', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0xc0), 'direct');
  table.add(id(0x90), 'via');
  table.setNeighbours(id(0x90), Uint32Array.of(head(0xc0)));
  t.equal(table.nextHop(id(0xc1), new Set())?.link, 'direct', 'this node reaches 0xc0 itself in one hop');
  t.end();
});

test('lookahead: a neighbour advertising this node (or itself) is not taken as a way ahead', (t) => {
  const local = id(0xe0);
  const table = new RoutingTable<string>(local, 8);
  table.add(id(0x10), 'a');
  table.add(id(0x60), 'b');
  table.setNeighbours(id(0x10), Uint32Array.of(head(0xe0), head(0x10)));
  t.same([...table.neighboursOf(id(0x10))!], [], 'own head and the link\'s own head are left out');
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'b', 'the link closest by itself, not the one that only leads back here');
  t.notOk(table.setNeighbours(id(0x33), Uint32Array.of(head(1))), 'no such link: false');
  t.end();
});

test('lookahead: a list read in place from frame bytes replaces the last one, shorter or longer, and routes the same', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0x90), 'a');
  table.add(id(0x80), 'b');
  const be = (...firsts: number[]) => {
    const b = new Uint8Array(3 + 4 * firsts.length); // 3 bytes before the heads, as in a frame
    firsts.forEach((f, i) => { b[3 + 4 * i] = f; });
    return b;
  };
  t.ok(table.setNeighboursFrom(id(0x90), be(0xe0, 0x40, 0x00, 0x90), 3, 4));
  t.same([...table.neighboursOf(id(0x90))!], [head(0xe0), head(0x40)], 'big-endian heads; own and the link\'s own left out');
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'a', 'a advertises 0xe0: the way ahead');
  table.setNeighboursFrom(id(0x90), be(0x41), 3, 1);
  t.same([...table.neighboursOf(id(0x90))!], [head(0x41)], 'a shorter list replaces the longer one entirely');
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'b', 'by own distance now (0x80 is closer to 0xe1 than 0x90): no stale head left over');
  const many = Array.from({ length: 12 }, (_, i) => 0xa0 + i);
  table.setNeighboursFrom(id(0x90), be(...many), 3, many.length);
  t.equal(table.neighboursOf(id(0x90))!.length, 12, 'a longer list than the array held grows it');
  t.notOk(table.setNeighboursFrom(id(0x33), be(0x01), 3, 1), 'no such link: false');
  t.end();
});

test('lookahead: a retransmission (spread > 1) picks among the closest by their own distance', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  table.add(id(0xc0), 'c0');
  table.add(id(0xd0), 'd0');
  table.add(id(0x10), 'far');
  table.setNeighbours(id(0x10), Uint32Array.of(head(0xe0)));
  const picked = new Set<string>();
  for (let i = 0; i < 200; i++) picked.add(table.nextHop(id(0xe1), new Set(), undefined, 2)!.link);
  t.same([...picked].sort(), ['c0', 'd0'], 'the two closest links, never the one a neighbour list favours');
  t.end();
});

test('version changes on every add and remove, and heads() lists every link', (t) => {
  const table = new RoutingTable<string>(id(0), 8);
  const v0 = table.version;
  table.add(id(0x80), 'a');
  table.add(id(0x40), 'b');
  t.equal(table.version, v0 + 2);
  t.same([...table.heads()].sort(), [head(0x40), head(0x80)]);
  table.remove(id(0x80));
  t.equal(table.version, v0 + 3);
  t.same([...table.heads()], [head(0x40)]);
  t.end();
});

test('lookahead: a link farther from the target than this node is not scored by its neighbours (every hop makes progress)', (t) => {
  const table = new RoutingTable<string>(id(0xc0), 8);
  table.add(id(0x10), 'behind');
  table.add(id(0xf0), 'ahead');
  table.setNeighbours(id(0x10), Uint32Array.of(head(0xe0)));
  // Target 0xe1: this node is at 0x21, 0xf0 at 0x11 (closer), 0x10 at 0xf1 (farther) but says it is linked to 0xe0 (0x01).
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'ahead', 'the link that is closer than this node');
  t.equal(table.nextHop(id(0xe1), new Set(['ahead']))?.link, 'behind', 'a detour still takes what is left');
  t.end();
});

test('spreadHeads names at most perBucket links of each bucket and at most max in all, deepest buckets first', (t) => {
  const table = new RoutingTable<string>(id(0), 64);
  for (let i = 0x80; i < 0x90; i++) table.add(id(i), `b0-${i}`); // 16 links in bucket 0
  table.add(id(0x40), 'b1');
  table.add(id(0x01), 'b7');
  const spread = [...table.spreadHeads(2, 40)];
  t.equal(spread.length, 4, 'two of bucket 0, one each of buckets 1 and 7');
  t.equal(spread[0], head(0x01), 'the deepest bucket first');
  t.equal(spread.filter((h) => h >>> 31 === 1).length, 2, 'bucket 0 capped at two');
  t.equal(table.spreadHeads(2, 2).length, 2, 'max caps the whole list');
  t.end();
});

test('a table with more than LOOKAHEAD_MAX_LINKS links routes by the links\' own distance only', (t) => {
  const table = new RoutingTable<string>(id(0), 256);
  table.add(id(0xc0), 'closer-itself');
  table.add(id(0x90), 'knows-target');
  table.setNeighbours(id(0x90), Uint32Array.of(head(0xe0)));
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'knows-target', 'lookahead with two links');
  for (let i = 0; table.size <= LOOKAHEAD_MAX_LINKS; i++) table.add(Uint8Array.of(0x01, i, ...new Array(18).fill(1)), `x${i}`);
  t.equal(table.nextHop(id(0xe1), new Set())?.link, 'closer-itself', `past ${LOOKAHEAD_MAX_LINKS} links, none`);
  t.end();
});
