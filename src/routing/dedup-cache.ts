/**
 * Bounded memory of recently seen message ids (the original remembered every
 * id forever). For each id it keeps the links already tried, so a message that
 * loops back is sent on along the next-best link instead of around the loop,
 * the link it first came by (its parent: where a dead end returns it, and
 * where a LOOKUP's answer goes back), and whether it was delivered here.
 *
 * Two generations, as BoundedMap: the current one takes new ids; when it holds
 * half of `maxEntries`, or every `maxAgeMs`, it becomes the old one and the
 * previous old one is dropped whole (so an entry nobody asks for again is
 * freed within two ages); an entry older than `maxAgeMs` is not returned.
 *
 * Nothing is allocated per message (a relay under a flood sees tens of
 * thousands per second, and one object per id kept for two ages was promoted
 * out of the young generation and drove a full GC every fraction of a second):
 * each generation is an open-addressing table of typed arrays keyed by the
 * message key (key53 of its id), links are small integers (an id per link from
 * a free list; a closed link's id is reused only once no entry can still name
 * it), and a third or later tried link goes into the generation's overflow slab.
 * Entries are addressed by a handle (`find`, `add`) that stays valid until the
 * next `add`.
 */

/** Key column marks: keys are key53 values, integers in [0, 2^53). */
const EMPTY = -1;
const DELETED = -2;
/** Int32 columns of a slot: parent link id (0: none), delivered bit + tried count << 1, two tried link ids, overflow chunk. */
const F_PARENT = 0;
const F_META = 1;
const F_T0 = 2;
const F_T1 = 3;
const F_OVF = 4;
const STRIDE = 5;
/** An overflow chunk: the next chunk (0: none), then up to 7 more tried link ids. */
const CHUNK = 8;
const CHUNK_IDS = CHUNK - 1;
const MIN_CAPACITY = 16;

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** The links a message was already sent along or came from, as nextHop reads them. */
export interface TriedSet<L> {
  has(link: L): boolean;
  readonly size: number;
}

/**
 * One generation: an open-addressing table (linear probing, at most half full)
 * in one ArrayBuffer: per slot the key and the time it was added (Float64
 * pairs), then the Int32 columns.
 */
class Generation {
  /** keys[2 * slot] is the key, keys[2 * slot + 1] when it was added. */
  keys: Float64Array;
  fields: Int32Array;
  mask: number;
  shift: number;
  /** Live entries, and live + deleted slots. */
  count = 0;
  used = 0;
  ovf: Int32Array | null = null;
  /** Next free overflow chunk (chunk 0 is "none"). */
  ovfTop = 1;

