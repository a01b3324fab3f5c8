/** CREDIT (link frame 0x09) and CONGESTION (routed 0x0a): round trips, and decoders never throw. */
import test from 'tape';
import fc from 'fast-check';
import { decodeCredit, encodeCredit, FrameType } from '../../src/wire/frames.js';
import { CongestionKind, CONGESTION_ENTRY, MAX_CONGESTION_ENTRIES, decodeCongestion, encodeCongestion } from '../../src/wire/envelope.js';
import { randomBytes } from '../../src/util/bytes.js';

test('CREDIT carries a 32-bit count, wrapping', (t) => {
  for (const n of [0, 1, 65536, 2 ** 32 - 1, 2 ** 32 + 5]) {
    const f = encodeCredit(n);
    t.equal(f[0], FrameType.CREDIT, 'type byte');
    t.equal(f.length, 5, '5 bytes');
    t.equal(decodeCredit(f), n >>> 0, `${n} round-trips mod 2^32`);
  }
  t.equal(decodeCredit(new Uint8Array([FrameType.CREDIT, 1, 2])), null, 'short: null');
  t.end();
});

test('CONGESTION carries a kind and up to 64 (message id, to) entries', (t) => {
  const entries = Array.from({ length: 3 }, () => randomBytes(CONGESTION_ENTRY));
  const c = decodeCongestion(encodeCongestion(CongestionKind.DROPPED, entries));
  t.equal(c?.kind, CongestionKind.DROPPED, 'kind');
  t.deepEqual(c?.entries.map((e) => [...e]), entries.map((e) => [...e]), 'entries');
  const many = Array.from({ length: 100 }, () => randomBytes(CONGESTION_ENTRY));
  t.equal(decodeCongestion(encodeCongestion(CongestionKind.STOP, many))?.entries.length, MAX_CONGESTION_ENTRIES, 'at most 64 per report');
  t.equal(decodeCongestion(new Uint8Array([4, 1, ...randomBytes(28)])), null, 'unknown kind: null');
  t.equal(decodeCongestion(new Uint8Array([1, 0])), null, 'no entry: null');
  t.equal(decodeCongestion(new Uint8Array([1, 2, ...randomBytes(28)])), null, 'count larger than the body: null');
  t.end();
});

test('the flow-control decoders never throw', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
    decodeCredit(b);
    decodeCongestion(b);
    return true;
  }), { numRuns: 2000 });
  t.pass('decodeCredit and decodeCongestion never throw');
  t.end();
});
