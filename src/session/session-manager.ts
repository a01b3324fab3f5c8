/**
 * End-to-end sessions of one node: fetches and checks public keys, runs the
 * handshake of crypto/session.ts with retries, queues plaintexts (bounded)
 * until a session exists and opens DATA. Answering other nodes' key requests
 * and INITs is responder.ts, the keys held peer-keys.ts, the retry state and
 * pacing pending.ts; sealing and batching of what it sends on a session is
 * data-sender.ts. It routes through `route` and never touches links itself.
 */
import debugFactory from 'debug';
import { toHex, equalBytes, key53 } from '../util/bytes.js';
import { PublicIdentity } from '../crypto/identity.js';
import { createInit, complete, SID_LENGTH, type Session, type PendingInit } from '../crypto/session.js';
import { BoundedMap } from '../util/bounded-map.js';
import { SessionTable } from './session-table.js';
import { SpareEphemeral } from './spare-ephemeral.js';
import { RateWindow } from '../util/rate-window.js';
import { cpuQueue, CpuPriority } from '../util/cpu-queue.js';
import { defaultAead, type Aead } from '../crypto/aead.js';
import {
  encodeEnvelope, envelope, EnvelopeFlags, MSG_ID_LENGTH, MsgType, OFF_FLAGS, type MsgTypeCode,
} from '../wire/envelope.js';
import { BATCH_CHANNEL, batchEntries } from './batch.js';
import { DataSender } from './data-sender.js';
import { HeldFrames } from './held-frames.js';
import { PeerKeys } from './peer-keys.js';
import { Responder, type SentInit } from './responder.js';
import { relayError, type RelayError } from '../util/errors.js';
import { trace } from '../util/trace.js';
import type { RouteResult } from '../routing/router.js';
import { newPending, RetryPacer, type Pending, type SessionManagerOptions } from './pending.js';

export type { SessionManagerOptions } from './pending.js';

/** SESSION_UNKNOWN replies sent per second, to all senders together. */
const UNKNOWN_REPLIES_PER_SECOND = 20;
/** While this process's CPU queue holds handshake work, a session deadline moves by this much at a time (ms; three limits in all). */
const BUSY_EXTENSION_MS = 1000;

const debug = debugFactory('relaymesh:e2e');

/** Message type names for the trace hook (util/trace.ts). */
const TRACE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k]));

export class SessionManager {
  readonly #o: SessionManagerOptions;
  readonly #aead: Aead;
  /** Public keys checked against their ids, most recently learned kept. */
  readonly #keys: PeerKeys;
  readonly #sessions: SessionTable;
  readonly #pending = new Map<string, Pending>();
  /** INITs this node sent and has not seen answered, by their sid; independent of queues. */
  readonly #inits: BoundedMap<string, SentInit>;
  /** A peer's DATA that overtook the RESP it follows, and what came after it (held-frames.ts). */
  readonly #held = new HeldFrames((sid) => this.#working.has(`r${sid}`));
  #queued = 0;
  #queuedBytes = 0;
  /** KEM steps waiting in the CPU queue, so a repeated INIT, RESP or key request makes no second one. */
  readonly #working = new Set<string>();
  readonly #spare = new SpareEphemeral();
  /** Paces handshake retries by the round trips measured (pending.ts). */
  readonly #pacer = new RetryPacer();
  #sweep: ReturnType<typeof setInterval>;
  #destroyed = false;
  readonly #unknownReplies = new RateWindow(UNKNOWN_REPLIES_PER_SECOND);
  /** Answers KEY_REQUEST and HANDSHAKE_INIT (responder.ts). */
  readonly #responder: Responder;
  /** Sealing, batching and the memory of sent DATA. */
  readonly #data: DataSender;

