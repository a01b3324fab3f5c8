/**
 * send()'s backpressure signal, like stream.write()'s: the destinations
 * send() returned false for, the destinations a relay's CONGESTION report
 * holds (until when), and the one 'drain' owed once every blocked destination
 * is below sendLowWaterMark and no longer held. While one is owed it looks
 * again every DRAIN_POLL_MS (holds expire, sessions open) and whenever a link
 * becomes writable (CREDIT) or a GO report arrives. The bytes themselves are
 * counted by the node (its `pressure`).
 */
import { CongestionKind } from '../wire/envelope.js';
import type { Limits } from '../util/limits.js';

/** How often a pending 'drain' is looked at besides CREDIT and CONGESTION go (ms). */
export const DRAIN_POLL_MS = 5;

export interface BackpressureHost {
  readonly limits: Pick<Limits, 'sendLowWaterMark' | 'maxSessions' | 'congestionHoldMs'>;
  /** This node's own bytes toward `to` (`hex`): queued for its session and on the link to its next hop. */
  pressure(to: Uint8Array, hex: string): number;
  /** Every destination send() returned false for can take more: emit 'drain'. */
  drain(): void;
}

export class Backpressure {
  readonly #host: BackpressureHost;
  /** Destinations send() returned false for, waiting for 'drain'. */
  readonly #blocked = new Map<string, Uint8Array>();
  /** Destinations a relay's CONGESTION report holds, until when (ms). */
  readonly #holds = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #checkQueued = false;
  #stopped = false;

  constructor(host: BackpressureHost) { this.#host = host; }

  /** True while a CONGESTION report holds destination `hex` (send() says false). */
  held(hex: string): boolean {
    const until = this.#holds.get(hex);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.#holds.delete(hex);
    return false;
  }

  /** send() returned false for `to` (`hex`): 'drain' follows once it is below sendLowWaterMark and not held. */
  block(hex: string, to: Uint8Array): void {
    if (!this.#blocked.has(hex)) this.#blocked.set(hex, to.slice());
    this.#arm();
  }

  /** A CONGESTION report of `kind` named one of our messages to `hex`: a STOP holds it, a GO lets it go. */
  report(kind: number, hex: string): void {
    const limits = this.#host.limits;
    if (kind === CongestionKind.GO) {
      this.#holds.delete(hex);
      this.writable();
      return;
    }
    if (!this.#holds.has(hex) && this.#holds.size >= limits.maxSessions) {
      // Bounded: expired holds go first; failing that, this hold is not kept (send() says true a little early).
      for (const [h, until] of this.#holds) if (until <= Date.now()) this.#holds.delete(h);
      if (this.#holds.size >= limits.maxSessions) return;
    }
    this.#holds.set(hex, Date.now() + limits.congestionHoldMs);
  }

  /** A link can take more (CREDIT arrived, its queue went down): looks at the blocked destinations soon. */
  writable(): void {
    if (this.#blocked.size === 0 || this.#checkQueued) return;
    this.#checkQueued = true;
    setImmediate(() => { this.#checkQueued = false; this.#check(); });
  }

  /** No more looks and no 'drain' (the node is destroyed). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** While a 'drain' is owed: looks again every few ms. */
  #arm(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => { this.#timer = null; this.#check(); }, DRAIN_POLL_MS);
    this.#timer.unref?.();
  }

  #check(): void {
    if (this.#stopped || this.#blocked.size === 0) return;
    for (const [hex, to] of this.#blocked) {
      if (!this.held(hex) && this.#host.pressure(to, hex) < this.#host.limits.sendLowWaterMark) this.#blocked.delete(hex);
    }
    if (this.#blocked.size > 0) { this.#arm(); return; }
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.#host.drain();
  }
}
