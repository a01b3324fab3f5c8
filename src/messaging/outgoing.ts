/**
 * Messages to relaymesh peers that read binary frames (`relaymesh-bin-v1`,
 * PROTOCOL.md §11 "Binary message frames"), through a node that takes them:
 * the messages sent to one recipient before the loop's next check phase
 * (several sendMessage calls in one turn, awaited or not) are sealed as one
 * batch record, bounded by MESSAGING_LIMITS.maxBatchBytes and maxBatchItems;
 * a lone message is a single record (one seal, as before). A session's first
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

interface Queue { publicKey: Uint8Array; texts: string[] }

const later: (fn: () => void) => void = typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
  ? (fn) => { (globalThis as unknown as { setImmediate(f: () => void): void }).setImmediate(fn); }
  : (fn) => queueMicrotask(fn);

/** A record's plaintext is built here (UTF-8 written in place, then sealed into its frame at once). */
const scratch = new Uint8Array(MESSAGING_LIMITS.maxBatchBytes);

export class OutgoingRecords {
  readonly #h: OutgoingHost;
  readonly #queues = new Map<string, Queue>();
  #scheduled = false;

  constructor(host: OutgoingHost) { this.#h = host; }

  /** Queues `text` for `targetId`; it leaves with the others of this turn. */
  add(targetId: string, publicKey: Uint8Array, text: string): void {
    let q = this.#queues.get(targetId);
    if (!q) this.#queues.set(targetId, q = { publicKey, texts: [] });
    q.texts.push(text);
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

  #flushTo(to: string, q: Queue): void {
    const h = this.#h;
    const texts = q.texts;
    let i = 0;
    // The session's first message starts it (JSON, with the KEM ciphertext and signature); without binary frames all go so.
    while (i < texts.length && (!h.binary() || !h.secure.ready(to))) {
      try {
        h.sendJson(to, q.publicKey, encodeText(texts[i++]));
      } catch (err) {
        // Not sent (the outbox is full, or disconnect() was called): neither are the rest, and the next message starts a new session.
        h.secure.reset(to);
        h.failed(err as Error, texts.length - i + 1);
        return;
      }
    }
    // As many as fit one record's plaintext (u32 length, UTF-8), each record at least one message.
    let off = 0;
    let count = 0;
    while (i < texts.length) {
      const { read, written } = textEncoder.encodeInto(texts[i], scratch.subarray(off + 4));
      if (read < texts[i].length || count === MESSAGING_LIMITS.maxBatchItems) {
        if (count > 0) {
          this.#write(to, off, count);
          off = 0;
          count = 0;
          continue;
        }
        // Longer than a record's bound: alone, in a buffer of its own.
        this.#write(to, 0, 1, encodeText(texts[i++]));
        continue;
      }
      scratch[off] = written >>> 24; scratch[off + 1] = (written >>> 16) & 0xff; scratch[off + 2] = (written >>> 8) & 0xff; scratch[off + 3] = written & 0xff;
      off += 4 + written;
      count++;
      i++;
    }
    if (count > 0) this.#write(to, off, count);
  }

  /** Seals scratch[0, len) (`count` messages; one alone goes as a single record without its length) or `alone`. */
  #write(to: string, len: number, count: number, alone?: Uint8Array): void {
    const h = this.#h;
    const single = count === 1;
    const pt = alone ?? (single ? scratch.subarray(4, len) : scratch.subarray(0, len));
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
}
