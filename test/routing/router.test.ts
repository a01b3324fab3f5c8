import test from 'tape';
import { Router, lookupKeyOf, type RouterHost } from '../../src/routing/router.js';
import { RoutingTable } from '../../src/routing/routing-table.js';
import { DedupCache } from '../../src/routing/dedup-cache.js';
import type { Link } from '../../src/link/link.js';
import type { RouteLink } from '../../src/routing/route-link.js';
import { equalBytes, key53 } from '../../src/util/bytes.js';
import type { RelayError } from '../../src/util/errors.js';
import type { Detour, DropReason } from '../../src/util/drop-reasons.js';
import { decodeNodes, encodeNodes, type NodeInfo } from '../../src/wire/frames.js';
import {
  DEFAULT_TTL, HEADER_LENGTH, MsgType, OFF_MSG_ID, OFF_TTL, UnreachableReason, decodeUnreachable, encodeEnvelope, encodeUnreachable, envelope,
  type MsgTypeCode,
} from '../../src/wire/envelope.js';

/** A 20-byte id whose first byte is `first` (and second `second`): XOR distance is then easy to read. */
const id = (first: number, second = 0) => { const b = new Uint8Array(20); b[0] = first; b[1] = second; return b; };

/** The part of a Link the router uses: send (recorded), isClosed, stats, and the remote's HELLO fields. */
class FakeLink {
  readonly sent: Uint8Array[] = [];
  accept = true;
  isClosed = false;
  stats = { relayed: 0 };
  constructor(readonly name: string, readonly remoteUrl = '', readonly remoteFlags = 0) {}
  send(f: Uint8Array): boolean {
    if (!this.accept) return false;
    this.sent.push(f.slice()); // the router decrements the TTL in place: keep what was sent
    return true;
  }
}
const asLink = (l: FakeLink) => l as unknown as Link;

interface Recorded {
  drops: DropReason[];
  detours: Detour[];
  delivered: Uint8Array[];
  learned: Uint8Array[];
  unreachable: { msgKey: number; to: Uint8Array; err: RelayError }[];
}

function makeRouter(localId: Uint8Array, links: [Uint8Array, FakeLink][], o: { ttl?: number; maxFrameSize?: number } = {}) {
  const table = new RoutingTable<Link>(localId, 20);
  for (const [linkId, link] of links) table.add(linkId, asLink(link));
  const rec: Recorded = { drops: [], detours: [], delivered: [], learned: [], unreachable: [] };
  const host: RouterHost = {
    localId,
    ttl: o.ttl ?? DEFAULT_TTL,
    maxFrameSize: o.maxFrameSize ?? 64 * 1024,
    self: (): NodeInfo => ({ id: localId, flags: 2, url: 'ws://self' }),
    countDrop: (r) => { rec.drops.push(r); },
    countDetour: (k) => { rec.detours.push(k); },
    deliver: (f) => { rec.delivered.push(f.slice()); },
    learn: (f) => { rec.learned.push(f.slice()); },
    unreachable: (msgKey, to, err) => { rec.unreachable.push({ msgKey, to: to.slice(), err }); },
  };
  return { router: new Router(host, table, new DedupCache<RouteLink>()), rec, table };
}

const frame = (type: MsgTypeCode, to: Uint8Array, from: Uint8Array, ttl = DEFAULT_TTL, body: Uint8Array = new Uint8Array([1, 2, 3])) =>
  encodeEnvelope(type, to, from, body, ttl);

const X = id(0x00); // the node under test
const ORIGIN = id(0xf0, 1); // a far node that sent the message

test('a routed frame goes to the link closest to its destination by XOR distance', (t) => {
  const a = new FakeLink('a'); const b = new FakeLink('b'); const c = new FakeLink('c');
  const { router } = makeRouter(X, [[id(0x80), a], [id(0x40), b], [id(0x01), c]]);
  const f = frame(MsgType.DATA, id(0x41), X);
  t.equal(router.route(f), 'sent');
  t.equal(b.sent.length, 1, 'sent on 0x40, the closest to 0x41');
  t.equal(a.sent.length + c.sent.length, 0, 'and on no other link');
  t.equal(b.sent[0][OFF_TTL], DEFAULT_TTL, 'a frame that originates here keeps its TTL');
  t.equal(router.counters.relayed, 0, 'an own frame is not counted as relayed');
  t.end();
});

