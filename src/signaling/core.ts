/**
 * SignalingCore: the dialect-neutral signaling server of one node. It holds the
 * registry of local clients (each with a `send(event)` sink supplied by its
 * dialect), answers discover, asks clients questions, and enforces the auth
 * hook and limits. Its mesh side (mesh.ts) publishes the clients as signed
 * rosters and routes client messages and key requests to a client's home node
 * over Channel.SIGNALING. Dialects (dialect-im.ts; later Connector
 * and protoo) only translate frames to calls on this class.
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { randomBytes, toHex } from '../util/bytes.js';
import { relayError } from '../util/errors.js';
import { BoundedMap } from '../util/bounded-map.js';
import { PendingRequests } from '../util/pending.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import { sha256 } from '../crypto/hash.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import type { MeshNode } from '../node/mesh-node.js';
import { MAX_CLIENT_ID_LENGTH } from './mesh-records.js';
import { resolveLimits, resolveRoomLimits, type RoomLimits, type SignalingLimits } from './limits.js';
import { SignalingMesh, type MeshExtension } from './mesh.js';
import {
  signalingError, type Authorizer, type ClientInfo, type ClientSink, type KeyInfo, type RegistrationProof,
  type RegistrationRequest, type RequestHandler, type SignalingEvents, type SignalingOptions,
} from './types.js';

export * from './types.js';

const debug = debugFactory('relaymesh:signaling');

/** A local client; `unawaited` holds the ids of its open questions nobody awaits (their answers are emitted). */
interface Local { info: ClientInfo; sink: ClientSink; questions: PendingRequests<string, unknown>; unawaited: Set<string> }

export interface SignalingStats {
  clients: number;
  remoteClients: number;
  homes: number;
  /** Rooms homed on this node (rooms.ts). */
  rooms: number;
  dropped: Partial<Record<SignalingDropReason, number>>;
}

export class SignalingCore extends EventEmitter<SignalingEvents> {
  readonly node: MeshNode;
  readonly limits: SignalingLimits;
  /** Limits of the rooms on this core (option `rooms`). */
  readonly roomLimits: RoomLimits;
  readonly allowUnverified: boolean;
  authorize: Authorizer | null;
  readonly #clients = new Map<string, Local>();
  readonly #bySink = new Map<ClientSink, Local>();
  /** Sinks whose connection closed: a registration still in the auth hook must not complete. */
  readonly #closedSinks = new WeakSet<ClientSink>();
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #reserved: BoundedMap<string, { key: string; until: number }>;
  readonly #meshTypes = new Map<string, MeshExtension>();
  readonly #mesh: SignalingMesh;
  #roomCount: () => number = () => 0;
  #closed = false;

