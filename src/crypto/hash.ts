/** SHA-256, HMAC-SHA-256 and HKDF-SHA-256 (RFC 5869), via @noble/hashes. */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { textEncoder } from '../util/bytes.js';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleHmac.create(nobleSha256, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
  return nobleHkdf(nobleSha256, ikm, salt, textEncoder.encode(info), length);
}

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
