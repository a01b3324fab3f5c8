/** An IM `register` frame with a valid ML-DSA proof, for raw IM sockets in dialect tests. */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { generateKeyPair } from '../../src/index.js';
import { toBase64 } from '../../src/util/bytes.js';

export function imRegisterFrame(clientId: string): unknown {
  const kem = generateKeyPair().publicKey;
  const dsa = ml_dsa65.keygen(new Uint8Array(32).fill(clientId.length));
  return { type: 'register', payload: { clientId, publicKey: Array.from(kem), verification: {
    algorithm: 'ml-dsa', serializedSignedData: toBase64(ml_dsa65.sign(kem, dsa.secretKey)),
    serializedPublicKey: toBase64(dsa.publicKey), serializedMessage: toBase64(kem),
  } } };
}
