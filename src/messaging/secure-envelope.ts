/**
 * relaymesh's `relaymesh-im-v1` envelope, used between two relaymesh
 * MessagingPeers: sender-authenticated and replay-protected.
 *
 * A sender opens a one-way session to a recipient: ML-KEM-768.Encaps (FIPS 203
 * §7.2) to the recipient's key gives (kemCt, ss); the sender signs, with its
 * ML-DSA-65 key (FIPS 204 §5.2),
 *   LABEL || sid(16) || ts(8, ms BE) || u16 len || from || u16 len || to || kemCt || SHA-256(recipient KEM key)
 * and key = HKDF-SHA-256(ss, salt = sid, info = "relaymesh/im/v1"). The first
 * message carries kemCt, ts and the signature; every message carries sid and
 * a counter `seq`; AES-256-GCM with nonce = 0^32 || seq(64 BE) and
 * AAD = sid || seq(8) || from || 0x00 || to. The recipient verifies the
 * signature with the sender's pinned key, then accepts each seq at most once
 * (sliding window); inits older than INIT_MAX_AGE_MS, or whose sid was seen,
 * are refused, so a recorded session cannot be replayed.
 */
import { dsaSign, dsaVerify } from '../crypto/dsa.js';
import { kemDecapsulate, kemEncapsulate } from '../crypto/kem.js';
import { concatBytes, randomBytes, textEncoder } from '../util/bytes.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { defaultAead, TAG_LENGTH, type Aead } from '../crypto/aead.js';
import { hkdfSha256, sha256 } from '../crypto/hash.js';
import { KEM_CIPHERTEXT_LENGTH } from '../crypto/identity.js';
import { ReplayWindow } from '../crypto/replay-window.js';
import { relayError } from '../util/errors.js';
import { BoundedMap } from '../util/bounded-map.js';

export const RELAYMESH_IM = 'relaymesh-im-v1';
const LABEL = textEncoder.encode('relaymesh/im-session/v1');
const SID_LENGTH = 16;
/** An init older than this (or this far in the future) is refused (ms). */
export const INIT_MAX_AGE_MS = 10 * 60_000;
/** A session is replaced after this many messages or this long (ms). */
const MAX_SEQ = 2 ** 32;
const MAX_SESSION_AGE_MS = 60 * 60_000;

export interface SecureEnvelope {
  algorithm: 'relaymesh-im-v1';
  sid: string;
  seq: number;
  serializedEncryptedData: string;
  ts?: number;
  serializedCipherText?: string;
  serializedSignature?: string;
}

/** A message record of a binary frame (im-binary.ts), read into the envelope's fields: `sealed` instead of base64, `batch` for kind 2. */
export interface RecordEnvelope { sid: string; seq: number; sealed: Uint8Array; batch: boolean }

export interface SecureLimits { maxInbound: number; maxSeenSids: number }

interface Outbound { sid: Uint8Array; sidB64: string; key: Uint8Array; aad: Uint8Array; seq: number; init: Pick<SecureEnvelope, 'ts' | 'serializedCipherText' | 'serializedSignature'>; createdAt: number }
interface Inbound { key: Uint8Array; aad: Uint8Array; window: ReplayWindow }

function u64(n: number, out: Uint8Array = new Uint8Array(8), off = 0): Uint8Array {
  const hi = Math.floor(n / 2 ** 32);
  const lo = n >>> 0;
  out[off] = hi >>> 24; out[off + 1] = (hi >>> 16) & 0xff; out[off + 2] = (hi >>> 8) & 0xff; out[off + 3] = hi & 0xff;
  out[off + 4] = lo >>> 24; out[off + 5] = (lo >>> 16) & 0xff; out[off + 6] = (lo >>> 8) & 0xff; out[off + 7] = lo & 0xff;
  return out;
}

function lp(s: string): Uint8Array {
  const b = textEncoder.encode(s);
  return concatBytes(new Uint8Array([b.length >> 8, b.length & 0xff]), b);
}

function signedInit(sid: Uint8Array, ts: number, from: string, to: string, kemCt: Uint8Array, recipientKemPk: Uint8Array): Uint8Array {
  return concatBytes(LABEL, sid, u64(ts), lp(from), lp(to), kemCt, sha256(recipientKemPk));
}

/** 0^32 || seq for a message, 0^31 1 || seq for a batch record (so neither can pass for the other). */
function nonceOf(seq: number, batch = false): Uint8Array {
  const n = u64(seq, new Uint8Array(12), 4);
  if (batch) n[3] = 1;
  return n;
}
/** The record's header (sid, seq) and sealed bytes take this many bytes more than the plaintext. */
export const RECORD_OVERHEAD = SID_LENGTH + 8 + TAG_LENGTH;
/** sid || 8 bytes for seq || from || 0x00 || to; the seq is written per message by withSeq. */
function aadTemplate(sid: Uint8Array, from: string, to: string): Uint8Array {
  return concatBytes(sid, new Uint8Array(8), textEncoder.encode(from), new Uint8Array(1), textEncoder.encode(to));
}
function withSeq(aad: Uint8Array, seq: number): Uint8Array { return u64(seq, aad, SID_LENGTH); }

