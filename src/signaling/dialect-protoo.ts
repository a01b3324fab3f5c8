/**
 * The protoo dialect (seeds/protoo.txt): WebSocket subprotocol `protoo`, JSON
 * requests/responses/notifications in both directions. The methods are the IM
 * message types plus the room operations; server pushes are notifications of
 * the same names, and core questions are protoo requests `server_question`.
 * A ProtooPeer is both the dialect session and the application's handle on
 * the peer (request/notify/close, 'request'/'notification'/'close').
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import type { WebSocket } from 'ws';
import { toBase64 } from '../util/bytes.js';
import { relayError, type RelayError } from '../util/errors.js';
import { PendingRequests } from '../util/pending.js';
import { DIALECT_LIMITS } from './limits.js';
import { errorTypeOf, protooErrorCode } from './wire-errors.js';
import type { ClientEvent, SignalingCore } from './core.js';
import { decodeKeyArray, decodeProof, discoverQuery } from './dialect-im.js';
import { JsonSocket } from './json-socket.js';
import { roomsOf, type RoomEvent, type RoomSink, type Rooms } from './rooms.js';

const debug = debugFactory('relaymesh:signaling:protoo');

export const PROTOO_SUBPROTOCOL = 'protoo';
/** Close code telling protoo-client not to reconnect. */
export const CLOSE_FOR_GOOD = 4000;
/** Per-peer protoo limits (defaults in src/util/limits.ts, group `dialects`). */
export const PROTOO_LIMITS = {
  maxPendingRequests: DIALECT_LIMITS.maxPendingRequests,
  maxServing: DIALECT_LIMITS.maxServing,
  requestTimeoutMs: DIALECT_LIMITS.requestTimeoutMs,
} as const;

export interface ProtooRequest { request: true; id: number; method: string; data: Record<string, unknown> }
export interface ProtooNotification { notification: true; method: string; data: Record<string, unknown> }
export type Accept = (data?: unknown) => void;
export type Reject = (errorCode?: number | Error, errorReason?: string | Error) => void;

export interface ProtooPeerEvents {
  request: [request: ProtooRequest, accept: Accept, reject: Reject];
  notification: [notification: ProtooNotification];
  close: [];
}

type Handler = (data: Record<string, unknown>) => unknown;

