import test from 'tape';
import { NeighbourAdverts } from '../../src/routing/neighbour-adverts.js';
import { RoutingTable, head32 } from '../../src/routing/routing-table.js';
import type { RouteLink } from '../../src/routing/route-link.js';
import type { DropReason } from '../../src/util/drop-reasons.js';
import { toHex } from '../../src/util/bytes.js';
import { FrameType, HelloFlags, decodeNeighbours, encodeNeighbours } from '../../src/wire/frames.js';
import { ManualClock } from '../helpers/manual-clock.js';

const id = (first: number) => { const b = new Uint8Array(20); b[0] = first; b[1] = 0x55; return b; };


class FakeLink implements RouteLink {
  readonly sent: Uint8Array[] = [];
  isClosed = false;
  initiator = true;
  openedAt = 0;
  remoteUrl = '';
  readonly stats = { relayed: 0 };
  accept = true;
  constructor(readonly rid: Uint8Array, readonly remoteFlags: number = HelloFlags.NEIGHBOURS) {}
  get idHex(): string { return toHex(this.rid); }
  get remote() { return { id: this.rid }; }
  send(f: Uint8Array): boolean { if (!this.accept) return false; this.sent.push(f.slice()); return true; }
}

function setup(every = 10_000) {
  const clock = new ManualClock();
  const table = new RoutingTable<RouteLink>(id(0), 64);
  const drops: DropReason[] = [];
  const adverts = new NeighbourAdverts({ clock, neighbourAdvertMs: every, active: true, countDrop: (r) => drops.push(r) }, table);
  const link = (first: number, flags?: number) => { const l = new FakeLink(id(first), flags); table.add(l.rid, l); adverts.changed(); return l; };
  return { clock, table, adverts, drops, link };
}

const heads = (f: Uint8Array) => [...decodeNeighbours(f)!].sort();

test('a change of links is told in one round, to every link that reads NEIGHBOURS, with every link\'s head', (t) => {
  const { clock, link } = setup();
  const a = link(0x80);
  const b = link(0x40);
  const old = link(0x20, HelloFlags.FLOW);
  t.equal(a.sent.length, 0, 'nothing at once: a burst of changes is one round');
  clock.advance(2000);
  t.equal(a.sent.length, 1, 'one frame to a');
  t.equal(b.sent.length, 1, 'one frame to b');
  t.equal(old.sent.length, 0, 'none to a node that did not set HelloFlags.NEIGHBOURS');
  t.same(heads(a.sent[0]), [head32(id(0x20)), head32(id(0x40)), head32(id(0x80))].sort(), 'the heads of all three links');
  t.end();
});

test('rounds come at most once per neighbourAdvertMs, and only to links not told the current links', (t) => {
  const { clock, link, table, adverts } = setup(10_000);
  const a = link(0x80);
  clock.advance(2000);
  t.equal(a.sent.length, 1);
  const b = link(0x40);
  clock.advance(5000);
  t.equal(b.sent.length, 0, 'the next round waits for neighbourAdvertMs (jittered, at least 7.5 s)');
  clock.advance(10_000);
  t.equal(b.sent.length, 1, 'then b is told');
  t.equal(a.sent.length, 2, 'and a, whose list changed');
  clock.advance(60_000);
  t.equal(a.sent.length, 2, 'no change, no frame');
  table.remove(id(0x40));
  adverts.changed();
  clock.advance(15_000);
  t.equal(a.sent.length, 3, 'a removal is told too');
  t.same(heads(a.sent[2]), [head32(id(0x80))]);
  t.end();
});

test('a link whose queue refused the frame is told in a later round', (t) => {
  const { clock, link } = setup(10_000);
  const a = link(0x80);
  a.accept = false;
  clock.advance(2000);
  t.equal(a.sent.length, 0, 'refused');
  a.accept = true;
  clock.advance(15_000);
  t.equal(a.sent.length, 1, 'sent in the next round without any change of links');
  t.end();
});

test('a NEIGHBOURS frame is kept for its link; a malformed one is dropped and counted', (t) => {
  const { table, adverts, drops, link } = setup();
  const a = link(0x80);
  adverts.onFrame(a, encodeNeighbours([head32(id(0xe0)), head32(id(0x10))]));
  t.same([...table.neighboursOf(id(0x80))!], [head32(id(0xe0)), head32(id(0x10))], 'kept in the table');
  adverts.onFrame(a, Uint8Array.of(FrameType.NEIGHBOURS, 1, 2));
  t.same(drops, ['malformed'], 'counted');
  t.same([...table.neighboursOf(id(0x80))!], [head32(id(0xe0)), head32(id(0x10))], 'the last good list stays');
  t.end();
});

test('neighbourAdvertMs 0: no HelloFlags bit, no frames, and what others send is not used', (t) => {
  const { clock, table, adverts, link } = setup(0);
  t.equal(adverts.flag, 0);
  const a = link(0x80);
  clock.advance(60_000);
  t.equal(a.sent.length, 0);
  adverts.onFrame(a, encodeNeighbours([head32(id(0xe0))]));
  t.equal(table.neighboursOf(id(0x80)), null);
  t.end();
});
