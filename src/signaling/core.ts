/**
 * SignalingCore: the dialect-neutral signaling server of one node. It holds the
 * registry of local clients (each with a `send(event)` sink supplied by its
 * dialect), answers discover, asks clients questions, and enforces the auth
 * hook and limits. Its mesh side (mesh.ts) publishes the clients as signed
 * rosters and routes client messages and key requests to a client's home node
 * over Channel.SIGNALING. Dialects (dialect-im.ts, dialect-connector.ts,
 * dialect-protoo.ts) only translate frames to calls on this class. Its parts:
 * proofs.ts (registration checks and ML-DSA proofs), admission.ts (who may
 * take an id: takeover, reservations), questions.ts (questions open to a client), held-messages.ts (messages for a client that may be
 * moving), presence.ts (departure announcements off the hot path).
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { BoundedMap } from '../util/bounded-map.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import type { MeshNode } from '../node/mesh-node.js';
import { ConnectionCap } from '../transport/connection-cap.js';
import { PartialBudget, type FrameGuard } from '../transport/frame-guard.js';
import { keyTag as rosterKeyTag, registrationMessage } from './mesh-records.js';
import { Budgets, resolveLimits, resolveRoomLimits, type RoomLimits, type SignalingLimits } from './limits.js';
import { fastStringify, tooDeep } from './fast-json.js';
import { SignalingMesh, type MeshExtension } from './mesh.js';
import { DepartureFanOut } from './presence.js';
import { HeldMessages } from './held-messages.js';
import { checkRequest, ProofCache, provesTakeover, takeoverProof, type TakeoverProof } from './proofs.js';
import { Questions } from './questions.js';
import { Admissions, type Local } from './admission.js';
import { unreadable, type RecordMessage } from './im-binary.js';
import {
  signalingError, type Authorizer, type ClientInfo, type ClientSink, type KeyInfo, type SignalingStats,
  type RegistrationRequest, type RequestHandler, type SignalingEvents, type SignalingOptions,
} from './types.js';
export { verifyProof } from './proofs.js';
export { tooDeep } from './fast-json.js';

export * from './types.js';
export { PRESENCE_BATCH } from './presence.js';

const debug = debugFactory('relaymesh:signaling');

/** WebSocket close code for a connection whose client registered again elsewhere (the client must not reconnect). */
export const TAKEN_OVER_CLOSE_CODE = 4001;


export class SignalingCore extends EventEmitter<SignalingEvents> {
  readonly node: MeshNode;
  readonly limits: SignalingLimits;
  /** Limits of the rooms on this core (option `rooms`). */
  readonly roomLimits: RoomLimits;
  readonly allowUnverified: boolean;
  /** The caps every dialect's connections share (maxConnections, maxConnectionsPerAddress). */
  readonly connectionCap: ConnectionCap;
  /** The unfinished-frame bounds every dialect's connections share (frameTimeoutMs, maxPartialFrameBytes). */
  readonly frameGuard: FrameGuard;
  authorize: Authorizer | null;
  readonly #clients = new Map<string, Local>();
  readonly #bySink = new Map<ClientSink, Local>();
  /** Sinks whose connection closed: a registration still in the auth hook must not complete. */
  readonly #closedSinks = new WeakSet<ClientSink>();
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #admissions: Admissions;
  readonly #meshTypes = new Map<string, MeshExtension>();
  readonly #mesh: SignalingMesh;
  /** When each client id last left (local or remote): it may be moving. */
  readonly #departedAt: BoundedMap<string, number>;
  readonly #held: HeldMessages;
  /** Counts of refused client input (registrations); merged into stats().dropped. */
  readonly #refused: Partial<Record<SignalingDropReason, number>> = {};
  #roomCount: () => number = () => 0;
  #closed = false;
  /** Registration proofs and fresh proofs checked, by the bytes. */
  readonly #proofs: ProofCache;
  /** Registrations per address (the per-connection count is the dialect's). */
  readonly #registrations: Budgets<ClientSink>;
  readonly #presence: DepartureFanOut<Local>;

