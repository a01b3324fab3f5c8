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
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { equalBytes, randomBytes, textDecoder } from '../util/bytes.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import { relayError, type RelayError } from '../util/errors.js';
import { WebSocketImpl } from '../transport/ws-impl.js';
import { openMlKemAes, sealMlKemAes, ML_KEM_AES } from './ml-kem-aes.js';
import { PendingRequests, type Frame } from './requests.js';
import { fastStringify } from '../signaling/fast-json.js';
import { encodeText } from './text.js';
import { RELAYMESH_IM, SecureSessions, secureEnvelopeJson } from './secure-envelope.js';

const debug = debugFactory('relaymesh:messaging');
/** Peers whose keys are pinned at once. */
const MAX_PINS = 10_000;

export type Message = Frame;
export type ConnectionState = 'connected' | 'disconnected' | 'reconnecting';
export interface MessageInfo { algorithm: string; authenticated: boolean }
export interface MessagingError { type: string; details: string; code?: string }

export interface MessagingPeerConfig {
  serverUrl: string;
  clientId: string;
  /** ML-KEM-768 public key (1184 bytes), see generateKeyPair(). */
  publicKey: Uint8Array;
  /** The matching ML-KEM-768 secret key; without it incoming messages cannot be decrypted. */
  secretKey?: Uint8Array;
  /** 32-byte seed of this client's ML-DSA-65 signing key; keep it to keep the identity peers pinned. Random if omitted. */
  signingSeed?: Uint8Array;
  /** Reconnection backoff (defaults: the seed's 1 s doubling, capped at 30 s, 10 attempts). */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** Frames kept while reconnecting (default 1000). */
  maxQueued?: number;
  /** Requests in flight (default 1024). */
  maxPending?: number;
}

interface PeerKeys { publicKey: Uint8Array; signingKey: Uint8Array | null; secure: boolean }
interface SendOptions { timeout?: number; errorHandler?: (error: any) => void; retryCount?: number; filterFn?: (message: Message) => boolean }

export class MessagingPeer {
  readonly config: Readonly<MessagingPeerConfig>;
  readonly #dsa: { publicKey: Uint8Array; secretKey: Uint8Array };
  readonly #proof: Record<string, string>;
  readonly #secure: SecureSessions | null;
  readonly #requests: PendingRequests;
  readonly #outbox: { frame: string; id?: string }[] = [];
  readonly #keys = new Map<string, PeerKeys>();
  readonly #pins = new Map<string, { publicKey: Uint8Array; signingKey: Uint8Array | null }>();
  readonly #inbound = new Map<string, Promise<void>>();
  readonly #messageHandlers = new Set<(message: any, fromId: string, info: MessageInfo) => void>();
  readonly #questionHandlers = new Set<(question: any, questionId: string) => void>();
  readonly #errorHandlers = new Set<(error: MessagingError) => void>();
  readonly #disconnectHandlers = new Set<(peerId: string) => void>();
  readonly #stateHandlers = new Set<(state: ConnectionState) => void>();
  #ws: WebSocket | null = null;
  #registered = false;
  #wanted = false;
  /** disconnect() was called, or connecting failed for good: sends fail instead of queueing. */
  #stopped = false;
  #attempts = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  connectedPeers = new Set<string>();

