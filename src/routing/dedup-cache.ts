/**
 * Bounded memory of recently seen message ids (the original remembered every
 * id forever). For each id it keeps the hops already tried, so a message that
 * loops back is sent on along the next-best link instead of around the loop.
 * Pure: entries expire by insertion order and by age, checked on access.
 */
export interface SeenEntry { at: number; tried: Set<string>; delivered: boolean }

export class DedupCache {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly #map = new Map<string, SeenEntry>();

  constructor(maxEntries = 65536, maxAgeMs = 120_000) {
    this.maxEntries = maxEntries;
    this.maxAgeMs = maxAgeMs;
  }

  get size(): number { return this.#map.size; }

  get(key: string, now = Date.now()): SeenEntry | undefined {
    const e = this.#map.get(key);
    if (e && now - e.at > this.maxAgeMs) {
      this.#map.delete(key);
      return undefined;
    }
    return e;
  }

  /** Adds an entry for `key`, evicting the oldest when full. */
  add(key: string, now = Date.now()): SeenEntry {
    const e: SeenEntry = { at: now, tried: new Set(), delivered: false };
    this.#map.set(key, e);
    if (this.#map.size > this.maxEntries) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
    return e;
  }

  clear(): void { this.#map.clear(); }
}
