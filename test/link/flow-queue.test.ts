/**
 * A link's window and fair queue (PROTOCOL.md §3.6), on the in-memory
 * transport: CREDIT frames from the remote are held back, so everything past
 * the window waits in the sender's queue, where the tests look at it.
 */
import test from 'tape';
import { Link, type LinkOptions, type LinkHooks } from '../../src/link/link.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { Identity } from '../../src/crypto/identity.js';
import { FrameType, HelloFlags } from '../../src/wire/frames.js';
import { encodeEnvelope, envelope, MsgType } from '../../src/wire/envelope.js';
import { randomBytes, toHex } from '../../src/util/bytes.js';

const WINDOW = 16 * 1024;

async function pair(hooks: LinkHooks, limits: Partial<LinkOptions>) {
  const net = new MemoryNetwork();
  let holdCredits = true;
  const held: Uint8Array[] = [];
  net.intercept = (f, from) => {
    if (from === 'mem://b' && f[0] === FrameType.CREDIT && holdCredits) { held.push(f); return null; }
    return f;
  };
  const opts = (identity: Identity, initiator: boolean, h?: LinkHooks): LinkOptions => ({
    identity, initiator, flags: HelloFlags.FLOW, url: '', handshakeTimeoutMs: 5000, pingIntervalMs: 60_000, deadAfterMs: 120_000,
    maxBuffered: 1 << 20, window: WINDOW, countDrop: () => {}, hooks: h, ...limits,
  });
  let b!: Link;
  net.listen('b', (conn) => { b = new Link(conn, opts(Identity.generate(), false)); });
  const a = new Link(await net.dial('mem://b', 'mem://a'), opts(Identity.generate(), true, hooks));
  await Promise.all([new Promise<void>((r) => a.once('open', () => r())), new Promise<void>((r) => setImmediate(() => (b.isOpen ? r() : b.once('open', () => r()))))]);
  // Released, the held CREDITs go to A after all (the last one says what B consumed).
  return { a, b, held, release: () => { holdCredits = false; for (const f of held.splice(0)) b.connection.send(f); } };
}

const tick = () => new Promise((r) => setTimeout(r, 20));
/** A 1000-byte DATA frame from `from` (an origin's flow), to a random node. */
const frame = (from: Uint8Array) => encodeEnvelope(MsgType.DATA, randomBytes(20), from, new Uint8Array(1000));
/** True once `got` holds `n` entries; false if that takes more than 10 s. */
function arrived(got: unknown[], n: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const end = Date.now() + 10_000;
    const check = () => (got.length >= n ? resolve(true) : Date.now() > end ? resolve(false) : setTimeout(check, 10));
    check();
  });
}