/** The envelope as JSON; every string in it is base64, so nothing needs escaping (cheaper than JSON.stringify). */
export function secureEnvelopeJson(e: SecureEnvelope): string {
  let out = `{"algorithm":"${RELAYMESH_IM}","sid":"${e.sid}","seq":${e.seq},"serializedEncryptedData":"${e.serializedEncryptedData}"`;
  if (e.ts !== undefined) out += `,"ts":${e.ts},"serializedCipherText":"${e.serializedCipherText}","serializedSignature":"${e.serializedSignature}"`;
  return `${out}}`;
}

/** The sessions of one MessagingPeer: outbound per recipient, inbound per (sender, sid). */
/** Decodes base64 envelope fields; ERR_DECRYPT_FAILED naming the sender if any is not base64. */
function decodeFields(from: string, ...fields: string[]): Uint8Array[] {
  try {
    return fields.map(decodeBase64);
  } catch {
    throw relayError('ERR_DECRYPT_FAILED', 'bad base64 in envelope', { from });
  }
}

/** The envelope carries its sealed bytes: base64 (JSON) or as bytes (a binary record). */
function hasSealed(e: SecureEnvelope | RecordEnvelope): boolean {
  return 'sealed' in e ? e.sealed instanceof Uint8Array : typeof e.serializedEncryptedData === 'string';
}

export class SecureSessions {
  readonly #self: string;
  readonly #dsaSecretKey: Uint8Array;
  readonly #kemPublicKey: Uint8Array;
  readonly #kemSecretKey: Uint8Array;
  readonly #aead: Aead;
  readonly #limits: SecureLimits;
  readonly #out = new Map<string, Outbound>();
  readonly #in: BoundedMap<string, Inbound>;
  /**
   * Session ids seen, with when they may be forgotten. Not a BoundedMap: it is
   * replay protection, so expired ids go first and a live one is forgotten only
   * one at a time past maxSeenSids (a BoundedMap would drop half at once).
   */
  readonly #seen = new Map<string, number>();

  constructor(self: string, keys: { dsaSecretKey: Uint8Array; kemPublicKey: Uint8Array; kemSecretKey: Uint8Array }, limits: SecureLimits, aead: Aead = defaultAead) {
    this.#self = self;
    this.#dsaSecretKey = keys.dsaSecretKey;
    this.#kemPublicKey = keys.kemPublicKey;
    this.#kemSecretKey = keys.kemSecretKey;
    this.#limits = limits;
    this.#in = new BoundedMap(Math.max(2, limits.maxInbound));
    this.#aead = aead;
  }

