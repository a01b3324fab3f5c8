/**
 * A small event emitter for the objects a node holds one of per link (links,
 * transport connections): the part of Node's EventEmitter they use (`on`,
 * `once`, `off`, `emit`, `listenerCount`), with the same semantics (listeners
 * called in order with `this` the emitter, the list as it was when the emit
 * began, an unhandled 'error' thrown), at a fraction of its memory: nothing
 * until the first listener, then one slot per event (a function, or an array
 * past one). An EventEmitter costs ~220 bytes per instance before any listener
 * (its `_events` dictionary, counters, symbols: 256 bytes against 40 for a
 * plain object, Node 20), paid twice per link end (link and transport).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => void;
type Once = Fn & { listener: Fn };

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  #l: Partial<Record<keyof E, Fn | Fn[]>> | null = null;

  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const l: Partial<Record<keyof E, Fn | Fn[]>> = this.#l ??= {};
    const cur: Fn | Fn[] | undefined = l[event];
    l[event] = cur === undefined ? fn : typeof cur === 'function' ? [cur, fn] : [...cur, fn];
    this.listenerAdded(event);
    return this;
  }

  addListener<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this { return this.on(event, fn); }

  once<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const self = this;
    const wrapper = function (this: unknown, ...args: E[K]) {
      self.off(event, fn);
      fn.apply(this, args);
    } as Once;
    wrapper.listener = fn;
    return this.on(event, wrapper);
  }

  /** Removes the last registration of `fn` (or of a `once` wrapper of it) for `event`. */
  off<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const l = this.#l;
    const cur: Fn | Fn[] | undefined = l?.[event];
    if (!l || cur === undefined) return this;
    const is = (x: Fn) => x === fn || (x as Once).listener === fn;
    if (typeof cur === 'function') {
      if (is(cur)) delete l[event];
      return this;
    }
    for (let i = cur.length - 1; i >= 0; i--) {
      if (!is(cur[i])) continue;
      const rest = cur.slice(0, i).concat(cur.slice(i + 1));
      l[event] = rest.length === 1 ? rest[0] : rest;
      break;
    }
    return this;
  }

  removeListener<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this { return this.off(event, fn); }

  removeAllListeners<K extends keyof E>(event?: K): this {
    if (event === undefined) this.#l = null;
    else if (this.#l) delete this.#l[event];
    return this;
  }

  listenerCount<K extends keyof E>(event: K): number {
    const cur: Fn | Fn[] | undefined = this.#l?.[event];
    return cur === undefined ? 0 : typeof cur === 'function' ? 1 : cur.length;
  }

  /** Calls `event`'s listeners in order; false when there were none ('error' with none throws). */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const cur: Fn | Fn[] | undefined = this.#l?.[event];
    if (cur === undefined) {
      if (event === 'error') {
        const err = args[0];
        throw err instanceof Error ? err : new Error(`Unhandled error. (${String(err)})`);
      }
      return false;
    }
    // Lists are replaced, never changed in place, so this one stays as it was when the emit began.
    if (typeof cur === 'function') cur.apply(this, args);
    else for (const fn of cur) fn.apply(this, args);
    return true;
  }

  /** Subclasses' hook: a listener for `event` was added (the connection hands its early frames to the first 'message' one). */
  protected listenerAdded(_event: keyof E): void { /* nothing by default */ }
}
