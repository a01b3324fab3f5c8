/**
 * Batch records (PROTOCOL.md §5.2): several messages for one destination,
 * sent in the same event-loop turn, sealed as one DATA plaintext
 *
 *   BATCH_CHANNEL (1) || { length u16 (channel + payload) || channel (1) || payload }+
 *
 * so one AEAD call, one nonce and one replay-window slot cover them all. The
 * writer fills a reusable buffer (the cipher copies out of it when sealing);
 * the reader hands out views into the opened plaintext, no copies.
 */

/** The plaintext channel byte that marks a batch record. Not an application channel. */
export const BATCH_CHANNEL = 0xff;
/** Bytes a message adds inside a record: its length (2) and channel (1). */
export const BATCH_ENTRY_OVERHEAD = 3;
/** Largest channel + payload one entry can hold. */
export const MAX_BATCH_ENTRY = 0xffff;

/** Accumulates one record's plaintext. */
export class BatchWriter {
  readonly #buf: Uint8Array;
  #used = 1;
  #count = 0;

  constructor(capacity: number) {
    this.#buf = new Uint8Array(capacity);
    this.#buf[0] = BATCH_CHANNEL;
  }

  get count(): number { return this.#count; }
  get capacity(): number { return this.#buf.length; }

  /** True if a payload of `length` bytes still fits. */
  fits(length: number): boolean {
    return this.#used + BATCH_ENTRY_OVERHEAD + length <= this.#buf.length && length + 1 <= MAX_BATCH_ENTRY;
  }

  /** Appends one message (the caller checked fits()). Copies the payload. */
  add(channel: number, payload: Uint8Array): void {
    const b = this.#buf;
    const len = payload.length + 1;
    let o = this.#used;
    b[o++] = len >>> 8;
    b[o++] = len & 255;
    b[o++] = channel;
    b.set(payload, o);
    this.#used = o + payload.length;
    this.#count++;
  }

  /** The record's plaintext (a view; valid until reset()). */
  record(): Uint8Array { return this.#buf.subarray(0, this.#used); }

  /** The only entry as `channel || payload` (a view), for a record of one message sent as plain DATA. */
  single(): Uint8Array { return this.#buf.subarray(1 + 2, this.#used); }

  /** Each entry as (channel, payload view), in order. */
  *entries(): Generator<[number, Uint8Array]> {
    for (const e of readBatch(this.record()) ?? []) yield [e[0], e.subarray(1)];
  }

  reset(): void {
    this.#used = 1;
    this.#count = 0;
  }
}

/**
 * The messages of an opened record as `channel || payload` views, or null if
 * it is malformed (an entry overruns, is empty, or is itself a batch). All or
 * nothing: a record that does not parse delivers none of its messages.
 */
export function readBatch(pt: Uint8Array): Uint8Array[] | null {
  const at = batchEntries(pt);
  if (!at) return null;
  const out: Uint8Array[] = [];
  for (let i = 0; i < at.length; i += 2) out.push(pt.subarray(at[i], at[i + 1]));
  return out;
}

/**
 * readBatch's entries as offsets into `pt`, `[start, end, start, end, ...]`
 * (each `channel || payload`), or null if the record is malformed: the
 * receiver makes one view per message, the one it hands up.
 */
export function batchEntries(pt: Uint8Array): number[] | null {
  if (pt.length < 1 + BATCH_ENTRY_OVERHEAD || pt[0] !== BATCH_CHANNEL) return null;
  const out: number[] = [];
  let o = 1;
  while (o < pt.length) {
    if (pt.length - o < 2) return null;
    const len = (pt[o] << 8) | pt[o + 1];
    o += 2;
    if (len < 1 || pt.length - o < len || pt[o] === BATCH_CHANNEL) return null;
    out.push(o, o + len);
    o += len;
  }
  return out;
}
