/**
 * The browser bundle's entry (scripts/build-browser.mjs -> dist/browser/relaymesh.js):
 * the same API as the package, plus the byte helpers a page needs because ids
 * and payloads are Uint8Arrays there, not Buffers.
 */
export * from '../src/index.js';
export { toHex, fromHex, toBase64, fromBase64, equalBytes, concatBytes } from '../src/util/bytes.js';
