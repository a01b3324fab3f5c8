/** Signaling limits: every count and buffer of the signaling server has a finite default. */
import { resolveLimits as resolveNumericLimits } from '../util/limits.js';
export const SIGNALING_LIMITS = {
  /** Largest client frame in bytes (a 1 MiB message is ~1.4 MB of base64 JSON). */
  maxFrameBytes: 4 * 1024 * 1024,
  /** Clients registered on one node. */
  maxClients: 10_000,
  /** `register` requests one connection may make. */
  maxRegistrationsPerConnection: 16,
  /** Sustained frames per second per connection (token bucket rate). */
  ratePerSecond: 1000,
  /** Token bucket size: frames a connection may send in a burst. */
  rateBurst: 2000,
  /** Frames waiting in one connection's ordered output queue. */
  maxQueuedFrames: 4096,
  /** Bytes buffered in one client's socket before it is closed as too slow. */
  maxBufferedBytes: 32 * 1024 * 1024,
  /** Questions awaiting an answer from one client. */
  maxQuestionsPerClient: 64,
  /** Default time a client has to answer a question (ms). */
  questionTimeoutMs: 30_000,
  /** Longest wait for an answer (custom handler, auth hook, home node) before the client gets a TIMEOUT error (ms). */
  handlerTimeoutMs: 15_000,
  /** Time a remote home node has to answer a key request (ms; asked again after a third of it). Below the client's 10 s default. */
  remoteTimeoutMs: 8000,
  /** Remote key requests in flight, all clients. */
  maxRemoteRequests: 4096,
  /** Ids `discover` returns (local first, then mesh-wide). */
  maxDiscover: 1000,
  /** Lifetime of a published roster (ms); refreshed at a third of it. */
  rosterTtlMs: 60_000,
  /** Delay that coalesces roster changes into one signature (ms). */
  rosterDelayMs: 100,
  /** Homes (other nodes' rosters) remembered. */
  maxHomes: 1024,
  /** Client ids known mesh-wide. */
  maxRemoteIds: 100_000,
  /** After its owner leaves, an id stays bound to the owner's signing key this long (ms). */
  idReserveMs: 10 * 60_000,
  /** Reserved ids remembered. */
  maxReservations: 10_000,
} as const;

export type SignalingLimits = { -readonly [K in keyof typeof SIGNALING_LIMITS]: number };

export function resolveLimits(opts: Partial<SignalingLimits> = {}): SignalingLimits {
  return resolveNumericLimits(SIGNALING_LIMITS, opts, 'signaling');
}

/** A token bucket (rate per second, burst capacity). */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #rate: number;
  readonly #burst: number;

  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = Date.now();
  }

  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
