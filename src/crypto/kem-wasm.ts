/**
 * The WebAssembly ML-KEM-768 backend: liboqs (the Open Quantum Safe project's
 * library, whose ML-KEM is mlkem-native) compiled to WebAssembly, as published
 * in `@oqs/liboqs-js`. Loading starts once per thread at the first ML-KEM
 * operation (importing relaymesh has no side effects) and takes some tens of
 * milliseconds; until it is done (and if it fails) noble does the work. No
 * top-level await: `require('relaymesh')` must keep working. The browser
 * bundle aliases this file to kem-wasm-browser.ts.
 *
 * `RELAYMESH_KEM=noble` in the environment leaves it unloaded, so the pure-JS
 * backend can be measured against it; a load failure is logged under
 * DEBUG=relaymesh:crypto.
 */
import createDebug from 'debug';

const debug = createDebug('relaymesh:crypto');

/** What `@oqs/liboqs-js`'s MLKEM768 instance offers (FIPS 203 byte formats). */
export interface WasmKem {
  generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

let loaded: WasmKem | null = null;

async function load(): Promise<WasmKem | null> {
  if (typeof process !== 'undefined' && process.env?.RELAYMESH_KEM === 'noble') return null;
  try {
    const { createMLKEM768 } = await import('@oqs/liboqs-js/kem') as { createMLKEM768(): Promise<WasmKem> };
    loaded = await createMLKEM768();
  } catch (err) {
    debug('liboqs ML-KEM-768 did not load, noble does the work: %s', (err as Error).message);
  }
  return loaded;
}

let loading: Promise<WasmKem | null> | null = null;

/** Starts loading (once); settles with the backend, or null if it did not load. Never rejects. */
export function loadWasmKem(): Promise<WasmKem | null> {
  return (loading ??= load());
}

/** The backend if it has loaded by now; the first call starts loading it. */
export function wasmKem(): WasmKem | null {
  if (!loading) void loadWasmKem();
  return loaded;
}
