/**
 * Messages to relaymesh peers that read binary frames (`relaymesh-bin-v1`,
 * PROTOCOL.md §11 "Binary message frames"), through a node that takes them:
 * the messages sent to one recipient before the loop's next check phase
 * (several sendMessage calls in one turn, awaited or not) are sealed as one
 * batch record, bounded by MESSAGING_LIMITS.maxBatchBytes and maxBatchItems;
 * a lone message is a single record (one seal, as before). Each message is
 * UTF-8-encoded when it is sent (the string is not kept until the check
 * phase; a record that is full leaves at once). A session's first
 * message still travels as the JSON envelope that starts it. Each frame is one
 * acknowledged message of the connection, counted as the messages it carries.
 */
import { MESSAGING_LIMITS } from '../util/limits.js';
import { textEncoder } from '../util/bytes.js';
import { clientFrame, KIND_BATCH, KIND_SINGLE } from '../signaling/im-binary.js';
import { encodeText } from './text.js';
import { RECORD_OVERHEAD, type SecureSessions } from './secure-envelope.js';

export interface OutgoingHost {
  secure: SecureSessions;
  /** True while the connection takes binary frames (else every message goes the JSON way, in order). */
  binary(): boolean;
  /** Sends one message the JSON way (a session start, or to a node without binary frames). */
  sendJson(targetId: string, publicKey: Uint8Array, plaintext: Uint8Array): void;
  /** Writes one binary message frame carrying `count` messages; `build` puts the message id in it. */
  writeFrame(build: (id: string) => Uint8Array, count: number): void;
  /** `count` messages could not be sent (the error the write threw). */
  failed(err: Error & { code?: string }, count: number): void;
}

/**
 * One recipient's messages of this turn: `texts` wait for the check phase (the session is not started, or the
 * connection takes no binary frames, or earlier ones wait); the others are already UTF-8 in `buf` (u32 length,
 * text; `count` of them, `off` bytes), so the caller's strings are not kept until the record is sealed.
 */
interface Queue { publicKey: Uint8Array; texts: string[]; buf: Uint8Array | null; off: number; count: number }

const later: (fn: () => void) => void = typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
  ? (fn) => { (globalThis as unknown as { setImmediate(f: () => void): void }).setImmediate(fn); }
  : (fn) => queueMicrotask(fn);

/** Plaintext buffers of one record's size, reused (a few recipients in one turn need one each). */
const pool: Uint8Array[] = [];
const POOL_MAX = 4;

export class OutgoingRecords {
  readonly #h: OutgoingHost;
  readonly #queues = new Map<string, Queue>();
  #scheduled = false;

