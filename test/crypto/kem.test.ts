import test from 'tape';
import fc from 'fast-check';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { kemBackend, kemDecapsulate, kemEncapsulate, kemKeygen, kemPrepare, kemReady, useKemBackend } from '../../src/crypto/kem.js';
import { Identity } from '../../src/crypto/identity.js';
import { complete, createInit, respond } from '../../src/crypto/session.js';
import { equalBytes } from '../../src/util/bytes.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('in Node the liboqs WebAssembly backend is in use once loaded; noble before that', async (t) => {
  t.equal(kemBackend(), 'noble', 'noble at first (this call starts loading liboqs)');
  const early = kemKeygen();
  t.equal(await kemReady(), 'liboqs', 'liboqs loaded (RELAYMESH_PQ unset)');
  t.equal(kemBackend(), 'liboqs', 'and in use');
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(early.publicKey);
  t.ok(equalBytes(kemDecapsulate(cipherText, early.secretKey), sharedSecret), 'a key pair made before the load works after it');
});

test('a key prepared while noble ran uses liboqs once it is in use (an early identity is not left on noble)', (t) => {
  useKemBackend('noble');
  const keys = ml_kem768.keygen();
  const prepared = kemPrepare(keys.publicKey);
  const badSecret = keys.secretKey.slice();
  badSecret[2000] ^= 1; // the embedded public key no longer matches: each backend refuses it in its own words
  const ct = ml_kem768.encapsulate(keys.publicKey).cipherText;
  t.throws(() => prepared.decapsulate(ct, badSecret), /does not match prepared publicKey/, 'noble\'s prepared form refuses it');
  useKemBackend('liboqs');
  t.throws(() => prepared.decapsulate(ct, badSecret), /decaps failed/, 'after the switch, liboqs does (same prepared object)');
  const { cipherText, sharedSecret } = prepared.encapsulate();
  t.ok(equalBytes(prepared.decapsulate(cipherText, keys.secretKey), sharedSecret), 'Encaps and Decaps agree');
  t.end();
});

test('liboqs and noble interoperate both ways: keys, ciphertexts and shared secrets (FIPS 203 formats)', (t) => {
  let checked = 0;
  fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (seed) => {
    const keys = ml_kem768.keygen(seed);
    useKemBackend('liboqs');
    const fromOqs = kemEncapsulate(keys.publicKey);
    if (!equalBytes(ml_kem768.decapsulate(fromOqs.cipherText, keys.secretKey), fromOqs.sharedSecret)) return false;
    const fromNoble = ml_kem768.encapsulate(keys.publicKey);
    if (!equalBytes(kemDecapsulate(fromNoble.cipherText, keys.secretKey), fromNoble.sharedSecret)) return false;
    const oqsKeys = kemKeygen();
    const toOqs = ml_kem768.encapsulate(oqsKeys.publicKey);
    checked++;
    return equalBytes(kemDecapsulate(toOqs.cipherText, oqsKeys.secretKey), toOqs.sharedSecret)
      && equalBytes(ml_kem768.getPublicKey(oqsKeys.secretKey), oqsKeys.publicKey);
  }), { numRuns: 40 });
  t.equal(checked, 40, '40 random key pairs, every direction agreed');
  t.end();
});

