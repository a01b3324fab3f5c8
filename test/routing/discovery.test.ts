import test from 'tape';
import fc from 'fast-check';
import { Discovery, randomIdInBucket, slotBits, slotOf, type DiscoveryHost } from '../../src/routing/discovery.js';
import { RoutingTable } from '../../src/routing/routing-table.js';
import type { Link } from '../../src/link/link.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/util/limits.js';
import { toHex } from '../../src/util/bytes.js';
import type { DropReason } from '../../src/util/drop-reasons.js';
import {
  FrameType, HelloFlags, decodeFindNode, decodeNodes, encodeFindNode, encodeNodes, type NodeInfo,
} from '../../src/wire/frames.js';

/** A 20-byte id whose first byte is `first`: its k-bucket under the local id 0x00.. is the bit length of the prefix. */
const id = (first: number, second = 0) => { const b = new Uint8Array(20); b[0] = first; b[1] = second; return b; };
const LOCAL = id(0x00);

/** The part of a Link discovery uses. */
class FakeLink {
  readonly sent: Uint8Array[] = [];
  initiator = false;
  openedAt = 0;
  closed = false;
  constructor(readonly remoteId: Uint8Array, readonly remoteUrl = '', readonly remoteFlags = 0) {}
  get idHex(): string { return toHex(this.remoteId); }
  get remote() { return { id: this.remoteId }; }
  send(f: Uint8Array): boolean { this.sent.push(f.slice()); return true; }
}
const asLink = (l: FakeLink) => l as unknown as Link;

interface Dial { url: string; id: Uint8Array; settle(ok: boolean): void }

function makeDiscovery(o: { limits?: Partial<Limits>; links?: FakeLink[]; autoConnect?: boolean; dialing?: number } = {}) {
  const table = new RoutingTable<Link>(LOCAL, 64);
  for (const l of o.links ?? []) table.add(l.remoteId, asLink(l));
  const dials: Dial[] = [];
  const connects: Uint8Array[] = [];
  const lookups: Uint8Array[] = [];
  const drops: DropReason[] = [];
  let rebootstraps = 0;
  const state = { active: true, dialing: o.dialing ?? 0 };
  const host: DiscoveryHost = {
    localId: LOCAL,
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    get active() { return state.active; },
    dialing: () => state.dialing,
    isDialing: () => false,
    dial: (url, expectedId) => new Promise<void>((resolve, reject) => {
      dials.push({ url, id: expectedId, settle: (ok) => (ok ? resolve() : reject(new Error('dial failed'))) });
    }),
    canAutoConnect: () => o.autoConnect ?? false,
    connect: (target) => { connects.push(target); return Promise.resolve(); },
    lookup: (target) => { lookups.push(target); },
    rebootstrap: () => { rebootstraps++; },
    countDrop: (r) => { drops.push(r); },
    closeLink: (link) => {
      (link as unknown as FakeLink).closed = true;
      table.remove((link as unknown as FakeLink).remoteId);
    },
  };
  const discovery = new Discovery(host, table);
  return { discovery, table, dials, connects, lookups, drops, state, host, rebootstraps: () => rebootstraps };
}

const node = (first: number, url = `ws://n${first.toString(16)}`, flags = HelloFlags.WEBSOCKET): NodeInfo => ({ id: id(first), flags, url });

/** Replaces Date.now with a clock the test moves (discovery's backoff reads it); restored on teardown. */
function fakeClock(t: test.Test): { advance(ms: number): void } {
  const real = Date.now;
  let now = real();
  Date.now = () => now;
  t.teardown(() => { Date.now = real; });
  return { advance: (ms) => { now += ms; } };
}