  constructor(host: OutgoingHost) { this.#h = host; }

  /** Queues `text` for `targetId`; it leaves with the others of this turn (a full record leaves at once). */
  add(targetId: string, publicKey: Uint8Array, text: string): void {
    let q = this.#queues.get(targetId);
    if (!q) this.#queues.set(targetId, q = { publicKey, texts: [], buf: null, off: 0, count: 0 });
    // A record under way was checked when it started (and is checked again when it is sealed): one look per record, not per message.
    if (q.texts.length === 0 && (q.count > 0 || this.#recordsNow(targetId))) this.#append(targetId, q, text);
    else q.texts.push(text);
    if (!this.#scheduled) {
      this.#scheduled = true;
      later(() => this.flush());
    }
  }

  /** Seals and writes everything queued. */
  flush(): void {
    this.#scheduled = false;
    const queues = [...this.#queues];
    this.#queues.clear();
    for (const [to, q] of queues) this.#flushTo(to, q);
  }

  /** Records may be sealed for `to` now: the connection takes binary frames and the session has started. */
  #recordsNow(to: string): boolean { return this.#h.binary() && this.#h.secure.ready(to); }

  #flushTo(to: string, q: Queue): void {
    const h = this.#h;
    const texts = q.texts;
    let i = 0;
    // Encoded already, but the connection stopped taking binary frames meanwhile: each goes the JSON way, in order.
    if (q.count > 0 && !this.#recordsNow(to) && !this.#sendItemsJson(to, q, texts.length)) return;
    // The session's first message starts it (JSON, with the KEM ciphertext and signature); without binary frames all go so.
    while (i < texts.length && !this.#recordsNow(to)) {
      try {
        h.sendJson(to, q.publicKey, encodeText(texts[i++]));
      } catch (err) {
        // Not sent (the outbox is full, or disconnect() was called): neither are the rest, and the next message starts a new session.
        h.secure.reset(to);
        h.failed(err as Error, texts.length - i + 1);
        return this.#release(q);
      }
    }
    while (i < texts.length) this.#append(to, q, texts[i++]);
    if (q.count > 0) this.#write(to, q);
    this.#release(q);
  }

  /** Adds `text` to the record being built for `to`; a record that cannot take it leaves first, a text too long for any goes alone. */
  #append(to: string, q: Queue, text: string): void {
    for (;;) {
      const buf = q.buf ?? (q.buf = pool.pop() ?? new Uint8Array(MESSAGING_LIMITS.maxBatchBytes));
      const { read, written } = textEncoder.encodeInto(text, buf.subarray(q.off + 4));
      if (read === text.length && q.count < MESSAGING_LIMITS.maxBatchItems) {
        const o = q.off;
        buf[o] = written >>> 24; buf[o + 1] = (written >>> 16) & 0xff; buf[o + 2] = (written >>> 8) & 0xff; buf[o + 3] = written & 0xff;
        q.off += 4 + written;
        q.count++;
        return;
      }
      if (q.count > 0) {
        this.#write(to, q);
        continue;
      }
      // Longer than a record's bound: alone, in a buffer of its own.
      return this.#seal(to, encodeText(text), 1);
    }
  }

  /** Seals the record built for `to` (one message alone goes as a single record, without its length) and starts a new one. */
  #write(to: string, q: Queue): void {
    const buf = q.buf!;
    const count = q.count;
    const pt = count === 1 ? buf.subarray(4, q.off) : buf.subarray(0, q.off);
    q.off = 0;
    q.count = 0;
    if (!this.#recordsNow(to)) {
      // The connection dropped its binary frames (or the session must be replaced) since these were encoded.
      q.count = count;
      q.off = count === 1 ? pt.length + 4 : pt.length;
      this.#sendItemsJson(to, q, 0);
      return;
    }
    this.#seal(to, pt, count);
  }

  #seal(to: string, pt: Uint8Array, count: number): void {
    const h = this.#h;
    const single = count === 1;
    try {
      h.writeFrame((id) => {
        const { frame, offset } = clientFrame(single ? KIND_SINGLE : KIND_BATCH, id, to, pt.length + RECORD_OVERHEAD);
        h.secure.sealRecord(to, [pt], !single, frame, offset);
        return frame;
      }, count);
    } catch (err) {
      h.failed(err as Error, count);
    }
  }

  /** The encoded messages of `q` the JSON way, one envelope each; false (reported with `more` after them) if a write failed. */
  #sendItemsJson(to: string, q: Queue, more: number): boolean {
    const buf = q.buf!;
    const n = q.count;
    let off = 0;
    q.off = 0;
    q.count = 0;
    for (let k = 0; k < n; k++) {
      const len = ((buf[off] << 24) >>> 0) + (buf[off + 1] << 16) + (buf[off + 2] << 8) + buf[off + 3];
      try {
        this.#h.sendJson(to, q.publicKey, buf.slice(off + 4, off + 4 + len));
      } catch (err) {
        this.#h.secure.reset(to);
        this.#h.failed(err as Error, n - k + more);
        this.#release(q);
        return false;
      }
      off += 4 + len;
    }
    return true;
  }

  #release(q: Queue): void {
    if (q.buf && pool.length < POOL_MAX) pool.push(q.buf);
    q.buf = null;
    q.off = 0;
    q.count = 0;
  }
}
