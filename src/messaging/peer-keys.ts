/**
 * The keys MessagingPeer knows of other clients: what the server reported
 * (cached), and the pin of each peer's first keys (trust on first use). A key
 * that differs from its pin is refused with ERR_KEY_CHANGED until forget().
 * Both maps are bounded (MESSAGING_LIMITS): past the bound the oldest half is
 * forgotten, and those peers are trusted on next use again.
 */
import { equalBytes } from '../util/bytes.js';
import { BoundedMap } from '../util/bounded-map.js';
import { relayError } from '../util/errors.js';
import { MESSAGING_LIMITS } from '../util/limits.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import { decodeBase64 } from './base64.js';
import { RELAYMESH_IM } from './secure-envelope.js';
import { BINARY_FRAMES } from '../signaling/im-binary.js';

/** `binary`: the peer reads binary message frames and batch records (relaymesh-bin-v1). */
export interface PeerKeys { publicKey: Uint8Array; signingKey: Uint8Array | null; secure: boolean; binary: boolean }

/** Asks the server for a peer's keys; resolves to the `public_key_response` payload. */
export type AskKeys = (peerId: string) => Promise<any>;

export class PeerKeyStore {
  readonly #keys = new BoundedMap<string, PeerKeys>(MESSAGING_LIMITS.maxKeys);
  readonly #pins = new BoundedMap<string, { publicKey: Uint8Array; signingKey: Uint8Array | null }>(MESSAGING_LIMITS.maxPins);
  readonly #ask: AskKeys;
  readonly #onChanged: (err: Error & { code: string }) => void;

  /** `onChanged` hears every refused key change before the caller's promise rejects. */
  constructor(ask: AskKeys, onChanged: (err: Error & { code: string }) => void) {
    this.#ask = ask;
    this.#onChanged = onChanged;
  }

  cached(peerId: string): PeerKeys | undefined { return this.#keys.get(peerId); }

  /** The keys of `peerId`, from the cache or the server (checked against the pin). */
  async get(peerId: string): Promise<PeerKeys> {
    const cached = this.#keys.get(peerId);
    if (cached) return cached;
    const res = await this.#ask(peerId);
    const publicKey = Array.isArray(res?.publicKey) ? new Uint8Array(res.publicKey) : null;
    if (!publicKey || publicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw relayError('ERR_BAD_KEYS', `server sent a malformed key for ${peerId}`);
    let signingKey: Uint8Array | null = null;
    try { signingKey = typeof res.signingKey === 'string' ? decodeBase64(res.signingKey) : null; } catch { signingKey = null; }
    const caps: unknown[] = Array.isArray(res.capabilities) ? res.capabilities : [];
    const pin = this.#pins.get(peerId);
    if (pin && (!equalBytes(pin.publicKey, publicKey) || (pin.signingKey && (!signingKey || !equalBytes(pin.signingKey, signingKey))))) {
      const err = relayError('ERR_KEY_CHANGED', `the keys of ${peerId} changed since first use; refusing them (forgetPeerKeys to accept)`, { peerId });
      this.#onChanged(err);
      throw err;
    }
    if (!pin) this.#pins.set(peerId, { publicKey, signingKey });
    const secure = signingKey !== null && caps.includes(RELAYMESH_IM);
    const keys: PeerKeys = { publicKey, signingKey, secure, binary: secure && caps.includes(BINARY_FRAMES) };
    this.#keys.set(peerId, keys);
    return keys;
  }

  /** The peer left: its keys are asked again next time (the pin stays). */
  drop(peerId: string): void { this.#keys.delete(peerId); }

  /** Forgets the cached keys and the pin. */
  forget(peerId: string): void {
    this.#pins.delete(peerId);
    this.#keys.delete(peerId);
  }
}
