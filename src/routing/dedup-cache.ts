/**
 * Bounded memory of recently seen message ids (the original remembered every
 * id forever). For each id it keeps the links already tried, so a message that
 * loops back is sent on along the next-best link instead of around the loop.
 * Pure: entries expire by generation (BoundedMap) and by age, checked on access;
 * a new generation also starts every maxAgeMs, so an entry nobody asks for again
 * is freed within two ages instead of staying until 65,536 newer ids push it out
 * (with the links it tried: a closed link stayed reachable through them).
 */
import { BoundedMap } from '../util/bounded-map.js';

/**
 * The links a message was already sent along or came from: almost always one
 * or two, so a short array (a Set costs ~200 bytes per remembered message).
 */
export class TriedLinks<L> {
  readonly #items: L[] = [];
  get size(): number { return this.#items.length; }
  has(link: L): boolean { return this.#items.includes(link); }
  add(link: L): this {
    if (!this.#items.includes(link)) this.#items.push(link);
    return this;
  }
}

export interface SeenEntry<L = unknown> {
  at: number;
  tried: TriedLinks<L>;
  delivered: boolean;
  /** Where the message first came from: a dead end returns it there (depth-first backtracking). */
  parent: L | null;
}

export class DedupCache<L = unknown> {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly #map: BoundedMap<number | string, SeenEntry<L>>;
  /** When the current generation started (null: no entry yet). */
  #generationAt: number | null = null;

  constructor(maxEntries = 65536, maxAgeMs = 120_000) {
    this.maxEntries = maxEntries;
    this.maxAgeMs = maxAgeMs;
    this.#map = new BoundedMap(Math.max(2, maxEntries));
  }

  get size(): number { return this.#map.size; }

  get(key: number | string, now = Date.now()): SeenEntry<L> | undefined {
    this.#age(now);
    const e = this.#map.get(key);
    if (e && now - e.at > this.maxAgeMs) {
      this.#map.delete(key);
      return undefined;
    }
    return e;
  }

  /** Adds an entry for `key`; the oldest entries go when the bound is reached. */
  add(key: number | string, now = Date.now()): SeenEntry<L> {
    this.#age(now);
    const e: SeenEntry<L> = { at: now, tried: new TriedLinks<L>(), delivered: false, parent: null };
    this.#map.set(key, e);
    return e;
  }

  clear(): void { this.#map.clear(); }

  /** Every maxAgeMs a new generation: what the one before last held is older than maxAgeMs by then. */
  #age(now: number): void {
    if (this.#generationAt === null) this.#generationAt = now;
    else if (now - this.#generationAt >= this.maxAgeMs) {
      if (now - this.#generationAt >= 2 * this.maxAgeMs) this.#map.clear();
      else this.#map.rotate();
      this.#generationAt = now;
    }
  }
}
