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
    if (!this.peek()) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True if a token is there (refills first; takes nothing). */
  peek(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    return this.#tokens >= 1;
  }
}

/** The host part of a sink's `remoteAddress` (`<address>:<port>`, as the dialects make it). */
export function hostOf(remoteAddress: string): string {
  const m = /^(.*):\d+$/.exec(remoteAddress);
  return (m ? m[1] : remoteAddress).replace(/^\[|\]$/g, '').replace(/^::ffff:/, '');
}

/** Which budget a request exhausted, or null if all had room. */
export type BudgetScope = 'connection' | 'address' | 'node';

/**
 * Token buckets at three scopes (a connection, its remote address, the node),
 * each with burst twice its rate. take() checks all three before taking from
 * any, so a refusal costs no tokens: a cheap check before expensive work.
 */
export class Budgets<K extends object> {
  readonly #perConnection: number;
  readonly #perAddress: number;
  readonly #node: TokenBucket | null;
  readonly #connections = new WeakMap<K, TokenBucket>();
  readonly #addresses = new Map<string, TokenBucket>();
  readonly #maxAddresses: number;

  /** A rate of Infinity (or 0) turns a scope off. */
  constructor(perConnection: number, perAddress: number, node: number, maxAddresses = 65_536) {
    this.#perConnection = perConnection;
    this.#perAddress = perAddress;
    this.#node = node > 0 && Number.isFinite(node) ? new TokenBucket(node, node * 2) : null;
    this.#maxAddresses = maxAddresses;
  }

  take(conn: K, address: string): BudgetScope | null {
    let c: TokenBucket | undefined;
    if (this.#perConnection > 0 && Number.isFinite(this.#perConnection)) {
      c = this.#connections.get(conn);
      if (!c) { c = new TokenBucket(this.#perConnection, this.#perConnection * 2); this.#connections.set(conn, c); }
      if (!c.peek()) return 'connection';
    }
    let a: TokenBucket | undefined;
    if (this.#perAddress > 0 && Number.isFinite(this.#perAddress)) {
      const host = hostOf(address);
      a = this.#addresses.get(host);
      if (!a) {
        if (this.#addresses.size >= this.#maxAddresses) this.#addresses.delete(this.#addresses.keys().next().value!);
        a = new TokenBucket(this.#perAddress, this.#perAddress * 2);
        this.#addresses.set(host, a);
      }
      if (!a.peek()) return 'address';
    }
    if (this.#node && !this.#node.peek()) return 'node';
    c?.take();
    a?.take();
    this.#node?.take();
    return null;
  }
}
