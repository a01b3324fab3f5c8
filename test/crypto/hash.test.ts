import test from 'tape';
import fc from 'fast-check';
import { hkdfSha256, hmacSha256, sha256, nobleHash } from '../../src/crypto/hash.js';
import { toHex } from '../../src/util/bytes.js';

const bytes = fc.uint8Array({ maxLength: 9000 });

test('SHA-256 by node:crypto gives the bytes @noble/hashes gives (browsers), for any parts', (t) => {
  t.equal(toHex(sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'the empty input (FIPS 180-4 vector)');
  fc.assert(fc.property(fc.array(bytes, { maxLength: 5 }), (parts) => toHex(sha256(...parts)) === toHex(nobleHash.sha256(...parts))), { numRuns: 100 });
  t.pass('100 random part lists hash the same');
  t.end();
});

test('HMAC-SHA-256 and HKDF-SHA-256 by node:crypto match @noble/hashes', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.array(bytes, { maxLength: 3 }),
    (key, parts) => toHex(hmacSha256(key, ...parts)) === toHex(nobleHash.hmacSha256(key, ...parts))), { numRuns: 100 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 }), fc.string(), fc.integer({ min: 1, max: 255 }),
    (ikm, salt, info, length) => toHex(hkdfSha256(ikm, salt, info, length)) === toHex(nobleHash.hkdfSha256(ikm, salt, info, length))), { numRuns: 100 });
  t.pass('100 random HMAC and 100 random HKDF inputs agree');
  t.end();
});
