/**
 * SignalingCore: the dialect-neutral signaling server of one node. It holds the
 * registry of local clients (each with a `send(event)` sink supplied by its
 * dialect), publishes them to the mesh as signed rosters (mesh-records.ts),
 * routes client-to-client messages and key requests to a client's home node
 * over Channel.SIGNALING, answers discover, asks clients questions, and
 * enforces the auth hook and limits. Dialects (dialect-im.ts; later Connector
 * and protoo) only translate frames to calls on this class.
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { randomBytes, textDecoder, textEncoder, toBase64, toHex, fromBase64 } from '../bytes.js';
import { relayError, type ErrorCode, type RelayError } from '../errors.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import { sha256 } from '../crypto/hash.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import type { PeerRelay } from '../node/peer-relay.js';
import { MAX_CLIENT_ID_LENGTH, RosterStore, signRoster, type RosterRecord } from './mesh-records.js';
import { resolveLimits, type SignalingLimits } from './limits.js';
import { fastStringify } from './fast-json.js';

const debug = debugFactory('relaymesh:signaling');
/** Channel.SIGNALING (kept local to avoid an import cycle with peer-relay.ts). */
const SIGNALING = 4;
const MAX_BATCH_ITEMS = 256;
const MAX_BATCH_CHARS = 1024 * 1024;

/** What the core asks a dialect to deliver to one client. */
export type ClientEvent =
  | { kind: 'message'; fromId: string; message: unknown; /** The message as JSON text, when the core already has it (saves a re-encode). */ messageJson?: string }
  | { kind: 'peer_disconnected'; peerId: string }
  | { kind: 'question'; questionId: string; question: unknown }
  | { kind: 'error'; errorType: string; details: string };

/** A dialect's handle on one client connection. */
export interface ClientSink {
  readonly remoteAddress: string;
  readonly dialect: string;
  send(event: ClientEvent): void;
}

/** An ML-DSA-65 proof that the registrant holds `signingKey` and signed `message`. */
export interface RegistrationProof { signingKey: Uint8Array; signature: Uint8Array; message: Uint8Array }

export interface RegistrationRequest {
  clientId: string;
  publicKey: Uint8Array;
  proof: RegistrationProof | null;
  capabilities: string[];
  /** A client without keys (Connector, protoo): publicKey must be empty and proof null; request_public_key for it fails. */
  keyless?: boolean;
}

export interface ClientInfo {
  clientId: string;
  publicKey: Uint8Array;
  /** The verified ML-DSA-65 key of the registration proof, or null for the unverified form. */
  signingKey: Uint8Array | null;
  capabilities: string[];
  remoteAddress: string;
  dialect: string;
  registeredAt: number;
}

/** Return true to accept; false or a reason string to reject (the client gets REJECTED). */
export type Authorizer = (req: ClientInfo) => boolean | string | Promise<boolean | string>;
/** An application request handler for a custom frame type; returns the answer. */
export type RequestHandler = (client: ClientInfo | null, payload: unknown) => { type: string; payload: unknown } | Promise<{ type: string; payload: unknown }>;

export interface KeyInfo { peerId: string; publicKey: Uint8Array; signingKey: Uint8Array | null; capabilities: string[] }

export interface SignalingOptions extends Partial<SignalingLimits> {
  /** Accept registrations without the ML-DSA proof (the client's older form). Default false. */
  allowUnverified?: boolean;
  authorize?: Authorizer;
}

export interface SignalingEvents {
  registration: [info: ClientInfo];
  departure: [info: ClientInfo];
  /** A client answered a question nobody awaits (e.g. after debug_question). */
  response: [clientId: string, questionId: string, response: unknown];
  /** Client ids that left, local or remote (rooms drop them). */
  gone: [ids: string[]];
}

interface Local { info: ClientInfo; sink: ClientSink; questions: Map<string, Question> }
interface Question { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> | null; awaited: boolean }
interface Pending { resolve: (k: KeyInfo) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout>; home: string }

type MeshMessage =
  | { t: 'roster'; r: RosterRecord }
  | { t: 'msg'; to: string; from: string; m: unknown; mj?: string }
  | { t: 'nf'; to: string; from: string }
  | { t: 'keyreq'; rid: string; to: string }
  | { t: 'keyres'; rid: string; id: string; pk?: string; sk?: string | null; caps?: string[] };

