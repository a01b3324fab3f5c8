/**
 * ML-DSA-65 (FIPS 204) for the whole process, behind one small interface, as
 * kem.ts does for ML-KEM: liboqs compiled to WebAssembly (pq-wasm.ts) where it
 * has loaded (Node unless `RELAYMESH_PQ=noble`, browsers unless a CSP refuses
 * WebAssembly), `@noble/post-quantum` otherwise (the fallback, before the load, and every
 * KeyGen: keys come from 32-byte seeds, and liboqs-js has no seeded KeyGen).
 * On this machine liboqs signs about 14x and verifies about 9x faster.
 *
 * Both use FIPS 204's byte formats (public key 1952, secret key 4032,
 * signature 3309), the empty context, and hedged (randomized) signing, so a
 * signature made by one verifies with the other (test/crypto/dsa.test.ts).
 * Verification is total: any malformed input is `false`, never a throw.
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { plain, wasmDsa } from './pq-wasm.js';
import type { KemBackendName } from './kem.js';

export const DSA_SIGNATURE_BYTES = 3309;
const DSA_PUBLIC_KEY_BYTES = 1952;

let forced: KemBackendName | null = null;

function current() {
  return forced === 'noble' ? null : wasmDsa();
}

/** The ML-DSA backend in use in this thread now. */
export function dsaBackend(): KemBackendName {
  return current() ? 'liboqs' : 'noble';
}

/** As useKemBackend, for ML-DSA (benchmarks and tests); null: the default. */
export function useDsaBackend(name: KemBackendName | null): void {
  if (name === 'liboqs' && !wasmDsa()) throw new Error('the liboqs ML-DSA backend is not loaded in this process');
  forced = name;
}

/** ML-DSA.KeyGen from a 32-byte seed (noble; also starts loading liboqs for what follows). */
export function dsaKeygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  current();
  return ml_dsa65.keygen(seed);
}

/** ML-DSA.Sign, hedged. Throws on a malformed secret key. */
export function dsaSign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const backend = current();
  return backend ? backend.sign(plain(message), plain(secretKey)) : ml_dsa65.sign(message, secretKey);
}

/** ML-DSA.Verify; false for a bad signature and for any malformed input. */
export function dsaVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== DSA_SIGNATURE_BYTES
    || !(publicKey instanceof Uint8Array) || publicKey.length !== DSA_PUBLIC_KEY_BYTES || !(message instanceof Uint8Array)) return false;
  const backend = current();
  try {
    return backend ? backend.verify(plain(message), plain(signature), plain(publicKey)) : ml_dsa65.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