/** Lets the promise callbacks of settled dials run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

test('contacts are learned from NODES, except this node and nodes already linked; a bad frame is counted', (t) => {
  const linked = new FakeLink(id(0x80), 'ws://linked');
  const { discovery, drops, state } = makeDiscovery({ links: [linked] });
  state.active = false; // nothing dials in this test
  discovery.onNodes(encodeNodes([node(0x40), { id: LOCAL, flags: 2, url: 'ws://me' }, node(0x80)]));
  t.equal(discovery.contact(id(0x40))?.url, 'ws://n40', 'a new node is remembered with its url');
  t.equal(discovery.contact(LOCAL), undefined, 'not this node');
  t.equal(discovery.contact(id(0x80)), undefined, 'not a linked node');
  discovery.onNodes(encodeNodes([{ id: id(0x40), flags: HelloFlags.WEBRTC, url: '' }]));
  t.equal(discovery.contact(id(0x40))?.url, 'ws://n40', 'a later entry without a url keeps the known url');
  t.equal(discovery.contact(id(0x40))?.flags, HelloFlags.WEBSOCKET | HelloFlags.WEBRTC, 'and adds its flags');
  discovery.onNodes(new Uint8Array([FrameType.NODES, 1, 0]));
  t.deepEqual(drops, ['malformed']);
  t.end();
});

test('a contact learned from NODES keeps its own copy of the id, not a view of the frame', (t) => {
  const { discovery, state } = makeDiscovery();
  state.active = false;
  const f = encodeNodes([node(0x40), node(0x41)]);
  discovery.onNodes(f);
  f.fill(0, 2);
  t.deepEqual([...discovery.contact(id(0x40))!.id], [...id(0x40)], 'the id survives the frame being reused');
  t.equal(discovery.contact(id(0x41))?.url, 'ws://n41');
  discovery.stop();
  t.end();
});

test('contacts are bounded by maxContacts; the most recently heard of stay', (t) => {
  const { discovery, state } = makeDiscovery({ limits: { maxContacts: 4 } });
  state.active = false;
  const firsts = Array.from({ length: 12 }, (_, i) => 0x20 + i);
  for (const first of firsts) discovery.onNodes(encodeNodes([node(first)]));
  const held = firsts.filter((first) => discovery.contact(id(first)));
  t.ok(held.length <= 4, `at most 4 held (${held.length})`);
  t.ok(held.includes(firsts[firsts.length - 1]), 'the latest is held');
  t.notOk(held.includes(firsts[0]), 'the first is gone');
  t.end();
});

test('FIND_NODE is answered with the closest links, never the asker', (t) => {
  const asker = new FakeLink(id(0x41), 'ws://asker');
  const links = [asker, new FakeLink(id(0x40), 'ws://a', 2), new FakeLink(id(0x80), 'ws://b', 2), new FakeLink(id(0x43), '', 1)];
  const { discovery, drops } = makeDiscovery({ links });
  discovery.onFindNode(asLink(asker), encodeFindNode(id(0x41)));
  const nodes = decodeNodes(asker.sent[0])!;
  t.deepEqual(nodes.map((n) => n.id[0]), [0x40, 0x43, 0x80], 'nearest the target first, without the asker');
  t.deepEqual(nodes.map((n) => n.url), ['ws://a', '', 'ws://b']);
  discovery.onFindNode(asLink(asker), new Uint8Array([FrameType.FIND_NODE, 1, 2]));
  t.deepEqual(drops, ['malformed'], 'a truncated FIND_NODE is counted');
  t.equal(asker.sent.length, 1, 'and not answered');
  t.end();
});

test('FIND_NODE is answered with contacts too, nearest first; never one whose dial failed, nor the asker', async (t) => {
  const asker = new FakeLink(id(0x41), 'ws://asker');
  const links = [asker, new FakeLink(id(0x80), 'ws://b', 2)];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { maxDialing: 8 } });
  state.active = false;
  // Contacts: 0x42 and 0x60 near the target 0x41, 0x44 whose dial will fail, and the asker itself as heard of.
  discovery.onNodes(encodeNodes([node(0x42), node(0x60), node(0x44), node(0x41, 'ws://asker')]));
  state.active = true;
  discovery.maintain();
  dials.find((d) => d.url === 'ws://n44')!.settle(false);
  await flush();
  discovery.onFindNode(asLink(asker), encodeFindNode(id(0x41)));
  const nodes = decodeNodes(asker.sent[asker.sent.length - 1])!;
  t.deepEqual(nodes.map((n) => n.id[0]), [0x42, 0x60, 0x80], 'the contacts 0x42 and 0x60 before the farther link 0x80; not 0x44 (failed), not the asker');
  t.deepEqual(nodes.map((n) => n.url), ['ws://n42', 'ws://n60', 'ws://b']);
  t.end();
});

test('a new link is remembered as a contact and asked for nodes near this one', (t) => {
  const others = [new FakeLink(id(0x40)), new FakeLink(id(0x20))];
  const { discovery, state } = makeDiscovery({ links: others });
  state.active = false;
  const link = new FakeLink(id(0x80), 'ws://new', HelloFlags.WEBSOCKET);
  discovery.onLinkOpen(asLink(link));
  t.equal(discovery.contact(id(0x80))?.url, 'ws://new');
  t.equal(link.sent.length, 1);
  t.deepEqual(decodeFindNode(link.sent[0]), LOCAL, 'FIND_NODE for the local id');
  t.end();
});

test('maintain() dials the emptiest buckets first', (t) => {
  // Two links in bucket 0 (0x80.., 0xc0..); contacts in bucket 0 (0x90, near none) and in empty buckets 2 and 4.
  const links = [new FakeLink(id(0x80)), new FakeLink(id(0xc0))];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { maxDialing: 2, targetLinks: 8 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x90), node(0x20), node(0x08)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url).sort(), ['ws://n20', 'ws://n8'], 'the two contacts in empty buckets, not the one in a full bucket');
  t.deepEqual(toHex(dials.find((d) => d.url === 'ws://n20')!.id), toHex(id(0x20)), 'each dial expects the contact\'s id');
  t.end();
});

test('an empty far bucket is dialed before a nearer contact in an occupied bucket', (t) => {
  const links = [new FakeLink(id(0x10)), new FakeLink(id(0x18))]; // bucket 3
  const { discovery, dials, state } = makeDiscovery({ links, limits: { maxDialing: 1 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x11), node(0x80)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url), ['ws://n80'], 'bucket 0, empty, goes first');
  t.end();
});

test('maintain() never has more than maxDialing dials in progress', (t) => {
  const contacts = [0x80, 0x40, 0x20, 0x10, 0x08, 0x04].map((b) => node(b));
  const cases = [
    { dialing: 0, want: 3, why: 'three of six contacts dialed' },
    { dialing: 2, want: 1, why: 'with two dials under way, one more' },
    { dialing: 3, want: 0, why: 'with maxDialing under way, none' },
  ];
  for (const c of cases) {
    const d = makeDiscovery({ limits: { maxDialing: 3, targetLinks: 8 }, ...(c.dialing ? { dialing: c.dialing } : {}) });
    d.state.active = false;
    d.discovery.onNodes(encodeNodes(contacts));
    d.state.active = true;
    d.discovery.maintain();
    t.equal(d.dials.length, c.want, c.why);
  }
  t.end();
});

test('a dial in progress counts as a link of its bucket: maintain() again does not dial that bucket twice', (t) => {
  // Past targetLinks (1), only buckets with fewer than linksPerBucket (1) links are dialed.
  const links = [new FakeLink(id(0x01))];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { targetLinks: 1, linksPerBucket: 1, maxDialing: 4 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x80), node(0xc0), node(0x40)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url[6]).sort(), ['4', '8'], 'one dial into bucket 0, one into bucket 1');
  state.dialing = dials.length;
  discovery.maintain();
  t.equal(dials.length, 2, 'no second dial into bucket 0 while the first is in progress');
  t.end();
});

test('a bucket whose dial failed is dialed again once it settled', async (t) => {
  const links = [new FakeLink(id(0x01))];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { targetLinks: 1, linksPerBucket: 1, maxDialing: 4 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x80), node(0xc0)]));
  state.active = true;
  discovery.maintain();
  t.equal(dials.length, 1, 'one dial into bucket 0');
  dials[0].settle(false);
  await flush();
  discovery.maintain();
  t.equal(dials.length, 2, 'after it failed, the other contact in bucket 0 is dialed');
  t.notEqual(dials[1].url, dials[0].url);
  t.end();
});

test('maintain() starts no dial while the process is busy with link handshakes, only holes while half busy, and all once idle', async (t) => {
  // One link in bucket 0 (and three deep ones: not a thinly linked node); contacts: one more in bucket 0, one in the empty bucket 1.
  const links = [0x80, 0x01, 0x02, 0x04].map((f) => new FakeLink(id(f)));
  const { discovery, dials, state, host } = makeDiscovery({ links, limits: { maxDialing: 4, targetLinks: 8, linksPerBucket: 2 } });
  let load = 1;
  host.load = () => load;
  state.active = false;
  discovery.onNodes(encodeNodes([node(0xc0), node(0x40)]));
  state.active = true;
  discovery.maintain();
  t.equal(dials.length, 0, 'no dial while busy');
  load = 0.5;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url), ['ws://n40'], 'half busy: only the empty bucket is dialed');
  load = 0;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url), ['ws://n40', 'ws://nc0'], 'idle: the second link of bucket 0 too');
  t.end();
});

test('of several empty buckets, the farthest is dialed first', (t) => {
  // No link; contacts in the empty buckets 4, 2 and 0: with one dial allowed, bucket 0 (half the id space) goes.
  const { discovery, dials, state } = makeDiscovery({ limits: { maxDialing: 1 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x08), node(0x20), node(0x80)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url), ['ws://n80'], 'bucket 0 first, not the nearest contact (bucket 4)');
  t.end();
});

test('while the process is three-quarters busy with link handshakes, a maintain() pass starts one dial, into the farthest hole', (t) => {
  const links = [0x01, 0x02, 0x04, 0x10].map((f) => new FakeLink(id(f)));
  const { discovery, dials, state, host } = makeDiscovery({ links, limits: { maxDialing: 4, targetLinks: 8 } });
  host.load = () => 0.8;
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x08), node(0x20), node(0x80), node(0x40)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url), ['ws://n80'], 'one dial, bucket 0');
  state.dialing = 1;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url), ['ws://n80', 'ws://n40'], 'the next pass: one more, the next farthest hole');
  t.end();
});

test('a thinly linked node still dials its farthest hole when the process is at busyHandshakes; a well linked one waits', (t) => {
  const thin = makeDiscovery({ links: [new FakeLink(id(0x01))], limits: { maxDialing: 4, targetLinks: 8 } });
  const links = [0x01, 0x02, 0x04, 0x08, 0x10].map((b) => new FakeLink(id(b)));
  const well = makeDiscovery({ links, limits: { maxDialing: 4, targetLinks: 8 } });
  for (const d of [thin, well]) {
    d.host.load = () => 1;
    d.state.active = false;
    d.discovery.onNodes(encodeNodes([node(0x20), node(0x80), node(0x40)]));
    d.state.active = true;
    d.discovery.maintain();
  }
  t.deepEqual(thin.dials.map((d) => d.url), ['ws://n80'], 'one link (fewer than targetLinks/2): one dial, bucket 0');
  t.equal(well.dials.length, 0, 'five links: no dial');
  t.end();
});

test('while the process is half busy, refresh() looks up only empty buckets', (t) => {
  // Bucket 0 holds one link (sparse: linksPerBucket 2), bucket 2 one; bucket 1 and 3 are empty.
  const links = [new FakeLink(id(0x80)), new FakeLink(id(0x20))];
  const { discovery, table, lookups, host } = makeDiscovery({ links, limits: { linksPerBucket: 2 } });
  host.load = () => 0.5;
  discovery.refresh();
  t.deepEqual(lookups.map((x) => table.bucketIndex(x)), [1, 3], 'the empty buckets only');
  host.load = () => 0;
  discovery.refresh();
  t.deepEqual(lookups.slice(2).map((x) => table.bucketIndex(x)), [0, 1, 2, 3], 'idle: every sparse bucket');
  t.end();
});

test('maintain() stops at targetLinks when every contact falls in an occupied bucket', (t) => {
  const links = [new FakeLink(id(0x80)), new FakeLink(id(0xc0))];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { targetLinks: 2, maxDialing: 4 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x90), node(0xa0)]));
  state.active = true;
  discovery.maintain();
  t.equal(dials.length, 0, 'the table has its target and no empty bucket to fill');
  const below = makeDiscovery({ links, limits: { targetLinks: 3, maxDialing: 4 } });
  below.state.active = false;
  below.discovery.onNodes(encodeNodes([node(0x90), node(0xa0)]));
  below.state.active = true;
  below.discovery.maintain();
  t.equal(below.dials.length, 1, 'one short of the target: one dial');
  t.end();
});

test('an inactive node does not dial', (t) => {
  const { discovery, dials, state } = makeDiscovery();
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x40)]));
  discovery.maintain();
  t.equal(dials.length, 0);
  t.end();
});

test('a contact without a url is reached by connect() when this node can form WebRTC links', (t) => {
  const rtcOnly = { id: id(0x40), flags: HelloFlags.WEBRTC, url: '' };
  const without = makeDiscovery({ autoConnect: false });
  without.state.active = false;
  without.discovery.onNodes(encodeNodes([rtcOnly]));
  without.state.active = true;
  without.discovery.maintain();
  t.equal(without.dials.length + without.connects.length, 0, 'no way to reach it');
  const withRtc = makeDiscovery({ autoConnect: true });
  withRtc.state.active = false;
  withRtc.discovery.onNodes(encodeNodes([rtcOnly]));
  withRtc.state.active = true;
  withRtc.discovery.maintain();
  t.equal(withRtc.connects.length, 1);
  t.equal(toHex(withRtc.connects[0]), toHex(id(0x40)));
  t.end();
});

test('a failed dial backs off exponentially and the contact is dropped after 4 failures', async (t) => {
  const clock = fakeClock(t);
  const { discovery, dials, state } = makeDiscovery({ limits: { maxDialing: 1 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x40)]));
  state.active = true;
  for (let failure = 1; failure <= 4; failure++) {
    discovery.maintain();
    t.equal(dials.length, failure, `attempt ${failure} is made`);
    dials[failure - 1].settle(false);
    await flush();
    if (failure === 4) break;
    discovery.maintain();
    t.equal(dials.length, failure, `not again at once after ${failure} failure(s)`);
    clock.advance(5000 * 2 ** failure - 1);
    discovery.maintain();
    t.equal(dials.length, failure, 'nor just before the backoff ends');
    clock.advance(2);
  }
  t.equal(discovery.contact(id(0x40)), undefined, 'dropped after the fourth failure');
  clock.advance(10 * 60_000);
  discovery.maintain();
  t.equal(dials.length, 4, 'and never dialed again');
  t.end();
});

test('a successful dial resets the failure count', async (t) => {
  const clock = fakeClock(t);
  const { discovery, dials, state } = makeDiscovery({ limits: { maxDialing: 1 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x40)]));
  state.active = true;
  discovery.maintain();
  dials[0].settle(false);
  await flush();
  clock.advance(10_001);
  discovery.maintain();
  dials[1].settle(true);
  await flush();
  clock.advance(5001); // the first backoff again, not the second
  discovery.maintain();
  t.equal(dials.length, 3, 'dialed again after the shortest backoff');
  t.end();
});

test('refresh() looks up a random id in every sparse bucket down to the deepest occupied one', (t) => {
  // Bucket 0 holds two links, bucket 2 one; buckets 1, 2 and 3 (one past the deepest) are sparse.
  const near = new FakeLink(id(0x20));
  const links = [new FakeLink(id(0x80)), new FakeLink(id(0xc0)), near];
  const { discovery, table, lookups } = makeDiscovery({ links });
  discovery.refresh();
  t.deepEqual(lookups.map((x) => table.bucketIndex(x)), [1, 2, 3], 'one lookup per sparse bucket, none for the full one');
  t.ok(near.sent.some((f) => f[0] === FrameType.FIND_NODE), 'the closest links are asked for nodes too');
  t.end();
});

test('refresh() with no link bootstraps again; an inactive node does nothing', (t) => {
  const alone = makeDiscovery();
  alone.discovery.refresh();
  t.equal(alone.rebootstraps(), 1);
  t.equal(alone.lookups.length, 0);
  const off = makeDiscovery({ links: [new FakeLink(id(0x80))] });
  off.state.active = false;
  off.discovery.refresh();
  t.equal(off.lookups.length + off.rebootstraps(), 0);
  t.end();
});

test('refresh() makes at most 16 lookups', (t) => {
  // One link deep in bucket 100: buckets 0..100 are all sparse.
  const deep = new Uint8Array(20);
  deep[12] = 0x08; // 12 * 8 + 4 leading zero bits: bucket 100
  const { discovery, table, lookups } = makeDiscovery({ links: [new FakeLink(deep)] });
  t.equal(table.bucketIndex(deep), 100);
  discovery.refresh();
  t.equal(lookups.length, 16);
  t.deepEqual(lookups.map((x) => table.bucketIndex(x)), [...Array(16).keys()], 'the farthest buckets first');
  t.end();
});

test('randomIdInBucket gives an id in exactly the asked bucket (property)', (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 159 }), (local, prefix) => {
    const table = new RoutingTable<never>(local, 1);
    return table.bucketIndex(randomIdInBucket(local, prefix)) === prefix;
  }));
  t.pass('bucketIndex(randomIdInBucket(local, i)) === i');
  t.end();
});

test('slotOf is the id bits after the bucket bit, XOR the local id (property); slotBits gives each of linksPerBucket links a slot', (t) => {
  const bitsOf = (b: Uint8Array) => [...b].map((x) => x.toString(2).padStart(8, '0')).join('');
  fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 159 }), fc.integer({ min: 0, max: 2 }), (local, prefix, bits) => {
    const other = randomIdInBucket(local, prefix);
    const x = bitsOf(other.map((v, i) => v ^ local[i]));
    const want = parseInt(('0' + x.slice(prefix + 1, prefix + 1 + bits).padEnd(bits, '0')), 2);
    return slotOf(local, other, prefix, bits) === want;
  }));
  t.pass('slotOf(local, id, i, bits) === bits i+1..i+bits of id ^ local (0 past the end)');
  t.deepEqual([1, 2, 3, 4, 8].map(slotBits), [0, 1, 2, 2, 2], 'one slot for 1 link, halves for 2, quarters for 3 and more');
  t.end();
});

test('past targetLinks, a bucket whose links all sit in one half gets a link into the other half, not a third in the same one', (t) => {
  // Bucket 0 (first bit 1) holds 0x80 and 0x90: both have second bit 0 (the same half).
  const links = [new FakeLink(id(0x80)), new FakeLink(id(0x90))];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { targetLinks: 2, linksPerBucket: 2, maxDialing: 4 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0xa0), node(0xc0), node(0xe0)]));
  state.active = true;
  discovery.maintain();
  t.equal(dials.length, 1, 'one dial: the empty half wants one link');
  t.ok(['ws://nc0', 'ws://ne0'].includes(dials[0]?.url), `into the half with second bit 1 (${dials[0]?.url})`);
  state.dialing = 1;
  discovery.maintain();
  t.equal(dials.length, 1, 'the dial in progress covers that half: no second dial into it');
  t.end();
});

test('the links of a bucket are spread over its slots: one per half before a second in either, nearest first within a half', (t) => {
  // Bucket 0 is empty; contacts 0x81 and 0x82 (second bit 0, nearest) and 0xc1, 0xc2 (second bit 1).
  const links = [new FakeLink(id(0x01))];
  const { discovery, dials, state } = makeDiscovery({ links, limits: { targetLinks: 1, linksPerBucket: 2, maxDialing: 4 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x81), node(0x82), node(0xc1), node(0xc2)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url).sort(), ['ws://n81', 'ws://nc1'], 'the nearest of each half, not the two nearest');
  t.end();
});

test('pruning past linkBudget closes a link from the fullest slot of the fullest bucket, never the last link of a slot', (t) => {
  // Bucket 0: 0x80, 0x90, 0xa0 (second bit 0) and 0xc0 (second bit 1), all dialed by this node, 0xc0 the youngest.
  // Bucket 1: 0x40, 0x60 (two, at linksPerBucket).
  const ids = [0x80, 0x90, 0xa0, 0xc0, 0x40, 0x60];
  const links = ids.map((b, i) => Object.assign(new FakeLink(id(b)), { initiator: true, openedAt: i }));
  const { discovery, table } = makeDiscovery({ links, limits: { linkBudget: 4, linksPerBucket: 2, targetLinks: 2 } });
  discovery.maintain();
  t.deepEqual(links.filter((l) => l.closed).map((l) => l.remoteId[0].toString(16)).sort(), ['90', 'a0'],
    'two of the three in the crowded half closed (youngest first), the only link of the other half kept');
  t.equal(table.size, 4, 'down to linkBudget');
  t.end();
});

test('past linkBudget a node still dials its holes (buckets with no link), up to maxLinks, and nothing else', (t) => {
  // Four links the remotes dialed (never pruned), all in bucket 0, over a linkBudget of 2; contacts in
  // empty buckets 2 and 3 and in bucket 0 (second half empty, which would open a slot).
  const links = [0x80, 0x90, 0xa0, 0xb0].map((b) => new FakeLink(id(b)));
  const { discovery, dials, state } = makeDiscovery({ links, limits: { linkBudget: 2, targetLinks: 2, linksPerBucket: 2, maxDialing: 4 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x20), node(0x10), node(0xc0)]));
  state.active = true;
  discovery.maintain();
  t.deepEqual(dials.map((d) => d.url).sort(), ['ws://n10', 'ws://n20'], 'the two holes, not the slot of an occupied bucket');
  t.equal(links.filter((l) => l.closed).length, 0, 'links the remotes dialed are not pruned');
  state.dialing = 2;
  discovery.maintain();
  t.equal(dials.length, 2, 'a dial in progress fills its hole: nothing more');
  t.end();
});

test('at maxLinks no hole is dialed', (t) => {
  const links = [0x80, 0x90, 0xa0, 0xb0].map((b) => new FakeLink(id(b)));
  const { discovery, dials, state } = makeDiscovery({ links, limits: { linkBudget: 2, maxLinks: 4, targetLinks: 2 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x20)]));
  state.active = true;
  discovery.maintain();
  t.equal(dials.length, 0, 'the table is full');
  t.end();
});

test('a bucket full of contacts gives way to a new contact when one of them failed; none failed, none gives way', async (t) => {
  // contactsPerBucket 2: bucket 1 (0x40..0x7f) holds 0x40 and 0x50; a third, 0x60, finds no room.
  const { discovery, dials, state } = makeDiscovery({ limits: { contactsPerBucket: 2, maxDialing: 1, targetLinks: 1 } });
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x40), node(0x50)]));
  discovery.onNodes(encodeNodes([node(0x60)]));
  t.equal(discovery.contact(id(0x60)), undefined, 'no room while both contacts are good');
  state.active = true;
  discovery.maintain();
  t.equal(dials.length, 1, 'one contact dialed');
  const failed = dials[0].id[0];
  dials[0].settle(false);
  await flush();
  state.active = false;
  discovery.onNodes(encodeNodes([node(0x60)]));
  t.ok(discovery.contact(id(0x60)), 'the new contact is remembered now');
  t.equal(discovery.contact(id(failed)), undefined, 'in place of the one whose dial failed');
  t.ok(discovery.contact(id(failed === 0x40 ? 0x50 : 0x40)), 'the other stays');
  discovery.onNodes(encodeNodes([node(0x70)]));
  t.equal(discovery.contact(id(0x70)), undefined, 'no failing contact left: no more room');
  t.end();
});
