/**
 * End-to-end sessions between two nodes (PROTOCOL.md, "End-to-end sessions").
 *
 * Handshake (one round trip, ML-KEM-768 only; no signatures):
 *   INIT  A -> B: sidA | ephPkA | ct1 = Encaps(kemPkB) | dsaPkA | kemPkA
 *   RESP  B -> A: sidA | sidB | ct2 = Encaps(ephPkA) | ct3 = Encaps(kemPkA)
 *   ss1 authenticates B (only B decapsulates ct1), ss3 authenticates A (only A
 *   decapsulates ct3), ss2 gives forward secrecy (A's ephemeral key is erased).
 *   th  = SHA-256(label | idA | idB | INIT | RESP)
 *   okm = HKDF-SHA-256(ikm = ss1 | ss2 | ss3, salt = th, info = label, 64)
 *   kAB = okm[0..32] (A -> B), kBA = okm[32..64] (B -> A)
 *
 * Data: sid(8, receiver's) | counter(8, big-endian) | AES-256-GCM(sealed)
 *   nonce = 0x00000000 | counter; AAD = to | from | sid | counter
 *   Keys ratchet every EPOCH_MESSAGES messages: k[e+1] = HKDF(k[e], "", rekey label, 32).
 */
import { kemBackend, kemDecapsulate, kemEncapsulate, kemKeygen, kemPrepare, type PreparedKemKey } from './kem.js';
import { concatBytes, equalBytes, randomBytes } from '../util/bytes.js';
import { defaultAead, type Aead, TAG_LENGTH } from './aead.js';
import { hkdfSha256, label, sha256, LABELS } from './hash.js';
import {
  Identity, PublicIdentity, ID_LENGTH, KEM_CIPHERTEXT_LENGTH, KEM_PUBLIC_KEY_LENGTH, PUBLIC_KEYS_LENGTH,
} from './identity.js';
import { ReplayWindow } from './replay-window.js';
import { timed } from '../util/trace.js';

export const SID_LENGTH = 8;
export const INIT_LENGTH = SID_LENGTH + KEM_PUBLIC_KEY_LENGTH + KEM_CIPHERTEXT_LENGTH + PUBLIC_KEYS_LENGTH;
export const RESP_LENGTH = SID_LENGTH * 2 + KEM_CIPHERTEXT_LENGTH * 2;
export const DATA_HEADER_LENGTH = SID_LENGTH + 8;
export const DATA_OVERHEAD = DATA_HEADER_LENGTH + TAG_LENGTH;
/** Messages per key epoch before the symmetric ratchet turns. */
export const EPOCH_MESSAGES = 2 ** 20;
/** A session is retired (and a new handshake made) after this many messages in one direction. */
export const MAX_COUNTER = 2 ** 48;

export interface EphemeralKeyPair { publicKey: Uint8Array; secretKey: Uint8Array; prepared?: PreparedKemKey }

/**
 * An ephemeral ML-KEM key pair (made ahead of time, off the critical path); with
 * noble also prepared for its one decapsulation (the expansion halves it).
 */
export function generateEphemeral(): EphemeralKeyPair {
  return timed('ML-KEM keygen, ephemeral (+ expand)', () => {
    const kp = kemKeygen();
    return kemBackend() === 'noble' ? { ...kp, prepared: kemPrepare(kp.publicKey) } : kp;
  });
}

/** Initiator state between INIT and RESP. */
export interface PendingInit {
  readonly sid: Uint8Array;
  readonly remote: PublicIdentity;
  readonly init: Uint8Array;
  readonly ss1: Uint8Array;
  ephemeral: EphemeralKeyPair | null;
}

export function createInit(self: Identity, remote: PublicIdentity, ephemeral = generateEphemeral()): PendingInit {
  const sid = randomBytes(SID_LENGTH);
  const { cipherText: ct1, sharedSecret: ss1 } = remote.takeEncapsulation();
  const init = concatBytes(sid, ephemeral.publicKey, ct1, self.publicKeys());
  return { sid, remote, init, ss1, ephemeral };
}

