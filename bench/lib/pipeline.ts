/**
 * Drivers for relay benchmarks. `Pipeline` keeps up to `window` messages in
 * flight (the sender sends while fewer than `window` are outstanding), so the
 * rate is not bound by latency, and measures deliveries per second in a steady
 * window after a warm-up. It records every delivered sequence number, so a
 * lost, duplicated or corrupted message fails the run. `PingPong` measures one
 * round trip at a time.
 */
import { now } from './stats.js';

export interface ThroughputOptions {
  /** Messages in flight at most. */
  window: number;
  warmupMs: number;
  measureMs: number;
  /** How long to wait for the last messages after sending stops. */
  drainMs: number;
  /** Most messages one run may send (bounds the delivery bitmap). */
  maxMessages?: number;
}

export interface ThroughputResult {
  msgsPerSec: number;
  sent: number;
  delivered: number;
  duplicates: number;
  corrupt: number;
  missing: number;
  /** True when every sent message arrived once and intact. */
  ok: boolean;
}

export class Pipeline {
  readonly #send: (seq: number) => void;
  readonly #o: Required<ThroughputOptions>;
  readonly #seen: Uint8Array;
  #sent = 0;
  #delivered = 0;
  #duplicates = 0;
  #corrupt = 0;
  #sending = false;
  #pumping = false;
  #onDrain: (() => void) | null = null;

  constructor(send: (seq: number) => void, opts: ThroughputOptions) {
    if (typeof send !== 'function') throw new TypeError('send must be a function');
    if (!(opts.window >= 1)) throw new RangeError('opts.window must be at least 1');
    this.#send = send;
    this.#o = { maxMessages: 4_000_000, ...opts };
    this.#seen = new Uint8Array(this.#o.maxMessages);
  }

  /** The receiver calls this for each message whose content it checked. */
  delivered(seq: number): void {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.#sent) { this.#corrupt++; return; }
    if (this.#seen[seq]) { this.#duplicates++; return; }
    this.#seen[seq] = 1;
    this.#delivered++;
    if (this.#sending) this.#pump();
    else if (this.#delivered === this.#sent) this.#onDrain?.();
  }

  /** The receiver calls this for a message whose content is wrong. */
  corrupt(): void { this.#corrupt++; }

  async run(): Promise<ThroughputResult> {
    this.#sending = true;
    this.#pump();
    await sleep(this.#o.warmupMs);
    const d0 = this.#delivered;
    const t0 = now();
    await sleep(this.#o.measureMs);
    const d1 = this.#delivered;
    const t1 = now();
    this.#sending = false;
    if (this.#delivered < this.#sent) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.drainMs);
        this.#onDrain = () => { clearTimeout(timer); resolve(); };
      });
    }
    this.#onDrain = null;
    const missing = this.#sent - this.#delivered;
    return {
      msgsPerSec: ((d1 - d0) * 1000) / (t1 - t0),
      sent: this.#sent, delivered: this.#delivered, duplicates: this.#duplicates, corrupt: this.#corrupt, missing,
      ok: missing === 0 && this.#duplicates === 0 && this.#corrupt === 0 && this.#sent > 0,
    };
  }

  #pump(): void {
    if (this.#pumping) return; // a synchronous delivery inside send()
    this.#pumping = true;
    try {
      while (this.#sending && this.#sent - this.#delivered < this.#o.window && this.#sent < this.#o.maxMessages) {
        this.#send(this.#sent++);
      }
    } finally {
      this.#pumping = false;
    }
  }
}

export interface RoundTripOptions { warmup: number; samples: number; maxMs: number; timeoutMs: number }

/** Sequential round trips: `ping(seq)` sends, the echo's arrival calls `pong(seq)`. */
export class PingPong {
  readonly #ping: (seq: number) => void;
  readonly #o: RoundTripOptions;
  readonly samples: number[] = [];
  #seq = 0;
  #t = 0;
  #bad = 0;
  #done: (() => void) | null = null;
  #deadline = 0;

  constructor(ping: (seq: number) => void, opts: RoundTripOptions) {
    if (typeof ping !== 'function') throw new TypeError('ping must be a function');
    this.#ping = ping;
    this.#o = opts;
  }

  pong(seq: number): void {
    if (seq !== this.#seq) { this.#bad++; return; }
    const dt = now() - this.#t;
    if (seq >= this.#o.warmup) this.samples.push(dt);
    this.#seq++;
    if (this.samples.length >= this.#o.samples || now() > this.#deadline) { this.#done?.(); return; }
    this.#next();
  }

  /** Resolves with the samples in ms; rejects if an echo goes missing. */
  async run(): Promise<{ samples: number[]; bad: number }> {
    this.#deadline = now() + this.#o.maxMs;
    await new Promise<void>((resolve, reject) => {
      let last = -1;
      const watch = setInterval(() => {
        if (this.#seq === last) { clearInterval(watch); reject(new Error(`no echo for message ${this.#seq} in ${this.#o.timeoutMs} ms`)); }
        last = this.#seq;
      }, this.#o.timeoutMs);
      this.#done = () => { clearInterval(watch); this.#done = null; resolve(); };
      this.#next();
    });
    return { samples: this.samples, bad: this.#bad };
  }

  #next(): void {
    this.#t = now();
    this.#ping(this.#seq);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
