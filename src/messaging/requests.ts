/**
 * Correlates server answers with MessagingPeer requests. Every request carries
 * a top-level `id` that a relaymesh server echoes; against a server that does
 * not echo ids, an answer goes to the oldest request waiting for its type whose
 * filter accepts it. Unrelated frames never disturb a pending request.
 */
import { relayError, type ErrorCode, type RelayError } from '../util/errors.js';

export interface Frame { type: string; payload?: any; id?: string | number }

interface Pending {
  id: string;
  expected: string;
  filter?: (m: Frame) => boolean;
  resolve: (payload: any) => void;
  reject: (err: RelayError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Written to a socket (not queued for the next connection). */
  sent: boolean;
}

const CODE_OF: Record<string, ErrorCode> = {
  CLIENT_ID_TAKEN: 'ERR_CLIENT_ID_TAKEN', PEER_NOT_FOUND: 'ERR_PEER_NOT_FOUND', INVALID_PUBLIC_KEY: 'ERR_BAD_KEYS',
  INVALID_PROOF: 'ERR_INVALID_PROOF', INVALID_MESSAGE: 'ERR_MALFORMED_FRAME', REGISTRATION_REQUIRED: 'ERR_NOT_CONNECTED',
  RATE_LIMITED: 'ERR_RATE_LIMITED', LIMIT_REACHED: 'ERR_QUEUE_FULL', TIMEOUT: 'ERR_TIMEOUT',
};

/** The RelayError for a server `error` frame; info.errorType keeps the server's type. */
export function serverError(payload: any): RelayError {
  const errorType = typeof payload?.errorType === 'string' ? payload.errorType : 'UNKNOWN';
  const details = typeof payload?.details === 'string' ? payload.details : 'server error';
  return relayError(CODE_OF[errorType] ?? 'ERR_REJECTED', details, { errorType });
}

export class PendingRequests {
  readonly #pending = new Map<string, Pending>();
  readonly #max: number;
  #next = 1;
  /** Set once the server has echoed an id: id-less errors are then unsolicited. */
  echoesIds = false;

  constructor(max: number) { this.#max = max; }

  get size(): number { return this.#pending.size; }

  /** Registers a request; returns its id and the promise of its answer's payload. */
  add(expected: string, timeoutMs: number, filter?: (m: Frame) => boolean): { id: string; promise: Promise<any> } {
    if (this.#pending.size >= this.#max) {
      return { id: '', promise: Promise.reject(relayError('ERR_QUEUE_FULL', `${this.#max} requests already pending`)) };
    }
    const id = `r${this.#next++}`;
    const promise = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(relayError('ERR_TIMEOUT', `no ${expected} answer in ${timeoutMs} ms`, { expected }));
      }, timeoutMs);
      this.#pending.set(id, {
        id, expected, filter, timer, sent: false,
        resolve: (p) => { clearTimeout(timer); this.#pending.delete(id); resolve(p); },
        reject: (e) => { clearTimeout(timer); this.#pending.delete(id); reject(e); },
      });
    });
    return { id, promise };
  }

  /** Offers a frame; true if it answered a request (else it is unsolicited). */
  offer(frame: Frame): boolean {
    if (frame.id !== undefined) {
      this.echoesIds = true;
      const p = this.#pending.get(String(frame.id));
      if (!p) return false;
      if (frame.type === 'error') { p.reject(serverError(frame.payload)); return true; }
      if (frame.type === p.expected && this.#accepts(p, frame)) { p.resolve(frame.payload); return true; }
      return false;
    }
    if (frame.type === 'error') {
      if (this.echoesIds) return false;
      const oldest = this.#pending.values().next().value as Pending | undefined;
      if (!oldest) return false;
      oldest.reject(serverError(frame.payload));
      return true;
    }
    for (const p of this.#pending.values()) {
      if (p.expected === frame.type && this.#accepts(p, frame)) { p.resolve(frame.payload); return true; }
    }
    return false;
  }

  cancel(id: string, err: RelayError): void { this.#pending.get(id)?.reject(err); }

  markSent(id: string): void { const p = this.#pending.get(id); if (p) p.sent = true; }

  /** The socket closed: requests written to it will never be answered. */
  rejectSent(err: RelayError): void {
    for (const p of [...this.#pending.values()]) if (p.sent) p.reject(err);
  }

  rejectAll(err: RelayError): void {
    for (const p of [...this.#pending.values()]) p.reject(err);
  }

  #accepts(p: Pending, frame: Frame): boolean {
    if (!p.filter) return true;
    try {
      return p.filter(frame) === true;
    } catch {
      return false;
    }
  }
}