test('a relayed frame loses one hop, is counted as relayed and never goes back where it came from', (t) => {
  const a = new FakeLink('a'); const b = new FakeLink('b'); const c = new FakeLink('c');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [id(0x40), b], [id(0x01), c]]);
  const f = frame(MsgType.DATA, id(0x41), ORIGIN, 5);
  router.onRouted(asLink(b), f);
  t.equal(b.sent.length, 0, 'not back to the sender, although it is closest');
  t.equal(c.sent.length, 1, 'to the next-closest link');
  t.equal(c.sent[0][OFF_TTL], 4, 'TTL decremented');
  t.equal(router.counters.relayed, 1);
  t.equal(router.counters.bytesRelayed, f.length);
  t.equal(b.stats.relayed, 1, 'the link it came in on counts it');
  t.deepEqual(rec.drops, [], 'nothing dropped');
  t.deepEqual(rec.detours, [], 'no detour');
  t.end();
});

test('a message that loops back is sent along the next-best untried link and counted as a loop detour', (t) => {
  const a = new FakeLink('a'); const b = new FakeLink('b'); const c = new FakeLink('c'); const d = new FakeLink('d');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [id(0x40), b], [id(0x50), c], [id(0x10), d]]);
  const f = frame(MsgType.DATA, id(0x41), ORIGIN);
  router.onRouted(asLink(a), f.slice());
  t.equal(b.sent.length, 1, 'first along the best link (0x40)');
  router.onRouted(asLink(b), b.sent[0].slice()); // b sent it back: a loop
  t.deepEqual(rec.detours, ['loop'], 'the loop is counted through countDetour');
  t.equal(c.sent.length, 1, 'then along the next-best link (0x50)');
  t.equal(a.sent.length, 0, 'not to the parent while untried links remain');
  t.deepEqual(rec.drops, [], 'a detour is not a drop');
  t.end();
});

test('a dead end hands the message back to its parent, counted as a backtrack detour', (t) => {
  const a = new FakeLink('a'); const b = new FakeLink('b');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [id(0x40), b]]);
  const f = frame(MsgType.DATA, id(0x41), ORIGIN);
  router.onRouted(asLink(a), f.slice());
  t.equal(b.sent.length, 1, 'forwarded on 0x40');
  router.onRouted(asLink(b), b.sent[0].slice()); // back again: every link but the parent is tried
  t.deepEqual(rec.detours, ['loop', 'backtrack']);
  t.equal(a.sent.length, 1, 'returned to the parent it first came from');
  t.ok(equalBytes(envelope.msgId(a.sent[0]), envelope.msgId(f)), 'the same message');
  t.deepEqual(rec.drops, [], 'not dropped');
  t.deepEqual(rec.unreachable, [], 'and not reported unreachable');
  t.end();
});

test('a dead end at the origin reports ERR_NO_ROUTE through unreachable(msgKey, to, err) once', (t) => {
  const a = new FakeLink('a');
  const { router, rec } = makeRouter(X, [[id(0x80), a]]);
  const to = id(0x41);
  const f = frame(MsgType.DATA, to, X);
  t.equal(router.route(f), 'sent');
  router.onRouted(asLink(a), a.sent[0].slice()); // it comes back: no other link, no parent
  t.deepEqual(rec.drops, ['no_route']);
  t.equal(rec.unreachable.length, 1, 'one report');
  t.equal(rec.unreachable[0].msgKey, key53(f, OFF_MSG_ID), 'keyed by the message id');
  t.ok(equalBytes(rec.unreachable[0].to, to), 'naming the destination');
  t.equal(rec.unreachable[0].err.code, 'ERR_NO_ROUTE');
  t.equal(a.sent.length, 1, 'nothing more is sent');
  t.end();
});

test('a LOOKUP or LOOKUP_RESULT whose hop limit runs out is dropped and counted, with no UNREACHABLE (nobody acts on one)', (t) => {
  const a = new FakeLink('a'); const o = new FakeLink('origin');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [ORIGIN, o]]);
  router.onRouted(asLink(a), frame(MsgType.LOOKUP_RESULT, id(0x41), ORIGIN, 0));
  router.onRouted(asLink(a), frame(MsgType.LOOKUP, id(0x42), ORIGIN, 0));
  t.deepEqual(rec.drops, ['hop_limit', 'hop_limit'], 'both dropped for their hop limit');
  t.equal(o.sent.length + a.sent.length, 0, 'and no report sent anywhere');
  t.end();
});

