/**
 * The answering side of end-to-end session set-up (PROTOCOL.md §5.1): what a
 * node says when another asks for its keys (KEY_REQUEST) or opens a
 * handshake with it (HANDSHAKE_INIT). The asking side (retries, KEY_RESPONSE,
 * RESP, the queues) is session-manager.ts; the two share the keys held, the
 * INITs this node sent, the CPU-queue work in progress and the spare ephemeral
 * key pair, given here through ResponderHost.
 */
import { toHex, equalBytes } from '../util/bytes.js';
import { BoundedMap } from '../util/bounded-map.js';
import { RateWindow } from '../util/rate-window.js';
import { cpuQueue, CpuPriority } from '../util/cpu-queue.js';
import { relayError } from '../util/errors.js';
import type { CountDrop } from '../util/drop-reasons.js';
import { PublicIdentity, PUBLIC_KEYS_LENGTH, type Identity } from '../crypto/identity.js';
import { createInit, respond, initSender, SID_LENGTH, INIT_LENGTH, type PendingInit, type Session } from '../crypto/session.js';
import type { Aead } from '../crypto/aead.js';
import { MsgType, type MsgTypeCode } from '../wire/envelope.js';
import type { PeerKeys } from './peer-keys.js';
import type { SpareEphemeral } from './spare-ephemeral.js';
import type { SessionTable } from './session-table.js';
import type { Pending } from './pending.js';

/** An INIT this node sent, with when (ms). */
export type SentInit = PendingInit & { at: number };

export interface ResponderHost {
  readonly identity: Identity;
  readonly aead: Aead;
  readonly keys: PeerKeys;
  readonly sessions: SessionTable;
  /** INITs this node sent and has not seen answered, by their sid (hex). */
  readonly inits: BoundedMap<string, SentInit>;
  /** KEM steps waiting in the CPU queue, so a repeated request makes no second one ('a' and 'i' keys are this file's). */
  readonly working: Set<string>;
  readonly spare: SpareEphemeral;
  /** Routes a session message of this node's to `to`. */
  route(type: MsgTypeCode, to: Uint8Array, body: Uint8Array): void;
  /** This node's own set-up of a session with node `hex`, if one is going on. */
  pending(hex: string): Pending | undefined;
  /** What waits in `p` goes on `session` (a session made answering the remote's INIT). */
  flush(p: Pending, session: Session): void;
  countDrop: CountDrop;
  destroyed(): boolean;
  maxSessions: number;
  maxKeys: number;
  /** INITs answered per second for one sender id (each costs three ML-KEM operations). */
  maxHandshakesPerSecond: number;
}

export class Responder {
  readonly #h: ResponderHost;
  /** The sid (hex) of the INIT this node sent to a node (hex id) in answer to its key request. */
  readonly #answerInits: BoundedMap<string, string>;
  /** RESP bodies of recent INITs, keyed by sender id and its sid. */
  readonly #answered: BoundedMap<string, Uint8Array>;
  /** Handshakes answered per sender in the current one-second window (bounded map). */
  readonly #initRate: BoundedMap<string, RateWindow>;

  constructor(host: ResponderHost) {
    this.#h = host;
    this.#answered = new BoundedMap(host.maxSessions);
    this.#answerInits = new BoundedMap(host.maxSessions);
    this.#initRate = new BoundedMap(host.maxKeys);
  }

