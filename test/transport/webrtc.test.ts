import test from 'tape';
import SimplePeer from 'simple-peer';
import { WebRtcConnection, MESSAGE_SIZE } from '../../src/transport/webrtc.js';
import { loopbackWrtc } from '../helpers/webrtc-loopback.js';
import { waitFor } from '../helpers/testnet.js';

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

test('frames sent in one tick share messages; one larger than a message arrives whole; order holds', async (t) => {
  const [pa, pb] = await pair(t);
  const a = new WebRtcConnection(pa, { maxFrame: 4 << 20 });
  const b = new WebRtcConnection(pb, { maxFrame: 4 << 20 });
  t.equal(a.kind, 'webrtc', 'kind is webrtc');
  t.ok(a.open, 'open once connected');
  const big = new Uint8Array(MESSAGE_SIZE * 5 + 123).map((_, i) => i * 7);
  const got: Uint8Array[] = [];
  b.on('message', (f) => got.push(f.slice()));
  let sends = 0;
  const send = pa.send.bind(pa);
  pa.send = (chunk: any) => { sends++; send(chunk); };
  a.send(new Uint8Array([1]));
  a.send(big);
  a.send(new Uint8Array([2]));
  a.send(new Uint8Array(0));
  t.ok(await waitFor(() => got.length >= 4), 'four frames arrive');
  // One record header per piece: 4 + 1, the big frame in 6 pieces, 4 + 1, 4 + 0.
  t.equal(sends, Math.ceil((5 + big.length + 6 * 4 + 5 + 4) / MESSAGE_SIZE), 'in as few data-channel messages as the bytes need');
  t.deepEqual([...got[0]], [1], 'first small frame');
  t.ok(Buffer.from(got[1]).equals(Buffer.from(big)), `the ${big.length}-byte frame is reassembled exactly`);
  t.deepEqual([...got[2]], [2], 'second small frame after it');
  t.equal(got[3].length, 0, 'an empty frame stays empty');
});

test('an oversized frame, an unknown record type and a truncated record are reported and dropped; later frames arrive', async (t) => {
  const [pa, pb] = await pair(t);
  const a = new WebRtcConnection(pa, { maxFrame: 1 << 20 });
  const b = new WebRtcConnection(pb, { maxFrame: MESSAGE_SIZE * 2 });
  const invalid: string[] = [];
  b.on('invalid', (r) => invalid.push(r));
  const frames: number[] = [];
  b.on('message', (f) => frames.push(f.length));
  a.send(new Uint8Array(MESSAGE_SIZE * 4));
  pa.send(new Uint8Array([9, 1, 2, 3]));
  pa.send(new Uint8Array([0, 0, 0, 10, 1]));
  a.send(new Uint8Array(10));
  await waitFor(() => frames.length >= 1 && invalid.length >= 3);
  t.deepEqual(frames, [10], 'only the good frame is delivered');
  t.equal(invalid.length, 3, "three 'invalid' reports");
  t.ok(invalid[0].includes('exceeds'), 'one for the oversized frame');
  t.ok(invalid[1].includes('record type'), 'one for the unknown record type');
  t.ok(invalid[2].includes('truncated'), 'one for the truncated record');
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