test('past the window frames queue; a light origin goes past it by the reserve, then queues; the heaviest origin loses its newest frames, the light one none', async (t) => {
  const evicted: string[] = [];
  const signals: [string, boolean][] = [];
  const hooks: LinkHooks = {
    evicted: (f) => evicted.push(toHex(envelope.from(f))),
    flowSignal: (_ref, origin, stop) => signals.push([toHex(origin), stop]),
  };
  const { a, b, held } = await pair(hooks, { maxBuffered: 64 * 1024, maxFlowBuffer: 48 * 1024, flowMark: 8 * 1024 });
  const got: string[] = [];
  b.on('frame', (f) => got.push(toHex(envelope.from(f))));
  const heavy = randomBytes(20);
  const light = randomBytes(20);
  let heavyRefused = 0;
  for (let i = 0; i < 120; i++) if (!a.send(frame(heavy))) heavyRefused++;
  await tick();
  t.ok(held.length > 0, 'the remote credited what it consumed (those CREDITs are held back)');
  t.ok(a.inFlight >= WINDOW, `the window is full (${a.inFlight} bytes in flight)`);
  const q = a.queueInfo();
  t.ok(q.bytes > 0 && q.bytes <= 48 * 1024, `the heavy origin's frames wait, within maxFlowBuffer (${q.bytes} bytes)`);
  t.ok(heavyRefused > 0, `frames past its own limit were refused (${heavyRefused})`);
  t.deepEqual(signals, [[toHex(heavy), true]], 'the heavy origin was told to stop once, when it passed flowMark');
  let lightRefused = 0;
  const outBefore = a.stats.framesOut;
  const inFlightBefore = a.inFlight;
  for (let i = 0; i < 24; i++) if (!a.send(frame(light))) lightRefused++;
  const direct = a.stats.framesOut - outBefore;
  t.equal(lightRefused, 0, 'every frame of the light origin is taken');
  // The reserve is a quarter window (4 KiB here): 1 KiB frames of the light origin go past the full window until it has sent that much.
  t.equal(direct, 4, `the light origin's first frames went at once, past the full window (${direct})`);
  t.ok(a.inFlight > inFlightBefore && a.inFlight < WINDOW + WINDOW / 4 + 1100, `in flight: within the window plus the reserve (${a.inFlight})`);
  t.ok(evicted.length > 0 && evicted.every((o) => o === toHex(heavy)), `room was made from the heavy origin only (${evicted.length} evicted)`);
  t.ok(a.queueInfo().bytes <= 64 * 1024, 'the link holds at most maxBuffered');
  t.equal(a.queueInfo().flows, 2, 'two flows wait');
  await tick();
  const before = got.length;
  t.equal(got.filter((o) => o === toHex(light)).length, direct, 'the light frames that went at once arrived');
  a.close();
  await tick();
  t.equal(got.length, before, 'nothing more arrived');
  t.equal(evicted.filter((o) => o === toHex(light)).length, 24 - direct, 'frames still queued when the link closed are handed back, the light ones too');
});

test('a light origin\'s frame goes before a flood\'s queued frames, even with the window full; nothing is lost', async (t) => {
  const { a, b, release } = await pair({}, { maxBuffered: 4 << 20, maxFlowBuffer: 4 << 20, flowMark: 1 << 20 });
  const got: string[] = [];
  b.on('frame', (f) => got.push(toHex(envelope.from(f))));
  const heavy = randomBytes(20);
  const light = randomBytes(20);
  const frame = (from: Uint8Array, size = 1000) => encodeEnvelope(MsgType.DATA, randomBytes(20), from, new Uint8Array(size));
  // The flood: 16 KiB frames (header included), as batch records are; the window (16 KiB here) is full after one, the
  // rest waits. (A frame longer than the window would have a second one in flight: the test after the next ones.)
  for (let i = 0; i < 20; i++) a.send(frame(heavy, 16 * 1024 - 52));
  await tick();
  const queued = a.queueInfo();
  t.equal(queued.frames, 19, 'one flood frame is in flight, 19 wait for CREDIT (held back)');
  const lightOut = a.stats.framesOut;
  for (let i = 0; i < 3; i++) a.send(frame(light));
  t.equal(a.stats.framesOut - lightOut, 3, 'the three light frames went at once, ahead of the 19 queued');
  await tick();
  t.deepEqual(got.map((o) => (o === toHex(light) ? 'L' : 'H')), ['H', 'L', 'L', 'L'], 'they arrived right after the flood frame in flight');
  release();
  t.ok(await arrived(got, 23), `all 23 frames arrived (${got.length})`);
  t.equal(got.filter((o) => o === toHex(heavy)).length, 20, 'every flood frame arrived');
  t.equal(a.queueInfo().frames, 0, 'nothing is left queued');
  a.close();
});

