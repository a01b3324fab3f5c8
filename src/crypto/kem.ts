/**
 * ML-KEM-768 (FIPS 203) for the whole process, behind one small interface, so
 * every caller (link handshakes, sessions, the IM envelopes) uses the same
 * backend:
 *
 * - **liboqs** (pq-wasm.ts): mlkem-native compiled to WebAssembly, about 7x
 *   noble's speed for KeyGen and Encaps and 3x for Decaps. Used wherever it
 *   loads (Node, unless `RELAYMESH_PQ=noble`, and the browser bundle, unless the
 *   page's CSP refuses WebAssembly), from some tens of ms after the first ML-KEM
 *   operation (or `kemReady()`) started loading it; noble until then.
 * - **noble** (`@noble/post-quantum`): pure JS; before liboqs loads, the fallback,
 *   and every *seeded* KeyGen (an identity's key is derived from its `kemSeed`;
 *   liboqs-js has no derandomized KeyGen), so a seed gives the same key pair
 *   whichever backend runs.
 *
 * Both use FIPS 203's byte formats (public key 1184, secret key 2400,
 * ciphertext 1088, shared secret 32), so keys, ciphertexts and shared secrets
 * interoperate, implicit rejection included (test/crypto/kem.test.ts checks
 * that against noble). Both throw on a malformed key or ciphertext (wrong
 * length, a public key failing the modulus check of FIPS 203 §7.2).
 */
import { ml_kem768, type KEMPrepared } from '@noble/post-quantum/ml-kem.js';
import { loadWasm, plain, wasmKem, type WasmKem } from './pq-wasm.js';

export type KemBackendName = 'liboqs' | 'noble';

export interface KemKeyPair { publicKey: Uint8Array; secretKey: Uint8Array }
export interface Encapsulation { cipherText: Uint8Array; sharedSecret: Uint8Array }

/**
 * A public key ready for repeated use. With noble the matrix Â is expanded
 * once (about half of an Encaps or Decaps); liboqs needs no preparation.
 */
export interface PreparedKemKey {
  encapsulate(): Encapsulation;
  /** Decaps with the secret key that belongs to this public key. */
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** Wipes what the preparation holds. */
  clean(): void;
}

let forced: KemBackendName | null = null;

/** liboqs if it has loaded and noble is not forced; null: noble. */
function current(): WasmKem | null {
  return forced === 'noble' ? null : wasmKem();
}

/** The backend in use in this thread now. */
export function kemBackend(): KemBackendName {
  return current() ? 'liboqs' : 'noble';
}

/**
 * Starts loading liboqs if nothing did yet and settles once it has loaded or
 * failed to, with the backend then in use. Operations before that run on noble.
 */
export async function kemReady(): Promise<KemBackendName> {
  await loadWasm();
  return kemBackend();
}

/**
 * Switches the backend (benchmarks and tests compare the two in one process);
 * null: back to the default (liboqs once loaded). Throws if liboqs is asked
 * for and has not loaded.
 */
export function useKemBackend(name: KemBackendName | null): void {
  if (name === 'liboqs' && !wasmKem()) throw new Error('the liboqs ML-KEM backend is not loaded in this process');
  forced = name;
}

/** ML-KEM.KeyGen: random, or from a 64-byte seed (d || z; always noble, so a seed maps to one key pair). */
export function kemKeygen(seed?: Uint8Array): KemKeyPair {
  const backend = current(); // also starts loading liboqs: an identity is made before any other KEM work
  return backend && seed === undefined ? backend.generateKeyPair() : ml_kem768.keygen(seed);
}

/** ML-KEM.Encaps to `publicKey`. */
export function kemEncapsulate(publicKey: Uint8Array): Encapsulation {
  const backend = current();
  if (!backend) return ml_kem768.encapsulate(publicKey);
  const { ciphertext, sharedSecret } = backend.encapsulate(plain(publicKey));
  return { cipherText: ciphertext, sharedSecret };
}

/** ML-KEM.Decaps; a ciphertext that was not made for this key gives the implicit-rejection secret. */
export function kemDecapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const backend = current();
  return backend ? backend.decapsulate(plain(cipherText), plain(secretKey)) : ml_kem768.decapsulate(cipherText, secretKey);
}

/**
 * `publicKey` prepared for repeated Encaps/Decaps. Each call runs on the backend
 * in use at that moment; noble's expansion of Â is made the first time noble
 * runs (now, if noble is in use: it validates the key, as liboqs does in every
 * Encaps; both throw).
 */
export function kemPrepare(publicKey: Uint8Array): PreparedKemKey {
  let noble: KEMPrepared | null = null;
  const expanded = (): KEMPrepared => (noble ??= ml_kem768.prepare(publicKey));
  if (!current()) expanded();
  const key = plain(publicKey);
  return {
    encapsulate: () => {
      const backend = current();
      if (!backend) return expanded().encapsulate();
      const { ciphertext, sharedSecret } = backend.encapsulate(key);
      return { cipherText: ciphertext, sharedSecret };
    },
    decapsulate: (cipherText, secretKey) => {
      const backend = current();
      return backend ? backend.decapsulate(plain(cipherText), plain(secretKey)) : expanded().decapsulate(cipherText, secretKey);
    },
    clean: () => noble?.clean(),
  };
}