test('a tampered ciphertext gives the same implicit-rejection secret in liboqs as in noble, never the real one', (t) => {
  useKemBackend('liboqs');
  const keys = ml_kem768.keygen();
  fc.assert(fc.property(fc.integer({ min: 0, max: 1087 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(keys.publicKey);
    cipherText[at] ^= flip;
    const oqs = kemDecapsulate(cipherText, keys.secretKey);
    return equalBytes(oqs, ml_kem768.decapsulate(cipherText, keys.secretKey)) && !equalBytes(oqs, sharedSecret);
  }), { numRuns: 60 });
  t.pass('60 tampered ciphertexts');
  t.end();
});

test('a seeded KeyGen gives the same key pair whichever backend is in use', (t) => {
  const seed = new Uint8Array(64).map((_, i) => i * 7);
  useKemBackend('liboqs');
  const a = kemKeygen(seed);
  useKemBackend('noble');
  const b = kemKeygen(seed);
  useKemBackend('liboqs');
  t.equal(hex(a.publicKey), hex(b.publicKey), 'same public key');
  t.equal(hex(a.secretKey), hex(b.secretKey), 'same secret key');
  t.equal(hex(a.publicKey), hex(ml_kem768.keygen(seed).publicKey), 'and noble\'s');
  t.end();
});

test('malformed keys and ciphertexts throw in both backends (wrong length, public key failing the modulus check, corrupt secret key)', (t) => {
  const keys = ml_kem768.keygen();
  const badModulus = keys.publicKey.slice();
  badModulus[0] = 0xff; badModulus[1] = 0xff; // a 12-bit coefficient of 4095 > q
  const badSecret = keys.secretKey.slice();
  badSecret[2000] ^= 1; // inside the embedded public key: H(ek) no longer matches
  const ct = ml_kem768.encapsulate(keys.publicKey).cipherText;
  for (const name of ['liboqs', 'noble'] as const) {
    useKemBackend(name);
    t.throws(() => kemEncapsulate(badModulus), `${name}: Encaps to a key failing the modulus check`);
    t.throws(() => kemEncapsulate(keys.publicKey.subarray(0, 1000)), `${name}: Encaps to a short key`);
    t.throws(() => kemDecapsulate(ct.subarray(0, 1000), keys.secretKey), `${name}: Decaps of a short ciphertext`);
    t.throws(() => kemDecapsulate(ct, badSecret), `${name}: Decaps with a corrupt secret key`);
    t.throws(() => kemPrepare(badModulus).encapsulate(), `${name}: a prepared key failing the modulus check`);
  }
  useKemBackend('liboqs');
  t.end();
});

test('a session handshake completes across backends: initiator on noble, responder on liboqs, and the reverse', (t) => {
  for (const [ini, res] of [['noble', 'liboqs'], ['liboqs', 'noble']] as const) {
    useKemBackend(ini);
    const a = Identity.generate();
    const b = Identity.generate();
    const pending = createInit(a, b.toPublic());
    useKemBackend(res);
    const r = respond(b, a.id, pending.init);
    t.ok(r, `${res} responder accepts a ${ini} INIT`);
    useKemBackend(ini);
    const s = complete(a, pending, r!.resp);
    t.ok(s, `${ini} initiator completes with the ${res} RESP`);
    const sealed = s!.seal(b.id, a.id, new TextEncoder().encode('across backends'));
    const opened = r!.session.open(b.id, a.id, sealed);
    t.ok(opened.ok && new TextDecoder().decode(opened.plaintext) === 'across backends', 'the keys agree');
  }
  useKemBackend('liboqs');
  t.end();
});

test('liboqs takes Buffers (what ws hands out) as well as plain Uint8Arrays', (t) => {
  useKemBackend('liboqs');
  const keys = ml_kem768.keygen();
  const framed = Buffer.alloc(1184 + 7);
  framed.set(keys.publicKey, 7);
  const { cipherText, sharedSecret } = kemEncapsulate(framed.subarray(7));
  t.ok(equalBytes(ml_kem768.decapsulate(cipherText, keys.secretKey), sharedSecret), 'Encaps to a key inside a Buffer');
  t.ok(equalBytes(kemDecapsulate(Buffer.from(cipherText), Buffer.from(keys.secretKey)), sharedSecret), 'Decaps of a Buffer ciphertext with a Buffer key');
  t.ok(equalBytes(kemPrepare(Buffer.from(keys.publicKey)).decapsulate(Buffer.from(cipherText), keys.secretKey), sharedSecret), 'prepared, from Buffers');
  t.end();
});
