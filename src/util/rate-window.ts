/**
 * A fixed-window rate limit: at most `max` events per window (one second by
 * default). Two numbers of state and no timer, so one can be kept per sender.
 */
export class RateWindow {
  readonly max: number;
  readonly windowMs: number;
  #start = 0;
  #count = 0;

  constructor(max: number, windowMs = 1000) {
    if (!(max >= 0)) throw new RangeError('max must be a non-negative number');
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.max = max;
    this.windowMs = windowMs;
  }

  /** Counts one event; false when it is over the limit of the current window. */
  take(now = Date.now()): boolean {
    if (now - this.#start >= this.windowMs) { this.#start = now; this.#count = 0; }
    return ++this.#count <= this.max;
  }
}