test('an origin that has sent more than the reserve counts as heavy: the rest of its frames wait for the window like the flood\'s; none is lost', async (t) => {
  const { a, b, release } = await pair({}, { maxBuffered: 4 << 20, maxFlowBuffer: 4 << 20, flowMark: 1 << 20 });
  const got: string[] = [];
  b.on('frame', (f) => got.push(toHex(envelope.from(f))));
  const heavy = randomBytes(20);
  const second = randomBytes(20);
  for (let i = 0; i < 100; i++) a.send(frame(heavy));
  await tick();
  const out = a.stats.framesOut;
  for (let i = 0; i < 40; i++) a.send(frame(second));
  const direct = a.stats.framesOut - out;
  t.equal(direct, 4, `only the second origin's first 4 KiB went past the window (${direct} frames)`);
  t.equal(a.queueInfo().flows, 2, 'the rest of both flows wait');
  release();
  t.ok(await arrived(got, 140), `all 140 frames arrived (${got.length})`);
  t.equal(got.filter((o) => o === toHex(second)).length, 40, 'all of the second origin\'s frames arrived');
  a.close();
});

test('CREDIT reopens the window: queued frames go by round robin, a light origin\'s no later than right behind the heavy one\'s quantum', async (t) => {
  const { a, b, release } = await pair({}, { maxBuffered: 4 << 20, maxFlowBuffer: 4 << 20, flowMark: 1 << 20 });
  const got: string[] = [];
  b.on('frame', (f) => got.push(toHex(envelope.from(f))));
  const heavy = randomBytes(20);
  const light = randomBytes(20);
  for (let i = 0; i < 200; i++) a.send(frame(heavy));
  await tick();
  for (let i = 0; i < 5; i++) a.send(frame(light));
  const arrivedBefore = got.length;
  release();
  t.ok(await arrived(got, 205), `all 205 frames arrived (${got.length})`);
  const firstLight = got.indexOf(toHex(light), arrivedBefore);
  const heavyBetween = got.slice(arrivedBefore, firstLight).length;
  t.ok(firstLight > 0 && heavyBetween <= 17, `the first light frame came after at most one quantum of heavy ones (${heavyBetween}), not after the ${200 - arrivedBefore} queued`);
  t.equal(got.filter((o) => o === toHex(light)).length, 5, 'all light frames arrived');
  a.close();
});

test('a frame longer than the window goes while the one before it is in flight: two are in flight at once, the third waits for CREDIT; all arrive in order', async (t) => {
  const { a, b, release } = await pair({}, { maxBuffered: 4 << 20, maxFlowBuffer: 4 << 20, flowMark: 1 << 20 });
  const got: number[] = [];
  b.on('frame', (f) => got.push(f.length));
  const heavy = randomBytes(20);
  // 40 KiB frames (a batch record of several large messages) on a 16 KiB window: each is over the window alone.
  const sizes = [40_000, 40_001, 40_002, 40_003];
  for (const size of sizes) a.send(encodeEnvelope(MsgType.DATA, randomBytes(20), heavy, new Uint8Array(size)));
  await tick();
  t.equal(a.queueInfo().frames, 2, 'two frames are in flight and two wait (one at a time, three would wait)');
  t.ok(a.inFlight > 80_000 && a.inFlight < 81_000, `in flight: the two frames (${a.inFlight} bytes)`);
  t.equal(got.length, 2, 'both in-flight frames arrived while CREDIT is held back');
  release();
  t.ok(await arrived(got, 4), `all four arrived (${got.length})`);
  t.deepEqual(got.map((n) => n - 52), sizes, 'in the order they were sent');
  a.close();
});

test('frames up to the window wait for the window as before, also right after a frame longer than the window', async (t) => {
  const { a, release } = await pair({}, { maxBuffered: 4 << 20, maxFlowBuffer: 4 << 20, flowMark: 1 << 20 });
  const heavy = randomBytes(20);
  a.send(encodeEnvelope(MsgType.DATA, randomBytes(20), heavy, new Uint8Array(40_000)));
  for (let i = 0; i < 8; i++) a.send(encodeEnvelope(MsgType.DATA, randomBytes(20), heavy, new Uint8Array(8000)));
  await tick();
  t.equal(a.queueInfo().frames, 8, 'with the long frame in flight (more than the window), the window-sized frames wait');
  release();
  a.close();
});
