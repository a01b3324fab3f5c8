/**
 * The routing table: every open, authenticated link, kept in a k-bucket tree
 * (the `k-bucket` package) keyed by XOR distance, which decides membership: a
 * full bucket or table does not silently drop a link: `add` reports `false`
 * and the node refuses the link instead of keeping it open and unused.
 * Look-ups by distance read a flat list of the same entries in one pass
 * (`closest` keeps the n best while it scans, `nextHop` the single best,
 * allocating nothing per candidate): the tree's own `closest` concatenates,
 * maps and sorts every link on each call, which was most of the routing CPU
 * at simulator level b. Pure and synchronous: no I/O, no timers.
 */
import KBucket from 'k-bucket';
import { equalBytes, toHex } from '../util/bytes.js';

export interface TableEntry<L> { id: Uint8Array; link: L; [k: string]: unknown }

/**
 * An entry with the id's first 32 bits as a number (most XOR comparisons end
 * there) and the heads of the remote's own links, as its last NEIGHBOURS frame
 * said: the first `n2len` of `n2` (null before one came), the lookahead of
 * nextHop. A new list is copied into the entry's own array, which is made once
 * (and again only for a longer list): a new array per list received (~11,000 a
 * second at 10,000 simulated nodes, each kept until the next) was promoted to
 * the old generation only to become garbage there.
 */
interface Entry<L> extends TableEntry<L> { readonly head: number; n2: Uint32Array | null; n2len: number }

/** An id's first 32 bits as a number: most XOR comparisons end there. */
export const head32 = (id: Uint8Array): number => ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;

/** XOR-closer comparison of two entries to a target whose first 32 bits are `t`: negative if `a` is closer. */
function closer<L>(target: Uint8Array, t: number, a: Entry<L>, b: Entry<L>): number {
  const da = (a.head ^ t) >>> 0;
  const db = (b.head ^ t) >>> 0;
  return da !== db ? da - db : compareDistance(target, a.id, b.id);
}

/**
 * A table with more links than this routes by the links' own distance only: its links already
 * cover the id space densely, and the scan of every held list grows with links x heads (256 links
 * of 30 heads each: 12 µs per next hop against 1.5 µs without, AMD EPYC, Node 20).
 */
export const LOOKAHEAD_MAX_LINKS = 64;

export class RoutingTable<L> {
  readonly localId: Uint8Array;
  readonly capacity: number;
  readonly #bucket: KBucket<TableEntry<L>>;
  readonly #list: Entry<L>[] = [];
  readonly #byHex = new Map<string, Entry<L>>();
  /** Links per k-bucket index, kept as links come and go. */
  readonly #perBucket: number[] = [];
  /** The local id's head: never taken as a neighbour's neighbour (a path back here). */
  readonly #localHead: number;
  /** Bumped whenever a link is added or removed (NEIGHBOURS adverts compare it). */
  version = 0;

  /**
   * @param capacity the most links the table holds; also the per-bucket size,
   *   so an open link always fits (see PROTOCOL.md, "Routing table").
   */
  constructor(localId: Uint8Array, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.localId = localId;
    this.#localHead = head32(localId);
    this.capacity = capacity;
    this.#bucket = new KBucket<TableEntry<L>>({ localNodeId: localId, numberOfNodesPerKBucket: capacity });
  }