test('a message whose hop limit runs out is dropped and an UNREACHABLE goes to its origin with at least the default TTL', (t) => {
  const a = new FakeLink('a'); const o = new FakeLink('origin');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [ORIGIN, o]], { ttl: 4 });
  const to = id(0x41);
  const f = frame(MsgType.DATA, to, ORIGIN, 0);
  router.onRouted(asLink(a), f);
  t.deepEqual(rec.drops, ['hop_limit']);
  t.equal(o.sent.length, 1, 'a report goes toward the origin');
  const reply = o.sent[0];
  t.equal(envelope.type(reply), MsgType.UNREACHABLE);
  t.ok(equalBytes(envelope.to(reply), ORIGIN), 'addressed to the origin');
  t.ok(equalBytes(envelope.from(reply), X), 'from this node');
  t.ok(envelope.ttl(reply) >= DEFAULT_TTL, 'with at least the default TTL, though this node routes with 4');
  const u = decodeUnreachable(envelope.body(reply))!;
  t.equal(u.reason, UnreachableReason.HOP_LIMIT);
  t.ok(equalBytes(u.msgId, envelope.msgId(f)), 'naming the message');
  t.ok(equalBytes(u.to, to), 'and its destination');

  // The origin's router turns the report into one unreachable() call.
  const origin = makeRouter(ORIGIN, [[X, new FakeLink('x')]]);
  origin.router.onRouted(asLink(new FakeLink('x')), reply.slice());
  t.equal(origin.rec.unreachable.length, 1);
  t.equal(origin.rec.unreachable[0].msgKey, key53(f, OFF_MSG_ID));
  t.ok(equalBytes(origin.rec.unreachable[0].to, to));
  t.equal(origin.rec.unreachable[0].err.code, 'ERR_HOP_LIMIT');
  t.deepEqual(origin.rec.delivered, [], 'the report is not delivered as an end-to-end frame');
  t.end();
});

test('an UNREACHABLE that cannot be delivered is dropped without another report', (t) => {
  const a = new FakeLink('a'); const o = new FakeLink('origin');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [ORIGIN, o]]);
  const body = encodeUnreachable(UnreachableReason.NO_ROUTE, new Uint8Array(8), id(0x41));
  router.onRouted(asLink(a), frame(MsgType.UNREACHABLE, id(0x42), ORIGIN, 0, body));
  t.deepEqual(rec.drops, ['hop_limit']);
  t.equal(o.sent.length + a.sent.length, 0, 'no UNREACHABLE about an UNREACHABLE');
  t.end();
});

test('a frame for this node is delivered once; a duplicate is dropped and counted', (t) => {
  const a = new FakeLink('a');
  const { router, rec } = makeRouter(X, [[id(0x80), a]]);
  const f = frame(MsgType.DATA, X, ORIGIN);
  router.onRouted(asLink(a), f.slice());
  router.onRouted(asLink(a), f.slice());
  t.equal(rec.delivered.length, 1, 'delivered once');
  t.ok(equalBytes(rec.delivered[0], f), 'as it arrived');
  t.deepEqual(rec.drops, ['duplicate']);
  const other = frame(MsgType.DATA, X, ORIGIN);
  router.onRouted(asLink(a), other);
  t.equal(rec.delivered.length, 2, 'another message id is delivered');
  t.end();
});

test('too large, truncated and non-ROUTE frames are dropped with their reason, and nothing is sent', (t) => {
  const a = new FakeLink('a'); const b = new FakeLink('b');
  const { router, rec } = makeRouter(X, [[id(0x80), a], [id(0x40), b]], { maxFrameSize: 200 });
  router.onRouted(asLink(a), frame(MsgType.DATA, id(0x41), ORIGIN, DEFAULT_TTL, new Uint8Array(200)));
  router.onRouted(asLink(a), frame(MsgType.DATA, X, ORIGIN, DEFAULT_TTL, new Uint8Array(200)));
  t.deepEqual(rec.drops, ['too_large', 'too_large'], 'to relay or to deliver');
  router.onRouted(asLink(a), frame(MsgType.DATA, id(0x41), ORIGIN).subarray(0, HEADER_LENGTH - 1));
  const notRoute = frame(MsgType.DATA, id(0x41), ORIGIN);
  notRoute[0] = 0x07;
  router.onRouted(asLink(a), notRoute);
  router.onRouted(asLink(a), new Uint8Array(0));
  t.deepEqual(rec.drops.slice(2), ['malformed', 'malformed', 'malformed']);
  const badReport = frame(MsgType.UNREACHABLE, X, ORIGIN, DEFAULT_TTL, new Uint8Array(5));
  router.onRouted(asLink(a), badReport);
  t.deepEqual(rec.drops.slice(5), ['malformed'], 'an UNREACHABLE with a bad body');
  t.equal(a.sent.length + b.sent.length, 0, 'nothing forwarded');
  t.deepEqual(rec.delivered, [], 'nothing delivered');
  t.deepEqual(rec.unreachable, [], 'nothing reported');
  t.end();
});

