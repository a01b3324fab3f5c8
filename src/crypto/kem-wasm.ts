/**
 * The WebAssembly ML-KEM-768 backend: liboqs (the Open Quantum Safe project's
 * library, whose ML-KEM is mlkem-native) compiled to WebAssembly, as published
 * in `@oqs/liboqs-js`. Loaded once per thread, at import (top-level await).
 * The browser bundle aliases this file to kem-wasm-browser.ts (null: noble).
 *
 * `RELAYMESH_KEM=noble` in the environment leaves it unloaded, so the pure-JS
 * backend can be measured against it; a load failure leaves it unloaded too
 * (logged under DEBUG=relaymesh:crypto), and noble does the work.
 */
import createDebug from 'debug';

const debug = createDebug('relaymesh:crypto');

/** What `@oqs/liboqs-js`'s MLKEM768 instance offers (FIPS 203 byte formats). */
export interface WasmKem {
  generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

async function load(): Promise<WasmKem | null> {
  if (typeof process !== 'undefined' && process.env?.RELAYMESH_KEM === 'noble') return null;
  try {
    const { createMLKEM768 } = await import('@oqs/liboqs-js/kem') as { createMLKEM768(): Promise<WasmKem> };
    return await createMLKEM768();
  } catch (err) {
    debug('liboqs ML-KEM-768 did not load, noble does the work: %s', (err as Error).message);
    return null;
  }
}

export const wasmKem: WasmKem | null = await load();
