/** Link: what happens to frames that arrive after a link closed. */
import test from 'tape';
import { Link, type LinkOptions } from '../../src/link/link.js';
import { MemoryNetwork, type MemoryConnection } from '../../src/transport/memory.js';
import { waitFor } from '../helpers/testnet.js';
import { Identity } from '../../src/crypto/identity.js';
import { CloseReason, FrameType, encodeFindNode } from '../../src/wire/frames.js';
import { encodeEnvelope, MsgType } from '../../src/wire/envelope.js';
import { relayError } from '../../src/util/errors.js';
import type { DropReason } from '../../src/util/drop-reasons.js';
import { keepaliveQueue } from '../../src/util/due-queue.js';

async function pair(): Promise<{ a: Link; b: Link; dropsA: DropReason[] }> {
  const net = new MemoryNetwork();
  const ia = Identity.generate();
  const ib = Identity.generate();
  const dropsA: DropReason[] = [];
  const opts = (identity: Identity, initiator: boolean, drops: DropReason[]): LinkOptions => ({
    identity, initiator, flags: 0, url: '', handshakeTimeoutMs: 5000, pingIntervalMs: 60_000, deadAfterMs: 120_000,
    maxBuffered: 1 << 20, countDrop: (r) => drops.push(r),
  });
  let b!: Link;
  net.listen('b', (conn) => { b = new Link(conn, opts(ib, false, [])); });
  const a = new Link(await net.dial('mem://b', 'mem://a'), opts(ia, true, dropsA));
  await Promise.all([new Promise<void>((r) => a.once('open', () => r())), new Promise<void>((r) => setImmediate(() => (b.isOpen ? r() : b.once('open', () => r()))))]);
  return { a, b, dropsA };
}

/**
 * Holds A's transport open (a link gives its CLOSE 20 ms to flush, then closes the transport) until `release()`:
 * what B sent before it read A's CLOSE then reaches A's closed link whatever the event loop's lateness, which is
 * what these tests are about. (They used to wait 50 ms: under load B's send pump and A's 20 ms transport close came
 * due in the same turn, the transport went first, and A never read the frames.)
 */
function holdTransport(link: Link): { closeAsked: () => boolean; release(): void } {
  const conn = link.connection as MemoryConnection;
  const close = conn.close.bind(conn);
  let asked = false;
  conn.close = () => { asked = true; };
  return { closeAsked: () => asked, release: () => { conn.close = close; close(); } };
}

test('routed frames the remote sent before it saw a DUPLICATE close are still delivered; others are counted', async (t) => {
  const { a, b, dropsA } = await pair();
  const frames: number[] = [];
  a.on('frame', (f) => frames.push(f[0]));
  const transport = holdTransport(a);
  t.teardown(() => transport.release());
  a.close(CloseReason.DUPLICATE, relayError('ERR_DUPLICATE_LINK'));
  // B has not read the CLOSE yet: it still sends on the link.
  const routed = encodeEnvelope(MsgType.DATA, a.remote!.id, b.remote!.id, new Uint8Array(40));
  t.ok(b.send(routed), 'B sends a routed frame on its (still open) end');
  t.ok(b.send(encodeFindNode(b.remote!.id)), 'and a FIND_NODE');
  t.ok(await waitFor(() => b.isClosed && frames.length + dropsA.length >= 2), 'A read both and B followed the CLOSE');
  t.deepEqual(frames, [FrameType.ROUTE], 'the routed frame reaches A\'s frame handler after the close');
  t.deepEqual(dropsA, ['after_close'], 'the FIND_NODE is counted as after_close, not lost silently');
  t.ok(transport.closeAsked(), "A's link asked its transport to close");
});

test('after any other close, late frames are counted as after_close', async (t) => {
  const { a, b, dropsA } = await pair();
  const frames: number[] = [];
  a.on('frame', (f) => frames.push(f[0]));
  const transport = holdTransport(a);
  t.teardown(() => transport.release());
  a.close(CloseReason.NORMAL);
  b.send(encodeEnvelope(MsgType.DATA, a.remote!.id, b.remote!.id, new Uint8Array(40)));
  t.ok(await waitFor(() => b.isClosed && frames.length + dropsA.length >= 1), 'A read it and B followed the CLOSE');
  t.deepEqual(frames, [], 'nothing reaches the frame handler');
  t.deepEqual(dropsA, ['after_close'], 'the late frame is counted');
});

test("an open link's keepalive tick waits in the process's one keepalive queue (no timer of its own) and leaves it on close", async (t) => {
  const before = keepaliveQueue.size;
  const { a, b } = await pair();
  t.equal(keepaliveQueue.size, before + 2, 'one tick per open link end');
  t.ok(a.dueSlot >= 0 && a.dueAt > Date.now(), "A's tick is queued for later");
  const closed = new Promise<void>((r) => b.once('close', () => r()));
  a.close(CloseReason.NORMAL);
  await closed;
  t.equal(keepaliveQueue.size, before, 'both ticks gone once both ends closed');
  t.equal(a.dueSlot, -1);
});
