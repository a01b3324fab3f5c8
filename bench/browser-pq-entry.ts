/**
 * The ML-KEM / ML-DSA entry points bench/browser.ts times inside Chromium,
 * bundled exactly like the browser bundle (scripts/build-browser.mjs --entry).
 */
export { kemDecapsulate, kemEncapsulate, kemKeygen, kemReady, kemBackend, useKemBackend } from '../src/crypto/kem.js';
export { dsaBackend, dsaKeygen, dsaSign, dsaVerify, useDsaBackend } from '../src/crypto/dsa.js';
export { equalBytes } from '../src/util/bytes.js';
