/** Computes every golden vector from fixed inputs (shared by the test and by `node dist/test/crypto/vectors.js --write`). */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { Identity, PublicIdentity } from '../../src/crypto/identity.js';
import { linkProofMac, linkTranscript } from '../../src/crypto/link-proof.js';
import { deriveKeys, ratchet, Session } from '../../src/crypto/session.js';
import { nobleAead } from '../../src/crypto/aead.js';
import { toHex, textEncoder } from '../../src/util/bytes.js';
import { sha256 } from '../../src/crypto/hash.js';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

export function computeVectors(): Record<string, string> {
  const identity = new Identity(fill(32, 1), fill(64, 2));
  const kemMsg = fill(32, 9);
  const enc = ml_kem768.encapsulate(identity.kemPublicKey, kemMsg);
  const [kAB, kBA] = deriveKeys(fill(20, 0x0a), fill(20, 0x0b), fill(100, 0x0c), fill(50, 0x0d), fill(32, 0x11), fill(32, 0x22), fill(32, 0x33));
  const session = new Session({
    localSid: fill(8, 0x66), remoteSid: fill(8, 0x55), remote: identity.toPublic(),
    sendKey: fill(32, 0x44), recvKey: fill(32, 0x45), initiator: true, aead: nobleAead,
  });
  const data0 = session.seal(fill(20, 0x0b), fill(20, 0x0a), textEncoder.encode('\x00"hello"'));
  const data1 = session.seal(fill(20, 0x0b), fill(20, 0x0a), textEncoder.encode('\x00"hello"'));
  return {
    'identity.id': identity.idHex,
    'identity.publicKeysSha256': toHex(sha256(identity.publicKeys())),
    'mlkem768.encaps.ciphertextSha256': toHex(sha256(enc.cipherText)),
    'mlkem768.encaps.sharedSecret': toHex(enc.sharedSecret),
    'link.transcript': toHex(linkTranscript(fill(20, 0x0b), fill(40, 0x0e), fill(20, 0x0a), fill(40, 0x0f))),
    'link.proofMac': toHex(linkProofMac(fill(32, 3), fill(32, 4), fill(20, 5))),
    'session.kAB': toHex(kAB),
    'session.kBA': toHex(kBA),
    'session.ratchet': toHex(ratchet(fill(32, 0x44))),
    'data.counter0': toHex(data0),
    'data.counter1': toHex(data1),
  };
}

export { PublicIdentity };