test('route() reports no_links without a link and congested when the next hop refuses the frame', (t) => {
  const none = makeRouter(X, []);
  t.equal(none.router.route(frame(MsgType.DATA, id(0x41), X)), 'no_links');
  const a = new FakeLink('a');
  a.accept = false;
  const one = makeRouter(X, [[id(0x40), a]]);
  t.equal(one.router.route(frame(MsgType.DATA, id(0x41), X)), 'congested');
  t.end();
});

test('a LOOKUP ends at the node closest to its target, which answers the origin with LOOKUP_RESULT', (t) => {
  const origin = new FakeLink('origin', 'ws://origin', 2);
  const far1 = new FakeLink('far1', 'ws://far1', 2);
  const far2 = new FakeLink('far2', '', 1);
  // X (0x00..) is closer to the target 0x01.. than any of its links.
  const { router, rec } = makeRouter(X, [[ORIGIN, origin], [id(0x80), far1], [id(0x40), far2]]);
  const target = id(0x01);
  router.onRouted(asLink(origin), frame(MsgType.LOOKUP, target, ORIGIN, DEFAULT_TTL, new Uint8Array(0)));
  t.equal(far1.sent.length + far2.sent.length, 0, 'the lookup is not forwarded');
  t.equal(origin.sent.length, 1, 'the answer goes to the origin');
  const answer = origin.sent[0];
  t.equal(envelope.type(answer), MsgType.LOOKUP_RESULT);
  t.ok(equalBytes(envelope.to(answer), ORIGIN));
  const nodes = decodeNodes(envelope.body(answer))!;
  t.ok(nodes, 'the body is a NODES frame');
  t.ok(equalBytes(nodes[0].id, X), 'this node first');
  t.equal(nodes[0].url, 'ws://self');
  t.deepEqual(nodes.slice(1).map((n) => n.id[0]), [0x40, 0x80], 'then its links, nearest the target first');
  t.deepEqual(nodes.slice(1).map((n) => [n.url, n.flags]), [['', 1], ['ws://far1', 2]], 'with their urls and flags');
  t.notOk(nodes.some((n) => equalBytes(n.id, ORIGIN)), 'never the origin itself');
  t.deepEqual(rec.drops, []);
  t.end();
});

test('a LOOKUP goes on while a link is closer to the target than this node', (t) => {
  const a = new FakeLink('a'); const near = new FakeLink('near');
  const { router } = makeRouter(X, [[ORIGIN, a], [id(0x41), near]]);
  router.onRouted(asLink(a), frame(MsgType.LOOKUP, id(0x40), ORIGIN, DEFAULT_TTL, new Uint8Array(0)));
  t.equal(near.sent.length, 1, 'forwarded to 0x41, closer to 0x40 than 0x00 is');
  t.equal(envelope.type(near.sent[0]), MsgType.LOOKUP);
  t.equal(a.sent.length, 0, 'no answer yet');
  t.end();
});

test('a LOOKUP_RESULT for this node is learned from; a LOOKUP addressed to this node is answered', (t) => {
  const a = new FakeLink('a');
  const { router, rec } = makeRouter(X, [[ORIGIN, a]]);
  const nodes = encodeNodes([{ id: id(0x33), flags: 2, url: 'ws://n' }]);
  router.onRouted(asLink(a), frame(MsgType.LOOKUP_RESULT, X, ORIGIN, DEFAULT_TTL, nodes));
  t.equal(rec.learned.length, 1);
  t.ok(equalBytes(rec.learned[0], nodes), 'the NODES frame is handed to learn()');
  t.deepEqual(rec.delivered, [], 'not delivered as an end-to-end frame');
  router.onRouted(asLink(a), frame(MsgType.LOOKUP, X, ORIGIN, DEFAULT_TTL, new Uint8Array(0)));
  t.equal(a.sent.length, 1);
  t.equal(envelope.type(a.sent[0]), MsgType.LOOKUP_RESULT);
  t.end();
});

