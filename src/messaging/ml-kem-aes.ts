/**
 * The IM protocol's plain `ml-kem-aes` envelope (../shared/protocols/demos-im.md),
 * byte-compatible with the published MessagingPeer:
 *   ML-KEM-768.Encaps (FIPS 203 §7.2) to the recipient's public key gives a
 *   1088-byte ciphertext and a 32-byte shared secret; the shared secret is the
 *   AES-256-GCM key; a random 12-byte IV; no associated data.
 *   serializedEncryptedData = base64(IV || ciphertext || tag), serializedCipherText = base64(KEM ciphertext).
 * It is confidential only: nothing in it says who sent it, and it can be replayed.
 */
import { kemDecapsulate, kemEncapsulate, kemKeygen } from '../crypto/kem.js';
import { concatBytes, randomBytes } from '../util/bytes.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { defaultAead, NONCE_LENGTH, TAG_LENGTH, type Aead } from '../crypto/aead.js';
import { KEM_CIPHERTEXT_LENGTH, KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';

export const ML_KEM_AES = 'ml-kem-aes';
const EMPTY = new Uint8Array(0);

export interface MlKemAesEnvelope {
  algorithm: 'ml-kem-aes';
  serializedCipherText: string;
  serializedEncryptedData: string;
}

/** An ML-KEM-768 key pair for the IM protocol (what `publicKey`/`secretKey` in MessagingPeerConfig hold). */
export function generateKeyPair(seed?: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  if (seed !== undefined && (!(seed instanceof Uint8Array) || seed.length !== 64)) throw new RangeError('seed must be 64 bytes');
  return kemKeygen(seed);
}

/** Seals `plaintext` to `recipientPublicKey`. */
export function sealMlKemAes(plaintext: Uint8Array, recipientPublicKey: Uint8Array, aead: Aead = defaultAead): MlKemAesEnvelope {
  if (!(recipientPublicKey instanceof Uint8Array) || recipientPublicKey.length !== KEM_PUBLIC_KEY_LENGTH) {
    throw new RangeError('recipientPublicKey must be a 1184-byte ML-KEM-768 public key');
  }
  const { cipherText, sharedSecret } = kemEncapsulate(recipientPublicKey);
  const iv = randomBytes(NONCE_LENGTH);
  const sealed = aead.seal(sharedSecret, iv, plaintext, EMPTY);
  return { algorithm: ML_KEM_AES, serializedCipherText: encodeBase64(cipherText), serializedEncryptedData: encodeBase64(concatBytes(iv, sealed)) };
}

/** Opens an `ml-kem-aes` envelope; null for anything malformed or inauthentic (never throws). */
export function openMlKemAes(env: unknown, secretKey: Uint8Array, aead: Aead = defaultAead): Uint8Array | null {
  if (!env || typeof env !== 'object') return null;
  const e = env as Record<string, unknown>;
  if (e.algorithm !== ML_KEM_AES || typeof e.serializedCipherText !== 'string' || typeof e.serializedEncryptedData !== 'string') return null;
  try {
    const ct = decodeBase64(e.serializedCipherText);
    const data = decodeBase64(e.serializedEncryptedData);
    if (ct.length !== KEM_CIPHERTEXT_LENGTH || data.length < NONCE_LENGTH + TAG_LENGTH) return null;
    const sharedSecret = kemDecapsulate(ct, secretKey);
    return aead.open(sharedSecret, data.subarray(0, NONCE_LENGTH), data.subarray(NONCE_LENGTH), EMPTY);
  } catch {
    return null;
  }
}