const ERROR_CODE: Record<string, ErrorCode> = {
  INVALID_MESSAGE: 'ERR_MALFORMED_FRAME', CLIENT_ID_TAKEN: 'ERR_CLIENT_ID_TAKEN', PEER_NOT_FOUND: 'ERR_PEER_NOT_FOUND',
  INVALID_PUBLIC_KEY: 'ERR_BAD_KEYS', REGISTRATION_REQUIRED: 'ERR_NOT_CONNECTED', INVALID_PROOF: 'ERR_INVALID_PROOF',
  RATE_LIMITED: 'ERR_RATE_LIMITED', REJECTED: 'ERR_REJECTED', LIMIT_REACHED: 'ERR_QUEUE_FULL', TIMEOUT: 'ERR_TIMEOUT',
};

/** A refusal the dialect shows the client as an error frame of type `errorType`. */
export function signalingError(errorType: string, details: string): RelayError {
  return relayError(ERROR_CODE[errorType] ?? 'ERR_REJECTED', details, { errorType });
}

export class SignalingCore extends EventEmitter<SignalingEvents> {
  readonly node: PeerRelay;
  readonly limits: SignalingLimits;
  readonly allowUnverified: boolean;
  authorize: Authorizer | null;
  readonly #clients = new Map<string, Local>();
  readonly #bySink = new Map<ClientSink, Local>();
  /** Sinks whose connection closed: a registration still in the auth hook must not complete. */
  readonly #closedSinks = new WeakSet<ClientSink>();
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #reserved = new Map<string, { key: string; until: number }>();
  readonly #pending = new Map<string, Pending>();
  readonly #rosterSentTo = new Map<string, number>();
  readonly #store: RosterStore;
  readonly #dropped: Record<string, number> = {};
  readonly #meshTypes = new Map<string, (msg: Record<string, unknown>, fromHex: string) => void>();
  /** Client messages per home node waiting for the end of this tick, sent as one mesh message. */
  readonly #batches = new Map<string, { items: string[]; chars: number }>();
  #own: RosterRecord | null = null;
  #dirty = false;
  #publishTimer: ReturnType<typeof setTimeout> | null = null;
  #refreshTimer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(node: PeerRelay, opts: SignalingOptions = {}) {
    super();
    this.node = node;
    this.limits = resolveLimits(opts);
    this.allowUnverified = opts.allowUnverified === true;
    this.authorize = opts.authorize ?? null;
    this.#store = new RosterStore(node.identity.idHex, {
      maxHomes: this.limits.maxHomes, maxIdsPerRoster: this.limits.maxClients,
      maxRemoteIds: this.limits.maxRemoteIds, maxTtlMs: this.limits.rosterTtlMs * 2,
    });
    node.registerChannel(SIGNALING, (payload, from) => this.#onMesh(payload, from));
    node.on('peer', (id) => this.#greet(id));
    node.once('close', () => this.close());
    this.#refreshTimer = setInterval(() => this.#refresh(), Math.max(50, this.limits.rosterTtlMs / 3));
    this.#refreshTimer.unref?.();
  }

  // ------------------------------------------------------------ application API

  /** Currently registered local clients. */
  clients(): ClientInfo[] { return [...this.#clients.values()].map((l) => l.info); }

  /** Counts of dropped remote inputs, by reason. */
  stats(): { clients: number; remoteClients: number; homes: number; dropped: Record<string, number> } {
    return { clients: this.#clients.size, remoteClients: this.#store.size, homes: this.#store.homes, dropped: { ...this.#dropped } };
  }

  /** Serves a custom frame type (dialects route unknown types here). */
  addHandler(type: string, fn: RequestHandler): void {
    if (typeof type !== 'string' || !type) throw new TypeError('type must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    this.#handlers.set(type, fn);
  }

  handler(type: string): RequestHandler | undefined { return this.#handlers.get(type); }

  /**
   * Asks local client `clientId` a question; resolves with its answer. Call
   * again with a follow-up for multi-round conversations.
   */
  ask(clientId: string, question: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    const timeoutMs = opts.timeoutMs ?? this.limits.questionTimeoutMs;
    if (!(timeoutMs > 0)) throw new RangeError('opts.timeoutMs must be a positive number');
    const local = this.#clients.get(clientId);
    if (!local) return Promise.reject(signalingError('PEER_NOT_FOUND', `no local client ${clientId}`));
    return this.#ask(local, question, timeoutMs, true, opts.signal);
  }

  /** Sends a question nobody awaits (debug_question); the answer is emitted as 'response'. */
  askUnawaited(sink: ClientSink, question: unknown): boolean {
    const local = this.#bySink.get(sink);
    if (!local) return false;
    this.#ask(local, question, this.limits.questionTimeoutMs, false).catch(() => undefined);
    return true;
  }

  #ask(local: Local, question: unknown, timeoutMs: number, awaited: boolean, signal?: AbortSignal): Promise<unknown> {
    if (local.questions.size >= this.limits.maxQuestionsPerClient) {
      return Promise.reject(signalingError('LIMIT_REACHED', `${local.info.clientId} has ${local.questions.size} open questions`));
    }
    if (signal?.aborted) return Promise.reject(relayError('ERR_TIMEOUT', 'aborted'));
    const questionId = toHex(randomBytes(8));
    return new Promise((resolve, reject) => {
      const done = () => {
        if (q.timer) clearTimeout(q.timer);
        signal?.removeEventListener('abort', onAbort);
        local.questions.delete(questionId);
      };
      const onAbort = () => { done(); reject(relayError('ERR_TIMEOUT', 'aborted')); };
      const q: Question = {
        awaited,
        resolve: (v) => { done(); resolve(v); },
        reject: (e) => { done(); reject(e); },
        timer: setTimeout(() => q.reject(relayError('ERR_TIMEOUT', `no answer from ${local.info.clientId} in ${timeoutMs} ms`)), timeoutMs),
      };
      q.timer!.unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      local.questions.set(questionId, q);
      local.sink.send({ kind: 'question', questionId, question });
    });
  }

  // ------------------------------------------------------------ dialect API

  /** Registers (or re-registers) the client behind `sink`. Rejects with a signalingError. */
  async register(sink: ClientSink, req: RegistrationRequest): Promise<ClientInfo> {
    if (this.#closed) throw signalingError('INTERNAL_ERROR', 'server is closing');
    const { clientId, publicKey, proof } = req;
    if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) {
      throw signalingError('INVALID_MESSAGE', `clientId must be a string of 1 to ${MAX_CLIENT_ID_LENGTH} characters`);
    }
    if (req.keyless) {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== 0 || proof) throw signalingError('INVALID_MESSAGE', 'a keyless registration has no key and no proof');
    } else {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEM_PUBLIC_KEY_LENGTH) {
        throw signalingError('INVALID_PUBLIC_KEY', `publicKey must be ${KEM_PUBLIC_KEY_LENGTH} bytes (ML-KEM-768)`);
      }
      if (!proof && !this.allowUnverified) throw signalingError('INVALID_PROOF', 'registration needs an ml-dsa verification');
      if (proof && !verifyProof(publicKey, proof)) throw signalingError('INVALID_PROOF', 'the ml-dsa proof does not verify or does not sign the registered key');
    }
    const info: ClientInfo = {
      clientId, publicKey, signingKey: proof ? proof.signingKey : null, capabilities: req.capabilities.slice(0, 16),
      remoteAddress: sink.remoteAddress, dialect: sink.dialect, registeredAt: Date.now(),
    };
    this.#checkFree(sink, info);
    if (this.authorize) {
      let verdict: boolean | string;
      try {
        verdict = await this.authorize(info);
      } catch (err) {
        debug('authorize threw: %s', (err as Error).message);
        verdict = 'authorization failed';
      }
      if (verdict !== true) throw signalingError('REJECTED', typeof verdict === 'string' ? verdict : 'registration rejected');
      if (this.#closedSinks.has(sink) || this.#closed) throw signalingError('INTERNAL_ERROR', 'the connection closed during registration');
      this.#checkFree(sink, info);
    }
    const previous = this.#bySink.get(sink);
    if (previous && previous.info.clientId !== clientId) this.#release(sink);
    const local: Local = { info, sink, questions: previous?.info.clientId === clientId ? previous.questions : new Map() };
    this.#clients.set(clientId, local);
    this.#bySink.set(sink, local);
    this.#reserved.delete(clientId);
    if (!previous || previous.info.clientId !== clientId) this.#changed();
    this.emit('registration', info);
    return info;
  }

  #checkFree(sink: ClientSink, info: ClientInfo): void {
    const { clientId } = info;
    const holder = this.#clients.get(clientId);
    if (holder && holder.sink !== sink) throw signalingError('CLIENT_ID_TAKEN', `${clientId} is registered by another connection`);
    if (!holder && this.#store.homeOf(clientId)) throw signalingError('CLIENT_ID_TAKEN', `${clientId} is registered on another node`);
    const r = this.#reserved.get(clientId);
    if (r && r.until > Date.now() && (!info.signingKey || r.key !== keyTag(info.signingKey))) {
      throw signalingError('CLIENT_ID_TAKEN', `${clientId} is reserved for its previous owner's signing key`);
    }
    if (!holder && this.#clients.size >= this.limits.maxClients) throw signalingError('LIMIT_REACHED', `this node holds ${this.limits.maxClients} clients`);
  }

  /** The client behind `sink` left (connection closed). */
  unregister(sink: ClientSink): void {
    this.#closedSinks.add(sink);
    this.#release(sink);
  }

  /** Drops the registration behind `sink` (it left, or re-registered under another id). */
  #release(sink: ClientSink): void {
    const local = this.#bySink.get(sink);
    if (!local) return;
    this.#bySink.delete(sink);
    const { clientId, signingKey } = local.info;
    if (this.#clients.get(clientId) === local) this.#clients.delete(clientId);
    for (const q of local.questions.values()) q.reject(signalingError('PEER_NOT_FOUND', `${clientId} left`));
    if (signingKey) {
      this.#reserved.set(clientId, { key: keyTag(signingKey), until: Date.now() + this.limits.idReserveMs });
      while (this.#reserved.size > this.limits.maxReservations) this.#reserved.delete(this.#reserved.keys().next().value as string);
    }
    this.#notifyDeparted([clientId]);
    this.#changed();
    this.emit('departure', local.info);
  }

  clientOf(sink: ClientSink): ClientInfo | null { return this.#bySink.get(sink)?.info ?? null; }

  /** Local ids first, then mesh-wide ones, at most maxDiscover. */
  discover(): string[] {
    const out = [...this.#clients.keys()].slice(0, this.limits.maxDiscover);
    return out.concat(this.#store.ids(this.limits.maxDiscover - out.length));
  }

  /** The registered keys of `targetId`, asked of its home node if it is remote. */
  publicKey(targetId: string): Promise<KeyInfo> {
    const local = this.#clients.get(targetId);
    if (local?.info.publicKey.length === 0) return Promise.reject(signalingError('PEER_NOT_FOUND', `${targetId} registered no key`));
    if (local) return Promise.resolve(keyInfo(local.info));
    const home = typeof targetId === 'string' ? this.#store.homeOf(targetId) : undefined;
    if (!home) return Promise.reject(signalingError('PEER_NOT_FOUND', `no client ${String(targetId)}`));
    if (this.#pending.size >= this.limits.maxRemoteRequests) return Promise.reject(signalingError('LIMIT_REACHED', 'too many remote requests'));
    const rid = toHex(randomBytes(8));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(signalingError('PEER_NOT_FOUND', `home node of ${targetId} did not answer`));
      }, this.limits.remoteTimeoutMs);
      timer.unref?.();
      this.#pending.set(rid, { resolve, reject, timer, home });
      this.#sendMesh(home, { t: 'keyreq', rid, to: targetId });
    });
  }

  /** Relays an opaque client message; throws PEER_NOT_FOUND for an unknown target. */
  relay(sink: ClientSink, targetId: string, message: unknown): void {
    const from = this.#bySink.get(sink);
    if (!from) throw signalingError('REGISTRATION_REQUIRED', 'register before sending messages');
    const local = this.#clients.get(targetId);
    if (local) {
      local.sink.send({ kind: 'message', fromId: from.info.clientId, message });
      return;
    }
    const home = this.#store.homeOf(targetId);
    if (!home) throw signalingError('PEER_NOT_FOUND', `no client ${targetId}`);
    this.#sendMesh(home, { t: 'msg', to: targetId, from: from.info.clientId, m: message });
  }

  /** A client's answer to a question; false if no such question is open. */
  answer(sink: ClientSink, questionId: unknown, response: unknown): boolean {
    const local = this.#bySink.get(sink);
    const q = typeof questionId === 'string' ? local?.questions.get(questionId) : undefined;
    if (!local || !q) return false;
    if (!q.awaited) this.emit('response', local.info.clientId, questionId as string, response);
    q.resolve(response);
    return true;
  }

  /** Stops timers and forgets everything (the node is closing). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#refreshTimer);
    if (this.#publishTimer) clearTimeout(this.#publishTimer);
    for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(relayError('ERR_DESTROYED')); }
    this.#pending.clear();
    for (const sink of [...this.#bySink.keys()]) this.unregister(sink);
  }

  // ------------------------------------------------------------ extension API (rooms.ts)

  /** The sink of local client `clientId`. */
  sinkOf(clientId: string): ClientSink | undefined { return this.#clients.get(clientId)?.sink; }

  /** The home node (hex id) of a client: this node for local clients, else from the rosters. */
  homeOf(clientId: string): string | undefined {
    return this.#clients.has(clientId) ? this.node.identity.idHex : this.#store.homeOf(clientId);
  }

  /** Other nodes known to hold clients (from their rosters). */
  knownHomes(): string[] { return this.#store.records().map((r) => r.home); }

  /** Sends an extension message (`t` not used by the core) to node `hex` over Channel.SIGNALING. */
  sendMesh(hex: string, msg: { t: string } & Record<string, unknown>): void { this.#sendMesh(hex, msg as never); }

  /** Receives extension messages of type `t` (remote input: the handler must not throw). */
  onMeshType(t: string, fn: (msg: Record<string, unknown>, fromHex: string) => void): void { this.#meshTypes.set(t, fn); }

  // ------------------------------------------------------------ mesh side

  #count(reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
    debug('dropped: %s', reason);
  }

  #sendMesh(toHex_: string, msg: MeshMessage): void {
    if (this.#closed || this.node.destroyed) return;
    try {
      if (msg.t !== 'roster') this.#rosterTo(toHex_);
      // A client message travels as `{"t":"msg",to,from}\n<message JSON>` so the home node
      // can hand the JSON text to the dialect without re-encoding it.
      if (msg.t === 'msg') return this.#batch(toHex_, `${JSON.stringify({ t: 'msg', to: msg.to, from: msg.from })}\n${fastStringify(msg.m)}`);
      this.node.sendOnChannel(fromHexId(toHex_), SIGNALING, textEncoder.encode(JSON.stringify(msg)));
    } catch (err) {
      this.#count('send_failed');
      debug('send to %s failed: %s', toHex_.slice(0, 8), (err as Error).message);
    }
  }

  /**
   * Client messages to one home node in the same tick travel together:
   * `{"t":"batch","lens":[..]}\n` then the messages back to back (lens in
   * UTF-16 code units), which saves a sealed mesh message per client message.
   */
  #batch(dest: string, text: string): void {
    let b = this.#batches.get(dest);
    if (b && b.chars + text.length > MAX_BATCH_CHARS) {
      this.#flushBatch(dest);
      b = undefined;
    }
    if (!b) {
      b = { items: [], chars: 0 };
      this.#batches.set(dest, b);
      queueMicrotask(() => this.#flushBatch(dest));
    }
    b.items.push(text);
    b.chars += text.length;
    if (b.items.length >= MAX_BATCH_ITEMS) this.#flushBatch(dest);
  }

  #flushBatch(dest: string): void {
    const b = this.#batches.get(dest);
    if (!b) return;
    this.#batches.delete(dest);
    if (this.#closed || this.node.destroyed) return;
    const text = b.items.length === 1 ? b.items[0] : `${JSON.stringify({ t: 'batch', lens: b.items.map((i) => i.length) })}\n${b.items.join('')}`;
    try {
      this.node.sendOnChannel(fromHexId(dest), SIGNALING, textEncoder.encode(text));
    } catch (err) {
      this.#count('send_failed');
      debug('send to %s failed: %s', dest.slice(0, 8), (err as Error).message);
    }
  }

  /** Makes sure `dest` has our current roster before it gets a message from one of our clients. */
  #rosterTo(dest: string): void {
    if (this.#dirty || !this.#own) this.#publish();
    const own = this.#own!;
    if ((this.#rosterSentTo.get(dest) ?? -1) >= own.seq) return;
    this.#rosterSentTo.set(dest, own.seq);
    while (this.#rosterSentTo.size > this.limits.maxHomes) this.#rosterSentTo.delete(this.#rosterSentTo.keys().next().value as string);
    this.#sendMesh(dest, { t: 'roster', r: own });
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#publishTimer || this.#closed) return;
    this.#publishTimer = setTimeout(() => { this.#publishTimer = null; if (this.#dirty) this.#publish(); }, this.limits.rosterDelayMs);
    this.#publishTimer.unref?.();
  }

  /** Signs a new roster of our clients and floods it to our direct links. */
  #publish(): void {
    if (this.#closed) return;
    this.#dirty = false;
    const seq = Math.max((this.#own?.seq ?? 0) + 1, Date.now());
    this.#own = signRoster(this.node.identity, seq, Date.now() + this.limits.rosterTtlMs, [...this.#clients.keys()]);
    for (const peer of this.node.peers) {
      const hex = toHex(peer);
      this.#rosterSentTo.set(hex, seq);
      this.#sendMesh(hex, { t: 'roster', r: this.#own });
    }
  }

  #refresh(): void {
    if (this.#closed) return;
    const gone = this.#store.sweep(Date.now());
    if (gone.length) this.#notifyDeparted(gone);
    if (this.#clients.size > 0 || this.#own?.ids.length) this.#publish();
  }

  /** A new direct link: tell it who is registered here and what we know. */
  #greet(id: Uint8Array): void {
    if (this.#closed) return;
    const hex = toHex(id);
    if (this.#own && this.#own.exp > Date.now()) {
      this.#rosterSentTo.set(hex, this.#own.seq);
      this.#sendMesh(hex, { t: 'roster', r: this.#own });
    } else if (this.#clients.size > 0) this.#rosterTo(hex);
    for (const r of this.#store.records()) if (r.home !== hex) this.#sendMesh(hex, { t: 'roster', r });
  }

  #notifyDeparted(ids: string[]): void {
    this.emit('gone', ids);
    for (const local of this.#clients.values()) {
      for (const peerId of ids) if (peerId !== local.info.clientId) local.sink.send({ kind: 'peer_disconnected', peerId });
    }
  }

  #onMesh(payload: Uint8Array, from: Uint8Array): void {
    let text: string;
    try {
      text = textDecoder.decode(payload);
    } catch {
      return this.#count('bad_json');
    }
    const fromHex = toHex(from);
    if (!text.startsWith('{"t":"batch"')) return this.#onMeshText(text, fromHex);
    const nl = text.indexOf('\n');
    let lens: unknown;
    try { lens = JSON.parse(text.slice(0, nl)).lens; } catch { lens = null; }
    if (nl < 0 || !Array.isArray(lens) || lens.length > MAX_BATCH_ITEMS || !lens.every((l) => Number.isSafeInteger(l) && l > 0)
      || (lens as number[]).reduce((a, l) => a + l, 0) !== text.length - nl - 1) return this.#count('bad_batch');
    let off = nl + 1;
    for (const l of lens as number[]) {
      this.#onMeshText(text.slice(off, off + l), fromHex);
      off += l;
    }
  }

  #onMeshText(text: string, fromHex: string): void {
    let msg: MeshMessage;
    try {
      const nl = text.indexOf('\n');
      msg = JSON.parse(nl < 0 ? text : text.slice(0, nl));
      if (nl >= 0 && msg?.t === 'msg') {
        msg.mj = text.slice(nl + 1);
        msg.m = JSON.parse(msg.mj);
      }
    } catch {
      return this.#count('bad_json');
    }
    if (!msg || typeof msg !== 'object') return this.#count('bad_message');
    switch (msg.t) {
      case 'roster': return this.#onRoster(msg.r, fromHex);
      case 'msg': {
        if (typeof msg.to !== 'string' || typeof msg.from !== 'string' || !msg.m || typeof msg.m !== 'object') return this.#count('bad_message');
        // Only a client's home node may speak for it.
        if (!this.#store.lists(fromHex, msg.from)) return this.#count('unlisted_sender');
        const local = this.#clients.get(msg.to);
        if (!local) return this.#sendMesh(fromHex, { t: 'nf', to: msg.to, from: msg.from });
        local.sink.send({ kind: 'message', fromId: msg.from, message: msg.m, messageJson: msg.mj });
        return;
      }
      case 'nf': {
        const local = typeof msg.from === 'string' ? this.#clients.get(msg.from) : undefined;
        if (!local) return this.#count('bad_message');
        local.sink.send({ kind: 'error', errorType: 'PEER_NOT_FOUND', details: `${String(msg.to)} is no longer registered` });
        return;
      }
      case 'keyreq': {
        if (typeof msg.rid !== 'string' || typeof msg.to !== 'string') return this.#count('bad_message');
        const local = this.#clients.get(msg.to);
        const k = local ? keyInfo(local.info) : null;
        this.#sendMesh(fromHex, k
          ? { t: 'keyres', rid: msg.rid, id: msg.to, pk: toBase64(k.publicKey), sk: k.signingKey ? toBase64(k.signingKey) : null, caps: k.capabilities }
          : { t: 'keyres', rid: msg.rid, id: msg.to });
        return;
      }
      case 'keyres': return this.#onKeyResponse(msg, fromHex);
      default: {
        const ext = this.#meshTypes.get((msg as { t: string }).t);
        if (!ext) return this.#count('unknown_type');
        try { ext(msg as unknown as Record<string, unknown>, fromHex); } catch (err) { this.#count('extension_failed'); debug('extension %s: %s', (msg as { t: string }).t, (err as Error).message); }
        return;
      }
    }
  }

  #onRoster(r: unknown, fromHex: string): void {
    const res = this.#store.accept(r, Date.now());
    if (res.status !== 'stored') {
      if (res.status !== 'stale') this.#count(`roster_${res.status}`);
      return;
    }
    const rec = r as RosterRecord;
    if (res.removed.length) this.#notifyDeparted(res.removed);
    for (const peer of this.node.peers) {
      const hex = toHex(peer);
      if (hex !== fromHex && hex !== rec.home) this.#sendMesh(hex, { t: 'roster', r: rec });
    }
  }

  #onKeyResponse(msg: Extract<MeshMessage, { t: 'keyres' }>, fromHex: string): void {
    const p = typeof msg.rid === 'string' ? this.#pending.get(msg.rid) : undefined;
    if (!p || p.home !== fromHex) return this.#count('unexpected_keyres');
    this.#pending.delete(msg.rid);
    clearTimeout(p.timer);
    try {
      if (typeof msg.pk !== 'string') throw new Error('not found');
      const publicKey = fromBase64(msg.pk);
      const signingKey = typeof msg.sk === 'string' ? fromBase64(msg.sk) : null;
      if (publicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw new Error('bad key');
      const caps = Array.isArray(msg.caps) ? msg.caps.filter((c): c is string => typeof c === 'string').slice(0, 16) : [];
      p.resolve({ peerId: msg.id, publicKey, signingKey, capabilities: caps });
    } catch {
      p.reject(signalingError('PEER_NOT_FOUND', `no client ${String(msg.id)}`));
    }
  }
}

/** ML-DSA.Verify (FIPS 204 §5.3) of the proof, which must sign exactly the registered key. */
export function verifyProof(publicKey: Uint8Array, proof: RegistrationProof): boolean {
  if (proof.message.length !== publicKey.length) return false;
  for (let i = 0; i < publicKey.length; i++) if (proof.message[i] !== publicKey[i]) return false;
  try {
    return ml_dsa65.verify(proof.signature, proof.message, proof.signingKey);
  } catch {
    return false;
  }
}

function keyInfo(info: ClientInfo): KeyInfo {
  return { peerId: info.clientId, publicKey: info.publicKey, signingKey: info.signingKey, capabilities: info.capabilities };
}

function keyTag(key: Uint8Array): string { return toHex(sha256(key)); }

function fromHexId(hex: string): Uint8Array {
  const out = new Uint8Array(20);
  for (let i = 0; i < 20; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

