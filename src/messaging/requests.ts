/**
 * Correlates server answers with MessagingPeer requests. Every request carries
 * a top-level `id` that a relaymesh server echoes; against a server that does
 * not echo ids, an answer goes to the oldest request waiting for its type whose
 * filter accepts it. Unrelated frames never disturb a pending request.
 * Timeouts and the bound are the one pending-request helper's (util/pending.ts);
 * this class adds what IM answers are matched by (type, filter, written or not).
 */
import { relayError, type RelayError } from '../util/errors.js';
import { PendingRequests } from '../util/pending.js';
import { wireError } from '../signaling/wire-errors.js';

export interface Frame { type: string; payload?: any; id?: string | number }

interface Meta {
  expected: string;
  filter?: (m: Frame) => boolean;
  /** Written to a socket (not queued for the next connection). */
  sent: boolean;
}

/** The RelayError for a server `error` frame; info.errorType keeps the server's type. */
export function serverError(payload: any): RelayError {
  const errorType = typeof payload?.errorType === 'string' ? payload.errorType : 'UNKNOWN';
  const details = typeof payload?.details === 'string' ? payload.details : 'server error';
  return wireError(errorType, details);
}

export class ServerRequests {
  readonly #pending: PendingRequests<string, any>;
  /** What each waiting request accepts, in the order the requests were made. */
  readonly #meta = new Map<string, Meta>();
  #next = 1;
  /** Set once the server has echoed an id: id-less errors are then unsolicited. */
  echoesIds = false;

  constructor(max: number) {
    this.#pending = new PendingRequests({
      max, timeoutMs: 10_000, what: 'request',
      timeoutError: (id, ms) => {
        const expected = this.#meta.get(id as string)?.expected;
        return relayError('ERR_TIMEOUT', `no ${expected} answer in ${ms} ms`, { expected });
      },
      fullError: (n) => relayError('ERR_QUEUE_FULL', `${n} requests already pending`),
    });
  }

  get size(): number { return this.#pending.size; }

  /** Registers a request; returns its id ('' if refused) and the promise of its answer's payload. */
  add(expected: string, timeoutMs: number, filter?: (m: Frame) => boolean): { id: string; promise: Promise<any> } {
    const id = `r${this.#next++}`;
    const promise = this.#pending.add(id, { timeoutMs });
    if (!this.#pending.has(id)) return { id: '', promise };
    this.#meta.set(id, { expected, filter, sent: false });
    const forget = () => { this.#meta.delete(id); };
    promise.then(forget, forget);
    return { id, promise };
  }

  /** Offers a frame; true if it answered a request (else it is unsolicited). */
  offer(frame: Frame): boolean {
    if (frame.id !== undefined) {
      this.echoesIds = true;
      const id = String(frame.id);
      const p = this.#live(id);
      if (!p) return false;
      if (frame.type === 'error') return this.#settle(id, serverError(frame.payload));
      if (frame.type === p.expected && accepts(p, frame)) return this.#settle(id, null, frame.payload);
      return false;
    }
    if (frame.type === 'error') {
      if (this.echoesIds) return false;
      for (const id of this.#meta.keys()) if (this.#live(id)) return this.#settle(id, serverError(frame.payload));
      return false;
    }
    for (const [id, p] of this.#meta) {
      if (this.#live(id) && p.expected === frame.type && accepts(p, frame)) return this.#settle(id, null, frame.payload);
    }
    return false;
  }

  cancel(id: string, err: RelayError): void { this.#settle(id, err); }

  markSent(id: string): void { const p = this.#live(id); if (p) p.sent = true; }

  /** The socket closed: requests written to it will never be answered. */
  rejectSent(err: RelayError): void {
    for (const [id, p] of [...this.#meta]) if (p.sent) this.#settle(id, err);
  }

  rejectAll(err: RelayError): void {
    this.#pending.rejectAll(err);
    this.#meta.clear();
  }

  /** The request's matching data while it still waits (its timeout may have ended it a moment ago). */
  #live(id: string): Meta | undefined {
    return this.#pending.has(id) ? this.#meta.get(id) : undefined;
  }

  #settle(id: string, err: RelayError | null, payload?: unknown): true {
    this.#meta.delete(id);
    if (err) this.#pending.reject(id, err);
    else this.#pending.resolve(id, payload);
    return true;
  }
}

function accepts(p: Meta, frame: Frame): boolean {
  if (!p.filter) return true;
  try {
    return p.filter(frame) === true;
  } catch {
    return false;
  }
}
