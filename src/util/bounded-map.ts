/**
 * A Map with a size bound and O(1) eviction: two generations, `current` and
 * `old`; when `current` reaches half the bound it becomes `old` and the
 * previous `old` is dropped whole. It holds between max/2 and max entries of
 * the most recently set keys. (Evicting one by one with
 * `map.delete(map.keys().next().value)` walks V8's deleted-entry holes and costs
 * O(holes) per eviction: 21 µs at 65,536 entries, measured.)
 *
 * Setting a key again moves it to `current`, so it also serves as an
 * approximate LRU. `onEvict`, if given, is told of every entry dropped with its
 * generation (not of entries deleted or cleared by the caller): amortized O(1)
 * per set, and nothing at all on the path of maps without it.
 */
export class BoundedMap<K, V> {
  readonly max: number;
  readonly #half: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  #current = new Map<K, V>();
  #old = new Map<K, V>();

  constructor(max: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isInteger(max) || max < 2) throw new RangeError('max must be an integer of at least 2');
    if (onEvict !== undefined && typeof onEvict !== 'function') throw new TypeError('onEvict must be a function');
    this.max = max;
    this.#half = Math.ceil(max / 2);
    this.#onEvict = onEvict;
  }

  get size(): number { return this.#current.size + this.#old.size; }

  get(key: K): V | undefined {
    const v = this.#current.get(key);
    return v !== undefined ? v : this.#old.get(key);
  }

  has(key: K): boolean { return this.#current.has(key) || this.#old.has(key); }

  set(key: K, value: V): this {
    this.#old.delete(key);
    this.#current.set(key, value);
    if (this.#current.size >= this.#half) this.rotate();
    return this;
  }

  /**
   * Starts a new generation now: `old` (and every entry in it) is dropped and
   * `current` becomes `old`, whatever their sizes. Lets a caller expire entries
   * by age as well as by count (DedupCache). `onEvict` is told of the drops.
   */
  rotate(): void {
    const dropped = this.#old;
    this.#old = this.#current;
    this.#current = new Map();
    if (this.#onEvict) for (const [k, v] of dropped) this.#onEvict(k, v);
  }

  delete(key: K): boolean {
    const a = this.#current.delete(key);
    const b = this.#old.delete(key);
    return a || b;
  }

  clear(): void {
    this.#current.clear();
    this.#old.clear();
  }

  *entries(): IterableIterator<[K, V]> {
    yield* this.#old.entries();
    yield* this.#current.entries();
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *keys(): IterableIterator<K> {
    for (const [k] of this.entries()) yield k;
  }
}
