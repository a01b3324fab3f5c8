/** Small byte helpers shared by every layer (no Node built-ins, so they bundle for browsers). */

const HEX = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16));

const HEX_CODES = [...'0123456789abcdef'].map((c) => c.charCodeAt(0));
const hexScratch: number[] = [];

/**
 * Lower-case hex. Ids (20 bytes, Map keys everywhere) come out as one flat
 * string, not a chain of 20 concatenations (about 600 bytes held per id).
 */
export function toHex(bytes: Uint8Array): string {
  return toHexAt(bytes, 0, bytes.length);
}

/** toHex of `bytes[start..end)`, with no view made (a NODES frame's ids are read in place). */
export function toHexAt(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > 64) {
    let s = '';
    for (let i = start; i < end; i++) s += HEX[bytes[i]];
    return s;
  }
  for (let i = 0; i < n; i++) {
    const b = bytes[start + i];
    hexScratch[2 * i] = HEX_CODES[b >> 4];
    hexScratch[2 * i + 1] = HEX_CODES[b & 15];
  }
  hexScratch.length = 2 * n;
  return String.fromCharCode.apply(null, hexScratch);
}

/**
 * 53 bits of 8 bytes at `offset` as a number: a cheap Map key for random
 * 64-bit identifiers (message ids, session ids), where a collision among the
 * at most ~10^5 live keys has odds around 10^-6.
 */
export function key53(bytes: Uint8Array, offset = 0): number {
  const hi = ((bytes[offset] & 0x1f) << 16) | (bytes[offset + 1] << 8) | bytes[offset + 2];
  const lo = ((bytes[offset + 3] << 24) | (bytes[offset + 4] << 16) | (bytes[offset + 5] << 8) | bytes[offset + 6]) >>> 0;
  return hi * 0x100000000 + lo;
}

export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError('expected an even-length hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Compare two equal-length byte strings as big-endian unsigned numbers. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export const textEncoder = new TextEncoder();
/** fatal: invalid UTF-8 throws instead of being replaced, so bad input is detected. */
export const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** A Buffer in Node (what the peer-relay API promises), a Uint8Array in browsers. */
export function toBuffer(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: { from(a: ArrayBuffer, o: number, l: number): Uint8Array } }).Buffer;
  return B ? B.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

/**
 * A copy of `bytes` of its own, as a Buffer in Node. Small copies come from Node's Buffer pool (as
 * `Buffer.from` gives them), not one ArrayBuffer each: a 20-byte id per delivered message made a
 * receiver run a full GC every few hundred ms under a flood (issue 13).
 */
export function copyToBuffer(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: { from(a: Uint8Array): Uint8Array } }).Buffer;
  return B ? B.from(bytes) : bytes.slice();
}

export function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array;
}

/** Small requests (message ids, nonces) are served from a pool refilled 4 KiB at a time. */
const POOL_SIZE = 4096;
const SMALL = 64;
let pool = new Uint8Array(0);
let poolOffset = 0;

export function randomBytes(n: number): Uint8Array {
  if (n <= SMALL) {
    if (poolOffset + n > pool.length) {
      pool = new Uint8Array(POOL_SIZE);
      globalThis.crypto.getRandomValues(pool);
      poolOffset = 0;
    }
    const out = pool.slice(poolOffset, poolOffset + n);
    pool.fill(0, poolOffset, poolOffset + n);
    poolOffset += n;
    return out;
  }
  const out = new Uint8Array(n);
  // getRandomValues refuses more than 65,536 bytes per call.
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  if (typeof b64 !== 'string') throw new TypeError('expected a base64 string');
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