export class ProtooPeer extends EventEmitter<ProtooPeerEvents> implements RoomSink {
  readonly dialect = 'protoo';
  readonly id: string;
  readonly remoteAddress: string;
  /** Application data. */
  data: Record<string, unknown> = {};
  readonly #core: SignalingCore;
  readonly #rooms: Rooms;
  readonly #sock: JsonSocket;
  /** Server-initiated requests by protoo id. */
  readonly #sent = new PendingRequests<number, unknown>({
    max: PROTOO_LIMITS.maxPendingRequests, timeoutMs: PROTOO_LIMITS.requestTimeoutMs, what: 'protoo request',
    fullError: () => relayError('ERR_QUEUE_FULL', 'too many requests in flight'),
  });
  readonly #methods: Record<string, Handler>;
  readonly #ready: Promise<void>;
  #nextId = 1;
  #registered = false;
  #serving = 0;

  constructor(core: SignalingCore, ws: WebSocket, remoteAddress: string, peerId: string) {
    super();
    this.#core = core;
    this.#rooms = roomsOf(core);
    this.id = peerId;
    this.remoteAddress = remoteAddress;
    this.#methods = this.#builtins();
    this.#sock = new JsonSocket(ws, remoteAddress, core.limits, {
      frame: (m) => { if (this.#registered) this.#onFrame(m); else void this.#ready.then(() => this.#onFrame(m)); },
      bad: (why, text) => {
        // A request over the rate still gets its response (429), so the client does not wait for a timeout.
        const id = why === 'rate' && text !== undefined ? protooRequestId(text) : undefined;
        if (id !== undefined) this.#sock.send({ response: true, id, ok: false, errorCode: 429, errorReason: `RATE_LIMITED: more than ${core.limits.ratePerSecond} frames/s` });
        else debug('dropped a %s frame from %s', why, remoteAddress);
      },
      closed: () => this.#onClose(),
    });
    // Registered keyless under its peerId at once, so any dialect can reach it; `register` adds keys.
    this.#ready = core.register(this, { clientId: peerId, publicKey: new Uint8Array(0), proof: null, capabilities: ['protoo'], keyless: true }).then(
      () => { this.#registered = true; if (this.closed) core.unregister(this); },
      (err: RelayError) => {
        debug('%s stays unregistered: %s', peerId, err.message);
        if (errorTypeOf(err) === 'CLIENT_ID_TAKEN' && core.sinkOf(peerId)) this.close(`${peerId} is connected already`);
      },
    );
  }

  get closed(): boolean { return this.#sock.closed; }

  /** Sends a protoo request; resolves to the response data, rejects with the error response. */
  request(method: string, data: unknown = {}, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    if (typeof method !== 'string' || !method) throw new TypeError('method must be a non-empty string');
    const timeoutMs = opts.timeoutMs ?? PROTOO_LIMITS.requestTimeoutMs;
    if (!(timeoutMs > 0)) throw new RangeError('opts.timeoutMs must be a positive number');
    if (this.closed) return Promise.reject(relayError('ERR_DESTROYED', 'peer closed'));
    const id = this.#nextId++;
    if (this.#nextId > 0x7fffffff) this.#nextId = 1;
    // The method names the timeout error, so this one site makes its own.
    const answer = this.#sent.add(id, { timeoutMs }).catch((err: RelayError) => {
      throw err.code === 'ERR_TIMEOUT' ? relayError('ERR_TIMEOUT', `no response to ${method} in ${timeoutMs} ms`) : err;
    });
    if (this.#sent.has(id)) this.#sock.send({ request: true, id, method, data: data ?? {} });
    return answer;
  }

  /** Sends a protoo notification. */
  notify(method: string, data: unknown = {}): Promise<void> {
    if (typeof method !== 'string' || !method) throw new TypeError('method must be a non-empty string');
    return this.#push(method, data ?? {}) ? Promise.resolve() : Promise.reject(relayError('ERR_DESTROYED', 'peer closed'));
  }

  /** Closes the peer for good (close code 4000: the client does not reconnect). */
  pauseReading(paused: boolean): void { this.#sock.pauseReading(paused); }
  close(reason = 'closed by server'): void { this.#sock.close(CLOSE_FOR_GOOD, reason); }

  // ------------------------------------------------------------ ClientSink / RoomSink

  send(event: ClientEvent): void {
    if (this.closed) return;
    switch (event.kind) {
      case 'message': return void this.#push('message', { fromId: event.fromId, message: event.message });
      case 'peer_disconnected': return void this.#push('peer_disconnected', { peerId: event.peerId });
      case 'peers_disconnected':
        if (!event.single) return void this.#push('peer_disconnected', { peerId: event.peerIds[0], peerIds: event.peerIds });
        for (const peerId of event.peerIds) this.#push('peer_disconnected', { peerId });
        return;
      case 'error': return void this.#push('error', { errorType: event.errorType, details: event.details });
      case 'question':
        this.request('server_question', { questionId: event.questionId, question: event.question }, { timeoutMs: this.#core.limits.questionTimeoutMs })
          .then((answer) => this.#core.answer(this, event.questionId, answer), (err: Error) => debug('question to %s: %s', this.id, err.message));
    }
  }

  roomEvent(ev: RoomEvent): void {
    if (this.closed) return;
    const { kind, ...data } = ev;
    const method = { added: 'join_room', removed: 'leave_room', deleted: 'end_room', message: 'room_message' }[kind];
    this.#push(method, data);
  }

  #push(method: string, data: unknown): boolean { return this.#sock.send({ notification: true, method, data }); }

  // ------------------------------------------------------------ input

  #onClose(): void {
    this.#sent.rejectAll(relayError('ERR_DESTROYED', 'peer closed'));
    this.#core.unregister(this);
    this.emit('close');
  }

  #onFrame(m: Record<string, unknown>): void {
    if (this.closed) return;
    const data = (m.data && typeof m.data === 'object' ? m.data : {}) as Record<string, unknown>;
    if (m.response === true) return this.#onResponse(m);
    if (typeof m.method !== 'string') return debug('frame without method from %s', this.id);
    if (m.request === true && Number.isSafeInteger(m.id)) return this.#onRequest({ request: true, id: m.id as number, method: m.method, data });
    if (m.notification === true) {
      const builtin = NOTIFIABLE.has(m.method) ? this.#methods[m.method] : undefined;
      if (builtin) Promise.resolve().then(() => builtin(data)).catch((e: Error) => debug('notification %s: %s', m.method, e.message));
      this.emit('notification', { notification: true, method: m.method, data });
      return;
    }
    debug('dropped a frame that is no protoo message from %s', this.id);
  }

  #onRequest(req: ProtooRequest): void {
    let answered = false;
    // Every request gets a response: 408 if neither the core nor the application answers in time.
    const timer = setTimeout(() => reject(408, 'TIMEOUT: no answer in time'), this.#core.limits.handlerTimeoutMs);
    timer.unref?.();
    const accept: Accept = (data = {}) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      this.#serving--;
      // What JSON.stringify makes of {response, id, ok, data}, without the wrapper object (a data without JSON form is left out).
      const json = JSON.stringify(data ?? {}) as string | undefined;
      this.#sock.sendText(json === undefined ? `{"response":true,"id":${req.id},"ok":true}` : `{"response":true,"id":${req.id},"ok":true,"data":${json}}`);
    };
    const reject: Reject = (code = 500, reason) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      this.#serving--;
      let errorCode = code;
      let errorReason = reason;
      if (code instanceof Error) { errorCode = 500; errorReason = code.message; } else if (reason instanceof Error) errorReason = reason.message;
      this.#sock.send({ response: true, id: req.id, ok: false, errorCode: typeof errorCode === 'number' ? errorCode : 500, errorReason: String(errorReason ?? 'error') });
    };
    this.#serving++;
    if (this.#serving > PROTOO_LIMITS.maxServing) return reject(429, 'too many requests in flight');
    const builtin = Object.hasOwn(this.#methods, req.method) ? this.#methods[req.method] : undefined;
    if (!builtin) {
      if (this.listenerCount('request') === 0) return reject(405, `unknown method ${req.method.slice(0, 64)}`);
      try { this.emit('request', req, accept, reject); } catch (err) { reject(err as Error); }
      return;
    }
    Promise.resolve().then(() => builtin(req.data)).then(accept, (err: RelayError) => {
      const errorType = errorTypeOf(err);
      if (!errorType) debug('%s failed: %s', req.method, err?.message);
      reject(protooErrorCode(errorType), errorType ? `${errorType}: ${err.message}` : 'internal error');
    });
  }

  #onResponse(m: Record<string, unknown>): void {
    const id = typeof m.id === 'number' ? m.id : NaN;
    if (!this.#sent.has(id)) return debug('response to unknown request %s from %s', String(m.id), this.id);
    if (m.ok === true) return void this.#sent.resolve(id, m.data ?? {});
    this.#sent.reject(id, relayError('ERR_REJECTED', String(m.errorReason ?? 'rejected'), { errorCode: m.errorCode }));
  }

  #builtins(): Record<string, Handler> {
    const core = this.#core;
    const rooms = this.#rooms;
    const need = (x: unknown, name: string): string => {
      if (typeof x !== 'string' || !x) throw relayError('ERR_MALFORMED_FRAME', `${name} must be a non-empty string`, { errorType: 'INVALID_MESSAGE' });
      return x;
    };
    return {
      register: async (p) => {
        const publicKey = decodeKeyArray(p.publicKey);
        if (!publicKey) throw relayError('ERR_BAD_KEYS', 'publicKey must be an array of ML-KEM-768 key bytes', { errorType: 'INVALID_PUBLIC_KEY' });
        const proof = p.verification === undefined ? null : decodeProof(p.verification);
        if (p.verification !== undefined && !proof) throw relayError('ERR_INVALID_PROOF', 'bad verification', { errorType: 'INVALID_PROOF' });
        const capabilities = Array.isArray(p.capabilities) ? p.capabilities.filter((c): c is string => typeof c === 'string' && c.length <= 64) : [];
        const info = await core.register(this, { clientId: typeof p.clientId === 'string' ? p.clientId : this.id, publicKey, proof, capabilities });
        return { success: true, clientId: info.clientId };
      },
      discover: (p) => core.discoverPage({ ...discoverQuery(p), exclude: core.clientOf(this)?.clientId }),
      request_public_key: async (p) => {
        const k = await core.publicKey(need(p.targetId, 'targetId'));
        return { peerId: k.peerId, publicKey: Array.from(k.publicKey), signingKey: k.signingKey ? toBase64(k.signingKey) : null, capabilities: k.capabilities };
      },
      message: (p) => {
        if (!p.message || typeof p.message !== 'object') throw relayError('ERR_MALFORMED_FRAME', 'message must be an object', { errorType: 'INVALID_MESSAGE' });
        core.relay(this, need(p.targetId, 'targetId'), p.message);
        return {};
      },
      peer_response: (p) => {
        if (!core.answer(this, p.questionId, p.response)) throw relayError('ERR_PEER_NOT_FOUND', 'no such question', { errorType: 'PEER_NOT_FOUND' });
        return {};
      },
      create_room: (p) => rooms.create(this, p.room, p.name),
      join_room: (p) => rooms.join(this, p.room),
      leave_room: (p) => rooms.leave(this, p.room),
      end_room: (p) => rooms.end(this, p.room),
      room_message: async (p) => ({ delivered: await rooms.broadcast(this, p.room, p.data) }),
    };
  }
}

/** Methods a client may also send as notifications (no response). */
const NOTIFIABLE = new Set(['message', 'peer_response', 'room_message']);

/** The id of a protoo request refused before parsing (over the rate); small frames only. */
function protooRequestId(text: string): number | undefined {
  if (text.length > 4096) return undefined;
  try {
    const m = JSON.parse(text) as { request?: unknown; id?: unknown } | null;
    return m && m.request === true && Number.isSafeInteger(m.id) ? m.id as number : undefined;
  } catch {
    return undefined;
  }
}