/** Parses an INIT's sender keys; null if malformed or not matching `fromId`. */
export function initSender(init: Uint8Array, fromId: Uint8Array, known?: PublicIdentity): PublicIdentity | null {
  if (init.length !== INIT_LENGTH) return null;
  const keys = init.subarray(INIT_LENGTH - PUBLIC_KEYS_LENGTH);
  // Keys already checked against this id (and prepared) are reused as they are.
  if (known && equalBytes(known.id, fromId) && equalBytes(known.dsaPublicKey, keys.subarray(0, known.dsaPublicKey.length))
    && equalBytes(known.kemPublicKey, keys.subarray(known.dsaPublicKey.length))) return known;
  return PublicIdentity.fromKeys(keys, fromId);
}

/**
 * Responder side: returns the established session and the RESP body, or null
 * if INIT is malformed or its keys do not match the sender id.
 */
export function respond(self: Identity, fromId: Uint8Array, init: Uint8Array, aead: Aead = defaultAead, known?: PublicIdentity):
  { session: Session; resp: Uint8Array; remote: PublicIdentity } | null {
  const remote = initSender(init, fromId, known);
  if (!remote) return null;
  let o = 0;
  const sidA = init.subarray(o, (o += SID_LENGTH));
  const ephPk = init.subarray(o, (o += KEM_PUBLIC_KEY_LENGTH));
  const ct1 = init.subarray(o, (o += KEM_CIPHERTEXT_LENGTH));
  let ss1: Uint8Array;
  let ct2: Uint8Array, ss2: Uint8Array;
  try {
    ss1 = self.decapsulate(ct1);
    ({ cipherText: ct2, sharedSecret: ss2 } = timed('ML-KEM encaps, ephemeral key (one-shot)', () => kemEncapsulate(ephPk)));
  } catch {
    return null;
  }
  const { cipherText: ct3, sharedSecret: ss3 } = remote.takeEncapsulation();
  const sidB = randomBytes(SID_LENGTH);
  const resp = concatBytes(sidA, sidB, ct2, ct3);
  const [kAB, kBA] = deriveKeys(remote.id, self.id, init, resp, ss1, ss2, ss3);
  const session = new Session({ localSid: sidB, remoteSid: sidA.slice(), remote, sendKey: kBA, recvKey: kAB, initiator: false, aead });
  return { session, resp, remote };
}

/** Initiator side: completes the handshake, or null if RESP is malformed or does not match. */
export function complete(self: Identity, pending: PendingInit, resp: Uint8Array, aead: Aead = defaultAead): Session | null {
  if (resp.length !== RESP_LENGTH || !pending.ephemeral) return null;
  let o = 0;
  const sidA = resp.subarray(o, (o += SID_LENGTH));
  const sidB = resp.subarray(o, (o += SID_LENGTH));
  const ct2 = resp.subarray(o, (o += KEM_CIPHERTEXT_LENGTH));
  const ct3 = resp.subarray(o, (o += KEM_CIPHERTEXT_LENGTH));
  if (!sameBytes(sidA, pending.sid)) return null;
  let ss2: Uint8Array, ss3: Uint8Array;
  try {
    const eph = pending.ephemeral;
    const prepared = eph.prepared;
    ss2 = timed('ML-KEM decaps, ephemeral key', () => prepared ? prepared.decapsulate(ct2, eph.secretKey) : kemDecapsulate(ct2, eph.secretKey));
    ss3 = self.decapsulate(ct3);
  } catch {
    return null;
  }
  // Forward secrecy: the ephemeral secret is erased as soon as it was used.
  pending.ephemeral.secretKey.fill(0);
  pending.ephemeral.prepared?.clean();
  pending.ephemeral = null;
  const [kAB, kBA] = deriveKeys(self.id, pending.remote.id, pending.init, resp, pending.ss1, ss2, ss3);
  return new Session({ localSid: pending.sid, remoteSid: sidB.slice(), remote: pending.remote, sendKey: kAB, recvKey: kBA, initiator: true, aead });
}

