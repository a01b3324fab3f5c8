/**
 * Sliding anti-replay window over 64-bit counters (the RFC 6479 idea, as in
 * IPsec and WireGuard): accepts each counter at most once, and rejects counters
 * older than `size` behind the highest one seen.
 */
export const REPLAY_WINDOW_SIZE = 2048;

export class ReplayWindow {
  readonly size: number;
  #highest = -1;
  readonly #bits: Uint32Array;

  constructor(size = REPLAY_WINDOW_SIZE) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new RangeError('size must be a positive multiple of 32');
    this.size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** True if `counter` may still be accepted (not seen, not too old). Does not record it. */
  check(counter: number): boolean {
    if (counter > this.#highest) return true;
    if (counter <= this.#highest - this.size) return false;
    const bit = counter % this.size;
    return (this.#bits[bit >>> 5] & (1 << (bit & 31))) === 0;
  }

  /** Records `counter`; call only after the message authenticated. */
  accept(counter: number): void {
    if (counter > this.#highest) {
      const shift = counter - this.#highest;
      if (shift >= this.size) this.#bits.fill(0);
      else for (let c = this.#highest + 1; c < counter; c++) this.#clear(c);
      this.#highest = counter;
    }
    const bit = counter % this.size;
    this.#bits[bit >>> 5] |= 1 << (bit & 31);
  }

  #clear(counter: number): void {
    const bit = counter % this.size;
    this.#bits[bit >>> 5] &= ~(1 << (bit & 31));
  }
}