  constructor(capacity: number) {
    const buf = new ArrayBuffer(capacity * (16 + 4 * STRIDE));
    this.keys = new Float64Array(buf, 0, 2 * capacity).fill(EMPTY);
    this.fields = new Int32Array(buf, 16 * capacity, STRIDE * capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
  }

  get capacity(): number { return this.mask + 1; }

  clear(): void {
    this.keys.fill(EMPTY);
    this.count = 0;
    this.used = 0;
    this.ovfTop = 1;
  }

  #home(key: number): number {
    const hi = (key / 0x100000000) | 0;
    return this.shift === 32 ? 0 : Math.imul((key >>> 0) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  find(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = this.#home(key); ; i = (i + 1) & mask) {
      const k = keys[2 * i];
      if (k === key) return i;
      if (k === EMPTY) return -1;
    }
  }

  /** A fresh slot for `key` (not present; the caller keeps the table at most half full). */
  insert(key: number, now: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.#home(key);
    while (keys[2 * i] !== EMPTY && keys[2 * i] !== DELETED) i = (i + 1) & mask;
    if (keys[2 * i] === EMPTY) this.used++;
    this.count++;
    keys[2 * i] = key;
    keys[2 * i + 1] = now;
    const o = i * STRIDE;
    const f = this.fields;
    f[o + F_PARENT] = 0; f[o + F_META] = 0; f[o + F_T0] = 0; f[o + F_T1] = 0; f[o + F_OVF] = 0;
    return i;
  }

  delete(slot: number): void {
    this.keys[2 * slot] = DELETED;
    this.count--;
  }

  /** A new overflow chunk, linked before `next`. */
  chunk(next: number): number {
    const need = (this.ovfTop + 1) * CHUNK;
    if (!this.ovf || this.ovf.length < need) {
      const grown = new Int32Array(Math.max(need, (this.ovf?.length ?? 0) * 2, 8 * CHUNK));
      if (this.ovf) grown.set(this.ovf);
      this.ovf = grown;
    }
    const c = this.ovfTop++;
    this.ovf[c * CHUNK] = next;
    return c;
  }

  /** Copies every live entry of `from` (with its overflow) into this empty generation. */
  copyFrom(from: Generation): void {
    const fk = from.keys;
    for (let s = 0; s <= from.mask; s++) {
      const k = fk[2 * s];
      if (k < 0) continue;
      const d = this.insert(k, fk[2 * s + 1]);
      const fo = s * STRIDE;
      const o = d * STRIDE;
      this.fields.set(from.fields.subarray(fo, fo + F_OVF), o);
      // Overflow chunks are copied one by one (the new slab is compact).
      let c = from.fields[fo + F_OVF];
      let head = 0;
      while (c !== 0) {
        const n = this.chunk(head);
        this.ovf!.set(from.ovf!.subarray(c * CHUNK + 1, (c + 1) * CHUNK), n * CHUNK + 1);
        head = n;
        c = from.ovf![c * CHUNK];
      }
      this.fields[o + F_OVF] = head;
    }
  }
}

/** The tried set of one entry as nextHop reads it: one object per cache, bound by `tried()`. */
class TriedView<L> implements TriedSet<L> {
  size = 0;
  a: L | null = null;
  b: L | null = null;
  readonly more: (L | null)[] = [];
  has(link: L): boolean {
    if (this.size === 0) return false;
    if (this.a === link || this.b === link) return true;
    const more = this.more;
    for (let i = 0; i < more.length; i++) if (more[i] === link) return true;
    return false;
  }
}

const defaultClosed = (link: unknown): boolean =>
  typeof link === 'object' && link !== null && (link as { isClosed?: unknown }).isClosed === true;

export class DedupCache<L = unknown> {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly #half: number;
  readonly #maxCapacity: number;
  readonly #isClosed: (link: L) => boolean;
  /** The two generations: #gens[#cur] takes new entries, the other is the old one. */
  readonly #gens: [Generation, Generation];
  #cur = 0;
  /** When the current generation started (null: no entry yet). */
  #generationAt: number | null = null;
  /** Link ids: 1-based; 0 is "none". */
  readonly #ids = new Map<L, number>();
  readonly #links: (L | null)[] = [null];
  readonly #free: number[] = [];
  /** Ids of links found closed at the last generation change: free after the next one. */
  #cooling: number[] = [];
  #lastLink: L | null = null;
  #lastId = 0;
  readonly #view = new TriedView<L>();

  constructor(maxEntries = 65536, maxAgeMs = 120_000, isClosed: (link: L) => boolean = defaultClosed) {
    this.maxEntries = maxEntries;
    this.maxAgeMs = maxAgeMs;
    this.#half = Math.ceil(Math.max(2, maxEntries) / 2);
    this.#maxCapacity = Math.max(MIN_CAPACITY, nextPow2(2 * this.#half));
    this.#isClosed = isClosed;
    this.#gens = [new Generation(MIN_CAPACITY), new Generation(MIN_CAPACITY)];
  }

