import test from 'tape';
import SimplePeer from 'simple-peer';
import { WebRtcConnection, CHUNK_SIZE } from '../src/transport/webrtc.js';
import { loopbackWrtc } from './helpers/webrtc-loopback.js';
import { waitFor } from './helpers/testnet.js';

/** Two connected simple-peers on loopback. */
async function pair(t: test.Test): Promise<[SimplePeer.Instance, SimplePeer.Instance]> {
  const a = new SimplePeer({ initiator: true, wrtc: loopbackWrtc() as never, config: { iceServers: [] } });
  const b = new SimplePeer({ wrtc: loopbackWrtc() as never, config: { iceServers: [] } });
  t.teardown(() => { a.destroy(); b.destroy(); });
  a.on('signal', (s) => b.signal(s));
  b.on('signal', (s) => a.signal(s));
  await Promise.all([a, b].map((p) => new Promise((r) => p.once('connect', r))));
  return [a, b];
}

function next(conn: WebRtcConnection, event: 'message' | 'invalid' | 'close'): Promise<any> {
  return new Promise((resolve) => conn.once(event as 'message', resolve as never));
}

test('a frame larger than one chunk arrives whole, and small frames keep their order', async (t) => {
  const [pa, pb] = await pair(t);
  const a = new WebRtcConnection(pa, { maxFrame: 4 << 20 });
  const b = new WebRtcConnection(pb, { maxFrame: 4 << 20 });
  t.equal(a.kind, 'webrtc', 'kind is webrtc');
  t.ok(a.open, 'open once connected');
  const big = new Uint8Array(CHUNK_SIZE * 5 + 123).map((_, i) => i * 7);
  const got: Uint8Array[] = [];
  b.on('message', (f) => got.push(f.slice()));
  a.send(new Uint8Array([1]));
  a.send(big);
  a.send(new Uint8Array([2]));
  a.send(new Uint8Array(0));
  t.ok(await waitFor(() => got.length >= 4), 'four frames arrive');
  t.deepEqual([...got[0]], [1], 'first small frame');
  t.ok(Buffer.from(got[1]).equals(Buffer.from(big)), `the ${big.length}-byte frame is reassembled exactly`);
  t.deepEqual([...got[2]], [2], 'second small frame after it');
  t.equal(got[3].length, 0, 'an empty frame stays empty');
});

test('an oversized frame and an unknown chunk header are reported and dropped; later frames arrive', async (t) => {
  const [pa, pb] = await pair(t);
  const a = new WebRtcConnection(pa, { maxFrame: 1 << 20 });
  const b = new WebRtcConnection(pb, { maxFrame: CHUNK_SIZE * 2 });
  const invalid: string[] = [];
  b.on('invalid', (r) => invalid.push(r));
  const frames: number[] = [];
  b.on('message', (f) => frames.push(f.length));
  a.send(new Uint8Array(CHUNK_SIZE * 4));
  pa.write(new Uint8Array([9, 1, 2, 3]));
  a.send(new Uint8Array(10));
  await waitFor(() => frames.length >= 1 && invalid.length >= 2);
  t.deepEqual(frames, [10], 'only the good frame is delivered');
  t.equal(invalid.length, 2, "two 'invalid' reports");
  t.ok(invalid[0].includes('exceeds'), 'one for the oversized frame');
  t.ok(invalid[1].includes('header'), 'one for the unknown header');
});

test('closing one end closes the other', async (t) => {
  const [pa, pb] = await pair(t);
  const a = new WebRtcConnection(pa, { maxFrame: 1024 });
  const b = new WebRtcConnection(pb, { maxFrame: 1024 });
  const closed = next(b, 'close');
  a.close();
  t.notOk(a.open, 'the closing end is closed at once');
  await closed;
  t.notOk(b.open, "the other end emits 'close'");
  a.send(new Uint8Array(1));
  t.pass('send after close is ignored');
});

test('the constructor rejects a missing maxFrame', (t) => {
  t.throws(() => new WebRtcConnection({} as never, {} as never), RangeError, 'RangeError naming opts.maxFrame');
  t.end();
});
