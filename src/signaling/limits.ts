/**
 * Signaling limits: the defaults live in src/util/limits.ts (the one limits
 * module); this file resolves the options against them and holds the token
 * bucket the dialects rate-limit with.
 */
import { resolveLimits as resolveNumericLimits, ROOM_LIMITS, SIGNALING_LIMITS, type RoomLimits, type SignalingLimits } from '../util/limits.js';

export { SIGNALING_LIMITS, ROOM_LIMITS, DIALECT_LIMITS } from '../util/limits.js';
export type { SignalingLimits, RoomLimits } from '../util/limits.js';

/** The signaling options' flat limit keys over SIGNALING_LIMITS (RangeError naming `signaling.<key>`). */
export function resolveLimits(opts: Partial<SignalingLimits> = {}): SignalingLimits {
  return resolveNumericLimits(SIGNALING_LIMITS, opts, 'signaling');
}

/** `signaling.rooms` over ROOM_LIMITS (RangeError naming `signaling.rooms.<key>`). */
export function resolveRoomLimits(opts: unknown = {}): RoomLimits {
  if (opts === undefined || opts === null) return { ...ROOM_LIMITS };
  if (typeof opts !== 'object') throw new TypeError('signaling.rooms must be an object');
  return resolveNumericLimits(ROOM_LIMITS, opts as Partial<RoomLimits>, 'signaling.rooms');
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
