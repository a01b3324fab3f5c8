/**
 * The one interface every transport implements: an ordered, reliable,
 * message-framed byte pipe. Links, routing and crypto sit above it and never
 * know which transport carries them.
 */
import { EventEmitter } from 'events';

export type TransportKind = 'websocket' | 'webrtc' | 'memory';

export interface ConnectionEvents {
  message: [frame: Uint8Array];
  /** A text frame or other input that is not a binary message; the link counts and drops it. */
  invalid: [reason: string];
  close: [];
  error: [err: Error];
}

export abstract class Connection extends EventEmitter<ConnectionEvents> {
  /** Frames that arrived before anyone listened (the remote may speak first); bounded. */
  #early: Uint8Array[] | null = [];

  constructor() {
    super();
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event !== 'message' || !this.#early) return;
      const early = this.#early;
      this.#early = null;
      if (early.length) queueMicrotask(() => { for (const f of early) this.emit('message', f); });
    });
  }

  /** Transports call this for every binary message they receive. */
  protected receive(frame: Uint8Array): void {
    if (this.#early) {
      if (this.#early.length < 64) this.#early.push(frame);
      return;
    }
    this.emit('message', frame);
  }

  abstract readonly kind: TransportKind;
  /** Where the remote end is, for logs and status pages (never used for identity). */
  abstract readonly remoteAddress: string;
  /** Bytes queued by the transport and not yet sent. */
  abstract readonly bufferedAmount: number;
  abstract readonly open: boolean;
  /** Sends one frame; after close it is dropped silently (the link reports the close). */
  abstract send(frame: Uint8Array): void;
  abstract close(): void;
}
