/**
 * What a session manager is given (its options) and what it keeps per
 * destination while a session is being set up (Pending), with the pacing of
 * the handshake's retries (RetryPacer): session-manager.ts runs the
 * handshake, this file holds its state.
 */
import type { Identity } from '../crypto/identity.js';
import type { PendingInit } from '../crypto/session.js';
import type { Aead } from '../crypto/aead.js';
import type { RelayError } from '../util/errors.js';
import type { CountDrop } from '../util/drop-reasons.js';
import type { RouteResult } from '../routing/router.js';

export interface SessionManagerOptions {
  identity: Identity;
  aead?: Aead;
  /** Sends a routed frame that originates here. */
  route: (frame: Uint8Array) => RouteResult;
  /** One message, `channel || payload`, is `plaintext[start..end)` (several share one opened record). */
  deliver: (from: Uint8Array, plaintext: Uint8Array, start: number, end: number) => void;
  /** `count` messages to `to` could not be sent. */
  fail: (to: Uint8Array, err: RelayError, count: number) => void;
  /**
   * DATA message `msgKey` (key53 of its id) was reported undeliverable after it left (ERR_SESSION_LOST):
   * nothing may retransmit it (a copy sealed for a lost session cannot be opened; one that could,
   * arriving late, would deliver a message its origin was told was not).
   */
  settled?: (msgKey: number) => void;
  countDrop: CountDrop;
  hasLinks: () => boolean;
  ttl: number;
  handshakeTimeoutMs: number;
  /** Plaintexts waiting for one destination's session. */
  maxQueuePerPeer: number;
  /** Plaintexts waiting across all destinations. */
  maxQueueTotal: number;
  /** Queued plaintexts fail after this long even while the node has no links. */
  queueTimeoutMs: number;
  maxSessions: number;
  maxKeys: number;
  sessionIdleMs: number;
  /** INITs answered per second for one sender id (each costs three ML-KEM operations). */
  maxHandshakesPerSecond: number;
  /** Plaintext bytes of one batch record. */
  maxBatchBytes: number;
}

/** A message waiting for a session: its channel byte and payload. */
export interface Queued { channel: number; payload: Uint8Array }

/** A destination whose session is being set up, and what waits for it. */
export interface Pending {
  to: Uint8Array;
  queue: Queued[];
  /** Payload bytes in `queue` (send()'s backpressure counts them). */
  bytes: number;
  init: PendingInit | null;
  attempts: number;
  startedAt: number;
  /** When the first try left (0: not yet): a session made on the first try measures the round trip. */
  firstSentAt: number;
  deadline: number;
  /** When the retry timer is due (0: not armed by a timer): how late it fires is this node's own lateness. */
  due: number;
  /** Time added to the deadline for this node's own lateness (bounded). */
  extended: number;
  /** The deadline passed once: one more look after queued input is read, then the verdict. */
  lastLook: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  lastError: RelayError | null;
  /** The INIT is being made in the CPU queue. */
  creating: boolean;
}

export function newPending(to: Uint8Array, now: number, timeoutMs: number): Pending {
  return {
    to: to.slice(), queue: [], bytes: 0, init: null, attempts: 0, startedAt: now, firstSentAt: 0, deadline: now + timeoutMs,
    due: 0, extended: 0, lastLook: false, timer: null, lastError: null, creating: false,
  };
}

/** The first retry of a handshake step waits at least this long (ms); each later one twice the one before... */
export const FIRST_RETRY_MS = 1000;
/** ...up to this (ms), */
export const MAX_RETRY_MS = 4000;
/** ...and never less than this many smoothed round trips (a retry before the answer could be back only adds traffic), */
export const RETRY_RTTS = 2;
/** ...nor, paced by round trips, more than this (ms). */
export const MAX_PACED_RETRY_MS = 8000;

/**
 * Paces a node's handshake retries (KEY_REQUEST, INIT) by the round trips it
 * measured: a smoothed round trip (as TCP's, weight 1/8) of handshakes that
 * completed on their first try (Karn: a retried one cannot say which try was
 * answered). The backoff starts at 1 s (a routed round trip crosses several
 * relays: 250 ms was shorter than the round trip itself on a loaded mesh):
 * at 10,000 simulated nodes, retries every 250 ms-2 s, each a new routed
 * message, made most of a delivery round's routed frames.
 */
export class RetryPacer {
  #srtt = 0;

  /** The smoothed round trip (ms; 0 until a first sample). */
  get srtt(): number { return this.#srtt; }

  /** A handshake completed on its first try, `ms` after that try left. */
  sample(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.#srtt = this.#srtt === 0 ? ms : 0.875 * this.#srtt + 0.125 * ms;
  }

  /** The wait (ms) after try `n` (1-based) before the next one. */
  delay(n: number): number {
    const backoff = Math.min(FIRST_RETRY_MS * 2 ** (n - 1), MAX_RETRY_MS);
    return Math.max(backoff, Math.min(RETRY_RTTS * this.#srtt, MAX_PACED_RETRY_MS));
  }
}