  /**
   * A key request that carries the asker's keys (checked against its id) is
   * answered with a HANDSHAKE_INIT from this node: it carries this node's keys
   * too, and the asker answers it with RESP and its first DATA at once, so the
   * key fetch and the handshake overlap (three one-way trips instead of five).
   * A request without keys (an older node), one whose keys do not match, or
   * one over the sender's handshake rate gets the plain KEY_RESPONSE.
   */
  onKeyRequest(from: Uint8Array, body: Uint8Array): void {
    if (body.length === PUBLIC_KEYS_LENGTH) {
      const hex = toHex(from);
      const known = this.#h.keys.get(hex);
      const remote = known && equalBytes(known.dsaPublicKey, body.subarray(0, known.dsaPublicKey.length))
        && equalBytes(known.kemPublicKey, body.subarray(known.dsaPublicKey.length)) ? known : PublicIdentity.fromKeys(body, from);
      if (remote && this.#answerWithInit(hex, remote)) return;
    }
    this.#h.route(MsgType.KEY_RESPONSE, from, this.#h.identity.publicKeys());
  }

  /** The INIT `sidHex` answered `hex`'s key request and its RESP came: it is forgotten, and the spare key pair refilled. */
  completed(hex: string, sidHex: string): void {
    if (this.#answerInits.get(hex) === sidHex) { this.#answerInits.delete(hex); this.#h.spare.done(); }
  }

  /** Sends (or sends again) the INIT that answers `remote`'s key request; false to answer with keys instead. */
  #answerWithInit(hex: string, remote: PublicIdentity): boolean {
    const h = this.#h;
    const sent = this.#answerInits.get(hex);
    const again = sent !== undefined ? h.inits.get(sent) : undefined;
    if (again) { h.route(MsgType.HANDSHAKE_INIT, remote.id, again.init); return true; }
    const p = h.pending(hex);
    if (p?.init) { h.route(MsgType.HANDSHAKE_INIT, remote.id, p.init.init); return true; } // ours is on its way already
    const work = `a${hex}`;
    if (h.working.has(work) || p?.creating) return true; // ours is being made
    if (!this.#allowInit(hex)) return false;
    h.keys.learn(remote);
    h.working.add(work);
    cpuQueue.run(CpuPriority.SESSION, () => {
      h.working.delete(work);
      if (h.destroyed() || this.#answerInits.get(hex) !== undefined) return;
      const init = createInit(h.identity, h.keys.get(hex) ?? remote, h.spare.take());
      const sidHex = toHex(init.sid);
      h.inits.set(sidHex, Object.assign(init, { at: Date.now() }));
      this.#answerInits.set(hex, sidHex);
      h.route(MsgType.HANDSHAKE_INIT, remote.id, init.init);
    });
    return true;
  }

  onInit(from: Uint8Array, body: Uint8Array, batches: boolean): void {
    // A retried (or replayed) INIT gets the same answer, not a second session.
    const answered = this.#answered.get(toHex(from) + toHex(body.subarray(0, SID_LENGTH)));
    if (answered && body.length >= SID_LENGTH) {
      this.#h.route(MsgType.HANDSHAKE_RESP, from, answered);
      return;
    }
    const hex = toHex(from);
    const work = body.length >= SID_LENGTH ? `i${hex}${toHex(body.subarray(0, SID_LENGTH))}` : '';
    if (work && this.#h.working.has(work)) return; // the answer to this INIT is being made
    if (!this.#allowInit(hex)) { this.#h.countDrop('handshake_rate'); return; }
    if (!work) { this.#respond(from, hex, body, batches); return; }
    this.#h.working.add(work);
    const copy = body.slice(); // the frame's buffer may be reused while this waits
    cpuQueue.run(CpuPriority.SESSION, () => {
      this.#h.working.delete(work);
      if (!this.#h.destroyed()) this.#respond(from.slice(), hex, copy, batches);
    });
  }

  /** Answers an INIT (three ML-KEM operations): the session is made here, the RESP goes back. */
  #respond(from: Uint8Array, hex: string, body: Uint8Array, batches: boolean): void {
    const h = this.#h;
    const answered = this.#answered.get(hex + toHex(body.subarray(0, SID_LENGTH)));
    if (answered) { h.route(MsgType.HANDSHAKE_RESP, from, answered); return; }
    const sender = body.length === INIT_LENGTH ? initSender(body, from, h.keys.get(hex)) : null;
    if (body.length === INIT_LENGTH && !sender) {
      // The keys in the INIT do not hash to its sender: substituted on the way (it may be the answer to our key request).
      h.countDrop('bad_keys');
      const p = h.pending(hex);
      if (p) p.lastError = relayError('ERR_BAD_KEYS', `keys received for ${hex} do not match its id`);
      return;
    }
    const r = respond(h.identity, from, body, h.aead, sender ?? undefined);
    if (!r) {
      h.countDrop('bad_handshake');
      return;
    }
    h.keys.learn(r.remote);
    r.session.peerBatches = batches;
    h.sessions.add(r.session);
    this.#answered.set(toHex(from) + toHex(r.session.remoteSid), r.resp);
    h.route(MsgType.HANDSHAKE_RESP, from, r.resp);
    // A session we were still setting up toward this node is no longer needed.
    const p = h.pending(r.remote.idHex);
    if (p) h.flush(p, r.session);
  }

  #allowInit(hex: string): boolean {
    const w = this.#initRate.get(hex) ?? new RateWindow(this.#h.maxHandshakesPerSecond);
    this.#initRate.set(hex, w); // an active sender's window is kept, not evicted with its generation
    return w.take();
  }
}
