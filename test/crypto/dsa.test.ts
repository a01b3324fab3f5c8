import test from 'tape';
import fc from 'fast-check';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { dsaBackend, dsaKeygen, dsaSign, dsaVerify, useDsaBackend } from '../../src/crypto/dsa.js';
import { kemReady } from '../../src/crypto/kem.js';

test('in Node, ML-DSA-65 runs on liboqs once it has loaded', async (t) => {
  await kemReady();
  t.equal(dsaBackend(), 'liboqs');
});

test('signatures made by liboqs verify with noble and the reverse; a changed message or signature does not (FIPS 204, empty context)', (t) => {
  let runs = 0;
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, message) => {
    const keys = dsaKeygen(seed);
    useDsaBackend('liboqs');
    const byOqs = dsaSign(message, keys.secretKey);
    useDsaBackend(null);
    const byNoble = ml_dsa65.sign(message, keys.secretKey);
    const changed = message.length > 0 ? message.map((b, i) => (i === 0 ? b ^ 1 : b)) : new Uint8Array([1]);
    const badSig = byNoble.slice();
    badSig[100] ^= 4;
    runs++;
    return ml_dsa65.verify(byOqs, message, keys.publicKey) && dsaVerify(byNoble, message, keys.publicKey)
      && dsaVerify(byOqs, message, keys.publicKey) && !dsaVerify(byOqs, changed, keys.publicKey)
      && !dsaVerify(badSig, message, keys.publicKey) && dsaBackend() === 'liboqs';
  }), { numRuns: 12 });
  t.equal(runs, 12, '12 random keys and messages (the empty message among the shrink candidates)');
  t.end();
});

test('a seeded ML-DSA KeyGen is the same key pair as noble\'s', (t) => {
  const seed = new Uint8Array(32).map((_, i) => 255 - i);
  t.equal(Buffer.from(dsaKeygen(seed).publicKey).toString('hex'), Buffer.from(ml_dsa65.keygen(seed).publicKey).toString('hex'));
  t.end();
});

test('verification of malformed input is false in both backends, never a throw', (t) => {
  const keys = dsaKeygen(new Uint8Array(32).fill(3));
  const msg = new Uint8Array([1, 2, 3]);
  const sig = dsaSign(msg, keys.secretKey);
  for (const name of ['liboqs', 'noble'] as const) {
    useDsaBackend(name);
    t.equal(dsaVerify(sig.subarray(0, 3000), msg, keys.publicKey), false, `${name}: short signature`);
    t.equal(dsaVerify(sig, msg, keys.publicKey.subarray(0, 100)), false, `${name}: short key`);
    t.equal(dsaVerify(new Uint8Array(3309), msg, keys.publicKey), false, `${name}: all-zero signature`);
    t.equal(dsaVerify(sig, 'not bytes' as unknown as Uint8Array, keys.publicKey), false, `${name}: message not bytes`);
    t.equal(dsaVerify(Buffer.from(sig), Buffer.from(msg), Buffer.from(keys.publicKey)), true, `${name}: Buffers verify`);
    t.throws(() => dsaSign(msg, keys.secretKey.subarray(0, 10)), `${name}: signing with a short secret key throws`);
  }
  useDsaBackend(null);
  t.end();
});
