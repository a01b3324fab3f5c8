/**
 * End-to-end acknowledgement of DATA through relays (PROTOCOL.md §4.5): the
 * origin flags and keeps what it sends through a relay, the destination acks,
 * and a message nobody acks goes out again by other first hops, then is
 * reported. Routers are wired by hand over fake links on a manual clock.
 */
import test from 'tape';
import { Router, type RouterHost } from '../../src/routing/router.js';
import { RoutingTable } from '../../src/routing/routing-table.js';
import { DedupCache } from '../../src/routing/dedup-cache.js';
import type { RouteLink } from '../../src/routing/route-link.js';
import type { RelayError } from '../../src/util/errors.js';
import { key53 } from '../../src/util/bytes.js';
import { DEFAULT_TTL, EnvelopeFlags, MsgType, OFF_FLAGS, OFF_MSG_ID, SPREAD_SHIFT, encodeEnvelope, envelope } from '../../src/wire/envelope.js';
import { ManualClock } from '../helpers/manual-clock.js';

const id = (first: number) => { const b = new Uint8Array(20); b[0] = first; return b; };


class FakeLink implements RouteLink {
  readonly sent: Uint8Array[] = [];
  isClosed = false;
  readonly stats = { relayed: 0 };
  readonly remoteUrl = '';
  readonly remoteFlags = 0;
  readonly initiator = true;
  readonly openedAt = 0;
  constructor(readonly remoteId: Uint8Array) {}
  get idHex() { return Buffer.from(this.remoteId).toString('hex'); }
  get remote() { return { id: this.remoteId }; }
  send(f: Uint8Array) { this.sent.push(f.slice()); return true; }
}

function node(localId: Uint8Array, links: FakeLink[], clock: ManualClock, retransmits = 2) {
  const table = new RoutingTable<RouteLink>(localId, 20);
  for (const l of links) table.add(l.remoteId, l);
  const rec = { delivered: [] as Uint8Array[], unreachable: [] as { msgKey: number; err: RelayError }[], drops: [] as string[] };
  const host: RouterHost = {
    localId, ttl: DEFAULT_TTL, maxFrameSize: 65536, clock,
    self: () => ({ id: localId, flags: 0, url: '' }),
    countDrop: (r) => { rec.drops.push(r); }, countDetour: () => {},
    deliver: (f) => { rec.delivered.push(f.slice()); }, learn: () => {},
    unreachable: (msgKey, _to, err) => { rec.unreachable.push({ msgKey, err }); },
    acks: { retransmits, ackTimeoutMs: 2000, maxUnacked: 1024 },
  };
  return { router: new Router(host, table, new DedupCache<RouteLink>()), rec };
}

const ORIGIN = id(0x10), DEST = id(0xf0);

test('DATA sent through a relay is flagged, acknowledged by the destination, and not sent again', (t) => {
  const clock = new ManualClock();
  const toRelay = new FakeLink(id(0xe0));
  const a = node(ORIGIN, [toRelay], clock);
  const f = encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16));
  t.equal(a.router.route(f), 'sent');
  const out = toRelay.sent[0];
  t.ok(out[OFF_FLAGS] & EnvelopeFlags.ACK_REQUESTED, 'the origin asks for an ACK');
  t.equal(a.router.ackCounters.unacked, 1, 'and keeps the message');

  const fromRelay = new FakeLink(id(0xe0));
  const d = node(DEST, [fromRelay], clock);
  d.router.onRouted(fromRelay, out.slice());
  t.equal(d.rec.delivered.length, 1, 'the destination delivers it');
  t.equal(fromRelay.sent.length, 0, 'the ACK waits a moment, to batch');
  clock.advance(50);
  t.equal(fromRelay.sent.length, 1, 'then one ACK goes back');
  const ack = fromRelay.sent[0];
  t.equal(envelope.type(ack), MsgType.ACK);
  t.deepEqual([...envelope.to(ack)], [...ORIGIN], 'addressed to the origin');
  t.deepEqual([...envelope.body(ack)], [...envelope.msgId(out)], 'naming the message id');

  a.router.onRouted(toRelay, ack.slice());
  t.equal(a.router.ackCounters.unacked, 0, 'the ACK releases the message');
  clock.advance(60_000);
  t.equal(toRelay.sent.length, 1, 'it is never sent again');
  t.equal(a.rec.unreachable.length, 0, 'nor reported');
  a.router.stop(); d.router.stop();
  t.end();
});

test('DATA the session layer settled (reported ERR_SESSION_LOST) is kept no more and never sent again', (t) => {
  const clock = new ManualClock();
  const toRelay = new FakeLink(id(0xe0));
  const other = new FakeLink(id(0xd0));
  const a = node(ORIGIN, [toRelay, other], clock);
  const f = encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16));
  t.equal(a.router.route(f), 'sent');
  t.equal(toRelay.sent.length, 1, 'sent by the closer link');
  t.equal(a.router.ackCounters.unacked, 1, 'kept for retransmission');
  a.router.settled(key53(f, OFF_MSG_ID));
  t.equal(a.router.ackCounters.unacked, 0, 'settled: not kept');
  clock.advance(60_000);
  t.equal(toRelay.sent.length + other.sent.length, 1, 'no retransmission by either link');
  t.equal(a.rec.unreachable.length, 0, 'and no second report');
  a.router.stop();
  t.end();
});

