/**
 * SHA-256, HMAC-SHA-256 and HKDF-SHA-256 (RFC 5869): node:crypto where there
 * is one (about 10x faster on the 3-9 KiB a handshake hashes), else (browsers)
 * @noble/hashes. Same bytes either way (test/crypto/hash.test.ts).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { concatBytes, textEncoder } from '../util/bytes.js';
import { native } from './native.js';

/**
 * One-shot `crypto.hash` (Node 20.12+): one call into OpenSSL instead of a Hash
 * object and a call per part; a handshake hashes a few times, each time cold
 * (the JS around createHash runs in the interpreter then), so the calls count.
 */
const oneShot = (native as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Uint8Array } | null)?.hash;

/** The parts as one array (the part itself if there is one: no copy). */
function joined(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concatBytes(...parts);
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (oneShot) return new Uint8Array(oneShot('sha256', joined(parts), 'buffer'));
  if (native) {
    const h = native.createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  }
  return nobleHash.sha256(...parts);
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  if (native) {
    return new Uint8Array(native.createHmac('sha256', key).update(joined(parts)).digest());
  }
  return nobleHash.hmacSha256(key, ...parts);
}

/**
 * HKDF-SHA-256 (RFC 5869) as its HMACs: extract, then one HMAC per 32 bytes of
 * output. With node:crypto this is about twice as fast as `hkdfSync` for the
 * 32-64 bytes relaymesh asks for (hkdfSync makes a KeyObject and a crypto job
 * per call, much JS run cold once per handshake); the bytes are the same
 * (test/crypto/hash.test.ts checks against @noble/hashes).
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
  if (!native) return nobleHash.hkdfSha256(ikm, salt, info, length);
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new RangeError(`HKDF-SHA-256 output length ${length} is not in 1..8160`);
  // An empty salt is HashLen zero bytes (RFC 5869 §2.2); HMAC pads a short key with zeros, so the empty key is the same.
  const prk = hmacSha256(salt, ikm);
  const infoBytes = textEncoder.encode(info);
  const out = new Uint8Array(length);
  const counter = new Uint8Array(1);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, o = 0; o < length; i++, o += 32) {
    counter[0] = i;
    t = hmacSha256(prk, t, infoBytes, counter);
    out.set(length - o >= 32 ? t : t.subarray(0, length - o), o);
  }
  return out;
}

/** The @noble/hashes forms, the ones browsers use (exported so the tests compare both). */
export const nobleHash = {
  sha256: (...parts: Uint8Array[]): Uint8Array => {
    const h = nobleSha256.create();
    for (const p of parts) h.update(p);
    return h.digest();
  },
  hmacSha256: (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const h = nobleHmac.create(nobleSha256, key);
    for (const p of parts) h.update(p);
    return h.digest();
  },
  hkdfSha256: (ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array =>
    nobleHkdf(nobleSha256, ikm, salt, textEncoder.encode(info), length),
};

/** Domain-separation labels, one per use; PROTOCOL.md lists them. */
export const LABELS = {
  id: 'relaymesh/id/v1',
  linkProof: 'relaymesh/link-proof/v1',
  e2e: 'relaymesh/e2e/v1',
  rekey: 'relaymesh/e2e/rekey/v1',
} as const;

export function label(name: keyof typeof LABELS): Uint8Array {
  return textEncoder.encode(LABELS[name]);
}
