/**
 * One promise per key while it runs: a second caller asking for the same key
 * (a URL being dialed, a node being connected to, an alias being looked up)
 * joins the running operation instead of starting another. The key is free
 * again once the promise settles.
 */
export class InFlight<K, T> {
  readonly #running = new Map<K, Promise<T>>();

  /** Operations running. */
  get size(): number { return this.#running.size; }
  has(key: K): boolean { return this.#running.has(key); }

  /** The running operation for `key`, or the one `start()` begins now. */
  run(key: K, start: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running;
    const p = start();
    this.#running.set(key, p);
    const done = () => { if (this.#running.get(key) === p) this.#running.delete(key); };
    p.then(done, done);
    return p;
  }
}