  get size(): number { return this.#gens[0].count + this.#gens[1].count; }

  /** Slots of the two tables (memory: 36 bytes each). */
  get capacity(): number { return this.#gens[0].capacity + this.#gens[1].capacity; }

  /** Link ids in use or cooling (bounded by the links open plus those closed within the last two generations). */
  get linkIds(): number { return this.#links.length - 1 - this.#free.length; }

  /** The entry for `key` (a handle), or -1; an entry older than maxAgeMs is deleted and not returned. */
  find(key: number, now = Date.now()): number {
    this.#age(now);
    for (let g = 0; g < 2; g++) {
      const gi = g === 0 ? this.#cur : 1 - this.#cur;
      const gen = this.#gens[gi];
      if (gen.count === 0) continue;
      const s = gen.find(key);
      if (s < 0) continue;
      if (now - gen.keys[2 * s + 1] > this.maxAgeMs) { gen.delete(s); return -1; }
      return (s << 1) | gi;
    }
    return -1;
  }

  /** A new entry for `key` (undelivered, no parent, nothing tried); the oldest entries go when the bound is reached. */
  add(key: number, now = Date.now()): number {
    this.#age(now);
    const old = this.#gens[1 - this.#cur];
    if (old.count > 0) {
      const s = old.find(key);
      if (s >= 0) old.delete(s);
    }
    let cur = this.#gens[this.#cur];
    const s = cur.find(key);
    if (s >= 0) cur.delete(s);
    if ((cur.used + 1) * 2 > cur.capacity) cur = this.#grow();
    let slot = cur.insert(key, now);
    if (cur.count >= this.#half) {
      // As BoundedMap: a full current generation becomes the old one, with this entry in it.
      this.#rotate();
      return (slot << 1) | (1 - this.#cur);
    }
    return (slot << 1) | this.#cur;
  }

  delivered(h: number): boolean {
    const { gen, o } = this.#at(h);
    return (gen.fields[o + F_META] & 1) === 1;
  }

  setDelivered(h: number): void {
    const { gen, o } = this.#at(h);
    gen.fields[o + F_META] |= 1;
  }

  /** Where the message first came from (null: it started here, or that link has closed since). */
  parent(h: number): L | null {
    const { gen, o } = this.#at(h);
    return this.#links[gen.fields[o + F_PARENT]] ?? null;
  }

  setParent(h: number, link: L | null): void {
    const { gen, o } = this.#at(h);
    gen.fields[o + F_PARENT] = link === null ? 0 : this.#idOf(link);
  }

  triedCount(h: number): number {
    const { gen, o } = this.#at(h);
    return gen.fields[o + F_META] >>> 1;
  }

  /** Remembers that the message went along (or came from) `link`. */
  addTried(h: number, link: L): void {
    const { gen, o } = this.#at(h);
    const id = this.#idOf(link);
    const f = gen.fields;
    const n = f[o + F_META] >>> 1;
    if (n > 0 && (f[o + F_T0] === id || (n > 1 && f[o + F_T1] === id))) return;
    if (n > 2) {
      const ovf = gen.ovf!;
      for (let c = f[o + F_OVF], left = n - 2; c !== 0; c = ovf[c * CHUNK]) {
        const k = Math.min(left, CHUNK_IDS);
        for (let j = 1; j <= k; j++) if (ovf[c * CHUNK + j] === id) return;
        left -= k;
      }
    }
    if (n === 0) f[o + F_T0] = id;
    else if (n === 1) f[o + F_T1] = id;
    else {
      // The newest chunk is the head; it is full when (n - 2) is a multiple of 7.
      const p = (n - 2) % CHUNK_IDS;
      if (p === 0) f[o + F_OVF] = gen.chunk(f[o + F_OVF]);
      gen.ovf![f[o + F_OVF] * CHUNK + 1 + p] = id;
    }
    f[o + F_META] += 2;
  }

  /**
   * The links tried for entry `h`, for RoutingTable.nextHop: one view object
   * per cache, valid until the next call of tried() (nothing is allocated).
   */
  tried(h: number): TriedSet<L> {
    const { gen, o } = this.#at(h);
    const v = this.#view;
    const f = gen.fields;
    const links = this.#links;
    const n = f[o + F_META] >>> 1;
    v.size = n;
    v.a = n > 0 ? links[f[o + F_T0]] : null;
    v.b = n > 1 ? links[f[o + F_T1]] : null;
    v.more.length = 0;
    if (n > 2) {
      const ovf = gen.ovf!;
      for (let c = f[o + F_OVF], left = n - 2; c !== 0; c = ovf[c * CHUNK]) {
        const k = Math.min(left, CHUNK_IDS);
        for (let j = 1; j <= k; j++) v.more.push(links[ovf[c * CHUNK + j]]);
        left -= k;
      }
    }
    return v;
  }

  clear(): void {
    this.#gens[0].clear();
    this.#gens[1].clear();
    // No entry names a link any more: every id is free, the open links get new ones as they are named.
    this.#ids.clear();
    this.#links.length = 1;
    this.#free.length = 0;
    this.#cooling = [];
    this.#lastLink = null;
  }

  #at(h: number): { gen: Generation; o: number } {
    const r = this.#ref;
    r.gen = this.#gens[h & 1];
    r.o = (h >>> 1) * STRIDE;
    return r;
  }
  readonly #ref = { gen: null as unknown as Generation, o: 0 };

  #idOf(link: L): number {
    if (link === this.#lastLink) return this.#lastId;
    let id = this.#ids.get(link);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#links.length;
      this.#links[id] = link;
      this.#ids.set(link, id);
    }
    this.#lastLink = link;
    this.#lastId = id;
    return id;
  }

  /** The current generation, twice as large (or rebuilt without its deleted slots at the largest size). */
  #grow(): Generation {
    const cur = this.#gens[this.#cur];
    const capacity = cur.count * 2 + 2 > cur.capacity / 2 ? Math.min(cur.capacity * 2, this.#maxCapacity) : cur.capacity;
    const next = new Generation(capacity);
    next.copyFrom(cur);
    this.#gens[this.#cur] = next;
    return next;
  }

  /** Every maxAgeMs a new generation: what the one before last held is older than maxAgeMs by then. */
  #age(now: number): void {
    if (this.#generationAt === null) this.#generationAt = now;
    else if (now - this.#generationAt >= this.maxAgeMs) {
      if (now - this.#generationAt >= 2 * this.maxAgeMs) {
        this.#gens[0].clear();
        this.#gens[1].clear();
        this.#sweepLinks();
        this.#sweepLinks();
      } else this.#rotate();
      this.#generationAt = now;
    }
  }

  /** The old generation is dropped, the current one becomes old, the dropped one's arrays take new entries. */
  #rotate(): void {
    const oldIdx = 1 - this.#cur;
    const cur = this.#gens[this.#cur];
    let recycled = this.#gens[oldIdx];
    // Sized for the generation just ended: a burst's large table is not kept through quiet ages.
    const want = Math.min(this.#maxCapacity, Math.max(MIN_CAPACITY, nextPow2(2 * cur.count + 2)));
    if (recycled.capacity > 4 * want) recycled = this.#gens[oldIdx] = new Generation(want);
    else recycled.clear();
    this.#cur = oldIdx;
    this.#sweepLinks();
  }

  /**
   * After a generation change: ids that cooled for one generation are free
   * (the generation that could still name them is gone), and the links
   * closed now start cooling (entries of the old generation may name them).
   */
  #sweepLinks(): void {
    for (const id of this.#cooling) this.#free.push(id);
    this.#cooling = [];
    for (const [link, id] of this.#ids) {
      if (!this.#isClosed(link)) continue;
      this.#ids.delete(link);
      this.#links[id] = null;
      this.#cooling.push(id);
    }
    this.#lastLink = null;
  }
}