  constructor(o: SessionManagerOptions) {
    this.#o = o;
    this.#aead = o.aead ?? defaultAead;
    this.#sessions = new SessionTable(o.maxSessions);
    this.#keys = new PeerKeys(o.maxKeys);
    this.#inits = new BoundedMap(o.maxSessions);
    this.#responder = new Responder({
      identity: o.identity, aead: this.#aead, keys: this.#keys, sessions: this.#sessions, inits: this.#inits,
      working: this.#working, spare: this.#spare,
      route: (type, to, body) => this.#route(type, to, body),
      pending: (hex) => this.#pending.get(hex),
      flush: (p, session) => this.#flush(p, session),
      countDrop: o.countDrop,
      destroyed: () => this.#destroyed,
      maxSessions: o.maxSessions, maxKeys: o.maxKeys, maxHandshakesPerSecond: o.maxHandshakesPerSecond,
    });
    this.#data = new DataSender({
      id: o.identity.id, ttl: o.ttl, maxBatchBytes: o.maxBatchBytes, route: o.route, fail: o.fail,
      current: (hex) => this.#sessions.current(hex),
      resend: (to, channel, payload) => this.send(to, channel, payload),
      destroyed: () => this.#destroyed,
    });
    this.#sweep = setInterval(() => this.#expire(), Math.min(o.sessionIdleMs, 30_000));
    this.#sweep.unref?.();
  }

  get sessionCount(): number { return this.#sessions.size; }
  get queued(): number { return this.#queued; }
  /** Payload bytes waiting for sessions, all destinations. */
  get queuedBytes(): number { return this.#queuedBytes; }
  /** Payload bytes waiting for the session with node `hex`. */
  pendingBytes(hex: string): number { return this.#pending.get(hex)?.bytes ?? 0; }

  /** Remembers keys that were checked against their id; with `ahead`, one encapsulation to them is made soon (peer-keys.ts). */
  learnKeys(remote: PublicIdentity, ahead = false): void { this.#keys.learn(remote, ahead); }

  keysOf(id: Uint8Array): PublicIdentity | undefined { return this.#keys.get(toHex(id)); }

  hasSession(id: Uint8Array): boolean { return this.#sessions.current(toHex(id)) !== undefined; }

  /** Seals and sends `channel || payload` to `to` (`hex`: its hex, if the caller has it), setting up a session first if needed. */
  send(to: Uint8Array, channel: number, payload: Uint8Array, hex = toHex(to)): void {
    if (this.#destroyed) throw relayError('ERR_DESTROYED');
    const session = this.#sessions.current(hex);
    if (session && !session.exhausted) {
      this.#data.send(hex, to, session, channel, payload);
      return;
    }
    let p = this.#pending.get(hex);
    if (p && p.queue.length >= this.#o.maxQueuePerPeer) throw relayError('ERR_QUEUE_FULL', `more than ${this.#o.maxQueuePerPeer} messages wait for ${hex}`);
    if (this.#queued >= this.#o.maxQueueTotal) throw relayError('ERR_QUEUE_FULL', `more than ${this.#o.maxQueueTotal} messages wait for sessions`);
    if (!p) {
      const now = Date.now();
      p = newPending(to, now, this.#o.handshakeTimeoutMs);
      this.#pending.set(hex, p);
      if (session) this.#sessions.drop(session);
      this.#attempt(p);
    }
    p.queue.push({ channel, payload: payload.slice() }); // the caller may reuse its buffer while this waits
    this.#queued++;
    p.bytes += payload.length;
    this.#queuedBytes += payload.length;
  }

  /** Called when the node gains a link: paused handshakes go now, and a spare ephemeral key pair is made soon. */
  kick(): void {
    this.#spare.prime();
    for (const p of this.#pending.values()) {
      if (p.attempts === 0 || !p.timer) this.#attempt(p);
    }
  }

  /** Handles a routed frame addressed to this node. */
  handle(frame: Uint8Array): void {
    const from = envelope.from(frame);
    const body = envelope.body(frame);
    const type = envelope.type(frame);
    if (type !== MsgType.DATA) trace(TRACE_NAMES[type] ?? 'frame', this.#o.identity.id, ' received');
    switch (type) {
      case MsgType.DATA: return this.#onData(frame, from, body);
      case MsgType.KEY_REQUEST: return this.#responder.onKeyRequest(from, body);
      case MsgType.KEY_RESPONSE: return this.#onKeyResponse(from, body);
      case MsgType.HANDSHAKE_INIT: return this.#responder.onInit(from, body, (frame[OFF_FLAGS] & EnvelopeFlags.BATCH) !== 0);
      case MsgType.HANDSHAKE_RESP: return this.#onResp(from, body, (frame[OFF_FLAGS] & EnvelopeFlags.BATCH) !== 0);
      case MsgType.SESSION_UNKNOWN: return this.#onSessionUnknown(from, body);
      default:
        this.#o.countDrop('unknown_type');
    }
  }

  /** The routed message `msgKey` of ours came back undeliverable: data is reported, a handshake retried. */
  unreachable(msgKey: number, to: Uint8Array, err: RelayError): void {
    if (this.#data.unreachable(msgKey, to, err)) return;
    const p = this.#pending.get(toHex(to));
    if (p) p.lastError = err;
  }

  /**
   * A congestion report names message `msgKey` to `to`: true if this node sent
   * that DATA message to that destination (a report naming anything else is
   * not acted on). A DROPPED message is reported undeliverable (ERR_CONGESTED).
   */
  congestion(kind: number, msgKey: number, to: Uint8Array): boolean { return this.#data.congestion(kind, msgKey, to); }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#keys.stop();
    clearInterval(this.#sweep);
    this.#spare.stop();
    for (const p of this.#pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      this.#o.fail(p.to, relayError('ERR_DESTROYED', 'the node was destroyed before the message was sent'), p.queue.length);
    }
    this.#pending.clear();
    this.#queued = 0;
    this.#data.flushAll();
    this.#queuedBytes = 0;
    this.#sessions.clear();
  }

  #route(type: MsgTypeCode, to: Uint8Array, body: Uint8Array): RouteResult {
    trace(TRACE_NAMES[type], this.#o.identity.id, ' sent');
    const frame = encodeEnvelope(type, to, this.#o.identity.id, body, this.#o.ttl);
    // The handshake says this node opens batch records (old nodes ignore the flag).
    if (type === MsgType.HANDSHAKE_INIT || type === MsgType.HANDSHAKE_RESP) frame[OFF_FLAGS] |= EnvelopeFlags.BATCH;
    return this.#o.route(frame);
  }

  #attempt(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    const now = Date.now();
    // Judged by what arrived, not by this node's lateness: a retry timer that fires
    // late (an overloaded event loop) moves the deadline by as much, up to three limits.
    if (p.due > 0) {
      const add = Math.min(Math.max(0, now - p.due), 3 * this.#o.handshakeTimeoutMs - p.extended);
      p.deadline += add;
      p.extended += add;
      p.due = 0;
    }
    if (!this.#o.hasLinks()) {
      // Paused until a link opens (kick), but never past the queue timeout.
      const left = p.startedAt + this.#o.queueTimeoutMs - now;
      if (left <= 0) return this.#giveUp(p, relayError('ERR_NO_ROUTE', 'the node has no links'));
      p.deadline = Math.max(p.deadline, now + this.#o.handshakeTimeoutMs);
      // Referenced on purpose: a pending send keeps the process alive until it is sent or reported.
      p.timer = setTimeout(() => this.#attempt(p), left);
      return;
    }
    if (now >= p.deadline && (p.creating || cpuQueue.urgent > 0) && p.extended < 3 * this.#o.handshakeTimeoutMs) {
      // This process's CPU queue holds handshake work (ours, or the answer we wait for, when the
      // remote shares the process): that is this node's own lateness, not the remote's.
      const add = Math.min(BUSY_EXTENSION_MS, 3 * this.#o.handshakeTimeoutMs - p.extended);
      p.deadline = now + add;
      p.extended += add;
    }
    if (now >= p.deadline) {
      // An answer may be queued unread: look once more after the event loop's I/O phase.
      if (!p.lastLook) { p.lastLook = true; this.#retryIn(p, 0); return; }
      return this.#giveUp(p, p.lastError ?? relayError('ERR_HANDSHAKE_TIMEOUT', `no session with ${toHex(p.to)} after ${this.#o.handshakeTimeoutMs} ms`));
    }
    if (p.attempts > 0 && (p.creating || cpuQueue.urgent > 0)) {
      // No retry while this process's CPU queue holds handshake work: the answer may be waiting there,
      // and under overload retries would only add routed traffic (a collapse must not feed itself).
      this.#retryIn(p, Math.min(BUSY_EXTENSION_MS / 2, Math.max(1, p.deadline - now)));
      return;
    }
    p.attempts++;
    if (p.attempts === 1) p.firstSentAt = now;
    const keys = this.#keys.get(toHex(p.to));
    if (!keys) {
      // Our keys ride along: a node that knows them answers with its INIT at once (§5.1), an older one with its keys.
      this.#route(MsgType.KEY_REQUEST, p.to, this.#o.identity.publicKeys());
    } else if (p.init) {
      this.#route(MsgType.HANDSHAKE_INIT, p.to, p.init.init);
    } else if (!p.creating) {
      p.creating = true;
      cpuQueue.run(CpuPriority.SESSION, () => {
        p.creating = false;
        if (this.#destroyed || this.#pending.get(toHex(p.to)) !== p || p.init) return;
        p.init = createInit(this.#o.identity, keys, this.#spare.take());
        this.#inits.set(toHex(p.init.sid), Object.assign(p.init, { at: Date.now() }));
        this.#route(MsgType.HANDSHAKE_INIT, p.to, p.init.init);
      });
    }
    this.#retryIn(p, Math.min(this.#pacer.delay(p.attempts), Math.max(1, p.deadline - now)));
  }

  #retryIn(p: Pending, ms: number): void {
    p.due = Date.now() + ms;
    p.timer = setTimeout(() => this.#attempt(p), ms);
  }

  #giveUp(p: Pending, err: RelayError): void {
    if (p.timer) clearTimeout(p.timer);
    this.#pending.delete(toHex(p.to));
    this.#queued -= p.queue.length;
    this.#queuedBytes -= p.bytes;
    if (p.init) this.#spare.done();
    debug('giving up on %s: %s', toHex(p.to), err.code);
    this.#o.fail(p.to, err, p.queue.length);
  }

  #onKeyResponse(from: Uint8Array, body: Uint8Array): void {
    const remote = PublicIdentity.fromKeys(body, from);
    if (!remote) {
      // A relay (or the sender) substituted keys: they do not hash to the id.
      this.#o.countDrop('bad_keys');
      const p = this.#pending.get(toHex(from));
      if (p) p.lastError = relayError('ERR_BAD_KEYS', `keys received for ${toHex(from)} do not match its id`);
      return;
    }
    this.learnKeys(remote);
    const p = this.#pending.get(remote.idHex);
    if (p && !p.init) this.#attempt(p);
  }

  #onResp(from: Uint8Array, body: Uint8Array, batches: boolean): void {
    const sidHex = toHex(body.subarray(0, SID_LENGTH));
    const init = this.#inits.get(sidHex);
    if (!init || !equalBytes(init.remote.id, from)) {
      // The answer to a retried INIT of a handshake that completed already (the same RESP again): nothing to do.
      const done = body.length >= SID_LENGTH ? this.#sessions.bySid(key53(body)) : undefined;
      if (done && done.initiator && equalBytes(done.remote.id, from)) return;
      this.#o.countDrop('unsolicited_handshake');
      return;
    }
    const work = `r${sidHex}`;
    if (this.#working.has(work)) return; // a repeated RESP while the first is being opened
    this.#working.add(work);
    const copy = body.slice();
    cpuQueue.run(CpuPriority.SESSION, () => {
      this.#working.delete(work);
      if (!this.#destroyed && this.#inits.get(sidHex) === init) this.#complete(from.slice(), sidHex, init, copy, batches);
    });
  }

  #complete(from: Uint8Array, sidHex: string, init: PendingInit, body: Uint8Array, batches: boolean): void {
    const session = complete(this.#o.identity, init, body, this.#aead);
    if (!session) { this.#o.countDrop('bad_handshake'); return; }
    this.#inits.delete(sidHex);
    session.peerBatches = batches;
    this.#sessions.add(session);
    const hex = toHex(from);
    this.#responder.completed(hex, sidHex);
    const p = this.#pending.get(hex);
    if (p) this.#flush(p, session);
    // DATA the responder sent right behind its RESP, if it overtook it, and what came after it (in order).
    this.#release(hex);
  }

  /** Handles the frames held from peer `hex` again, in arrival order (those for an INIT still open are held again). */
  #release(hex: string): void {
    for (const f of this.#held.take(hex)) this.handle(f);
  }

  #flush(p: Pending, session: Session): void {
    if (p.timer) clearTimeout(p.timer);
    if (p.attempts === 1 && p.firstSentAt > 0) this.#pacer.sample(Date.now() - p.firstSentAt);
    if (p.init) this.#spare.done();
    this.#pending.delete(toHex(p.to));
    this.#queued -= p.queue.length;
    this.#queuedBytes -= p.bytes;
    const hex = toHex(p.to);
    for (const q of p.queue) this.#data.send(hex, p.to, session, q.channel, q.payload);
  }

  #onData(frame: Uint8Array, from: Uint8Array, body: Uint8Array): void {
    if (body.length < SID_LENGTH) { this.#o.countDrop('malformed'); return; }
    const session = this.#sessions.bySid(key53(body));
    // Frames from this peer wait already: this one goes behind them (the peer's order holds).
    if (this.#held.count > 0 && this.#held.hold(toHex(from), frame, null)) return;
    if (!session) {
      // For an INIT of ours not answered yet: the responder may send before its RESP arrived here. Held, bounded.
      const sidHex = toHex(body.subarray(0, SID_LENGTH));
      const init = this.#inits.get(sidHex);
      if (init && equalBytes(init.remote.id, from) && this.#held.hold(toHex(from), frame, sidHex)) return;
      this.#o.countDrop('unknown_session');
      this.#replyUnknown(from, body.subarray(0, SID_LENGTH), envelope.msgId(frame));
      return;
    }
    if (!equalBytes(session.remote.id, from)) { this.#o.countDrop('forged_sender'); return; }
    const r = session.open(envelope.to(frame), from, body);
    if (!r.ok) { this.#o.countDrop(r.reason === 'replay' ? 'replay' : r.reason === 'decrypt' ? 'decrypt_failed' : 'malformed'); return; }
    trace('DATA opened', this.#o.identity.id);
    this.#sessions.used(session);
    const pt = r.plaintext;
    if (pt.length > 0 && pt[0] === BATCH_CHANNEL) {
      const at = batchEntries(pt);
      if (!at) { this.#o.countDrop('malformed'); return; }
      session.peerBatches = true; // it sent one, so it opens them
      for (let i = 0; i < at.length; i += 2) this.#o.deliver(session.remote.id, pt, at[i], at[i + 1]);
      return;
    }
    this.#o.deliver(session.remote.id, pt, 0, pt.length);
  }

  /** SESSION_UNKNOWN: the sid, and the id of the DATA that named it (so its origin can report that message). */
  #replyUnknown(to: Uint8Array, sid: Uint8Array, msgId: Uint8Array): void {
    if (!this.#unknownReplies.take()) return;
    const body = new Uint8Array(SID_LENGTH + MSG_ID_LENGTH);
    body.set(sid);
    body.set(msgId, SID_LENGTH);
    this.#route(MsgType.SESSION_UNKNOWN, to, body);
  }

  /**
   * `from` has no session `sid`: ours with it is dropped (the next message makes a new handshake), and
   * the DATA it names, if this node sent it there, is reported undeliverable (ERR_SESSION_LOST). An
   * older peer sends the sid alone.
   */
  #onSessionUnknown(from: Uint8Array, body: Uint8Array): void {
    if (body.length !== SID_LENGTH && body.length !== SID_LENGTH + MSG_ID_LENGTH) { this.#o.countDrop('malformed'); return; }
    const sid = body.subarray(0, SID_LENGTH);
    const s = this.#sessions.current(toHex(from));
    if (s && equalBytes(s.remoteSid, sid)) {
      debug('%s lost our session; a new handshake follows on the next send', toHex(from));
      this.#sessions.drop(s);
    }
    if (body.length > SID_LENGTH) {
      const msgKey = key53(body, SID_LENGTH);
      if (this.#data.lost(msgKey, from)) this.#o.settled?.(msgKey);
    }
  }

  #expire(): void {
    const now = Date.now();
    for (const [k, i] of this.#inits.entries()) if (now - i.at > this.#o.handshakeTimeoutMs * 2) this.#inits.delete(k);
    // INITs given up on: what waited for them is handled again (unknown sessions are counted and answered there).
    for (const hex of this.#held.abandoned((sid) => this.#inits.get(sid) !== undefined)) this.#release(hex);
    this.#sessions.expire(now, this.#o.sessionIdleMs);
  }
}
