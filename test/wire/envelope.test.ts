import test from 'tape';
import fc from 'fast-check';
import {
  DEFAULT_TTL, HEADER_LENGTH, MSG_ID_LENGTH, MsgType, OFF_FROM, OFF_MSG_ID, OFF_TO, OFF_TTL, OFF_TYPE, UnreachableReason,
  allocEnvelope, decodeUnreachable, encodeEnvelope, encodeUnreachable, envelope, type MsgTypeCode,
} from '../../src/wire/envelope.js';
import { FrameType } from '../../src/wire/frames.js';
import { ID_LENGTH } from '../../src/crypto/identity.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const msgType = fc.constantFrom(...Object.values(MsgType)) as fc.Arbitrary<MsgTypeCode>;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

test('an envelope round-trips type, ttl, to, from and body through its views (property)', (t) => {
  fc.assert(fc.property(msgType, bytes(ID_LENGTH), bytes(ID_LENGTH), fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: 255 }),
    (type, to, from, body, ttl) => {
      const f = encodeEnvelope(type, to, from, body, ttl);
      return f.length === HEADER_LENGTH + body.length && f[0] === FrameType.ROUTE && f[3] === 0
        && envelope.valid(f) && envelope.type(f) === type && envelope.ttl(f) === ttl
        && same(envelope.to(f), to) && same(envelope.from(f), from) && same(envelope.body(f), body)
        && envelope.msgId(f).length === MSG_ID_LENGTH;
    }));
  t.pass('views read back what was encoded');
  t.end();
});

test('the header fields sit at the offsets PROTOCOL.md gives', (t) => {
  const to = new Uint8Array(ID_LENGTH).fill(0xaa);
  const from = new Uint8Array(ID_LENGTH).fill(0xbb);
  const f = encodeEnvelope(MsgType.DATA, to, from, Uint8Array.of(9, 8, 7), 7);
  t.equal(HEADER_LENGTH, 52);
  t.equal(f[OFF_TYPE], MsgType.DATA);
  t.equal(f[OFF_TTL], 7);
  t.ok(same(f.subarray(OFF_MSG_ID, OFF_MSG_ID + 8), envelope.msgId(f)));
  t.ok(same(f.subarray(OFF_TO, OFF_TO + 20), to));
  t.ok(same(f.subarray(OFF_FROM, OFF_FROM + 20), from));
  t.deepEqual([...f.subarray(HEADER_LENGTH)], [9, 8, 7]);
  t.equal(encodeEnvelope(MsgType.DATA, to, from, new Uint8Array(0))[OFF_TTL], DEFAULT_TTL, 'the TTL defaults to DEFAULT_TTL');
  t.end();
});

test('message ids are random: two envelopes of the same content differ in their id', (t) => {
  const to = new Uint8Array(ID_LENGTH);
  const ids = new Set(Array.from({ length: 100 }, () => Buffer.from(envelope.msgId(encodeEnvelope(MsgType.DATA, to, to, new Uint8Array(0)))).toString('hex')));
  t.equal(ids.size, 100);
  t.end();
});

test('allocEnvelope writes the header and leaves room for the body', (t) => {
  const to = new Uint8Array(ID_LENGTH).fill(1);
  const from = new Uint8Array(ID_LENGTH).fill(2);
  const f = allocEnvelope(MsgType.HANDSHAKE_INIT, to, from, 10, 3);
  t.equal(f.length, HEADER_LENGTH + 10);
  t.ok(envelope.valid(f));
  t.equal(envelope.type(f), MsgType.HANDSHAKE_INIT);
  t.equal(envelope.ttl(f), 3);
  t.ok(same(envelope.to(f), to) && same(envelope.from(f), from));
  t.deepEqual([...envelope.body(f)], new Array(10).fill(0), 'the body is zeroed');
  t.end();
});

test('a frame shorter than the header or not of type ROUTE is not a valid envelope', (t) => {
  const f = encodeEnvelope(MsgType.DATA, new Uint8Array(ID_LENGTH), new Uint8Array(ID_LENGTH), new Uint8Array(0));
  t.ok(envelope.valid(f), 'a bare header is valid');
  for (let n = 0; n < HEADER_LENGTH; n++) t.notOk(envelope.valid(f.subarray(0, n)), `${n} bytes are not`);
  const other = f.slice(); other[0] = FrameType.NODES;
  t.notOk(envelope.valid(other), 'another frame type is not');
  t.end();
});

test('UNREACHABLE bodies round-trip (property) and any other length decodes to null', (t) => {
  fc.assert(fc.property(fc.constantFrom(UnreachableReason.NO_ROUTE, UnreachableReason.HOP_LIMIT), bytes(MSG_ID_LENGTH), bytes(ID_LENGTH),
    (reason, msgId, to) => {
      const d = decodeUnreachable(encodeUnreachable(reason, msgId, to));
      return d !== null && d.reason === reason && same(d.msgId, msgId) && same(d.to, to);
    }));
  const body = encodeUnreachable(UnreachableReason.NO_ROUTE, new Uint8Array(MSG_ID_LENGTH), new Uint8Array(ID_LENGTH));
  for (let n = 0; n < body.length; n++) t.equal(decodeUnreachable(body.subarray(0, n)), null, `${n} bytes`);
  t.equal(decodeUnreachable(Uint8Array.of(...body, 0)), null, 'one byte too many');
  t.end();
});

test('no envelope view or decoder throws on any input (property)', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (f) => {
    if (envelope.valid(f)) {
      envelope.type(f); envelope.ttl(f); envelope.msgId(f); envelope.to(f); envelope.from(f); envelope.body(f);
    }
    decodeUnreachable(f);
    return true;
  }), { numRuns: 500 });
  t.pass('never throws');
  t.end();
});
