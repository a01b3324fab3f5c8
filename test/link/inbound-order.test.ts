/** InboundOrder and the link: a light origin's frame in the same read as a flood's frames is handed up first. */
import test from 'tape';
import { InboundOrder } from '../../src/link/inbound-order.js';
import { Link, type LinkOptions } from '../../src/link/link.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { Identity } from '../../src/crypto/identity.js';
import { encodeEnvelope, MsgType } from '../../src/wire/envelope.js';
import { encodeFindNode } from '../../src/wire/frames.js';

const WINDOW = 64 * 1024;
const idOf = (b: number) => new Uint8Array(20).fill(b);
const TO = idOf(0xcc);
/** A routed DATA frame from origin `from` (one byte repeated), tagged with `seq` in its first body byte. */
const frame = (from: number, seq: number, bodyBytes: number) => {
  const body = new Uint8Array(bodyBytes);
  body[0] = seq;
  return encodeEnvelope(MsgType.DATA, TO, idOf(from), body);
};
const label = (f: Uint8Array) => `${f[32] === 0xaa ? 'H' : 'L'}${f[52]}`;
const turn = () => new Promise((r) => setImmediate(r));

test('a light origin\'s frames that arrive behind a heavy origin\'s in one turn are handed up first; each origin keeps its order', async (t) => {
  const order: string[] = [];
  const inbound = new InboundOrder(WINDOW, (f) => order.push(label(f)));
  // One read: the flood's 16 KiB records (origin 0xaa), a light frame (0xbb), more flood, another light frame.
  for (let i = 1; i <= 4; i++) inbound.take(frame(0xaa, i, 16 * 1024));
  inbound.take(frame(0xbb, 1, 1024));
  inbound.take(frame(0xaa, 5, 16 * 1024));
  inbound.take(frame(0xbb, 2, 1024));
  t.deepEqual(order, ['H1', 'L1', 'L2'], 'within the read: the flood\'s first frame (it was light until then), then both light frames');
  t.equal(inbound.waiting, 4, 'the flood\'s other frames wait for the end of the turn');
  await Promise.resolve();
  t.deepEqual(order, ['H1', 'L1', 'L2', 'H2', 'H3', 'H4', 'H5'], 'and are handed up in the same turn, in their order');
  t.equal(inbound.waiting, 0, 'nothing is left waiting');
});

test('an origin with frames waiting has its next frames wait behind them, even once it counts as light again', async (t) => {
  const order: string[] = [];
  const inbound = new InboundOrder(WINDOW, (f) => order.push(label(f)));
  for (let i = 1; i <= 3; i++) inbound.take(frame(0xaa, i, 16 * 1024));
  // Enough of another origin's bytes to end two epochs: 0xaa's count is forgotten, so it is light by its bytes.
  for (let i = 0; i < 10; i++) inbound.take(frame(0xbb, 100 + i, 15 * 1024));
  inbound.take(frame(0xaa, 4, 100));
  await Promise.resolve();
  const flood = order.filter((l) => l.startsWith('H'));
  t.deepEqual(flood, ['H1', 'H2', 'H3', 'H4'], 'the origin\'s order holds');
  t.equal(order.length, 14, 'every frame was handed up once');
});

test('frames that arrive in separate turns are handed up in arrival order, as before', async (t) => {
  const order: string[] = [];
  const inbound = new InboundOrder(WINDOW, (f) => order.push(label(f)));
  for (let i = 1; i <= 4; i++) { inbound.take(frame(0xaa, i, 16 * 1024)); await turn(); }
  inbound.take(frame(0xbb, 1, 1024));
  await turn();
  inbound.take(frame(0xaa, 5, 16 * 1024));
  await turn();
  t.deepEqual(order, ['H1', 'H2', 'H3', 'H4', 'L1', 'H5'], 'arrival order');
});

async function pair(): Promise<{ a: Link; b: Link }> {
  const net = new MemoryNetwork();
  const opts = (identity: Identity, initiator: boolean): LinkOptions => ({
    identity, initiator, flags: 0, url: '', handshakeTimeoutMs: 5000, pingIntervalMs: 60_000, deadAfterMs: 120_000,
    maxBuffered: 1 << 20, countDrop: () => {},
  });
  let b!: Link;
  net.listen('b', (conn) => { b = new Link(conn, opts(Identity.generate(), false)); });
  const a = new Link(await net.dial('mem://b', 'mem://a'), opts(Identity.generate(), true));
  await Promise.all([new Promise<void>((r) => a.once('open', () => r())), new Promise<void>((r) => setImmediate(() => (b.isOpen ? r() : b.once('open', () => r()))))]);
  return { a, b };
}

test('a link hands up a light origin\'s routed frame before the flood frames read with it; other frames at once', async (t) => {
  const { a, b } = await pair();
  const order: string[] = [];
  a.on('frame', (f) => order.push(f[0] === 0x10 ? label(f) : 'other'));
  // What one socket read would hand up: the transport emits each frame, synchronously.
  const conn = a.connection as unknown as { emit(e: 'message', f: Uint8Array): void };
  for (let i = 1; i <= 4; i++) conn.emit('message', frame(0xaa, i, 16 * 1024));
  conn.emit('message', encodeFindNode(idOf(1)));
  conn.emit('message', frame(0xbb, 1, 1024));
  await turn();
  t.deepEqual(order, ['H1', 'other', 'L1', 'H2', 'H3', 'H4'], 'light first, the flood in its order, in the same turn');
  a.close();
  b.close();
});
