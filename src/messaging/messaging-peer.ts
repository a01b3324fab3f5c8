/**
 * MessagingPeer: relaymesh's client of the IM signaling protocol, with the API
 * of the seed (../shared/seeds/messaging-peer-*.{txt,md}). It works against
 * any server that speaks demos-im.md and fixes what the reference client gets
 * wrong: answers are correlated (ids, else type + filter), decrypt failures go
 * to onError, reconnection with backoff also after a drop, re-registration,
 * and a bounded outbox while reconnecting. Between two relaymesh peers messages
 * use the authenticated `relaymesh-im-v1` envelope; keys are pinned on first use.
 */
import debugFactory from 'debug';
import { dsaKeygen, dsaSign } from '../crypto/dsa.js';
import { randomBytes, textDecoder } from '../util/bytes.js';
import { encodeBase64 } from './base64.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import { relayError, type RelayError } from '../util/errors.js';
import { MESSAGING_LIMITS } from '../util/limits.js';
import { sealMlKemAes } from './ml-kem-aes.js';
import { ServerRequests, type Frame } from './requests.js';
import { fastStringify } from '../signaling/fast-json.js';
import { registrationMessage } from '../signaling/mesh-records.js';
import { PRESENCE_BATCH } from '../signaling/presence.js';
import { ACK_BATCH } from '../signaling/types.js';
import { encodeText } from './text.js';
import { RELAYMESH_IM, SecureSessions, secureEnvelopeJson } from './secure-envelope.js';
import { PeerKeyStore, type PeerKeys } from './peer-keys.js';
import { OutgoingRecords } from './outgoing.js';
import { BINARY_FRAMES } from '../signaling/im-binary.js';
import { InboundMessages, type MessageInfo, type MessagingError } from './inbound.js';
import { PeerHandlers, type ConnectionState } from './handlers.js';
import { ServerConnection, type ReconnectOptions } from './connection.js';

const debug = debugFactory('relaymesh:messaging');

export type Message = Frame;
export type { ConnectionState, MessageInfo, MessagingError };

export interface MessagingPeerConfig {
  /** The signaling server, or several: on a lost connection the client moves to the next one (README "Failover"). */
  serverUrl: string | string[];
  clientId: string;
  /** ML-KEM-768 public key (1184 bytes), see generateKeyPair(). */
  publicKey: Uint8Array;
  /** The matching ML-KEM-768 secret key; without it incoming messages cannot be decrypted. */
  secretKey?: Uint8Array;
  /** 32-byte seed of this client's ML-DSA-65 signing key; keep it to keep the identity peers pinned. Random if omitted. */
  signingSeed?: Uint8Array;
  /** Reconnection backoff (defaults: the seed's 1 s doubling, capped at 30 s, 10 attempts). */
  reconnect?: ReconnectOptions;
  /** Frames kept while reconnecting (default 1000). */
  maxQueued?: number;
  /** Requests in flight (default 1024). */
  maxPending?: number;
}

interface SendOptions { timeout?: number; errorHandler?: (error: any) => void; retryCount?: number; filterFn?: (message: Message) => boolean }

export class MessagingPeer {
  readonly config: Readonly<MessagingPeerConfig>;
  readonly #dsa: { publicKey: Uint8Array; secretKey: Uint8Array };
  readonly #proof: Record<string, string>;
  readonly #secure: SecureSessions | null;
  readonly #requests: ServerRequests;
  readonly #conn: ServerConnection;
  readonly #keys: PeerKeyStore;
  readonly #inbound: InboundMessages;
  /** Messages to peers that read binary frames, sealed per turn (null without a secretKey: no relaymesh-im-v1). */
  readonly #out: OutgoingRecords | null;
  readonly #on = new PeerHandlers();
  #lastTs = 0;
  connectedPeers = new Set<string>();