  constructor(node: MeshNode, opts: SignalingOptions = {}) {
    super();
    this.node = node;
    this.limits = resolveLimits(opts);
    this.roomLimits = resolveRoomLimits(opts.rooms);
    this.#reserved = new BoundedMap(Math.max(2, this.limits.maxReservations));
    this.allowUnverified = opts.allowUnverified === true;
    this.authorize = opts.authorize ?? null;
    this.#mesh = new SignalingMesh(node, this.limits, {
      localIds: () => [...this.#clients.keys()],
      localKeys: (id) => {
        const local = this.#clients.get(id);
        return local && local.info.publicKey.length > 0 ? keyInfo(local.info) : null;
      },
      deliver: (id, event) => {
        const local = this.#clients.get(id);
        if (local) local.sink.send(event);
        return local !== undefined;
      },
      departed: (ids) => this.#notifyDeparted(ids),
      extension: (t) => this.#meshTypes.get(t),
    });
    node.once('close', () => this.close());
  }

  // ------------------------------------------------------------ application API

  /** Currently registered local clients. */
  clients(): ClientInfo[] { return [...this.#clients.values()].map((l) => l.info); }

  /** Client, home and room counts, and dropped remote inputs by reason. */
  stats(): SignalingStats {
    let rooms = 0;
    try { rooms = this.#roomCount(); } catch { /* a count never breaks stats */ }
    return { clients: this.#clients.size, remoteClients: this.#mesh.remoteClients, homes: this.#mesh.homes, rooms, dropped: { ...this.#mesh.dropped } };
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

  /** Rejects ERR_TIMEOUT (no answer in time), ERR_ABORTED (signal), LIMIT_REACHED (too many open questions). */
  #ask(local: Local, question: unknown, timeoutMs: number, awaited: boolean, signal?: AbortSignal): Promise<unknown> {
    const questionId = toHex(randomBytes(8));
    const answer = local.questions.add(questionId, { timeoutMs, signal });
    if (!local.questions.has(questionId)) return answer;
    if (!awaited) {
      local.unawaited.add(questionId);
      const forget = () => { local.unawaited.delete(questionId); };
      answer.then(forget, forget);
    }
    local.sink.send({ kind: 'question', questionId, question });
    return answer;
  }

  #questions(clientId: string): PendingRequests<string, unknown> {
    return new PendingRequests({
      max: this.limits.maxQuestionsPerClient, timeoutMs: this.limits.questionTimeoutMs, what: `question to ${clientId}`,
      timeoutError: (_id, ms) => relayError('ERR_TIMEOUT', `no answer from ${clientId} in ${ms} ms`),
      fullError: (max) => signalingError('LIMIT_REACHED', `${clientId} has ${max} open questions`),
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
    const same = previous?.info.clientId === clientId;
    const local: Local = {
      info, sink, questions: same ? previous.questions : this.#questions(clientId), unawaited: same ? previous.unawaited : new Set(),
    };
    this.#clients.set(clientId, local);
    this.#bySink.set(sink, local);
    this.#reserved.delete(clientId);
    if (!previous || previous.info.clientId !== clientId) this.#mesh.changed();
    this.emit('registration', info);
    return info;
  }

  #checkFree(sink: ClientSink, info: ClientInfo): void {
    const { clientId } = info;
    const holder = this.#clients.get(clientId);
    if (holder && holder.sink !== sink) throw signalingError('CLIENT_ID_TAKEN', `${clientId} is registered by another connection`);
    if (!holder && this.#mesh.homeOf(clientId)) throw signalingError('CLIENT_ID_TAKEN', `${clientId} is registered on another node`);
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
    local.questions.rejectAll(signalingError('PEER_NOT_FOUND', `${clientId} left`));
    if (signingKey) this.#reserved.set(clientId, { key: keyTag(signingKey), until: Date.now() + this.limits.idReserveMs });
    this.#notifyDeparted([clientId]);
    this.#mesh.changed();
    this.emit('departure', local.info);
  }

  clientOf(sink: ClientSink): ClientInfo | null { return this.#bySink.get(sink)?.info ?? null; }

  /** Local ids first, then mesh-wide ones, at most maxDiscover. */
  discover(): string[] {
    const out = [...this.#clients.keys()].slice(0, this.limits.maxDiscover);
    return out.concat(this.#mesh.remoteIds(this.limits.maxDiscover - out.length));
  }

  /** The registered keys of `targetId`, asked of its home node if it is remote. */
  publicKey(targetId: string): Promise<KeyInfo> {
    const local = this.#clients.get(targetId);
    if (local?.info.publicKey.length === 0) return Promise.reject(signalingError('PEER_NOT_FOUND', `${targetId} registered no key`));
    if (local) return Promise.resolve(keyInfo(local.info));
    const home = typeof targetId === 'string' ? this.#mesh.homeOf(targetId) : undefined;
    if (!home) return Promise.reject(signalingError('PEER_NOT_FOUND', `no client ${String(targetId)}`));
    return this.#mesh.requestKey(home, targetId);
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
    const home = this.#mesh.homeOf(targetId);
    if (!home) throw signalingError('PEER_NOT_FOUND', `no client ${targetId}`);
    this.#mesh.send(home, { t: 'msg', to: targetId, from: from.info.clientId, m: message });
  }

  /** A client's answer to a question; false if no such question is open. */
  answer(sink: ClientSink, questionId: unknown, response: unknown): boolean {
    const local = this.#bySink.get(sink);
    if (!local || typeof questionId !== 'string' || !local.questions.has(questionId)) return false;
    if (local.unawaited.delete(questionId)) this.emit('response', local.info.clientId, questionId, response);
    local.questions.resolve(questionId, response);
    return true;
  }

  /** Stops timers and forgets everything (the node is closing). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mesh.close();
    for (const sink of [...this.#bySink.keys()]) this.unregister(sink);
  }

  // ------------------------------------------------------------ extension API (rooms.ts)

  /** The sink of local client `clientId`. */
  sinkOf(clientId: string): ClientSink | undefined { return this.#clients.get(clientId)?.sink; }

  /** The home node (hex id) of a client: this node for local clients, else from the rosters. */
  homeOf(clientId: string): string | undefined {
    return this.#clients.has(clientId) ? this.node.identity.idHex : this.#mesh.homeOf(clientId);
  }

  /** Other nodes known to hold clients (from their rosters). */
  knownHomes(): string[] { return this.#mesh.knownHomes(); }

  /**
   * Other nodes known to run a signaling core: roster homes, and direct links
   * that sent a signaling message (every core says `hello` on a new link).
   * Port-less nodes have no core and are never listed.
   */
  signalingNodes(): string[] {
    const out = new Set(this.#mesh.knownHomes());
    for (const hex of this.#mesh.corePeers()) out.add(hex);
    out.delete(this.node.identity.idHex);
    return [...out];
  }

  /** Sends an extension message (`t` not used by the core) to node `hex` over Channel.SIGNALING. */
  sendMesh(hex: string, msg: { t: string } & Record<string, unknown>): void { this.#mesh.send(hex, msg); }

  /** Receives extension messages of type `t` (remote input: the handler must not throw). */
  onMeshType(t: string, fn: MeshExtension): void { this.#meshTypes.set(t, fn); }

  /** Where stats() reads the count of rooms homed here (rooms.ts reports it). */
  reportRooms(count: () => number): void { this.#roomCount = count; }

  #notifyDeparted(ids: string[]): void {
    this.emit('gone', ids);
    for (const local of this.#clients.values()) {
      for (const peerId of ids) if (peerId !== local.info.clientId) local.sink.send({ kind: 'peer_disconnected', peerId });
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