  /** Forgets the outbound session to `to` (it left, or its key changed). */
  reset(to: string): void { this.#out.delete(to); }

  /** True if the session to `to` is set up and not due for replacement: a record (no init fields) may be sealed. */
  ready(to: string): boolean {
    const s = this.#out.get(to);
    return s !== undefined && s.seq > 0 && s.seq < MAX_SEQ && Date.now() - s.createdAt <= MAX_SESSION_AGE_MS;
  }

  /**
   * Seals the concatenation of `parts` as a record of the session to `to` (ready() must be true) into `out`
   * at `offset`: sid, seq (u64 BE), then ciphertext and tag (RECORD_OVERHEAD + the parts' length bytes).
   */
  sealRecord(to: string, parts: Uint8Array[], batch: boolean, out: Uint8Array, offset: number): void {
    const s = this.#out.get(to);
    if (!s || !this.ready(to)) throw new Error('no session ready for a record');
    const seq = s.seq++;
    out.set(s.sid, offset);
    u64(seq, out, offset + SID_LENGTH);
    this.#aead.sealInto(s.key, nonceOf(seq, batch), parts, withSeq(s.aad, seq), out, offset + SID_LENGTH + 8);
  }

  seal(to: string, recipientKemPk: Uint8Array, plaintext: Uint8Array): SecureEnvelope {
    let s = this.#out.get(to);
    if (!s || s.seq >= MAX_SEQ || Date.now() - s.createdAt > MAX_SESSION_AGE_MS) {
      const sid = randomBytes(SID_LENGTH);
      const ts = Date.now();
      const { cipherText, sharedSecret } = kemEncapsulate(recipientKemPk);
      const signature = dsaSign(signedInit(sid, ts, this.#self, to, cipherText, recipientKemPk), this.#dsaSecretKey);
      s = {
        sid, sidB64: encodeBase64(sid), key: hkdfSha256(sharedSecret, sid, 'relaymesh/im/v1', 32), aad: aadTemplate(sid, this.#self, to), seq: 0, createdAt: ts,
        init: { ts, serializedCipherText: encodeBase64(cipherText), serializedSignature: encodeBase64(signature) },
      };
      this.#out.set(to, s);
    }
    const seq = s.seq++;
    const sealed = this.#aead.seal(s.key, nonceOf(seq), plaintext, withSeq(s.aad, seq));
    const env: SecureEnvelope = { algorithm: RELAYMESH_IM, sid: s.sidB64, seq, serializedEncryptedData: encodeBase64(sealed) };
    return seq === 0 ? { ...env, ...s.init } : env;
  }

  /**
   * Opens an envelope of a session already set up, synchronously; undefined
   * when the envelope starts a new session (use open()). Throws RelayErrors.
   */
  openKnown(from: string, env: unknown): Uint8Array | undefined {
    const e = env as SecureEnvelope;
    if (!e || typeof e.sid !== 'string') return undefined;
    const s = this.#in.get(`${from}\n${e.sid}`);
    if (!s) return undefined;
    if (!Number.isSafeInteger(e.seq) || e.seq < 0 || !hasSealed(e)) {
      throw relayError('ERR_DECRYPT_FAILED', 'malformed relaymesh-im-v1 envelope', { from });
    }
    return this.#openWith(s, from, e);
  }

  #openWith(s: Inbound, from: string, e: SecureEnvelope | RecordEnvelope): Uint8Array {
    if (!s.window.check(e.seq)) throw relayError('ERR_REPLAY', `replayed message ${e.seq} from ${from}`, { from });
    const rec = 'sealed' in e ? e : null;
    const sealed = rec ? rec.sealed : decodeFields(from, (e as SecureEnvelope).serializedEncryptedData)[0];
    const pt = this.#aead.open(s.key, nonceOf(e.seq, rec?.batch === true), sealed, withSeq(s.aad, e.seq));
    if (!pt) throw relayError('ERR_DECRYPT_FAILED', `message from ${from} failed authentication`, { from });
    s.window.accept(e.seq);
    return pt;
  }

  /**
   * Opens an envelope from `from`; `signingKeyOf` yields the sender's pinned
   * ML-DSA key (asked only for a new session). Rejects with ERR_DECRYPT_FAILED,
   * ERR_INVALID_PROOF or ERR_REPLAY; never throws synchronously.
   */
  async open(from: string, env: unknown, signingKeyOf: (id: string) => Promise<Uint8Array>): Promise<Uint8Array> {
    const e = env as SecureEnvelope;
    if (!e || typeof e !== 'object' || typeof e.sid !== 'string' || !Number.isSafeInteger(e.seq) || e.seq < 0 || !hasSealed(e)) {
      throw relayError('ERR_DECRYPT_FAILED', 'malformed relaymesh-im-v1 envelope', { from });
    }
    const [sid] = decodeFields(from, e.sid);
    if (sid.length !== SID_LENGTH) throw relayError('ERR_DECRYPT_FAILED', 'bad session id', { from });
    const slot = `${from}\n${e.sid}`;
    let s = this.#in.get(slot);
    if (!s) {
      if (typeof e.serializedCipherText !== 'string' || typeof e.serializedSignature !== 'string' || !Number.isSafeInteger(e.ts)) {
        throw relayError('ERR_DECRYPT_FAILED', `unknown session from ${from}`, { from });
      }
      const now = Date.now();
      if (Math.abs(now - (e.ts as number)) > INIT_MAX_AGE_MS) throw relayError('ERR_REPLAY', `stale session start from ${from}`, { from });
      if (this.#seen.has(e.sid)) throw relayError('ERR_REPLAY', `replayed session start from ${from}`, { from });
      const [kemCt, sig] = decodeFields(from, e.serializedCipherText, e.serializedSignature);
      if (kemCt.length !== KEM_CIPHERTEXT_LENGTH) throw relayError('ERR_DECRYPT_FAILED', 'bad KEM ciphertext', { from });
      const signingKey = await signingKeyOf(from);
      let ok = false;
      try {
        ok = dsaVerify(sig, signedInit(sid, e.ts as number, from, this.#self, kemCt, this.#kemPublicKey), signingKey);
      } catch { ok = false; }
      if (!ok) throw relayError('ERR_INVALID_PROOF', `session start from ${from} is not signed by its pinned key`, { from });
      // Another message of the same session may have set it up while we awaited the key.
      s = this.#in.get(slot);
      if (!s) {
        if (this.#seen.has(e.sid)) throw relayError('ERR_REPLAY', `replayed session start from ${from}`, { from });
        let ss: Uint8Array;
        try { ss = kemDecapsulate(kemCt, this.#kemSecretKey); } catch { throw relayError('ERR_DECRYPT_FAILED', 'decapsulation failed', { from }); }
        s = { key: hkdfSha256(ss, sid, 'relaymesh/im/v1', 32), aad: aadTemplate(sid, from, this.#self), window: new ReplayWindow() };
        this.#in.set(slot, s);
        this.#seen.set(e.sid, now + 2 * INIT_MAX_AGE_MS);
        this.#trim(now);
      }
    }
    return this.#openWith(s, from, e);
  }

  #trim(now: number): void {
    if (this.#seen.size > this.#limits.maxSeenSids) {
      for (const [sid, until] of this.#seen) if (until < now) this.#seen.delete(sid);
      while (this.#seen.size > this.#limits.maxSeenSids) this.#seen.delete(this.#seen.keys().next().value as string);
    }
  }
}
