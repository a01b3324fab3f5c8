/**
 * SHA-256, HMAC-SHA-256 and HKDF-SHA-256 (RFC 5869): node:crypto where there
 * is one (about 10x faster on the 3-9 KiB a handshake hashes), else (browsers)
 * @noble/hashes. Same bytes either way (test/crypto/hash.test.ts).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { textEncoder } from '../util/bytes.js';
import { native } from './native.js';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (native) {
    const h = native.createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  }
  return nobleHash.sha256(...parts);
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  if (native) {
    const h = native.createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  }
  return nobleHash.hmacSha256(key, ...parts);
}

export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
  if (native) return new Uint8Array(native.hkdfSync('sha256', ikm, salt, textEncoder.encode(info), length));
  return nobleHash.hkdfSha256(ikm, salt, info, length);
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