  constructor(config: MessagingPeerConfig) {
    if (!config || typeof config !== 'object') throw new TypeError('config must be an object');
    const urls = typeof config.serverUrl === 'string' ? [config.serverUrl] : Array.isArray(config.serverUrl) ? [...config.serverUrl] : [];
    if (urls.length === 0 || urls.length > MESSAGING_LIMITS.maxServerUrls || !urls.every((u) => typeof u === 'string' && /^wss?:\/\//.test(u))) {
      throw new TypeError(`config.serverUrl must be a ws:// or wss:// URL, or an array of 1 to ${MESSAGING_LIMITS.maxServerUrls} of them`);
    }
    if (typeof config.clientId !== 'string' || config.clientId.length === 0 || config.clientId.length > 128) throw new TypeError('config.clientId must be a string of 1 to 128 characters');
    if (!(config.publicKey instanceof Uint8Array) || config.publicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw new TypeError('config.publicKey must be a 1184-byte ML-KEM-768 public key');
    if (config.secretKey !== undefined && !(config.secretKey instanceof Uint8Array)) throw new TypeError('config.secretKey must be a Uint8Array');
    if (config.signingSeed !== undefined && (!(config.signingSeed instanceof Uint8Array) || config.signingSeed.length !== 32)) throw new TypeError('config.signingSeed must be 32 bytes');
    this.config = { ...config };
    this.#dsa = dsaKeygen(config.signingSeed ?? randomBytes(32));
    this.#proof = {
      algorithm: 'ml-dsa',
      serializedSignedData: encodeBase64(dsaSign(config.publicKey, this.#dsa.secretKey)),
      serializedPublicKey: encodeBase64(this.#dsa.publicKey),
      serializedMessage: encodeBase64(config.publicKey),
    };
    this.#secure = config.secretKey
      ? new SecureSessions(config.clientId, { dsaSecretKey: this.#dsa.secretKey, kemPublicKey: config.publicKey, kemSecretKey: config.secretKey },
        { maxInbound: MESSAGING_LIMITS.maxInbound, maxSeenSids: MESSAGING_LIMITS.maxSeenSids })
      : null;
    this.#requests = new ServerRequests(config.maxPending ?? MESSAGING_LIMITS.maxPending);
    this.#keys = new PeerKeyStore(
      (peerId) => this.sendToServerAndWait<any>({ type: 'request_public_key', payload: { targetId: peerId } }, 'public_key_response', {
        filterFn: (m) => m.payload?.peerId === peerId,
      }),
      (err) => this.#emitError({ type: 'KEY_CHANGED', details: err.message, code: err.code }),
    );
    this.#conn = new ServerConnection({
      urls, acks: () => this.#requests.echoesIds, reconnect: config.reconnect ?? {}, maxQueued: config.maxQueued,
      register: () => this.registerAndWait(),
      frame: (data) => this.#onFrame(data),
      sent: (id) => this.#requests.markSent(id),
      lost: () => {
        this.connectedPeers.clear();
        this.#requests.rejectSent(relayError('ERR_NOT_CONNECTED', 'the connection closed before the answer'));
      },
      ended: (err) => {
        this.connectedPeers.clear();
        this.#requests.rejectAll(err);
      },
      state: (state) => this.#on.state(state),
      error: (e) => this.#emitError(e),
    });
    const secure = this.#secure;
    this.#out = secure && new OutgoingRecords({
      secure,
      binary: () => this.#conn.binary,
      sendJson: (to, publicKey, pt) => this.#sendJson(to, { publicKey, secure: true }, pt),
      writeFrame: (build, count) => this.#conn.writeMessage((id) => build(id!), count),
      failed: (err, count) => this.#emitError({ type: 'NOT_DELIVERED', details: `${count} messages were not sent: ${err.message}`, code: err.code }),
    });
    this.#inbound = new InboundMessages({
      secretKey: config.secretKey, secure: this.#secure, keys: this.#keys,
      deliver: (text, fromId, info) => this.#on.message(text, fromId, info),
      error: (e) => this.#emitError(e),
    });
  }

  /** True while connected and registered. */
  get isConnected(): boolean { return this.#conn.registered; }

  // ------------------------------------------------------------ connection

  /** Connects to the signaling server and registers; resolves when registered. */
  connect(): Promise<void> { return this.#conn.connect(); }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void { this.#conn.disconnect(); }

  // ------------------------------------------------------------ requests

  /** Sends a register frame without waiting for the answer. */
  register(): void {
    this.#write(JSON.stringify(this.#registerFrame()), true);
  }

  /** Registers and resolves when the server confirms. */
  async registerAndWait(): Promise<void> {
    const answer = await this.#request<{ capabilities?: unknown } | undefined>(this.#registerFrame(), 'register', { timeout: 10_000 }, true);
    // A node that takes binary message frames says so in its answer (only to a client that asked, as this one does).
    this.#conn.markRegistered(Array.isArray(answer?.capabilities) && answer.capabilities.includes(BINARY_FRAMES));
  }

  async discoverPeers(): Promise<string[]> {
    const res = await this.sendToServerAndWait<{ peers: string[] }>({ type: 'discover', payload: {} }, 'discover');
    const peers = Array.isArray(res?.peers) ? res.peers.filter((p): p is string => typeof p === 'string') : [];
    this.connectedPeers = new Set(peers);
    return peers;
  }

  /** The peer's ML-KEM public key, as the server reports it (checked against the pin). */
  async requestPublicKey(peerId: string): Promise<Uint8Array> {
    return (await this.#keys.get(peerId)).publicKey;
  }

  respondToServer(questionId: string, response: any): void {
    this.#write(JSON.stringify({ type: 'peer_response', payload: { questionId, response } }));
  }

  /** Sends `message` and resolves with the payload of the answer of type `expectedResponseType`. */
  async sendToServerAndWait<T = any>(message: Message, expectedResponseType: Message['type'], options: SendOptions = {}): Promise<T> {
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') throw new TypeError('message must be {type, payload}');
    if (typeof expectedResponseType !== 'string') throw new TypeError('expectedResponseType must be a string');
    return this.#request(message, expectedResponseType, options, false);
  }

  async #request<T>(message: Message, expected: string, options: SendOptions, urgent: boolean): Promise<T> {
    const { timeout = 10_000, errorHandler, retryCount = 0, filterFn } = options;
    if (!(timeout > 0)) throw new RangeError('options.timeout must be a positive number');
    if (!Number.isInteger(retryCount) || retryCount < 0) throw new RangeError('options.retryCount must be a non-negative integer');
    let last: RelayError | null = null;
    for (let attempt = 0; attempt <= retryCount; attempt++) {
      const { id, promise } = this.#requests.add(expected, timeout, filterFn);
      // A request that times out while queued is not sent later after all.
      if (id) promise.catch(() => this.#conn.unqueue(id));
      if (id) {
        try {
          if (this.#write(JSON.stringify({ ...message, id }), urgent, id)) this.#requests.markSent(id);
        } catch (err) {
          this.#requests.cancel(id, err as RelayError);
        }
      }
      try {
        return await promise;
      } catch (err) {
        last = err as RelayError;
        if (errorHandler) {
          try { errorHandler(err); } catch (e) { debug('errorHandler threw: %s', (e as Error).message); }
        }
        if (!this.#conn.wanted && !urgent) break;
      }
    }
    throw last!;
  }

  #registerFrame(): Message {
    // The fresh proof (signed now, time strictly increasing) lets this client take its id over on another
    // node, and keeps a recording of an older registration from doing so (PROTOCOL.md §11 "Takeover").
    const ts = this.#lastTs = Math.max(Date.now(), this.#lastTs + 1);
    const fresh = { ts, sig: encodeBase64(dsaSign(registrationMessage(this.config.clientId, ts), this.#dsa.secretKey)) };
    return {
      type: 'register',
      payload: { clientId: this.config.clientId, publicKey: Array.from(this.config.publicKey), verification: this.#proof, fresh, capabilities: [RELAYMESH_IM, PRESENCE_BATCH, ACK_BATCH, BINARY_FRAMES] },
    };
  }

  // ------------------------------------------------------------ messages

  /** Encrypts `message` to `targetId` and sends it (queued while reconnecting). */
  async sendMessage(targetId: string, message: string): Promise<void> {
    if (typeof targetId !== 'string' || !targetId) throw new TypeError('targetId must be a non-empty string');
    if (typeof message !== 'string') throw new TypeError('message must be a string');
    const keys = this.#keys.cached(targetId) ?? await this.#keys.get(targetId);
    if (keys.binary && this.#out) {
      // With the others to this peer of this turn, as one binary record (outgoing.ts); refused now if it could not be written.
      this.#conn.checkWritable();
      this.#out.add(targetId, keys.publicKey, message);
      return;
    }
    this.#sendJson(targetId, keys, encodeText(message));
  }

  /** Seals one message as a JSON envelope (relaymesh-im-v1 to a relaymesh peer, else ml-kem-aes) and writes it. */
  #sendJson(targetId: string, keys: Pick<PeerKeys, 'publicKey' | 'secure'>, pt: Uint8Array): void {
    const json = keys.secure && this.#secure
      ? secureEnvelopeJson(this.#secure.seal(targetId, keys.publicKey, pt))
      : fastStringify(sealMlKemAes(pt, keys.publicKey));
    const head = `"type":"message","payload":{"targetId":${JSON.stringify(targetId)},"message":${json}}}`;
    this.#conn.writeMessage((id) => (id === undefined ? `{${head}` : `{"id":"${id}",${head}`));
  }

  /** The server URL in use, or tried next. */
  get serverUrl(): string { return this.#conn.url; }

  /** Forgets the pinned keys of `peerId` (accept a new key after checking it out of band). */
  forgetPeerKeys(peerId: string): void {
    this.#keys.forget(peerId);
    this.#secure?.reset(peerId);
  }

  // ------------------------------------------------------------ frames

  #onFrame(data: unknown): void {
    // A binary message frame (relaymesh-bin-v1); binary JSON (a first byte '{') is read as text, as before.
    if (typeof data !== 'string' && (data as Uint8Array)[0] !== 0x7b) return this.#inbound.onRecord(data as Uint8Array);
    let frame: Frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : textDecoder.decode(data as Uint8Array));
      if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') throw new Error('not a frame');
    } catch {
      return this.#emitError({ type: 'INVALID_MESSAGE', details: 'the server sent a frame that is not {type, payload}', code: 'ERR_MALFORMED_FRAME' });
    }
    // A message's acknowledgement (or refusal: an error frame with its id).
    if (typeof frame.id === 'string' && frame.id.startsWith('m')) {
      const count = this.#conn.acked(frame.id);
      if (frame.type === 'message_ack') {
        // A relaymesh server acknowledges the messages it took in one turn in one frame (ACK_BATCH).
        const ids: unknown = frame.payload?.ids;
        if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string') this.#conn.acked(id);
        return;
      }
      // A refused batch record: one error per message it carried.
      if (frame.type === 'error') for (let i = 1; i < count; i++) this.#emitError(serverErrorOf(frame.payload));
    }
    if (this.#requests.offer(frame)) return;
    const p = frame.payload;
    switch (frame.type) {
      case 'message': return this.#inbound.onMessage(p);
      case 'peer_disconnected': {
        // A relaymesh server sends every id of one round in peerIds (PRESENCE_BATCH).
        const ids: unknown[] = Array.isArray(p?.peerIds) ? p.peerIds : [p?.peerId];
        for (const peerId of ids) {
          if (typeof peerId !== 'string') continue;
          this.connectedPeers.delete(peerId);
          this.#keys.drop(peerId);
          this.#secure?.reset(peerId);
          this.#on.peerDisconnected(peerId);
        }
        return;
      }
      case 'server_question': return this.#on.question(p?.question, p?.questionId);
      case 'error': return this.#emitError(serverErrorOf(p));
      default:
        debug('unsolicited %s frame ignored', frame.type);
    }
  }

  /** Sends now (true) or queues for after (re-)registration (false). */
  #write(frame: string, urgent = false, id?: string): boolean { return this.#conn.write(frame, urgent, id); }

  // ------------------------------------------------------------ handlers

  onMessage(handler: (message: any, fromId: string, info: MessageInfo) => void): void { this.#on.addMessage(checkFn(handler)); }
  onServerQuestion(handler: (question: any, questionId: string) => void): void { this.#on.addQuestion(checkFn(handler)); }
  onError(handler: (error: MessagingError) => void): void { this.#on.errors.add(checkFn(handler)); }
  onPeerDisconnected(handler: (peerId: string) => void): void { this.#on.disconnects.add(checkFn(handler)); }
  onConnectionStateChange(handler: (state: ConnectionState) => void): void { this.#on.states.add(checkFn(handler)); }
  removeMessageHandler(handler: (...a: any[]) => void): void { this.#on.messages.delete(handler); }
  removeErrorHandler(handler: (...a: any[]) => void): void { this.#on.errors.delete(handler); }
  removePeerDisconnectedHandler(handler: (...a: any[]) => void): void { this.#on.disconnects.delete(handler); }
  removeConnectionStateHandler(handler: (...a: any[]) => void): void { this.#on.states.delete(handler); }

  #emitError(error: MessagingError): void { this.#on.error(error); }

}

function serverErrorOf(p: any): MessagingError {
  return { type: String(p?.errorType ?? 'UNKNOWN'), details: String(p?.details ?? ''), code: 'ERR_REJECTED' };
}

function checkFn<T>(fn: T): T {
  if (typeof fn !== 'function') throw new TypeError('handler must be a function');
  return fn;
}
