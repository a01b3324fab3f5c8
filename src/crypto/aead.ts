/**
 * AES-256-GCM (NIST SP 800-38D) sealing with a 12-byte nonce and 16-byte tag.
 * Two interchangeable backends with one wire format: Node's native OpenSSL
 * (fast path, used when present) and @noble/ciphers (portable; browsers).
 */
import { gcm } from '@noble/ciphers/aes.js';
import { native } from './native.js';

export const KEY_LENGTH = 32;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;

export type AeadBackend = 'native' | 'noble';

export interface Aead {
  readonly backend: AeadBackend;
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /**
   * Seals the concatenation of `parts` into `out` at `offset` (ciphertext then
   * tag), so a frame is built with one allocation. Same output as `seal`.
   */
  sealInto(key: Uint8Array, nonce: Uint8Array, parts: Uint8Array[], aad: Uint8Array, out: Uint8Array, offset: number): void;
  /** Returns null when authentication fails; never throws for bad input. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
}

export const nobleAead: Aead = {
  backend: 'noble',
  seal(key, nonce, plaintext, aad) {
    return gcm(key, nonce, aad).encrypt(plaintext);
  },
  sealInto(key, nonce, parts, aad, out, offset) {
    let len = 0;
    for (const p of parts) len += p.length;
    const pt = new Uint8Array(len);
    let o = 0;
    for (const p of parts) { pt.set(p, o); o += p.length; }
    out.set(gcm(key, nonce, aad).encrypt(pt), offset);
  },
  open(key, nonce, sealed, aad) {
    if (sealed.length < TAG_LENGTH) return null;
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },
};

function makeNativeAead(): Aead | null {
  const c = native;
  if (!c) return null;
  return {
    backend: 'native',
    seal(key, nonce, plaintext, aad) {
      const cipher = c.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
      cipher.setAAD(aad);
      const a = cipher.update(plaintext);
      const b = cipher.final();
      const tag = cipher.getAuthTag();
      const out = new Uint8Array(a.length + b.length + TAG_LENGTH);
      out.set(a, 0);
      out.set(b, a.length);
      out.set(tag, a.length + b.length);
      return out;
    },
    sealInto(key, nonce, parts, aad, out, offset) {
      const cipher = c.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
      cipher.setAAD(aad);
      let o = offset;
      for (const p of parts) {
        const chunk = cipher.update(p);
        out.set(chunk, o);
        o += chunk.length;
      }
      const tail = cipher.final();
      out.set(tail, o);
      out.set(cipher.getAuthTag(), o + tail.length);
    },
    open(key, nonce, sealed, aad) {
      if (sealed.length < TAG_LENGTH) return null;
      try {
        const d = c.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
        d.setAAD(aad);
        d.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
        const a = d.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
        const b = d.final();
        if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.length);
        const out = new Uint8Array(a.length + b.length);
        out.set(a, 0);
        out.set(b, a.length);
        return out;
      } catch {
        return null;
      }
    },
  };
}

export const nativeAead: Aead | null = makeNativeAead();

/** The fastest backend available here. */
export const defaultAead: Aead = nativeAead ?? nobleAead;
