/**
 * The routing table: every open, authenticated link, kept in a k-bucket tree
 * keyed by XOR distance. Pure and synchronous: no I/O, no timers. A full bucket
 * does not silently drop a link: `add` reports `false` and the node refuses
 * the link instead of keeping it open and unused.
 */
import KBucket from 'k-bucket';
import { equalBytes, toHex } from '../util/bytes.js';

export interface TableEntry<L> { id: Uint8Array; link: L; vectorClock?: number; [k: string]: unknown }

export class RoutingTable<L> {
  readonly localId: Uint8Array;
  readonly capacity: number;
  readonly #bucket: KBucket<TableEntry<L>>;
  readonly #byHex = new Map<string, TableEntry<L>>();

  /**
   * @param capacity the most links the table holds; also the per-bucket size,
   *   so an open link always fits (see PROTOCOL.md, "Routing table").
   */
  constructor(localId: Uint8Array, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.localId = localId;
    this.capacity = capacity;
    this.#bucket = new KBucket<TableEntry<L>>({ localNodeId: localId, numberOfNodesPerKBucket: capacity });
  }

  get size(): number { return this.#byHex.size; }

  /** Adds (or replaces) the link for `id`; false if the table is full. */
  add(id: Uint8Array, link: L): boolean {
    const hex = toHex(id);
    const existing = this.#byHex.get(hex);
    if (!existing && this.#byHex.size >= this.capacity) return false;
    const entry: TableEntry<L> = { id, link };
    const before = this.#bucket.count();
    this.#bucket.add(entry);
    if (!existing && this.#bucket.count() === before) return false;
    this.#byHex.set(hex, entry);
    return true;
  }

  remove(id: Uint8Array): L | undefined {
    const hex = toHex(id);
    const entry = this.#byHex.get(hex);
    if (!entry) return undefined;
    this.#byHex.delete(hex);
    this.#bucket.remove(id);
    return entry.link;
  }

  get(id: Uint8Array): L | undefined { return this.#byHex.get(toHex(id))?.link; }
  getHex(hex: string): L | undefined { return this.#byHex.get(hex)?.link; }
  has(id: Uint8Array): boolean { return this.#byHex.has(toHex(id)); }

  /** The `n` links closest to `target` by XOR distance, nearest first. */
  closest(target: Uint8Array, n = this.capacity): TableEntry<L>[] {
    return this.#bucket.closest(target, n);
  }

  /**
   * Next hop toward `target`: the direct link if there is one, else the closest
   * link not in `exclude`, or with `spread` > 1 one of the `spread` closest at
   * random (a retransmission's path, PROTOCOL.md §4.4).
   */
  nextHop(target: Uint8Array, exclude: { has(link: L): boolean; readonly size: number }, targetHex = toHex(target), spread = 1): TableEntry<L> | undefined {
    const direct = this.#byHex.get(targetHex);
    if (direct && !exclude.has(direct.link)) return direct;
    // The closest untried link: strictly closer than this node when one exists
    // (greedy progress), else the best remaining one (a depth-first detour).
    if (spread <= 1) {
      for (const e of this.#bucket.closest(target, exclude.size + 1)) {
        if (!exclude.has(e.link)) return e;
      }
      return undefined;
    }
    const untried = this.#bucket.closest(target, exclude.size + spread).filter((e) => !exclude.has(e.link)).slice(0, spread);
    return untried.length ? untried[Math.floor(Math.random() * untried.length)] : undefined;
  }

  entries(): TableEntry<L>[] { return [...this.#byHex.values()]; }

  /** Index (0..159) of the k-bucket `id` falls in: the length of the common prefix with the local id. */
  bucketIndex(id: Uint8Array): number {
    for (let i = 0; i < id.length; i++) {
      const x = id[i] ^ this.localId[i];
      if (x !== 0) return i * 8 + Math.clz32(x) - 24;
    }
    return id.length * 8;
  }
}

/** XOR distance comparison: negative if `a` is closer to `target` than `b`. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i] ^ target[i];
    const db = b[i] ^ target[i];
    if (da !== db) return da - db;
  }
  return 0;
}

/** The `n` ids of `sources` closest to `target`, nearest first, each once. */
export function closestIds(target: Uint8Array, n: number, sources: Iterable<Uint8Array>[], exclude?: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const src of sources) {
    for (const id of src) {
      if (exclude && equalBytes(id, exclude)) continue;
      if (out.length === n && compareDistance(target, id, out[n - 1]) >= 0) continue;
      let i = out.length;
      while (i > 0 && compareDistance(target, id, out[i - 1]) < 0) i--;
      if (i > 0 && equalBytes(out[i - 1], id)) continue;
      if (i < out.length && equalBytes(out[i], id)) continue;
      out.splice(i, 0, id);
      if (out.length > n) out.pop();
    }
  }
  return out;
}
