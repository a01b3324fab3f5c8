/**
 * The WebAssembly post-quantum backends: liboqs (the Open Quantum Safe
 * project's library; its ML-KEM is mlkem-native, its ML-DSA the reference
 * implementation of the ML-DSA team) compiled to WebAssembly, as published in
 * `@oqs/liboqs-js`, one module for ML-KEM-768 and one for ML-DSA-65. Loading
 * starts once per thread at the first ML-KEM or ML-DSA operation (importing
 * relaymesh has no side effects) and takes some tens of milliseconds; until it
 * is done (and if it fails) noble does the work. No top-level await:
 * `require('relaymesh')` must keep working.
 *
 * The browser bundle uses this file as it is: scripts/build-browser.mjs puts
 * the two liboqs modules (their wasm inlined) into the bundle, evaluated only
 * by the imports below. Where the page may not compile WebAssembly (a CSP
 * without 'wasm-unsafe-eval', or no WebAssembly at all) that is found out with
 * an 8-byte module first, and noble stays, with one debug line.
 *
 * `RELAYMESH_PQ=noble` in the environment (or the older `RELAYMESH_KEM=noble`)
 * leaves both unloaded, so the pure-JS backend can be measured against them;
 * a load failure is logged under DEBUG=relaymesh:crypto.
 */
import createDebug from 'debug';

const debug = createDebug('relaymesh:crypto');

/** What `@oqs/liboqs-js`'s MLKEM768 instance offers (FIPS 203 byte formats). */
export interface WasmKem {
  generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

/** What `@oqs/liboqs-js`'s MLDSA65 instance offers (FIPS 204 byte formats, empty context, hedged signing). */
export interface WasmDsa {
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
}

let kem: WasmKem | null = null;
let dsa: WasmDsa | null = null;
let loading: Promise<void> | null = null;

/** Why this thread cannot compile WebAssembly, or null if it can (the smallest valid module, compiled). */
function wasmRefused(): string | null {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.Module !== 'function') return 'no WebAssembly here';
  try {
    new WebAssembly.Module(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    return null;
  } catch (err) {
    return (err as Error).message; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
  }
}

async function load(): Promise<void> {
  const env = typeof process !== 'undefined' ? process.env ?? {} : {};
  if (env.RELAYMESH_PQ === 'noble' || env.RELAYMESH_KEM === 'noble') return;
  const refused = wasmRefused();
  if (refused) {
    debug('WebAssembly is not allowed here, noble does ML-KEM and ML-DSA: %s', refused);
    return;
  }
  try {
    const { createMLKEM768 } = await import('@oqs/liboqs-js/kem') as { createMLKEM768(): Promise<WasmKem> };
    kem = await createMLKEM768();
  } catch (err) {
    debug('liboqs ML-KEM-768 did not load, noble does the work: %s', (err as Error).message);
  }
  try {
    const { createMLDSA65 } = await import('@oqs/liboqs-js/sig') as { createMLDSA65(): Promise<WasmDsa> };
    dsa = await createMLDSA65();
  } catch (err) {
    debug('liboqs ML-DSA-65 did not load, noble does the work: %s', (err as Error).message);
  }
}

/** Starts loading (once); settles when loading is over, whatever loaded. Never rejects. */
export function loadWasm(): Promise<void> {
  return (loading ??= load());
}

/** liboqs ML-KEM-768 if it has loaded by now; the first call starts loading. */
export function wasmKem(): WasmKem | null {
  if (!loading) void loadWasm();
  return kem;
}

/** liboqs ML-DSA-65 if it has loaded by now; the first call starts loading. */
export function wasmDsa(): WasmDsa | null {
  if (!loading) void loadWasm();
  return dsa;
}

/**
 * liboqs-js accepts only objects whose constructor is named Uint8Array, so a
 * Buffer (a Uint8Array subclass, which ws hands out) is passed as a plain view
 * of the same bytes (no copy). Anything else is left for it to refuse.
 */
export function plain(bytes: Uint8Array): Uint8Array {
  return bytes instanceof Uint8Array && bytes.constructor !== Uint8Array
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}