test('DATA handed straight to the destination\'s own link is not flagged', (t) => {
  const clock = new ManualClock();
  const direct = new FakeLink(DEST);
  const a = node(ORIGIN, [direct, new FakeLink(id(0xe0))], clock);
  a.router.route(encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16)));
  t.equal(direct.sent.length, 1, 'sent on the direct link');
  t.equal(direct.sent[0][OFF_FLAGS], 0, 'with no ACK asked');
  t.equal(a.router.ackCounters.unacked, 0, 'and nothing kept');
  a.router.stop();
  t.end();
});

test('an unacknowledged message goes out again by first hops it has not tried, 3 then 5 copies, then is reported ERR_NOT_ACKNOWLEDGED', (t) => {
  const clock = new ManualClock();
  // Ten links, none to the destination (0xf0..); 0xf1.. the closest to it.
  const links = [0xf1, 0xf2, 0xf4, 0xf8, 0xe0, 0xd0, 0xc0, 0x80, 0x40, 0x20].map((b) => new FakeLink(id(b)));
  const a = node(ORIGIN, links, clock);
  const f = encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16));
  a.router.route(f);
  const sentOn = () => links.map((l) => l.sent.length);
  const total = () => sentOn().reduce((x, y) => x + y, 0);
  t.deepEqual(sentOn(), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'first along the closest link');
  clock.advance(1999);
  t.equal(total(), 1, 'nothing more before ackTimeoutMs');
  clock.advance(1);
  t.equal(links[0].sent.length, 1, 'try 1 never goes by the first hop again');
  t.equal(total(), 1 + 3, 'but as three copies (2n + 1 for try n = 1)');
  t.ok(sentOn().every((n) => n <= 1), 'each by another link (picked among the closest at random)');
  const retry = links.slice(1).find((l) => l.sent.length)!.sent[0];
  t.equal(key53(retry, OFF_MSG_ID), key53(f, OFF_MSG_ID), 'with the same message id (the destination delivers it once)');
  t.equal((retry[OFF_FLAGS] & EnvelopeFlags.SPREAD) >> SPREAD_SHIFT, 1, 'asking relays to spread it over their closest links');
  clock.advance(4000);
  t.equal(total(), 1 + 3 + 5, 'try 2: five copies more');
  t.ok(sentOn().every((n) => n <= 1), 'still never twice by one link');
  t.equal(a.rec.unreachable.length, 0, 'not reported while tries remain');
  clock.advance(8000);
  t.equal(a.rec.unreachable.length, 1, 'after the last try\'s wait it is reported');
  t.equal(a.rec.unreachable[0].err.code, 'ERR_NOT_ACKNOWLEDGED');
  t.equal(a.rec.unreachable[0].msgKey, key53(f, OFF_MSG_ID), 'for that message');
  t.equal(a.router.ackCounters.unacked, 0, 'and nothing is kept');
  a.router.stop();
  t.end();
});

test('a retransmission with fewer untried first hops than copies goes out once per untried link', (t) => {
  const clock = new ManualClock();
  const links = [0xe0, 0xc0, 0x80].map((b) => new FakeLink(id(b)));
  const a = node(ORIGIN, links, clock);
  a.router.route(encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16)));
  clock.advance(2000);
  t.deepEqual(links.map((l) => l.sent.length), [1, 1, 1], 'try 1 wants three copies: the two links left carry one each');
  clock.advance(4000);
  t.deepEqual(links.map((l) => l.sent.length), [1, 1, 1], 'try 2: no link is left untried, nothing is sent');
  a.router.stop();
  t.end();
});

test('a retransmission that arrives again is acknowledged again, by another link, and delivered once', (t) => {
  const clock = new ManualClock();
  const l1 = new FakeLink(id(0xe0)), l2 = new FakeLink(id(0xd0));
  const d = node(DEST, [l1, l2], clock);
  const f = encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16));
  f[OFF_FLAGS] |= EnvelopeFlags.ACK_REQUESTED;
  d.router.onRouted(l1, f.slice());
  clock.advance(50);
  d.router.onRouted(l2, f.slice());
  clock.advance(50);
  t.equal(d.rec.delivered.length, 1, 'delivered once');
  t.deepEqual(d.rec.drops, ['duplicate'], 'the copy counted as a duplicate');
  const acks = [...l1.sent, ...l2.sent].filter((x) => envelope.type(x) === MsgType.ACK);
  t.equal(acks.length, 2, 'each arrival acknowledged');
  t.equal(key53(acks[0], OFF_MSG_ID), key53(acks[1], OFF_MSG_ID), 'both acks carry one id');
  t.ok(l1.sent.length === 1 && l2.sent.length === 1, 'so the second leaves by the other link');
  d.router.stop();
  t.end();
});

test('with retransmits 0 nothing is flagged or kept', (t) => {
  const clock = new ManualClock();
  const l = new FakeLink(id(0xe0));
  const a = node(ORIGIN, [l], clock, 0);
  a.router.route(encodeEnvelope(MsgType.DATA, DEST, ORIGIN, new Uint8Array(16)));
  t.equal(l.sent[0][OFF_FLAGS], 0, 'no ACK asked');
  t.equal(a.router.ackCounters.unacked, 0, 'nothing kept');
  a.router.stop();
  t.end();
});

test('a malformed ACK is counted and dropped', (t) => {
  const clock = new ManualClock();
  const l = new FakeLink(id(0xe0));
  const a = node(ORIGIN, [l], clock);
  a.router.onRouted(l, encodeEnvelope(MsgType.ACK, ORIGIN, DEST, new Uint8Array(5)));
  t.deepEqual(a.rec.drops, ['malformed']);
  a.router.stop();
  t.end();
});