  constructor(node: MeshNode, opts: SignalingOptions = {}) {
    super();
    this.node = node;
    this.limits = resolveLimits(opts);
    this.roomLimits = resolveRoomLimits(opts.rooms);
    this.#departedAt = new BoundedMap(Math.max(2, this.limits.maxReservations));
    this.#proofs = new ProofCache(this.limits.maxCachedProofs, this.limits.verifiesPerSecond);
    this.connectionCap = new ConnectionCap(this.limits.maxConnections, this.limits.maxConnectionsPerAddress);
    this.frameGuard = { timeoutMs: this.limits.frameTimeoutMs, budget: new PartialBudget(this.limits.maxPartialFrameBytes) };
    this.#registrations = new Budgets(0, this.limits.registrationsPerSecondPerAddress, 0);
    this.#held = new HeldMessages(this.limits, {
      route: (from, to, m) => this.#route(from, to, m),
      mayReturn: (id) => this.#inDoubt(id) || this.#moving(id),
      notFound: (from, to, why) => this.#tellNotFound(from, to, why),
    });
    this.#presence = new DepartureFanOut(this.limits, {
      gone: (id) => !this.#clients.has(id) && !this.#mesh.homeOf(id),
      listeners: () => [...this.#clients.values()],
      listening: (l) => this.#bySink.get(l.sink) === l,
    });
    this.allowUnverified = opts.allowUnverified === true;
    this.authorize = opts.authorize ?? null;
    this.#mesh = new SignalingMesh(node, this.limits, {
      localIds: () => [...this.#clients.keys()],
      localEntries: () => {
        const tags: string[] = [];
        const ts: number[] = [];
        for (const l of this.#clients.values()) { tags.push(l.tag); ts.push(l.ts); }
        return { tags, ts };
      },
      arrived: (ids) => this.#arrived(ids),
      notFound: (to, from, m, fromHex) => this.#notFound(to, from, m, fromHex),
      takeover: (msg, fromHex) => this.#takenOver(msg, fromHex),
      homeDead: (hex) => this.emit('homeDead', hex),
      localKeys: (id) => {
        const local = this.#clients.get(id);
        return local && local.info.publicKey.length > 0 ? keyInfo(local.info) : null;
      },
      pauseClients: (ids, paused) => {
        for (const id of ids) this.#clients.get(id)?.sink.pauseReading?.(paused);
      },
      deliver: (id, event) => {
        const local = this.#clients.get(id);
        // A batch record for a client that does not read them goes back as not found.
        if (!local || (event.kind === 'message' && unreadable(event.message, local.sink))) return false;
        local.sink.send(event);
        return true;
      },
      // A remote id that is registered here now (it moved here) did not leave.
      departed: (ids) => this.#notifyDeparted(ids.filter((id) => !this.#clients.has(id))),
      extension: (t) => this.#meshTypes.get(t),
    }, opts.meshBinary !== false);
    this.#admissions = new Admissions(this.limits, {
      clients: this.#clients,
      entry: (id) => this.#mesh.entry(id),
      homeOf: (id) => this.#mesh.homeOf(id),
      probe: (home) => this.#mesh.probe(home),
      count: (reason) => this.count(reason),
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
    const dropped = { ...this.#mesh.dropped };
    for (const [k, n] of Object.entries(this.#refused) as [SignalingDropReason, number][]) dropped[k] = (dropped[k] ?? 0) + n;
    return {
      clients: this.#clients.size, remoteClients: this.#mesh.remoteClients, homes: this.#mesh.homes, rooms, dropped,
      proofVerifies: this.#proofs.verifies, proofCacheHits: this.#proofs.hits,
      presenceBacklog: this.#presence.backlog, presenceFrames: this.#presence.frames,
      connections: this.connectionCap.open, partialFrameBytes: this.frameGuard.budget.held,
      meshItemsIn: { ...this.#mesh.received }, meshItemsOut: { ...this.#mesh.sent },
    };
  }

  /** Counts a refused input by reason (stats().dropped); rooms.ts counts its own here too. */
  count(reason: SignalingDropReason): void {
    this.#refused[reason] = (this.#refused[reason] ?? 0) + 1;
    debug('refused: %s', reason);
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
    return local.questions.ask(local.sink, question, timeoutMs, true, opts.signal);
  }

  /** Sends a question nobody awaits (debug_question); the answer is emitted as 'response'. */
  askUnawaited(sink: ClientSink, question: unknown): boolean {
    const local = this.#bySink.get(sink);
    if (!local) return false;
    local.questions.ask(local.sink, question, this.limits.questionTimeoutMs, false).catch(() => undefined);
    return true;
  }

  // ------------------------------------------------------------ dialect API

  /** Registers (or re-registers) the client behind `sink`. Rejects with a signalingError. */
  async register(sink: ClientSink, req: RegistrationRequest): Promise<ClientInfo> {
    if (this.#closed) throw signalingError('INTERNAL_ERROR', 'server is closing');
    const info = checkRequest(sink, req, this.limits, this.allowUnverified);
    const { clientId } = info;
    const { proof, fresh } = req;
    const tag = rosterKeyTag(info.signingKey);
    const ts = fresh?.ts ?? 0;
    // Cheap checks before any ML-DSA verify: id held here by another key, reserved, capacity, the address's budget.
    this.#admissions.precheck(sink, info, tag);
    if (!req.keyless && this.#registrations.take(sink, sink.remoteAddress)) {
      throw signalingError('RATE_LIMITED', `more than ${this.limits.registrationsPerSecondPerAddress} registrations/s from this address`);
    }
    if (proof && !this.#proofs.verified(sink, 'p', proof.signingKey, proof.signature, proof.message)) throw signalingError('INVALID_PROOF', 'the ml-dsa proof does not verify');
    if (fresh && proof && !this.#proofs.verified(sink, 'f', proof.signingKey, fresh.signature, registrationMessage(clientId, fresh.ts))) {
      throw signalingError('INVALID_PROOF', 'the fresh proof does not verify');
    }
    let admission = await this.#admissions.admit(sink, info, tag, ts);
    if (this.#closedSinks.has(sink) || this.#closed) throw signalingError('INTERNAL_ERROR', 'the connection closed during registration');
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
      admission = await this.#admissions.admit(sink, info, tag, ts);
      if (this.#closedSinks.has(sink) || this.#closed) throw signalingError('INTERNAL_ERROR', 'the connection closed during registration');
    }
    if (admission.displace) this.#displace(admission.displace, 'registered again on another connection');
    const previous = this.#bySink.get(sink);
    if (previous && previous.info.clientId !== clientId) this.#release(sink);
    const same = previous?.info.clientId === clientId;
    const local: Local = {
      info, sink, questions: same ? previous.questions : new Questions(clientId, this.limits), tag, ts,
    };
    this.#clients.set(clientId, local);
    this.#bySink.set(sink, local);
    this.#admissions.unreserve(clientId);
    this.#presence.forget(clientId);
    if (admission.takeover && proof) {
      // The old home drops its copy once it has checked the same proof itself.
      this.#mesh.sendTakeover(admission.takeover.home, { t: 'takeover', ...takeoverProof(clientId, proof, fresh ?? undefined) });
      this.#mesh.publishNow();
    } else if (!same || admission.displace) this.#mesh.changed();
    this.emit('registration', info);
    this.#arrived([clientId]);
    return info;
  }

  /** Drops a local client that registered again elsewhere: no departure is announced (it did not leave). */
  #displace(local: Local, why: string): void {
    const { clientId } = local.info;
    this.#bySink.delete(local.sink);
    if (this.#clients.get(clientId) === local) this.#clients.delete(clientId);
    local.questions.rejectAll(() => signalingError('PEER_NOT_FOUND', `${clientId} ${why}`));
    local.sink.send({ kind: 'error', errorType: 'CLIENT_ID_TAKEN', details: `${clientId} ${why}` });
    const closable = local.sink as Partial<{ close(code: number, reason: string): void }>;
    if (typeof closable.close === 'function') closable.close(TAKEN_OVER_CLOSE_CODE, 'taken over');
    debug('%s %s: dropped here', clientId, why);
  }

  /** Node `fromHex` says our client registered there with its key: check the proof ourselves, then drop our copy. */
  #takenOver(msg: TakeoverProof, fromHex: string): boolean {
    const local = this.#clients.get(msg.id);
    if (!local) return true; // already gone here
    if (!provesTakeover(msg, local, this.#proofs)) return false;
    this.#displace(local, `registered again on node ${fromHex.slice(0, 8)}`);
    this.#mesh.publishNow();
    return true;
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
    local.questions.rejectAll(() => signalingError('PEER_NOT_FOUND', `${clientId} left`));
    if (signingKey) this.#admissions.reserve(clientId, signingKey);
    this.#notifyDeparted([clientId]);
    this.#mesh.changed();
    this.emit('departure', local.info);
  }

  clientOf(sink: ClientSink): ClientInfo | null { return this.#bySink.get(sink)?.info ?? null; }

  /**
   * Local ids first, then mesh-wide ones, at most maxDiscover (and at most
   * `opts.limit`), never `opts.exclude`. `opts.prefix` keeps only ids that
   * start with it; `opts.cursor` (from a previous answer's `next`) continues
   * where that page ended. `next` is set when more ids match.
   */
  discoverPage(opts: { prefix?: string; cursor?: number; limit?: number; exclude?: string } = {}): { peers: string[]; next?: number } {
    const limit = Math.max(1, Math.min(this.limits.maxDiscover, Math.floor(opts.limit ?? this.limits.maxDiscover)));
    const prefix = typeof opts.prefix === 'string' ? opts.prefix : '';
    let skip = Number.isSafeInteger(opts.cursor) && opts.cursor! > 0 ? opts.cursor! : 0;
    const peers: string[] = [];
    let position = 0;
    const visit = (id: string): boolean => {
      if (id === opts.exclude || (prefix && !id.startsWith(prefix))) return true;
      position++;
      if (skip > 0) { skip--; return true; }
      if (peers.length >= limit) return false;
      peers.push(id);
      return true;
    };
    let more = false;
    for (const id of this.#clients.keys()) if (!visit(id)) { more = true; break; }
    if (!more) more = !this.#mesh.eachRemoteId(visit);
    return more ? { peers, next: position - 1 } : { peers };
  }

  /** Local ids first, then mesh-wide ones, at most maxDiscover. */
  discover(): string[] { return this.discoverPage().peers; }

  /**
   * The registered keys of `targetId`, asked of its home node if it is remote.
   * A client that left less than movingWaitMs ago may be moving: the answer
   * waits (that long at most) for it to register again somewhere.
   */
  async publicKey(targetId: string, waited = false): Promise<KeyInfo> {
    const local = this.#clients.get(targetId);
    if (local?.info.publicKey.length === 0) throw signalingError('PEER_NOT_FOUND', `${targetId} registered no key`);
    if (local) return keyInfo(local.info);
    const home = typeof targetId === 'string' ? this.#mesh.homeOf(targetId) : undefined;
    if (home) return this.#mesh.requestKey(home, targetId);
    if (!waited && this.#moving(targetId) && await this.#held.waitArrival(targetId, this.limits.movingWaitMs - (Date.now() - (this.#departedAt.get(targetId) ?? 0)))) return this.publicKey(targetId, true);
    throw signalingError('PEER_NOT_FOUND', `no client ${String(targetId)}`);
  }

  /**
   * Relays an opaque client message; throws PEER_NOT_FOUND for an unknown
   * target. A message for a client that may be moving is held (movingWaitMs at
   * most) and goes once it registers again; if it does not, the sender gets a
   * PEER_NOT_FOUND error event. `escapeFree`: the message was parsed from
   * text without a backslash (fast-json.ts), so its JSON is made without scanning its strings.
   */
  relay(sink: ClientSink, targetId: string, message: unknown, escapeFree = false): void {
    const from = this.#bySink.get(sink);
    if (!from) throw signalingError('REGISTRATION_REQUIRED', 'register before sending messages');
    if (tooDeep(message, this.limits.maxMessageDepth)) throw signalingError('INVALID_MESSAGE', `the message is nested deeper than ${this.limits.maxMessageDepth} levels`);
    this.#relayOrHold(from.info.clientId, targetId, message, escapeFree ? fastStringify(message, 0, true) : undefined);
  }

  /** A binary message record (im-binary.ts) from a local client: routed and held as relay() does; a batch only to a client that reads them. */
  relayRecord(sink: ClientSink, targetId: string, rec: RecordMessage): void {
    const from = this.#bySink.get(sink);
    if (!from) throw signalingError('REGISTRATION_REQUIRED', 'register before sending messages');
    const target = this.#clients.get(targetId);
    if (target && unreadable(rec, target.sink)) throw signalingError('INVALID_MESSAGE', `${targetId} does not read batch records`);
    this.#relayOrHold(from.info.clientId, targetId, rec);
  }

  #relayOrHold(fromId: string, targetId: string, message: unknown, messageJson?: string): void {
    if (this.#route(fromId, targetId, message, messageJson)) return;
    if (!this.#moving(targetId) && !this.#inDoubt(targetId)) throw signalingError('PEER_NOT_FOUND', `no client ${targetId}`);
    this.#held.hold(targetId, fromId, message);
  }

  /** True if `clientId`'s home is being probed (it may have died): its messages wait for the answer. */
  #inDoubt(clientId: string): boolean {
    const home = this.#clients.has(clientId) ? undefined : this.#mesh.homeOf(clientId);
    return home !== undefined && this.#mesh.probing(home);
  }

  /** Sends to a local or remote client; false if it is registered nowhere we know. */
  #route(fromId: string, targetId: string, message: unknown, messageJson?: string): boolean {
    const local = this.#clients.get(targetId);
    if (local) {
      local.sink.send({ kind: 'message', fromId, message, messageJson });
      return true;
    }
    const home = this.#mesh.homeOf(targetId);
    if (!home || this.#mesh.probing(home)) return false;
    this.#mesh.send(home, { t: 'msg', to: targetId, from: fromId, m: message, mj: messageJson });
    return true;
  }

  /** True if `clientId` left less than movingWaitMs ago (it may be registering elsewhere). */
  #moving(clientId: string): boolean {
    const at = this.#departedAt.get(clientId);
    return at !== undefined && Date.now() - at < this.limits.movingWaitMs;
  }

  #tellNotFound(from: string, to: string, why: string): void {
    this.#clients.get(from)?.sink.send({ kind: 'error', errorType: 'PEER_NOT_FOUND', details: `${to} ${why}` });
  }

  /** Clients registered here or got a new home: held messages and key requests go now. */
  #arrived(ids: string[]): void { this.#held.arrived(ids); }

  /** Home `fromHex` of `to` did not have it: hold the message (it may be moving), else tell the sender. */
  #notFound(to: string, from: string, m: unknown, fromHex: string): void {
    if (!this.#clients.has(from)) return;
    if (m === undefined) return this.#tellNotFound(from, to, 'is no longer registered');
    const home = this.#mesh.homeOf(to);
    // It registered elsewhere already (it moved before the message got there).
    if (this.#clients.has(to) || (home !== undefined && home !== fromHex)) {
      if (!this.#route(from, to, m)) this.#held.hold(to, from, m);
      return;
    }
    if (!this.#departedAt.has(to) || !this.#moving(to)) this.#departedAt.set(to, Date.now());
    this.#held.hold(to, from, m);
  }


  /** A client's answer to a question; false if no such question is open. */
  answer(sink: ClientSink, questionId: unknown, response: unknown): boolean {
    const local = this.#bySink.get(sink);
    const settled = local?.questions.answer(questionId, response);
    if (settled === 'unawaited') this.emit('response', local!.info.clientId, questionId as string, response);
    return settled != null;
  }

  /** Stops timers and forgets everything (the node is closing). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Fan-out stops first: clients leaving a closing server are announced to nobody.
    this.#presence.close();
    this.#mesh.close();
    this.#held.close();
    // Each client is released without what only a running server needs (reservation, roster change).
    for (const [sink, local] of [...this.#bySink]) {
      this.#closedSinks.add(sink);
      this.#bySink.delete(sink);
      if (this.#clients.get(local.info.clientId) === local) this.#clients.delete(local.info.clientId);
      local.questions.rejectAll(() => signalingError('PEER_NOT_FOUND', `${local.info.clientId} left: the server is closing`));
      this.emit('departure', local.info);
    }
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

  /** Probes node `hex` (PROTOCOL.md §11 "Liveness"); false once it did not answer in homeProbeMs (it is then dropped and 'homeDead' emitted). */
  probeNode(hex: string): Promise<boolean> { return this.#mesh.probe(hex); }

  /** Sends an extension message (`t` not used by the core) to node `hex` over Channel.SIGNALING. */
  sendMesh(hex: string, msg: { t: string } & Record<string, unknown>): void { this.#mesh.send(hex, msg); }

  /** Receives extension messages of type `t` (remote input: the handler must not throw). */
  onMeshType(t: string, fn: MeshExtension): void { this.#meshTypes.set(t, fn); }

  /** Where stats() reads the count of rooms homed here (rooms.ts reports it). */
  reportRooms(count: () => number): void { this.#roomCount = count; }

  /** Clients left (local or remote): rooms hear at once; clients hear off the hot path (presence.ts). */
  #notifyDeparted(ids: string[]): void {
    if (ids.length === 0 || this.#closed) return;
    const now = Date.now();
    for (const id of ids) this.#departedAt.set(id, now);
    this.emit('gone', ids);
    this.#presence.add(ids);
  }
}

function keyInfo(info: ClientInfo): KeyInfo {
  return { peerId: info.clientId, publicKey: info.publicKey, signingKey: info.signingKey, capabilities: info.capabilities };
}
