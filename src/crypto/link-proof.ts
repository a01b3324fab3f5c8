/**
 * The link handshake's proof of identity (PROTOCOL.md, "Link handshake"):
 *   th  = SHA-256(HELLO of the lower id | HELLO of the higher id)
 *   mac = HMAC-SHA-256(ss, "relaymesh/link-proof/v1" | th | proverId)
 * where ss is the ML-KEM shared secret the prover decapsulated.
 */
import { compareBytes } from '../util/bytes.js';
import { hmacSha256, label, sha256 } from './hash.js';

export function linkTranscript(ownId: Uint8Array, ownHello: Uint8Array, remoteId: Uint8Array, remoteHello: Uint8Array): Uint8Array {
  const ownFirst = compareBytes(ownId, remoteId) < 0;
  return sha256(ownFirst ? ownHello : remoteHello, ownFirst ? remoteHello : ownHello);
}

export function linkProofMac(sharedSecret: Uint8Array, transcript: Uint8Array, proverId: Uint8Array): Uint8Array {
  return hmacSha256(sharedSecret, label('linkProof'), transcript, proverId);
}
