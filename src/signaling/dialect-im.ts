/**
 * The IM dialect (../shared/protocols/demos-im.md): one JSON object
 * `{type, payload}` per text frame, spoken by the published MessagingPeer.
 * The stock client has no request ids and takes "the next frame" as the
 * answer, so every request is answered, in order, before any unsolicited frame
 * that arises after it (an ordered output queue of answer slots). relaymesh's
 * own client adds a top-level `id`, echoed in the answer. The socket side
 * (rate limit, JSON parsing, slow-client close) is JsonSocket's.
 */
import debugFactory from 'debug';
import type { WebSocket } from 'ws';
import { fromBase64, toBase64 } from '../util/bytes.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import type { RelayError } from '../util/errors.js';
import { fastStringify } from './fast-json.js';
import { type ClientEvent, type ClientSink, type RegistrationProof, type SignalingCore } from './core.js';
import { ACK_BATCH } from './types.js';
import { BINARY_FRAMES, KIND_SINGLE, RecordMessage, parseClientFrame, recordEnvelopeJson } from './im-binary.js';
import { JsonSocket, type BadFrame } from './json-socket.js';
import { errorTypeOf } from './wire-errors.js';

const debug = debugFactory('relaymesh:signaling:im');
/** What an IM client is told about a frame JsonSocket refused. */
const BAD_FRAME: Record<BadFrame, [errorType: string, details: string]> = {
  rate: ['RATE_LIMITED', ''],
  binary: ['INVALID_MESSAGE', 'frames must be JSON text'],
  json: ['INVALID_MESSAGE', 'frame is not JSON'],
  shape: ['INVALID_MESSAGE', 'frame must be an object with a string type'],
};

type RequestId = string | number | undefined;
/** Departure frames by the round's id array (see send). */
const BATCH_TEXT = new WeakMap<string[], string>();
const SINGLE_TEXTS = new WeakMap<string[], string[]>();
interface Slot { frame: string | Uint8Array | null; ready: boolean; timer: ReturnType<typeof setTimeout> | null }

export function errorFrame(errorType: string, details: string, id?: RequestId): Record<string, unknown> {
  const f: Record<string, unknown> = { type: 'error', payload: { errorType, details, timestamp: new Date().toISOString() } };
  if (id !== undefined) f.id = id;
  return f;
}

/** One client connection speaking the IM dialect. */
export class ImSession implements ClientSink {
  readonly dialect = 'im';
  readonly remoteAddress: string;
  readonly #core: SignalingCore;
  readonly #sock: JsonSocket;
  readonly #queue: Slot[] = [];
  #registrations = 0;
  /** The client registered ACK_BATCH: the ids of the messages taken this turn, acknowledged in one frame. */
  #batchAcks = false;
  /** The client registered BINARY_FRAMES: it sends and reads binary message frames (im-binary.ts). */
  #binary = false;
  readonly #acks: RequestId[] = [];
  #ackTarget = '';
  /** Closes the connection if it has not registered within registerTimeoutMs. */
  #registerTimer: ReturnType<typeof setTimeout> | null;

