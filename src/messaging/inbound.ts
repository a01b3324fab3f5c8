/**
 * Opens the `message` frames a MessagingPeer receives: the plain `ml-kem-aes`
 * envelope, or `relaymesh-im-v1` (sender-authenticated; the sender's signing
 * key is fetched and pinned on first use). Messages of one sender stay in
 * order while its key is fetched. Nothing here throws: failures are reported.
 */
import { textDecoder } from '../util/bytes.js';
import { relayError, type RelayError } from '../util/errors.js';
import { openMlKemAes, ML_KEM_AES } from './ml-kem-aes.js';
import { RELAYMESH_IM, type RecordEnvelope, type SecureSessions } from './secure-envelope.js';
import { encodeBase64 } from './base64.js';
import { KIND_BATCH, parseDeliveredFrame, recordSeq, RECORD_HEAD, SID_BYTES, splitBatch } from '../signaling/im-binary.js';
import type { PeerKeyStore } from './peer-keys.js';

export interface MessageInfo { algorithm: string; authenticated: boolean }
export interface MessagingError { type: string; details: string; code?: string }

export interface InboundHost {
  secretKey: Uint8Array | undefined;
  secure: SecureSessions | null;
  keys: PeerKeyStore;
  deliver(text: string, fromId: string, info: MessageInfo): void;
  error(error: MessagingError): void;
}

export class InboundMessages {
  readonly #h: InboundHost;
  /** One chain per sender whose key is being fetched. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(host: InboundHost) { this.#h = host; }

  /** A `message` frame's payload `{fromId, message}`. */
  onMessage(payload: any): void {
    const h = this.#h;
    const fromId = payload?.fromId;
    const env = payload?.message;
    if (typeof fromId !== 'string') return h.error({ type: 'INVALID_MESSAGE', details: 'message frame without fromId', code: 'ERR_MALFORMED_FRAME' });
    if (!h.secretKey) return h.error({ type: 'DECRYPT_FAILED', details: 'no secretKey in the config', code: 'ERR_DECRYPT_FAILED' });
    if (env?.algorithm === ML_KEM_AES) {
      const pt = openMlKemAes(env, h.secretKey);
      return this.#deliver(pt, fromId, { algorithm: ML_KEM_AES, authenticated: false });
    }
    if (env?.algorithm !== RELAYMESH_IM || !h.secure) {
      return h.error({ type: 'DECRYPT_FAILED', details: `unsupported algorithm from ${fromId}`, code: 'ERR_DECRYPT_FAILED' });
    }
    this.#openSecure(fromId, env, false);
  }

  /** A binary message frame (im-binary.ts): a record of a session its sender started with a JSON envelope. */
  onRecord(frame: Uint8Array): void {
    const h = this.#h;
    const f = parseDeliveredFrame(frame);
    if (!f) return h.error({ type: 'INVALID_MESSAGE', details: 'the server sent a malformed binary message frame', code: 'ERR_MALFORMED_FRAME' });
    if (!h.secretKey || !h.secure) return h.error({ type: 'DECRYPT_FAILED', details: 'no secretKey in the config', code: 'ERR_DECRYPT_FAILED' });
    const r = f.record;
    const env: RecordEnvelope = { sid: encodeBase64(r.subarray(0, SID_BYTES)), seq: recordSeq(r), sealed: r.subarray(RECORD_HEAD), batch: f.kind === KIND_BATCH };
    this.#openSecure(f.from, env, env.batch);
  }

  /** Opens a relaymesh-im-v1 envelope or record (in order behind a sender whose key is being fetched) and delivers it. */
  #openSecure(fromId: string, env: unknown, batch: boolean): void {
    const h = this.#h;
    const secure = h.secure!;
    const deliver = (pt: Uint8Array) => (batch ? this.#deliverBatch(pt, fromId) : this.#deliver(pt, fromId, { algorithm: RELAYMESH_IM, authenticated: true }));
    if (!this.#chains.has(fromId)) {
      let pt: Uint8Array | undefined;
      try {
        pt = secure.openKnown(fromId, env);
      } catch (err) {
        return this.#fail(err as RelayError);
      }
      if (pt) return deliver(pt);
    }
    const prev = this.#chains.get(fromId) ?? Promise.resolve();
    const next = prev.then(() => secure.open(fromId, env, async (id) => {
      const k = await h.keys.get(id);
      if (!k.signingKey) throw relayError('ERR_INVALID_PROOF', `${id} has no signing key`);
      return k.signingKey;
    })).then(
      deliver,
      (err: RelayError) => this.#fail(err),
    );
    this.#chains.set(fromId, next);
    next.then(() => { if (this.#chains.get(fromId) === next) this.#chains.delete(fromId); });
  }

  #fail(err: RelayError): void {
    this.#h.error({ type: err.code === 'ERR_REPLAY' ? 'REPLAY' : 'DECRYPT_FAILED', details: err.message, code: err.code });
  }

  /** The messages of a batch record, each delivered on its own. */
  #deliverBatch(pt: Uint8Array, fromId: string): void {
    const items = splitBatch(pt);
    if (!items) return this.#h.error({ type: 'DECRYPT_FAILED', details: `a batch record from ${fromId} does not add up`, code: 'ERR_DECRYPT_FAILED' });
    for (const item of items) this.#deliver(item, fromId, { algorithm: RELAYMESH_IM, authenticated: true });
  }

  #deliver(pt: Uint8Array | null, fromId: string, info: MessageInfo): void {
    let text: string;
    try {
      if (!pt) throw new Error('failed');
      text = textDecoder.decode(pt);
    } catch {
      return this.#h.error({ type: 'DECRYPT_FAILED', details: `a message from ${fromId} could not be decrypted`, code: 'ERR_DECRYPT_FAILED' });
    }
    this.#h.deliver(text, fromId, info);
  }
}
