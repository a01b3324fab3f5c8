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
 * or two, so the first is a field and only a third one makes an array (a Set
 * cost ~200 bytes per remembered message, an array ~180).
 */
export class TriedLinks<L> {
  #a: L | undefined = undefined;
  #b: L | undefined = undefined;
  #more: L[] | null = null;
  #size = 0;
  get size(): number { return this.#size; }
  has(link: L): boolean {
    return this.#size > 0 && (this.#a === link || this.#b === link || (this.#more !== null && this.#more.includes(link)));
  }
  add(link: L): this {
    if (this.has(link)) return this;
    if (this.#size === 0) this.#a = link;
    else if (this.#size === 1) this.#b = link;
    else (this.#more ??= []).push(link);
    this.#size++;
    return this;
  }
}

/**
 * What is remembered of a message id: one object (it is its own `tried` set),
 * about 64 bytes, since a relay holds one per message it saw in the last two
 * ages (~75 per idle level-a node; many more on a busy relay).
 */
export class SeenEntry<L = unknown> extends TriedLinks<L> {
  at: number;
  delivered = false;
  /** Where the message first came from: a dead end returns it there (depth-first backtracking). */
  parent: L | null = null;
  constructor(at: number) { super(); this.at = at; }
  /** The links already tried (this entry itself). */
  get tried(): TriedLinks<L> { return this; }
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
    const e = new SeenEntry<L>(now);
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