  constructor(core: SignalingCore, ws: WebSocket, remoteAddress: string) {
    this.#core = core;
    this.remoteAddress = remoteAddress;
    this.#sock = new JsonSocket(ws, remoteAddress, core.limits, {
      frame: (m, escapeFree) => this.#onFrame(m, escapeFree),
      bad: (why, text) => {
        const [errorType, details] = BAD_FRAME[why];
        this.#answerNow(errorFrame(errorType, details || `more than ${core.limits.ratePerSecond} frames/s`, text === undefined ? undefined : requestIdOf(text)));
      },
      closed: () => this.#onClose(),
      binary: (data) => this.#onBinary(data),
    }, 0);
    this.#registerTimer = setTimeout(() => {
      this.#registerTimer = null;
      if (!core.clientOf(this)) this.close(1008, 'no registration in time');
    }, core.limits.registerTimeoutMs);
    this.#registerTimer.unref?.();
  }

  // ------------------------------------------------------------ ClientSink

  send(event: ClientEvent): void {
    switch (event.kind) {
      case 'message':
        if (event.message instanceof RecordMessage) return this.#sendRecord(event.fromId, event.message);
        // messageJson is text JSON.parse accepted as one object (or fastStringify's verbatim form of such an object), so splicing it in is safe.
        if (event.messageJson !== undefined) return this.#pushFrame(`{"type":"message","payload":{"message":${event.messageJson},"fromId":${JSON.stringify(event.fromId)}}}`);
        return this.#pushFrame(`{"type":"message","payload":{"message":${fastStringify(event.message)},"fromId":${JSON.stringify(event.fromId)}}}`);
      case 'peer_disconnected': return this.#push({ type: 'peer_disconnected', payload: { peerId: event.peerId } });
      // One round of departures: for a PRESENCE_BATCH client one frame (peerId: the first, for a reader of single
      // ids), else a frame per id; rendered once per round (the core hands every sink the same array), written corked.
      case 'peers_disconnected': {
        if (!event.single) {
          let text = BATCH_TEXT.get(event.peerIds);
          if (text === undefined) BATCH_TEXT.set(event.peerIds, text = JSON.stringify({ type: 'peer_disconnected', payload: { peerId: event.peerIds[0], peerIds: event.peerIds } }));
          return this.#pushFrame(text);
        }
        let texts = SINGLE_TEXTS.get(event.peerIds);
        if (texts === undefined) SINGLE_TEXTS.set(event.peerIds, texts = event.peerIds.map((peerId) => JSON.stringify({ type: 'peer_disconnected', payload: { peerId } })));
        return this.#sock.corked(() => { for (const t of texts!) this.#pushFrame(t); });
      }
      case 'question': return this.#push({ type: 'server_question', payload: { questionId: event.questionId, question: event.question } });
      case 'error': return this.#push(errorFrame(event.errorType, event.details));
    }
  }

  /** A batch record reaches this client only if it reads binary frames (the core checks). */
  get readsRecords(): boolean { return this.#binary; }

  pauseReading(paused: boolean): void { this.#sock.pauseReading(paused); }

  /** A binary record: as it came to a client that reads them, else a single one as the JSON envelope. */
  #sendRecord(fromId: string, m: RecordMessage): void {
    if (this.#binary) return this.#pushFrame(m.frameFor(fromId));
    if (m.kind !== KIND_SINGLE) return debug('batch record for %s, which does not read them, dropped', fromId);
    this.#pushFrame(`{"type":"message","payload":{"message":${recordEnvelopeJson(m.record)},"fromId":${JSON.stringify(fromId)}}}`);
  }
  close(code = 1000, reason = ''): void { this.#sock.close(code, reason); }

  // ------------------------------------------------------------ input

  #onClose(): void {
    if (this.#registerTimer) { clearTimeout(this.#registerTimer); this.#registerTimer = null; }
    for (const slot of this.#queue) if (slot.timer) clearTimeout(slot.timer);
    this.#queue.length = 0;
    this.#core.unregister(this);
  }

  #onFrame(msg: { type?: unknown; payload?: unknown; id?: unknown }, escapeFree = false): void {
    if (typeof msg.type !== 'string') {
      return this.#answerNow(errorFrame(...BAD_FRAME.shape));
    }
    const id = typeof msg.id === 'string' && msg.id.length <= 64 ? msg.id : typeof msg.id === 'number' ? msg.id : undefined;
    const payload = (msg.payload && typeof msg.payload === 'object' ? msg.payload : {}) as Record<string, unknown>;
    try {
      this.#dispatch(msg.type, payload, id, msg.payload, escapeFree);
    } catch (err) {
      // Remote input never throws out of a handler.
      debug('handler failed for %s: %s', msg.type, (err as Error).message);
      this.#answerNow(errorFrame('INTERNAL_ERROR', 'internal error', id));
    }
  }

  #dispatch(type: string, p: Record<string, unknown>, id: RequestId, raw: unknown, escapeFree: boolean): void {
    const core = this.#core;
    switch (type) {
      case 'register': return this.#register(p, id);
      case 'discover': {
        const me = core.clientOf(this)?.clientId;
        return this.#answerNow(withId({ type: 'discover', payload: core.discoverPage({ ...discoverQuery(p), exclude: me }) }, id));
      }
      case 'request_public_key': {
        if (!core.clientOf(this)) return this.#answerNow(errorFrame('REGISTRATION_REQUIRED', 'register first', id));
        const targetId = p.targetId;
        if (typeof targetId !== 'string') return this.#answerNow(errorFrame('INVALID_MESSAGE', 'targetId must be a string', id));
        const slot = this.#reserve(id);
        core.publicKey(targetId).then(
          (k) => this.#fill(slot, withId({
            type: 'public_key_response',
            payload: { peerId: targetId, publicKey: Array.from(k.publicKey), signingKey: k.signingKey ? toBase64(k.signingKey) : null, capabilities: k.capabilities },
          }, id)),
          (err: RelayError) => this.#fill(slot, failure(err, id)),
        );
        return;
      }
      case 'message': {
        const targetId = p.targetId;
        if (typeof targetId !== 'string' || !p.message || typeof p.message !== 'object') {
          return this.#answerNow(errorFrame('INVALID_MESSAGE', 'message needs a string targetId and a message object', id));
        }
        try {
          // Parsed from text without a backslash: its JSON for the recipient copies its strings as they are.
          core.relay(this, targetId, p.message, escapeFree);
        } catch (err) {
          return this.#answerNow(failure(err as RelayError, id));
        }
        return this.#ack(id, targetId);
      }
      case 'peer_response':
        if (!core.answer(this, p.questionId, p.response)) debug('answer to unknown question %s dropped', String(p.questionId));
        return;
      case 'debug_question': {
        const slot = this.#reserve(id, false);
        if (!core.askUnawaited(this, { debug: true, text: 'debug question from the server', askedAt: new Date().toISOString() })) {
          this.#fill(slot, errorFrame('REGISTRATION_REQUIRED', 'register first', id));
        } else this.#fill(slot, null);
        return;
      }
      default: {
        const handler = core.handler(type);
        if (!handler) return this.#answerNow(errorFrame('INVALID_MESSAGE', `Unknown message type: ${type.slice(0, 64)}`, id));
        const slot = this.#reserve(id);
        Promise.resolve()
          .then(() => handler(core.clientOf(this), raw))
          .then(
            (ans) => this.#fill(slot, ans && typeof ans.type === 'string' ? withId({ type: ans.type, payload: ans.payload ?? {} }, id) : errorFrame('INTERNAL_ERROR', 'handler gave no answer', id)),
            // A wire error keeps its type and text; anything else is shown as a stable INTERNAL_ERROR.
            (err: Error) => this.#fill(slot, errorTypeOf(err) ? failure(err as RelayError, id) : errorFrame('INTERNAL_ERROR', 'the handler failed', id)),
          );
      }
    }
  }

  /** A message taken: relaymesh's client numbers its messages and waits for this (the published client sends no id). */
  #ack(id: RequestId, targetId: string): void {
    if (id === undefined) return;
    if (this.#batchAcks) {
      // Acknowledged with the others of this turn, before any other frame to this client.
      if (this.#acks.length === 0) queueMicrotask(() => this.#flushAcks());
      this.#acks.push(id);
      this.#ackTarget = targetId;
      if (this.#acks.length >= MAX_BATCHED_ACKS) this.#flushAcks();
      return;
    }
    this.#pushFrame(ackText(id, targetId));
  }

  /** A binary frame: a message record from a client that registered BINARY_FRAMES; false (refused as binary) from any other. */
  #onBinary(data: Uint8Array): boolean {
    if (!this.#binary) return false;
    const f = parseClientFrame(data);
    if (!f) {
      this.#answerNow(errorFrame('INVALID_MESSAGE', 'malformed binary message frame'));
      return true;
    }
    const id = f.id === '' ? undefined : f.id;
    try {
      this.#core.relayRecord(this, f.to, new RecordMessage(f.kind, f.record, f.record.byteOffset - data.byteOffset));
    } catch (err) {
      this.#answerNow(failure(err as RelayError, id));
      return true;
    }
    this.#ack(id, f.to);
    return true;
  }

  #register(p: Record<string, unknown>, id: RequestId): void {
    if (++this.#registrations > this.#core.limits.maxRegistrationsPerConnection) {
      this.#answerNow(errorFrame('RATE_LIMITED', `at most ${this.#core.limits.maxRegistrationsPerConnection} registrations per connection`, id));
      return;
    }
    const publicKey = decodeKeyArray(p.publicKey);
    if (!publicKey) return this.#answerNow(errorFrame('INVALID_PUBLIC_KEY', `publicKey must be an array of ${KEM_PUBLIC_KEY_LENGTH} integers 0-255`, id));
    let proof: RegistrationProof | null = null;
    if (p.verification !== undefined) {
      proof = decodeProof(p.verification);
      if (!proof) return this.#answerNow(errorFrame('INVALID_PROOF', 'verification must be {algorithm:"ml-dsa", serializedSignedData, serializedPublicKey, serializedMessage}', id));
    }
    let fresh: { ts: number; signature: Uint8Array } | null = null;
    if (p.fresh !== undefined) {
      const f = p.fresh as { ts?: unknown; sig?: unknown } | null;
      try {
        if (!f || typeof f !== 'object' || !Number.isSafeInteger(f.ts) || typeof f.sig !== 'string' || f.sig.length > 8192) throw new Error('shape');
        fresh = { ts: f.ts as number, signature: fromBase64(f.sig) };
      } catch {
        return this.#answerNow(errorFrame('INVALID_PROOF', 'fresh must be {ts, sig: base64}', id));
      }
    }
    const capabilities = Array.isArray(p.capabilities) ? p.capabilities.filter((c): c is string => typeof c === 'string' && c.length <= 64) : [];
    const slot = this.#reserve(id);
    this.#core.register(this, { clientId: p.clientId as string, publicKey, proof, capabilities, fresh }).then(
      (info) => {
        if (this.#registerTimer) { clearTimeout(this.#registerTimer); this.#registerTimer = null; }
        this.#batchAcks = info.capabilities.includes(ACK_BATCH);
        this.#binary = info.capabilities.includes(BINARY_FRAMES);
        // A client that asked for binary frames is told this node takes them (the published client asks for nothing).
        const payload = this.#binary ? { success: true, clientId: info.clientId, capabilities: [BINARY_FRAMES] } : { success: true, clientId: info.clientId };
        this.#fill(slot, withId({ type: 'register', payload }, id));
      },
      (err: RelayError) => this.#fill(slot, failure(err, id)),
    );
  }

  // ------------------------------------------------------------ ordered output

  /** A place in the output order for an answer that comes later; it times out with a TIMEOUT error. */
  #reserve(id?: RequestId, async = true): Slot {
    // Messages taken before this request are acknowledged before its answer, as when acknowledged one by one.
    if (this.#acks.length > 0) this.#flushAcks();
    const slot: Slot = { frame: null, ready: false, timer: null };
    if (async) {
      slot.timer = setTimeout(() => {
        slot.timer = null;
        if (!slot.ready) this.#fill(slot, errorFrame('TIMEOUT', 'the server did not answer in time', id));
      }, this.#core.limits.handlerTimeoutMs);
      slot.timer.unref?.();
    }
    this.#queue.push(slot);
    if (this.#queue.length > this.#core.limits.maxQueuedFrames) this.close(1008, 'output queue full');
    return slot;
  }

  #fill(slot: Slot, frame: Record<string, unknown> | null): void {
    if (slot.ready) return;
    if (slot.timer) { clearTimeout(slot.timer); slot.timer = null; }
    slot.frame = frame ? JSON.stringify(frame) : null;
    slot.ready = true;
    this.#flush();
  }

  #answerNow(frame: Record<string, unknown>): void { this.#push(frame); }

  /** One `message_ack` for the messages taken since the last: `id` the last one's, `payload.ids` all of them in order. */
  #flushAcks(): void {
    const acks = this.#acks;
    if (acks.length === 0) return;
    const last = acks[acks.length - 1];
    let ids = '';
    for (let i = 0; i < acks.length; i++) ids += (i ? ',' : '') + JSON.stringify(acks[i]);
    acks.length = 0;
    this.#pushFrame(`{"type":"message_ack","id":${JSON.stringify(last)},"payload":{"targetId":${JSON.stringify(this.#ackTarget)},"ids":[${ids}]}}`);
  }

  #push(frame: Record<string, unknown>): void {
    if (this.#sock.closed) return;
    if (this.#acks.length > 0) this.#flushAcks();
    if (this.#queue.length === 0) return this.#write(JSON.stringify(frame));
    this.#fill(this.#reserve(undefined, false), frame);
  }

  #pushFrame(frame: string | Uint8Array): void {
    if (this.#sock.closed) return;
    if (this.#acks.length > 0) this.#flushAcks();
    if (this.#queue.length === 0) return this.#write(frame);
    const slot = this.#reserve(undefined, false);
    slot.frame = frame;
    slot.ready = true;
    this.#flush();
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#queue[0].ready) {
      const slot = this.#queue.shift()!;
      if (slot.frame !== null) this.#write(slot.frame);
    }
  }

  #write(frame: string | Uint8Array): void {
    if (typeof frame === 'string') this.#sock.sendText(frame);
    else this.#sock.sendBinary(frame);
  }
}

/** Acknowledgements per frame at most (then a frame is written and a new one starts). */
const MAX_BATCHED_ACKS = 256;

/** `{type:"message_ack", id, payload:{targetId}}` as JSON (what JSON.stringify makes of it). */
function ackText(id: string | number, targetId: string): string {
  return `{"type":"message_ack","id":${JSON.stringify(id)},"payload":{"targetId":${JSON.stringify(targetId)}}}`;
}

function withId(frame: Record<string, unknown>, id: RequestId): Record<string, unknown> {
  if (id !== undefined) frame.id = id;
  return frame;
}

/** The error frame for a failed request: a wire error's type and text; anything else (a bug, a RangeError) only as INTERNAL_ERROR. */
function failure(err: RelayError, id: RequestId): Record<string, unknown> {
  const errorType = errorTypeOf(err);
  if (!errorType) debug('internal error: %s', (err as Error)?.message);
  return errorType ? errorFrame(errorType, err?.message ?? '', id) : errorFrame('INTERNAL_ERROR', 'internal error', id);
}

/** discover's optional query (relaymesh's additions): `prefix`, `cursor` (a previous answer's `next`), `limit`. */
export function discoverQuery(p: Record<string, unknown>): { prefix?: string; cursor?: number; limit?: number } {
  const q: { prefix?: string; cursor?: number; limit?: number } = {};
  if (typeof p.prefix === 'string' && p.prefix.length <= 128) q.prefix = p.prefix;
  if (Number.isSafeInteger(p.cursor) && (p.cursor as number) > 0) q.cursor = p.cursor as number;
  if (Number.isSafeInteger(p.limit) && (p.limit as number) > 0) q.limit = p.limit as number;
  return q;
}

const TAIL_ID = /"id":("(?:[^"\\]{0,64})"|-?\d{1,16})\}\s*$/;