  get size(): number { return this.#byHex.size; }

  /** Adds (or replaces) the link for `id`; false if the table is full. */
  add(id: Uint8Array, link: L): boolean {
    const hex = toHex(id);
    const existing = this.#byHex.get(hex);
    if (existing) { existing.link = link; return true; }
    if (this.#byHex.size >= this.capacity) return false;
    const entry: Entry<L> = { id, link, head: head32(id), n2: null, n2len: 0 };
    const before = this.#bucket.count();
    this.#bucket.add(entry);
    if (this.#bucket.count() === before) return false;
    this.version++;
    this.#list.push(entry);
    this.#byHex.set(hex, entry);
    const b = this.bucketIndex(id);
    this.#perBucket[b] = (this.#perBucket[b] ?? 0) + 1;
    return true;
  }

  remove(id: Uint8Array): L | undefined {
    const hex = toHex(id);
    const entry = this.#byHex.get(hex);
    if (!entry) return undefined;
    this.version++;
    this.#byHex.delete(hex);
    this.#bucket.remove(id);
    const list = this.#list;
    const i = list.indexOf(entry);
    list[i] = list[list.length - 1];
    list.pop();
    this.#perBucket[this.bucketIndex(entry.id)]--;
    return entry.link;
  }

  get(id: Uint8Array): L | undefined { return this.#byHex.get(toHex(id))?.link; }
  getHex(hex: string): L | undefined { return this.#byHex.get(hex)?.link; }
  has(id: Uint8Array): boolean { return this.#byHex.has(toHex(id)); }

  /** The `n` links closest to `target` by XOR distance, nearest first. */
  closest(target: Uint8Array, n = this.capacity): TableEntry<L>[] {
    return this.#best(target, n, null);
  }

  /**
   * What the link to `id` said of its own links (NEIGHBOURS, PROTOCOL.md §4.2):
   * their heads, this node's own left out. False if there is no such link.
   */
  setNeighbours(id: Uint8Array, heads: ArrayLike<number>): boolean {
    const entry = this.#byHex.get(toHex(id));
    if (!entry) return false;
    const out = this.#n2For(entry, heads.length);
    let n = 0;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i] >>> 0;
      if (h !== this.#localHead && h !== entry.head) out[n++] = h;
    }
    entry.n2len = n;
    return true;
  }

  /**
   * setNeighbours for `count` heads read in place (big-endian u32) from `bytes`
   * at `at`: a received NEIGHBOURS list, with no array made for it.
   */
  setNeighboursFrom(id: Uint8Array, bytes: Uint8Array, at: number, count: number): boolean {
    const entry = this.#byHex.get(toHex(id));
    if (!entry) return false;
    const out = this.#n2For(entry, count);
    let n = 0;
    for (let i = 0, o = at; i < count; i++, o += 4) {
      const h = ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
      if (h !== this.#localHead && h !== entry.head) out[n++] = h;
    }
    entry.n2len = n;
    return true;
  }

  /** The entry's list array, with room for `count` heads (made or grown only when too small). */
  #n2For(entry: Entry<L>, count: number): Uint32Array {
    if (entry.n2 === null || entry.n2.length < count) entry.n2 = new Uint32Array(Math.max(count, 8));
    return entry.n2;
  }

  /** The heads the link to `id` advertised (a view of the table's copy), or null (none yet, or no such link). */
  neighboursOf(id: Uint8Array): Uint32Array | null {
    const e = this.#byHex.get(toHex(id));
    return e?.n2 ? e.n2.subarray(0, e.n2len) : null;
  }

  /** The heads of every link. */
  heads(): Uint32Array {
    const out = new Uint32Array(this.#list.length);
    for (let i = 0; i < out.length; i++) out[i] = this.#list[i].head;
    return out;
  }

  /** The heads of at most `perBucket` links of each k-bucket, at most `max` in all, deepest buckets first: this node's NEIGHBOURS list. */
  spreadHeads(perBucket: number, max: number): Uint32Array {
    const taken: number[] = [];
    const out: number[] = [];
    const byDepth = this.#list.map((e) => ({ e, b: this.bucketIndex(e.id) })).sort((x, y) => y.b - x.b);
    for (const { e, b } of byDepth) {
      if (out.length >= max) break;
      if ((taken[b] ?? 0) >= perBucket) continue;
      taken[b] = (taken[b] ?? 0) + 1;
      out.push(e.head);
    }
    return Uint32Array.from(out);
  }

  /**
   * Next hop toward `target`: the direct link if there is one, else the best
   * link not in `exclude`, or with `spread` > 1 one of the `spread` closest at
   * random (a retransmission's path, PROTOCOL.md §4.4). With `lookahead`, a
   * link closer to `target` than this node is as good as the closest of itself
   * and the links it advertised (greedy routing on the neighbours' neighbours,
   * §4.2); ties go to the link itself closer. Without it, the closest link.
   */
  nextHop(target: Uint8Array, exclude: { has(link: L): boolean; readonly size: number }, targetHex = toHex(target), spread = 1, lookahead = true): TableEntry<L> | undefined {
    const direct = this.#byHex.get(targetHex);
    if (direct && !exclude.has(direct.link)) return direct;
    // The best untried link: strictly closer than this node when one exists
    // (greedy progress), else the best remaining one (a depth-first detour).
    if (spread <= 1) {
      const t = head32(target);
      const local = (this.#localHead ^ t) >>> 0;
      lookahead &&= this.#list.length <= LOOKAHEAD_MAX_LINKS;
      let best: Entry<L> | undefined;
      let bestScore = 0;
      for (const e of this.#list) {
        if (exclude.size > 0 && exclude.has(e.link)) continue;
        let score = (e.head ^ t) >>> 0;
        // Only a link closer to the target than this node is scored by its neighbours: every hop
        // still makes progress by its own distance, so a stale list costs no step back.
        const n2 = lookahead && (score < local || (score === local && compareDistance(target, e.id, this.localId) < 0)) ? e.n2 : null;
        if (n2 !== null) {
          for (let i = 0, n = e.n2len; i < n; i++) {
            const d = (n2[i] ^ t) >>> 0;
            if (d < score) score = d;
          }
        }
        if (best === undefined || score < bestScore || (score === bestScore && closer(target, t, e, best) < 0)) {
          best = e;
          bestScore = score;
        }
      }
      return best;
    }
    const untried = this.#best(target, spread, exclude);
    return untried.length ? untried[Math.floor(Math.random() * untried.length)] : undefined;
  }

  /** The `n` entries closest to `target` (not in `exclude`), nearest first: one pass, insertion into a list of at most n. */
  #best(target: Uint8Array, n: number, exclude: { has(link: L): boolean; readonly size: number } | null): Entry<L>[] {
    const out: Entry<L>[] = [];
    if (n <= 0) return out;
    const t = head32(target);
    for (const e of this.#list) {
      if (out.length === n && closer(target, t, e, out[n - 1]) >= 0) continue;
      if (exclude && exclude.size > 0 && exclude.has(e.link)) continue;
      let i = out.length;
      if (i === n) i--;
      while (i > 0 && closer(target, t, e, out[i - 1]) < 0) { out[i] = out[i - 1]; i--; }
      out[i] = e;
    }
    return out;
  }

  entries(): TableEntry<L>[] { return this.#list.slice(); }

  /** Links in each k-bucket, by index (holes for buckets never used); read-only, it changes as links do. */
  perBucket(): readonly number[] { return this.#perBucket; }

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
