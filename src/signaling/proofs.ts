/**
 * Registration checks (PROTOCOL.md §11): the shape of a registration request,
 * checked before anything costly, and the ML-DSA-65 checks of its proofs,
 * behind a cache by the bytes and a node-wide rate, so a replayed proof costs
 * a lookup and a flood of new ones costs at most verifiesPerSecond verifies.
 */
import { dsaVerify } from '../crypto/dsa.js';
import { fromBase64, toBase64, toHex } from '../util/bytes.js';
import { BoundedMap } from '../util/bounded-map.js';
import { sha256 } from '../crypto/hash.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import { Budgets, type SignalingLimits } from './limits.js';
import { keyTag as rosterKeyTag, MAX_CLIENT_ID_LENGTH, registrationMessage } from './mesh-records.js';
import { signalingError, type ClientInfo, type ClientSink, type RegistrationProof, type RegistrationRequest } from './types.js';

/**
 * The client a registration request describes, if its shape is right: an id
 * of 1 to MAX_CLIENT_ID_LENGTH characters; an ML-KEM-768 key with a proof that
 * signs exactly it (or none, with allowUnverified; or neither, keyless); a
 * fresh proof's time within registrationSkewMs. Nothing is verified yet.
 * Throws INVALID_MESSAGE, INVALID_PUBLIC_KEY or INVALID_PROOF.
 */
export function checkRequest(sink: ClientSink, req: RegistrationRequest, limits: Pick<SignalingLimits, 'registrationSkewMs'>, allowUnverified: boolean): ClientInfo {
  const { clientId, publicKey, proof, fresh } = req;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) {
    throw signalingError('INVALID_MESSAGE', `clientId must be a string of 1 to ${MAX_CLIENT_ID_LENGTH} characters`);
  }
  if (req.keyless) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 0 || proof) throw signalingError('INVALID_MESSAGE', 'a keyless registration has no key and no proof');
  } else {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEM_PUBLIC_KEY_LENGTH) {
      throw signalingError('INVALID_PUBLIC_KEY', `publicKey must be ${KEM_PUBLIC_KEY_LENGTH} bytes (ML-KEM-768)`);
    }
    if (!proof && !allowUnverified) throw signalingError('INVALID_PROOF', 'registration needs an ml-dsa verification');
    if (proof && !signsKey(publicKey, proof)) throw signalingError('INVALID_PROOF', 'the ml-dsa proof does not sign the registered key');
  }
  if (fresh) {
    if (!proof || !Number.isSafeInteger(fresh.ts) || fresh.ts <= 0 || !(fresh.signature instanceof Uint8Array)) throw signalingError('INVALID_PROOF', 'a fresh proof needs the ml-dsa verification and a time');
    if (Math.abs(fresh.ts - Date.now()) > limits.registrationSkewMs) throw signalingError('INVALID_PROOF', `the fresh proof's time is more than ${limits.registrationSkewMs} ms off`);
  }
  return {
    clientId, publicKey, signingKey: proof ? proof.signingKey : null, capabilities: req.capabilities.slice(0, 16),
    remoteAddress: sink.remoteAddress, dialect: sink.dialect, registeredAt: Date.now(),
  };
}

/** ML-DSA results by the hash of what was verified: true verified, false refused. */
export class ProofCache {
  readonly #results: BoundedMap<string, boolean>;
  readonly #budget: Budgets<ClientSink>;
  readonly #perSecond: number;
  /** ML-DSA verifications done, and results found in the cache. */
  verifies = 0;
  hits = 0;

  constructor(maxCached: number, verifiesPerSecond: number) {
    this.#results = new BoundedMap(Math.max(2, maxCached));
    this.#budget = new Budgets(0, 0, verifiesPerSecond);
    this.#perSecond = verifiesPerSecond;
  }

