/**
 * The one interface every transport implements: an ordered, reliable,
 * message-framed byte pipe. Links, routing and crypto sit above it and never
 * know which transport carries them.
 */
import { Emitter } from '../util/emitter.js';

export type TransportKind = 'websocket' | 'webrtc' | 'memory';

export interface ConnectionEvents {
  message: [frame: Uint8Array];
  /** A text frame or other input that is not a binary message; the link counts and drops it. */
  invalid: [reason: string];
  close: [];
  error: [err: Error];
}

/**
 * The one receiver of what a connection reports, in place of listeners: the link
 * above it (four closures and their contexts per connection fewer; docs/bench.md,
 * Memory). Listeners added with `on` still hear every event, after the sink.
 */
export interface ConnectionSink {
  onTransportMessage(frame: Uint8Array): void;
  onTransportInvalid(reason: string): void;
  onTransportClose(): void;
  onTransportError(err: Error): void;
}

/** Frames a connection keeps before anyone receives them (the remote may speak first). */
const MAX_EARLY = 64;

export abstract class Connection extends Emitter<ConnectionEvents> {
  /** Frames that arrived before anyone received them; made on the first such frame, bounded. */
  #early: Uint8Array[] | null = null;
  /** Someone receives frames: the sink, or a 'message' listener. */
  #receiving = false;
  #sink: ConnectionSink | null = null;

  /** Makes `sink` the receiver of every event (frames that came early go to it in a microtask). */
  attach(sink: ConnectionSink): void {
    this.#sink = sink;
    this.#startReceiving();
  }

  protected override listenerAdded(event: keyof ConnectionEvents): void {
    if (event === 'message') this.#startReceiving();
  }

  #startReceiving(): void {
    if (this.#receiving) return;
    this.#receiving = true;
    const early = this.#early;
    this.#early = null;
    if (early) queueMicrotask(() => { for (const f of early) this.emit('message', f); });
  }

  override emit<K extends keyof ConnectionEvents>(event: K, ...args: ConnectionEvents[K]): boolean {
    const sink = this.#sink;
    if (sink) {
      switch (event) {
        case 'message': sink.onTransportMessage(args[0] as Uint8Array); break;
        case 'invalid': sink.onTransportInvalid(args[0] as string); break;
        case 'close': sink.onTransportClose(); break;
        case 'error': sink.onTransportError(args[0] as Error); break;
      }
      if (this.listenerCount(event) === 0) return true;
    }
    return super.emit(event, ...args);
  }

  /** Transports call this for every binary message they receive. */
  protected receive(frame: Uint8Array): void {
    if (!this.#receiving) {
      const early = this.#early ??= [];
      if (early.length < MAX_EARLY) early.push(frame);
      return;
    }
    const sink = this.#sink;
    if (!sink) { super.emit('message', frame); return; }
    sink.onTransportMessage(frame);
    if (this.listenerCount('message') > 0) super.emit('message', frame);
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