  constructor(config: MessagingPeerConfig) {
    if (!config || typeof config !== 'object') throw new TypeError('config must be an object');
    if (typeof config.serverUrl !== 'string' || !/^wss?:\/\//.test(config.serverUrl)) throw new TypeError('config.serverUrl must be a ws:// or wss:// URL');
    if (typeof config.clientId !== 'string' || config.clientId.length === 0 || config.clientId.length > 128) throw new TypeError('config.clientId must be a string of 1 to 128 characters');
    if (!(config.publicKey instanceof Uint8Array) || config.publicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw new TypeError('config.publicKey must be a 1184-byte ML-KEM-768 public key');
    if (config.secretKey !== undefined && !(config.secretKey instanceof Uint8Array)) throw new TypeError('config.secretKey must be a Uint8Array');
    if (config.signingSeed !== undefined && (!(config.signingSeed instanceof Uint8Array) || config.signingSeed.length !== 32)) throw new TypeError('config.signingSeed must be 32 bytes');
    this.config = { ...config };
    this.#dsa = ml_dsa65.keygen(config.signingSeed ?? randomBytes(32));
    this.#proof = {
      algorithm: 'ml-dsa',
      serializedSignedData: encodeBase64(ml_dsa65.sign(config.publicKey, this.#dsa.secretKey)),
      serializedPublicKey: encodeBase64(this.#dsa.publicKey),
      serializedMessage: encodeBase64(config.publicKey),
    };
    this.#secure = config.secretKey
      ? new SecureSessions(config.clientId, { dsaSecretKey: this.#dsa.secretKey, kemPublicKey: config.publicKey, kemSecretKey: config.secretKey }, { maxInbound: 1024, maxSeenSids: 65536 })
      : null;
    this.#requests = new PendingRequests(config.maxPending ?? 1024);
  }

  /** True while connected and registered. */
  get isConnected(): boolean { return this.#registered; }

  // ------------------------------------------------------------ connection

  /** Connects to the signaling server and registers; resolves when registered. */
  async connect(): Promise<void> {
    if (this.#registered) return;
    this.#wanted = true;
    this.#stopped = false;
    this.#attempts = 0;
    await this.#open(true);
  }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void {
    this.#wanted = false;
    this.#stopped = true;
    this.#outbox.length = 0;
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    const ws = this.#ws;
    this.#ws = null;
    this.#registered = false;
    this.connectedPeers.clear();
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try { ws.close(); } catch { /* already closed */ }
      this.#notifyState('disconnected');
    }
    this.#requests.rejectAll(relayError('ERR_NOT_CONNECTED', 'disconnected'));
  }

  #open(first: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocketImpl(this.config.serverUrl);
      } catch (err) {
        reject(relayError('ERR_CONNECT_FAILED', (err as Error).message));
        return;
      }
      this.#ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.registerAndWait().then(() => {
          if (this.#ws !== ws) return;
          this.#attempts = 0;
          this.#flushOutbox();
          this.#notifyState('connected');
          resolve();
        }, (err: RelayError) => {
          this.#emitError({ type: 'REGISTRATION_FAILED', details: err.message, code: err.code });
          if (first) { this.#wanted = false; this.disconnect(); }
          else try { ws.close(); } catch { /* closed */ }
          reject(err);
        });
      };
      ws.onmessage = (ev: MessageEvent) => this.#onFrame(ev.data);
      ws.onerror = () => { /* a close follows */ };
      ws.onclose = () => {
        if (this.#ws !== ws) return;
        this.#ws = null;
        const wasRegistered = this.#registered;
        this.#registered = false;
        this.connectedPeers.clear();
        this.#requests.rejectSent(relayError('ERR_NOT_CONNECTED', 'the connection closed before the answer'));
        if (first && !opened) {
          this.#wanted = false;
          this.#stopped = true;
          reject(relayError('ERR_CONNECT_FAILED', `could not connect to ${this.config.serverUrl}`));
          return;
        }
        if (wasRegistered) this.#notifyState('disconnected');
        this.#scheduleReconnect();
      };
    });
  }

  #scheduleReconnect(): void {
    if (!this.#wanted || this.#timer) return;
    const r = this.config.reconnect ?? {};
    const max = r.maxAttempts ?? 10;
    if (this.#attempts >= max) {
      this.#wanted = false;
      this.#stopped = true;
      this.#emitError({ type: 'CONNECTION_LOST', details: `gave up after ${max} reconnection attempts`, code: 'ERR_NOT_CONNECTED' });
      this.#requests.rejectAll(relayError('ERR_NOT_CONNECTED', 'connection lost'));
      this.#outbox.length = 0;
      this.#notifyState('disconnected');
      return;
    }
    const delay = Math.min((r.baseDelayMs ?? 1000) * 2 ** this.#attempts, r.maxDelayMs ?? 30_000);
    this.#attempts++;
    this.#notifyState('reconnecting');
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#wanted) this.#open(false).catch(() => undefined);
    }, delay);
  }

  // ------------------------------------------------------------ requests

  /** Sends a register frame without waiting for the answer. */
  register(): void {
    this.#write(JSON.stringify(this.#registerFrame()), true);
  }

  /** Registers and resolves when the server confirms. */
  async registerAndWait(): Promise<void> {
    await this.#request(this.#registerFrame(), 'register', { timeout: 10_000 }, true);
    this.#registered = true;
  }

  async discoverPeers(): Promise<string[]> {
    const res = await this.sendToServerAndWait<{ peers: string[] }>({ type: 'discover', payload: {} }, 'discover');
    const peers = Array.isArray(res?.peers) ? res.peers.filter((p): p is string => typeof p === 'string') : [];
    this.connectedPeers = new Set(peers);
    return peers;
  }

  /** The peer's ML-KEM public key, as the server reports it (checked against the pin). */
  async requestPublicKey(peerId: string): Promise<Uint8Array> {
    return (await this.#fetchKeys(peerId)).publicKey;
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
        if (!this.#wanted && !urgent) break;
      }
    }
    throw last!;
  }

  #registerFrame(): Message {
    return {
      type: 'register',
      payload: { clientId: this.config.clientId, publicKey: Array.from(this.config.publicKey), verification: this.#proof, capabilities: [RELAYMESH_IM] },
    };
  }

  // ------------------------------------------------------------ messages

  /** Encrypts `message` to `targetId` and sends it (queued while reconnecting). */
  async sendMessage(targetId: string, message: string): Promise<void> {
    if (typeof targetId !== 'string' || !targetId) throw new TypeError('targetId must be a non-empty string');
    if (typeof message !== 'string') throw new TypeError('message must be a string');
    const keys = this.#keys.get(targetId) ?? await this.#fetchKeys(targetId);
    const pt = encodeText(message);
    const json = keys.secure && this.#secure
      ? secureEnvelopeJson(this.#secure.seal(targetId, keys.publicKey, pt))
      : fastStringify(sealMlKemAes(pt, keys.publicKey));
    this.#write(`{"type":"message","payload":{"targetId":${JSON.stringify(targetId)},"message":${json}}}`);
  }

  async #fetchKeys(peerId: string): Promise<PeerKeys> {
    const cached = this.#keys.get(peerId);
    if (cached) return cached;
    const res = await this.sendToServerAndWait<any>({ type: 'request_public_key', payload: { targetId: peerId } }, 'public_key_response', {
      filterFn: (m) => m.payload?.peerId === peerId,
    });
    const publicKey = Array.isArray(res?.publicKey) ? new Uint8Array(res.publicKey) : null;
    if (!publicKey || publicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw relayError('ERR_BAD_KEYS', `server sent a malformed key for ${peerId}`);
    let signingKey: Uint8Array | null = null;
    try { signingKey = typeof res.signingKey === 'string' ? decodeBase64(res.signingKey) : null; } catch { signingKey = null; }
    const caps: unknown[] = Array.isArray(res.capabilities) ? res.capabilities : [];
    const pin = this.#pins.get(peerId);
    if (pin && (!equalBytes(pin.publicKey, publicKey) || (pin.signingKey && (!signingKey || !equalBytes(pin.signingKey, signingKey))))) {
      const err = relayError('ERR_KEY_CHANGED', `the keys of ${peerId} changed since first use; refusing them (forgetPeerKeys to accept)`, { peerId });
      this.#emitError({ type: 'KEY_CHANGED', details: err.message, code: err.code });
      throw err;
    }
    if (!pin) {
      this.#pins.set(peerId, { publicKey, signingKey });
      // Bounded: past MAX_PINS the oldest pin is forgotten (that peer is trusted on next use again).
      if (this.#pins.size > MAX_PINS) this.#pins.delete(this.#pins.keys().next().value as string);
    }
    const keys: PeerKeys = { publicKey, signingKey, secure: signingKey !== null && caps.includes(RELAYMESH_IM) };
    this.#keys.set(peerId, keys);
    if (this.#keys.size > 4096) this.#keys.delete(this.#keys.keys().next().value as string);
    return keys;
  }

  /** Forgets the pinned keys of `peerId` (accept a new key after checking it out of band). */
  forgetPeerKeys(peerId: string): void {
    this.#pins.delete(peerId);
    this.#keys.delete(peerId);
    this.#secure?.reset(peerId);
  }

  #onMessageFrame(payload: any): void {
    const fromId = payload?.fromId;
    const env = payload?.message;
    if (typeof fromId !== 'string') return this.#emitError({ type: 'INVALID_MESSAGE', details: 'message frame without fromId', code: 'ERR_MALFORMED_FRAME' });
    if (!this.config.secretKey) return this.#emitError({ type: 'DECRYPT_FAILED', details: 'no secretKey in the config', code: 'ERR_DECRYPT_FAILED' });
    if (env?.algorithm === ML_KEM_AES) {
      const pt = openMlKemAes(env, this.config.secretKey);
      return this.#deliver(pt, fromId, { algorithm: ML_KEM_AES, authenticated: false });
    }
    if (env?.algorithm !== RELAYMESH_IM || !this.#secure) {
      return this.#emitError({ type: 'DECRYPT_FAILED', details: `unsupported algorithm from ${fromId}`, code: 'ERR_DECRYPT_FAILED' });
    }
    // One chain per sender keeps its messages in order while a key is fetched.
    const secure = this.#secure;
    if (!this.#inbound.has(fromId)) {
      let pt: Uint8Array | undefined;
      try {
        pt = secure.openKnown(fromId, env);
      } catch (err) {
        const e = err as RelayError;
        return this.#emitError({ type: e.code === 'ERR_REPLAY' ? 'REPLAY' : 'DECRYPT_FAILED', details: e.message, code: e.code });
      }
      if (pt) return this.#deliver(pt, fromId, { algorithm: RELAYMESH_IM, authenticated: true });
    }
    const prev = this.#inbound.get(fromId) ?? Promise.resolve();
    const next = prev.then(() => secure.open(fromId, env, async (id) => {
      const k = await this.#fetchKeys(id);
      if (!k.signingKey) throw relayError('ERR_INVALID_PROOF', `${id} has no signing key`);
      return k.signingKey;
    })).then(
      (pt) => this.#deliver(pt, fromId, { algorithm: RELAYMESH_IM, authenticated: true }),
      (err: RelayError) => this.#emitError({ type: err.code === 'ERR_REPLAY' ? 'REPLAY' : 'DECRYPT_FAILED', details: err.message, code: err.code }),
    );
    this.#inbound.set(fromId, next);
    next.then(() => { if (this.#inbound.get(fromId) === next) this.#inbound.delete(fromId); });
  }

  #deliver(pt: Uint8Array | null, fromId: string, info: MessageInfo): void {
    let text: string;
    try {
      if (!pt) throw new Error('failed');
      text = textDecoder.decode(pt);
    } catch {
      return this.#emitError({ type: 'DECRYPT_FAILED', details: `a message from ${fromId} could not be decrypted`, code: 'ERR_DECRYPT_FAILED' });
    }
    for (const h of this.#messageHandlers) this.#call(() => h(text, fromId, info));
  }

  // ------------------------------------------------------------ frames

  #onFrame(data: unknown): void {
    let frame: Frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : textDecoder.decode(data as Uint8Array));
      if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') throw new Error('not a frame');
    } catch {
      return this.#emitError({ type: 'INVALID_MESSAGE', details: 'the server sent a frame that is not {type, payload}', code: 'ERR_MALFORMED_FRAME' });
    }
    if (this.#requests.offer(frame)) return;
    const p = frame.payload;
    switch (frame.type) {
      case 'message': return this.#onMessageFrame(p);
      case 'peer_disconnected': {
        const peerId = p?.peerId;
        if (typeof peerId !== 'string') return;
        this.connectedPeers.delete(peerId);
        this.#keys.delete(peerId);
        this.#secure?.reset(peerId);
        for (const h of this.#disconnectHandlers) this.#call(() => h(peerId));
        return;
      }
      case 'server_question':
        for (const h of this.#questionHandlers) this.#call(() => h(p?.question, p?.questionId));
        return;
      case 'error':
        return this.#emitError({ type: String(p?.errorType ?? 'UNKNOWN'), details: String(p?.details ?? ''), code: 'ERR_REJECTED' });
      default:
        debug('unsolicited %s frame ignored', frame.type);
    }
  }

  /** Sends now (true) or queues for after (re-)registration (false). */
  #write(frame: string, urgent = false, id?: string): boolean {
    const ws = this.#ws;
    if (ws && ws.readyState === 1 && (this.#registered || urgent)) {
      ws.send(frame);
      return true;
    }
    if (urgent) return false; // a register frame is re-sent on the next connection anyway
    if (this.#stopped) throw relayError('ERR_NOT_CONNECTED', 'disconnected; call connect() first');
    const max = this.config.maxQueued ?? 1000;
    if (this.#outbox.length >= max) throw relayError('ERR_QUEUE_FULL', `${max} frames already wait for the connection`);
    this.#outbox.push({ frame, id });
    return false;
  }

  #flushOutbox(): void {
    const ws = this.#ws;
    while (ws && ws.readyState === 1 && this.#outbox.length > 0) {
      const { frame, id } = this.#outbox.shift()!;
      ws.send(frame);
      if (id) this.#requests.markSent(id);
    }
  }

  // ------------------------------------------------------------ handlers

  onMessage(handler: (message: any, fromId: string, info: MessageInfo) => void): void { this.#messageHandlers.add(checkFn(handler)); }
  onServerQuestion(handler: (question: any, questionId: string) => void): void { this.#questionHandlers.add(checkFn(handler)); }
  onError(handler: (error: MessagingError) => void): void { this.#errorHandlers.add(checkFn(handler)); }
  onPeerDisconnected(handler: (peerId: string) => void): void { this.#disconnectHandlers.add(checkFn(handler)); }
  onConnectionStateChange(handler: (state: ConnectionState) => void): void { this.#stateHandlers.add(checkFn(handler)); }
  removeMessageHandler(handler: (...a: any[]) => void): void { this.#messageHandlers.delete(handler); }
  removeErrorHandler(handler: (...a: any[]) => void): void { this.#errorHandlers.delete(handler); }
  removePeerDisconnectedHandler(handler: (...a: any[]) => void): void { this.#disconnectHandlers.delete(handler); }
  removeConnectionStateHandler(handler: (...a: any[]) => void): void { this.#stateHandlers.delete(handler); }

  #emitError(error: MessagingError): void {
    debug('%s: %s', error.type, error.details);
    for (const h of this.#errorHandlers) this.#call(() => h(error), false);
  }

  #notifyState(state: ConnectionState): void {
    for (const h of this.#stateHandlers) this.#call(() => h(state));
  }

  /** Application handlers never break the client. */
  #call(fn: () => void, report = true): void {
    try {
      fn();
    } catch (err) {
      debug('handler threw: %s', (err as Error)?.message);
      if (report) this.#emitError({ type: 'HANDLER_ERROR', details: String((err as Error)?.message ?? err) });
    }
  }
}

function checkFn<T>(fn: T): T {
  if (typeof fn !== 'function') throw new TypeError('handler must be a function');
  return fn;
}