/**
 * The request id of a frame that was refused before parsing (over the rate):
 * a top-level `id` at the end (where relaymesh's client puts it) is found
 * without parsing; a small frame is parsed; otherwise there is none.
 */
export function requestIdOf(text: string): RequestId {
  const m = TAIL_ID.exec(text.length > 128 ? text.slice(-128) : text);
  if (m) {
    const v: unknown = JSON.parse(m[1]);
    return typeof v === 'string' || typeof v === 'number' ? v : undefined;
  }
  if (text.length > 4096) return undefined;
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return (typeof id === 'string' && id.length <= 64) || typeof id === 'number' ? id as RequestId : undefined;
  } catch {
    return undefined;
  }
}

export function decodeKeyArray(x: unknown): Uint8Array | null {
  if (!Array.isArray(x) || x.length !== KEM_PUBLIC_KEY_LENGTH) return null;
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) return null;
    out[i] = v;
  }
  return out;
}

export function decodeProof(x: unknown): RegistrationProof | null {
  if (!x || typeof x !== 'object') return null;
  const v = x as Record<string, unknown>;
  if (v.algorithm !== 'ml-dsa') return null;
  if (typeof v.serializedSignedData !== 'string' || typeof v.serializedPublicKey !== 'string' || typeof v.serializedMessage !== 'string') return null;
  try {
    return { signature: fromBase64(v.serializedSignedData), signingKey: fromBase64(v.serializedPublicKey), message: fromBase64(v.serializedMessage) };
  } catch {
    return null;
  }
}

