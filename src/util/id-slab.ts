/**
 * Fixed-width ids (20 bytes) kept in one buffer, addressed by slot number:
 * a table of ids that would otherwise hold one Uint8Array, ArrayBuffer and
 * allocator block each (~200 bytes of objects for 20 bytes of id) holds 20
 * bytes per id here, and no JS object per id. Slots are reused after
 * `remove`; the buffer grows by doubling (from 16 slots) and never past
 * `maxSlots`.
 *
 * Nothing hands out views into the buffer (a slot may be reused under them):
 * `copy` and `closest` return fresh arrays.
 */
export class IdSlab {
  readonly width: number;
  readonly maxSlots: number;
  #bytes = new Uint8Array(0);
  /** 1 where a slot holds an id. */
  #live = new Uint8Array(0);
  /** Slots below `#top` that were removed, for reuse. */
  readonly #free: number[] = [];
  /** Slots ever used (the high-water mark). */
  #top = 0;
  #size = 0;

  constructor(maxSlots: number, width = 20) {
    if (!Number.isInteger(maxSlots) || maxSlots < 1) throw new RangeError('maxSlots must be a positive integer');
    this.maxSlots = maxSlots;
    this.width = width;
  }

  /** Ids held. */
  get size(): number { return this.#size; }
  /** Slots the buffer has room for now. */
  get capacity(): number { return this.#live.length; }

  /** Copies `id` into a free slot and returns the slot; RangeError when all `maxSlots` are in use. */
  add(id: Uint8Array): number {
    if (id.length !== this.width) throw new RangeError(`an id must be ${this.width} bytes`);
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#top === this.maxSlots) throw new RangeError(`all ${this.maxSlots} slots are in use`);
      slot = this.#top++;
      if (slot === this.#live.length) this.#grow();
    }
    this.#bytes.set(id, slot * this.width);
    this.#live[slot] = 1;
    this.#size++;
    return slot;
  }

  /** Frees `slot` (its bytes are wiped); a slot not in use is left alone. */
  remove(slot: number): void {
    if (!this.#live[slot]) return;
    this.#live[slot] = 0;
    this.#bytes.fill(0, slot * this.width, (slot + 1) * this.width);
    this.#free.push(slot);
    this.#size--;
  }

  /** The id in `slot`, as a fresh array. */
  copy(slot: number): Uint8Array {
    if (!this.#live[slot]) throw new RangeError(`slot ${slot} holds no id`);
    return this.#bytes.slice(slot * this.width, (slot + 1) * this.width);
  }

  /** Whether `slot` holds exactly `id`. */
  equals(slot: number, id: Uint8Array): boolean {
    if (!this.#live[slot] || id.length !== this.width) return false;
    const b = this.#bytes;
    for (let i = 0, o = slot * this.width; i < this.width; i++) if (b[o + i] !== id[i]) return false;
    return true;
  }

  /** Every slot in use, in slot order. */
  *slots(): IterableIterator<number> {
    for (let s = 0; s < this.#top; s++) if (this.#live[s]) yield s;
  }

  /**
   * Copies of the `n` ids closest to `target` by XOR distance, nearest first
   * (`exclude`, if given, left out); one pass over the buffer, no object per id
   * looked at.
   */
  closest(target: Uint8Array, n: number, exclude?: Uint8Array): Uint8Array[] {
    const best: number[] = [];
    for (let s = 0; s < this.#top; s++) {
      if (!this.#live[s] || (exclude && this.equals(s, exclude))) continue;
      if (best.length === n && this.#compare(target, s, best[n - 1]) >= 0) continue;
      let i = best.length;
      while (i > 0 && this.#compare(target, s, best[i - 1]) < 0) i--;
      best.splice(i, 0, s);
      if (best.length > n) best.pop();
    }
    return best.map((s) => this.copy(s));
  }

  /** XOR distance of slot `a` to `target` against slot `b`'s: negative when `a` is nearer. */
  #compare(target: Uint8Array, a: number, b: number): number {
    const bytes = this.#bytes;
    const oa = a * this.width;
    const ob = b * this.width;
    for (let i = 0; i < this.width; i++) {
      const da = bytes[oa + i] ^ target[i];
      const db = bytes[ob + i] ^ target[i];
      if (da !== db) return da - db;
    }
    return 0;
  }

  #grow(): void {
    const slots = Math.min(this.maxSlots, Math.max(16, this.#live.length * 2));
    const bytes = new Uint8Array(slots * this.width);
    bytes.set(this.#bytes);
    const live = new Uint8Array(slots);
    live.set(this.#live);
    this.#bytes = bytes;
    this.#live = live;
  }
}
