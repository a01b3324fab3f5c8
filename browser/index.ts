/**
 * The browser bundle's entry (scripts/build-browser.mjs -> dist/browser/relaymesh.js):
 * the same API as the package, plus the byte helpers a page needs because ids
 * and payloads are Uint8Arrays there, not Buffers, and which post-quantum
 * backend the page runs.
 */
import { kemBackend, kemReady, type KemBackendName } from '../src/crypto/kem.js';
import { dsaBackend } from '../src/crypto/dsa.js';

export * from '../src/index.js';
export { toHex, fromHex, toBase64, fromBase64, equalBytes, concatBytes } from '../src/util/bytes.js';

export type PqBackendName = KemBackendName;

/**
 * The ML-KEM-768 and ML-DSA-65 implementations this page uses now: 'liboqs'
 * (WebAssembly) once it has loaded, 'noble' (pure JS) before that and wherever
 * WebAssembly may not run (e.g. a CSP without 'wasm-unsafe-eval').
 */
export function pqBackends(): { kem: PqBackendName; dsa: PqBackendName } {
  return { kem: kemBackend(), dsa: dsaBackend() };
}

/** Starts loading liboqs if nothing did yet; settles (never rejects) with pqBackends() once loading is over. */
export async function pqReady(): Promise<{ kem: PqBackendName; dsa: PqBackendName }> {
  await kemReady();
  return pqBackends();
}