test('a LOOKUP_RESULT goes back on the link its LOOKUP came by, not greedily toward the origin', (t) => {
  // X (0x00..) is closest to the target 0x01..; the lookup of ORIGIN (0xf0 01..) came by `prev` (0x80..),
  // while `greedy` (0xf0 02..) is much closer to ORIGIN: greedy routing would send the answer there.
  const prev = new FakeLink('prev'); const greedy = new FakeLink('greedy');
  const { router } = makeRouter(X, [[id(0x80), prev], [id(0xf0, 2), greedy]]);
  const lookup = frame(MsgType.LOOKUP, id(0x01), ORIGIN, DEFAULT_TTL, new Uint8Array(0));
  router.onRouted(asLink(prev), lookup);
  t.equal(greedy.sent.length, 0, 'nothing toward the greedy next hop');
  t.equal(prev.sent.length, 1, 'the answer goes back by the link the lookup came on');
  const answer = prev.sent[0];
  t.equal(envelope.type(answer), MsgType.LOOKUP_RESULT);
  t.equal(key53(answer, OFF_MSG_ID), lookupKeyOf(key53(lookup, OFF_MSG_ID)), 'its id is the lookup\'s with the result bit flipped');
  t.equal(lookupKeyOf(lookupKeyOf(key53(lookup, OFF_MSG_ID))), key53(lookup, OFF_MSG_ID), 'and lookupKeyOf undoes itself');
  t.end();
});

test('a relay sends a LOOKUP_RESULT back on the link its LOOKUP came by; with that link closed, or the origin linked, as before', (t) => {
  for (const c of ['open', 'closed', 'direct'] as const) {
    const prev = new FakeLink('prev'); const next = new FakeLink('next'); const greedy = new FakeLink('greedy'); const direct = new FakeLink('direct');
    const links: [Uint8Array, FakeLink][] = [[id(0x80), prev], [id(0x41), next], [id(0xf0, 2), greedy]];
    if (c === 'direct') links.push([ORIGIN, direct]);
    const { router } = makeRouter(X, links);
    // The lookup for 0x40.. comes from ORIGIN by `prev` and goes on to `next` (0x41.., closer to the target).
    const lookup = frame(MsgType.LOOKUP, id(0x40), ORIGIN, DEFAULT_TTL, new Uint8Array(0));
    router.onRouted(asLink(prev), lookup);
    t.equal(next.sent.length, 1, `${c}: the lookup went on`);
    // The answer, from the node the lookup ended at, comes back by `next`.
    const answer = frame(MsgType.LOOKUP_RESULT, ORIGIN, id(0x41), DEFAULT_TTL, encodeNodes([]));
    answer.set(lookup.subarray(OFF_MSG_ID, OFF_MSG_ID + 8), OFF_MSG_ID);
    answer[OFF_MSG_ID] ^= 0x10;
    if (c === 'closed') prev.isClosed = true;
    router.onRouted(asLink(next), answer);
    const on = (l: FakeLink) => l.sent.filter((f) => envelope.type(f) === MsgType.LOOKUP_RESULT).length;
    if (c === 'open') t.deepEqual([on(prev), on(greedy)], [1, 0], 'open: back by the lookup\'s link, not toward the greedy next hop');
    if (c === 'closed') t.deepEqual([on(prev), on(greedy)], [0, 1], 'closed: greedy, as before');
    if (c === 'direct') t.deepEqual([on(prev), on(greedy), on(direct)], [0, 0, 1], 'origin linked: straight to it');
    if (c === 'open') t.equal(prev.sent[0][OFF_TTL], DEFAULT_TTL - 1, 'a hop less');
  }
  t.end();
});

test('a node\'s own LOOKUP goes to its closest link even when no link is closer to the target than itself (a lookup of a hole)', (t) => {
  // X (0x00..) has no link in bucket 0 (first bit 1): the target 0x80.. is nearer X (distance 0x80..) than
  // either link (0x81.., 0xc0..).
  const near = new FakeLink('near'); const far = new FakeLink('far');
  const { router, rec } = makeRouter(X, [[id(0x40), far], [id(0x01), near]]);
  router.lookup(id(0x80));
  t.equal(near.sent.length + far.sent.length, 1, 'the lookup goes out once');
  t.equal(near.sent.length, 1, 'on the link closest to the target (0x01..)');
  t.equal(envelope.type(near.sent[0]), MsgType.LOOKUP);
  t.deepEqual(rec.drops, []);
  t.end();
});
