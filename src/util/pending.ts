/**
 * Pending requests matched to their answers by key: the one helper for every
 * "send a question, wait for the answer" in relaymesh. Each request has a
 * timeout (ERR_TIMEOUT), an optional AbortSignal (ERR_ABORTED), and the set is
 * bounded (ERR_QUEUE_FULL once `max` wait); a site whose wire protocol has
 * its own refusals passes `timeoutError` / `fullError`. Nothing leaks: a settled request
 * clears its timer and its abort listener.
 *
 *   const pending = new PendingRequests<string, Answer>({ max: 1024, timeoutMs: 5000, what: 'lookup' });
 *   const answer = pending.add(id, { signal });   // send the question after add()
 *   ...
 *   pending.resolve(id, answer);                  // false when nobody waits for `id`
 */
import { relayError } from './errors.js';

export interface PendingOptions {
  /** Most requests waiting at once. */
  max: number;
  /** Default time limit of a request (ms). */
  timeoutMs: number;
  /** Names the request in error messages ('lookup', 'connect(...)'). */
  what?: string;
  /** Makes the error for a request that timed out (default: ERR_TIMEOUT). */
  timeoutError?: (key: unknown, ms: number) => Error;
  /** The timers keep the process alive while a request waits (default: they do not). */
  keepAlive?: boolean;
  /** Makes the error for a request refused because `max` wait (default: ERR_QUEUE_FULL). */
  fullError?: (max: number) => Error;
}

export interface AddOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Entry<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout> | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

export class PendingRequests<K, T> {
  readonly #o: PendingOptions;
  readonly #entries = new Map<K, Entry<T>>();

  constructor(o: PendingOptions) {
    if (!Number.isInteger(o.max) || o.max < 1) throw new RangeError('max must be a positive integer');
    if (!(o.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    this.#o = o;
  }

  get size(): number { return this.#entries.size; }
  has(key: K): boolean { return this.#entries.has(key); }
  keys(): IterableIterator<K> { return this.#entries.keys(); }

  /**
   * Waits for the answer to `key`. Rejects at once with ERR_QUEUE_FULL when
   * `max` requests wait, with ERR_ABORTED if the signal is already aborted,
   * and throws if `key` is already waiting (a caller bug).
   */
  add(key: K, opts: AddOptions = {}): Promise<T> {
    if (this.#entries.has(key)) throw new Error(`a request for ${String(key)} is already pending`);
    const what = this.#o.what ?? 'request';
    if (opts.signal?.aborted) return Promise.reject(relayError('ERR_ABORTED', `${what} aborted`));
    if (this.#entries.size >= this.#o.max) {
      return Promise.reject(this.#o.fullError ? this.#o.fullError(this.#o.max) : relayError('ERR_QUEUE_FULL', `more than ${this.#o.max} ${what}s pending`));
    }
    return new Promise<T>((resolve, reject) => {
      const ms = opts.timeoutMs ?? this.#o.timeoutMs;
      const entry: Entry<T> = { resolve, reject, timer: null, signal: opts.signal, onAbort: null };
      entry.timer = setTimeout(() => {
        this.#settle(key, entry);
        reject(this.#o.timeoutError ? this.#o.timeoutError(key, ms) : relayError('ERR_TIMEOUT', `${what}: no answer in ${ms} ms`));
      }, ms);
      if (!this.#o.keepAlive) entry.timer.unref?.();
      if (opts.signal) {
        entry.onAbort = () => { this.#settle(key, entry); reject(relayError('ERR_ABORTED', `${what} aborted`)); };
        opts.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.#entries.set(key, entry);
    });
  }

  /** Answers `key`; false when no request waits for it (a late or unsolicited answer). */
  resolve(key: K, value: T): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    this.#settle(key, e);
    e.resolve(value);
    return true;
  }

  /** Fails `key`; false when no request waits for it. */
  reject(key: K, err: Error): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    this.#settle(key, e);
    e.reject(err);
    return true;
  }

  /**
   * Fails every waiting request (on close or destroy). `err` may be a function
   * that makes the error: it is called only if a request waits (an Error
   * captures a stack, which is most of the cost of closing 10,000 idle clients).
   */
  rejectAll(err: Error | (() => Error)): void {
    if (this.#entries.size === 0) return;
    if (typeof err === 'function') err = err();
    for (const [key, e] of [...this.#entries]) {
      this.#settle(key, e);
      e.reject(err);
    }
  }

  #settle(key: K, e: Entry<T>): void {
    if (this.#entries.get(key) === e) this.#entries.delete(key);
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    if (e.onAbort) e.signal?.removeEventListener('abort', e.onAbort);
    e.onAbort = null;
  }
}
