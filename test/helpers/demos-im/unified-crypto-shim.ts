/**
 * Stand-in for @kynesyslabs/demosdk's `unifiedCrypto` singleton, limited to
 * what MessagingPeer calls, computing exactly what its Enigma class computes
 * (build/encryption/PQC/enigma.js): ML-DSA-65 sign over the message;
 * ml-kem-aes = ML-KEM-768 encapsulate, the shared secret as the AES-256-GCM
 * key, random 12-byte IV, encryptedData = IV || ciphertext || tag. Like the
 * original, one identity per process; decrypt returns a Buffer. Also installs
 * `ws` as the global WebSocket the client expects (Node 20 has none).
 */
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

if (!(globalThis as any).WebSocket) (globalThis as any).WebSocket = WebSocket;

const dsa = ml_dsa65.keygen(crypto.randomBytes(32));
const kem = ml_kem768.keygen(crypto.randomBytes(64));

/** The process's ML-KEM public key: what a stock app passes as config.publicKey. */
export const stockKemPublicKey: Uint8Array = kem.publicKey;
export const stockKemSecretKey: Uint8Array = kem.secretKey;

export const unifiedCrypto = {
  async sign(algorithm: string, data: Uint8Array) {
    if (algorithm !== 'ml-dsa') throw new Error('shim: only ml-dsa');
    return { algorithm, signature: ml_dsa65.sign(data, dsa.secretKey), message: data, publicKey: dsa.publicKey };
  },
  async encrypt(algorithm: string, data: Uint8Array, peerPublicKey: Uint8Array) {
    if (algorithm !== 'ml-kem-aes') throw new Error('shim: only ml-kem-aes');
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(peerPublicKey);
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', sharedSecret, iv);
    const enc = Buffer.concat([cipher.update(data), cipher.final()]);
    return { algorithm, cipherText, encryptedData: Buffer.concat([iv, enc, cipher.getAuthTag()]) };
  },
  async decrypt(obj: { algorithm: string; cipherText: Uint8Array; encryptedData: Uint8Array }) {
    if (obj.algorithm !== 'ml-kem-aes') throw new Error('Invalid algorithm');
    const sharedSecret = ml_kem768.decapsulate(obj.cipherText, kem.secretKey);
    const iv = obj.encryptedData.slice(0, 12);
    const body = obj.encryptedData.slice(12, -16);
    const tag = obj.encryptedData.slice(-16);
    const d = crypto.createDecipheriv('aes-256-gcm', sharedSecret, iv);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(body), d.final()]);
  },
};