/** Session keys from the three shared secrets (exported for the golden vectors). Wipes the secrets. */
export function deriveKeys(idA: Uint8Array, idB: Uint8Array, init: Uint8Array, resp: Uint8Array,
  ss1: Uint8Array, ss2: Uint8Array, ss3: Uint8Array): [Uint8Array, Uint8Array] {
  const okm = timed('transcript hash + HKDF', () => hkdfSha256(concatBytes(ss1, ss2, ss3), sha256(label('e2e'), idA, idB, init, resp), LABELS.e2e, 64));
  ss1.fill(0); ss2.fill(0); ss3.fill(0);
  return [okm.slice(0, 32), okm.slice(32, 64)];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The symmetric ratchet between key epochs (exported for the golden vectors). */
export function ratchet(key: Uint8Array): Uint8Array {
  return hkdfSha256(key, new Uint8Array(0), LABELS.rekey, 32);
}

export type OpenResult =
  | { ok: true; plaintext: Uint8Array }
  | { ok: false; reason: 'malformed' | 'replay' | 'decrypt' };

interface SessionInit {
  localSid: Uint8Array; remoteSid: Uint8Array; remote: PublicIdentity;
  sendKey: Uint8Array; recvKey: Uint8Array; initiator: boolean; aead: Aead;
}

/** An established session: seals outgoing and opens incoming DATA bodies. */
export class Session {
  readonly localSid: Uint8Array;
  readonly remoteSid: Uint8Array;
  readonly remote: PublicIdentity;
  readonly initiator: boolean;
  readonly createdAt = Date.now();
  lastUsed = Date.now();
  /** Set once the peer proved itself by a message that authenticated under this session. */
  confirmed: boolean;
  /** The peer opens batch records (PROTOCOL.md §5.2): said by its handshake's envelope flag or shown by one it sent. */
  peerBatches = false;
  readonly #aead: Aead;
  #sendKey: Uint8Array;
  #sendEpoch = 0;
  #sendCounter = 0;
  #recvKey: Uint8Array;
  #recvEpoch = 0;
  #prevRecvKey: Uint8Array | null = null;
  readonly #window = new ReplayWindow();

  constructor(o: SessionInit) {
    this.localSid = o.localSid;
    this.remoteSid = o.remoteSid;
    this.remote = o.remote;
    this.#sendKey = o.sendKey;
    this.#recvKey = o.recvKey;
    this.initiator = o.initiator;
    this.#aead = o.aead;
    // The initiator authenticated the responder through ss1 already; the responder
    // waits for the initiator's first authenticated message (ss3).
    this.confirmed = o.initiator;
  }

  get exhausted(): boolean { return this.#sendCounter >= MAX_COUNTER; }
  get sent(): number { return this.#sendCounter; }

  /** Seals `plaintext` into a DATA body for the remote; `to`/`from` are bound as AAD. */
  seal(to: Uint8Array, from: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const counter = this.#nextCounter();
    const header = new Uint8Array(DATA_HEADER_LENGTH);
    header.set(this.remoteSid, 0);
    writeCounter(header, SID_LENGTH, counter);
    const sealed = this.#aead.seal(this.#sendKey, this.#nonceFor(counter), plaintext, this.#aadFor(to, from, header));
    const out = new Uint8Array(DATA_HEADER_LENGTH + sealed.length);
    out.set(header, 0);
    out.set(sealed, DATA_HEADER_LENGTH);
    this.lastUsed = Date.now();
    return out;
  }

  /**
   * Seals `channel || payload` as a DATA body written into `frame` at `offset`
   * (sid, counter, ciphertext, tag): one allocation per message. The 40 bytes
   * before `offset` must be `to || from`, so the AAD is the contiguous
   * `frame[offset - 40 .. offset + 16]`. Same bytes as `seal`.
   */
  sealInto(frame: Uint8Array, offset: number, channel: number, payload: Uint8Array): void {
    this.sealPartsInto(frame, offset, [new Uint8Array([channel]), payload]);
  }

  /** As sealInto, for a plaintext given as parts (a channel byte first, or a whole batch record). */
  sealPartsInto(frame: Uint8Array, offset: number, parts: Uint8Array[]): void {
    const counter = this.#nextCounter();
    frame.set(this.remoteSid, offset);
    writeCounter(frame, offset + SID_LENGTH, counter);
    const aad = frame.subarray(offset - ID_LENGTH * 2, offset + DATA_HEADER_LENGTH);
    this.#aead.sealInto(this.#sendKey, this.#nonceFor(counter), parts, aad, frame, offset + DATA_HEADER_LENGTH);
    this.lastUsed = Date.now();
  }

  #nextCounter(): number {
    const counter = this.#sendCounter++;
    const epoch = Math.floor(counter / EPOCH_MESSAGES);
    while (this.#sendEpoch < epoch) {
      const next = ratchet(this.#sendKey);
      this.#sendKey.fill(0);
      this.#sendKey = next;
      this.#sendEpoch++;
    }
    return counter;
  }

  /** Opens a DATA body addressed to this session. Never throws. */
  open(to: Uint8Array, from: Uint8Array, body: Uint8Array): OpenResult {
    if (body.length < DATA_OVERHEAD) return { ok: false, reason: 'malformed' };
    const counter = readCounter(body, SID_LENGTH);
    if (counter >= MAX_COUNTER) return { ok: false, reason: 'malformed' };
    if (!this.#window.check(counter)) return { ok: false, reason: 'replay' };
    const epoch = Math.floor(counter / EPOCH_MESSAGES);
    let key: Uint8Array | null;
    if (epoch === this.#recvEpoch) key = this.#recvKey;
    else if (epoch === this.#recvEpoch - 1) key = this.#prevRecvKey;
    else if (epoch === this.#recvEpoch + 1) key = ratchet(this.#recvKey);
    else key = null;
    if (!key) return { ok: false, reason: 'replay' };
    const plaintext = this.#aead.open(key, this.#nonceFor(counter), body.subarray(DATA_HEADER_LENGTH),
      this.#aadFor(to, from, body.subarray(0, DATA_HEADER_LENGTH)));
    if (!plaintext) return { ok: false, reason: 'decrypt' };
    if (epoch === this.#recvEpoch + 1) {
      this.#prevRecvKey = this.#recvKey;
      this.#recvKey = key;
      this.#recvEpoch = epoch;
    }
    this.#window.accept(counter);
    this.confirmed = true;
    this.lastUsed = Date.now();
    return { ok: true, plaintext };
  }

  destroy(): void {
    this.#sendKey.fill(0);
    this.#recvKey.fill(0);
    this.#prevRecvKey?.fill(0);
  }

  #nonceFor(counter: number): Uint8Array {
    const n = new Uint8Array(12);
    writeCounter(n, 4, counter);
    return n;
  }

  #aadFor(to: Uint8Array, from: Uint8Array, header: Uint8Array): Uint8Array {
    const aad = new Uint8Array(ID_LENGTH * 2 + DATA_HEADER_LENGTH);
    aad.set(to, 0);
    aad.set(from, ID_LENGTH);
    aad.set(header, ID_LENGTH * 2);
    return aad;
  }
}

export function writeCounter(buf: Uint8Array, offset: number, n: number): void {
  const hi = Math.floor(n / 2 ** 32);
  const lo = n >>> 0;
  buf[offset] = hi >>> 24; buf[offset + 1] = (hi >>> 16) & 255; buf[offset + 2] = (hi >>> 8) & 255; buf[offset + 3] = hi & 255;
  buf[offset + 4] = lo >>> 24; buf[offset + 5] = (lo >>> 16) & 255; buf[offset + 6] = (lo >>> 8) & 255; buf[offset + 7] = lo & 255;
}

export function readCounter(buf: Uint8Array, offset: number): number {
  const hi = ((buf[offset] << 24) >>> 0) + (buf[offset + 1] << 16) + (buf[offset + 2] << 8) + buf[offset + 3];
  const lo = ((buf[offset + 4] << 24) >>> 0) + (buf[offset + 5] << 16) + (buf[offset + 6] << 8) + buf[offset + 7];
  return hi * 2 ** 32 + lo;
}