  /**
   * ML-DSA.Verify(signature, message, key), from the cache by the bytes; a new
   * one within the node-wide rate (RATE_LIMITED past it) unless `sink` is null
   * (mesh input, already bounded). `kind` keeps proofs of different meaning apart.
   */
  verified(sink: ClientSink | null, kind: string, key: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
    const tag = proofTag(kind, key, signature, message);
    const known = this.#results.get(tag);
    if (known !== undefined) {
      this.hits++;
      return known;
    }
    if (sink && this.#budget.take(sink, sink.remoteAddress)) throw signalingError('RATE_LIMITED', `the server verifies at most ${this.#perSecond} proofs/s; try again`);
    this.verifies++;
    const ok = dsaVerify(signature, message, key);
    this.#results.set(tag, ok);
    return ok;
  }
}

/** The proof's message is exactly the registered key (checked before any verify). */
export function signsKey(publicKey: Uint8Array, proof: RegistrationProof): boolean {
  if (proof.message.length !== publicKey.length) return false;
  for (let i = 0; i < publicKey.length; i++) if (proof.message[i] !== publicKey[i]) return false;
  return true;
}

/** ML-DSA.Verify (FIPS 204 §5.3) of the proof, which must sign exactly the registered key. */
export function verifyProof(publicKey: Uint8Array, proof: RegistrationProof): boolean {
  if (!signsKey(publicKey, proof)) return false;
  try {
    return dsaVerify(proof.signature, proof.message, proof.signingKey);
  } catch {
    return false;
  }
}

/** What a new home sends the old one when a client took its id with the same key (PROTOCOL.md §11 "Takeover"). */
export interface TakeoverProof { id: string; proof: { sk: string; sig: string; msg: string }; fresh?: { ts: number; sig: string } }

export function takeoverProof(clientId: string, proof: RegistrationProof, fresh?: { ts: number; signature: Uint8Array }): TakeoverProof {
  return {
    id: clientId, proof: { sk: toBase64(proof.signingKey), sig: toBase64(proof.signature), msg: toBase64(proof.message) },
    ...(fresh ? { fresh: { ts: fresh.ts, sig: toBase64(fresh.signature) } } : {}),
  };
}

/**
 * True if `msg` proves that the holder of `record` (its signing key's tag, the
 * time of its fresh proof or 0) registered again: the same key, a newer fresh
 * proof if the record has one, and both proofs verify. Remote input: never throws.
 */
export function provesTakeover(msg: TakeoverProof, record: { tag: string; ts: number }, proofs: ProofCache): boolean {
  try {
    const signingKey = fromBase64(String(msg.proof.sk));
    if (!record.tag || rosterKeyTag(signingKey) !== record.tag) return false;
    if (record.ts > 0 && !(msg.fresh && Number.isSafeInteger(msg.fresh.ts) && msg.fresh.ts > record.ts)) return false;
    const message = fromBase64(String(msg.proof.msg));
    const signature = fromBase64(String(msg.proof.sig));
    if (!proofs.verified(null, 'p', signingKey, signature, message)) return false;
    if (msg.fresh && !proofs.verified(null, 'f', signingKey, fromBase64(String(msg.fresh.sig)), registrationMessage(msg.id, msg.fresh.ts))) return false;
    return true;
  } catch {
    return false;
  }
}

/** SHA-256 of a signing key, hex: what an id reservation remembers of its owner. */
export function keyTag(key: Uint8Array): string { return toHex(sha256(key)); }

/** A verify's cache key: SHA-256 over a kind byte and the three parts, each length-prefixed. */
function proofTag(kind: string, key: Uint8Array, signature: Uint8Array, message: Uint8Array): string {
  const len = (b: Uint8Array) => new Uint8Array([b.length >>> 24, (b.length >>> 16) & 0xff, (b.length >>> 8) & 0xff, b.length & 0xff]);
  return toHex(sha256(new Uint8Array([kind.charCodeAt(0)]), len(key), key, len(message), message, len(signature), signature));
}
