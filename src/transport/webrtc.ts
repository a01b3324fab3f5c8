/**
 * WebRTC transport: a Connection over one connected simple-peer data channel
 * (reliable, ordered). Each data-channel message (at most MESSAGE_SIZE bytes,
 * which crosses every browser) carries records: a 1-byte type (RECORD_FINAL,
 * or RECORD_MORE when the frame continues in the next record), a 3-byte
 * big-endian length, the bytes (PROTOCOL.md, "WebRTC data channel framing").
 * Frames sent in one tick share messages: a data-channel send is a costly
 * native call, so fewer and fuller messages go faster. A channel that closes, errors, or whose ICE
 * stays 'disconnected' for `disconnectedMs` closes the connection; a channel
 * that is open but silent is caught by the link's keepalive above.
 */
import debugFactory from 'debug';
import { Connection } from './connection.js';

const debug = debugFactory('relaymesh:webrtc');

/** Bytes handed to the data channel at most; beyond, chunks wait here. */
const CHANNEL_HIGH_WATER = 1024 * 1024;
/**
 * Reading the channel's bufferedAmount is a synchronous call into the WebRTC
 * implementation (a third of the CPU per message with @roamhq/wrtc), so it is
 * read once per this many bytes sent; in between, bytes sent are added to the
 * last reading (an upper bound).
 */
const CHECK_EVERY = 64 * 1024;
/** Above this estimate, reading bufferedAmount reads the channel again (see the getter). */
const REREAD_ABOVE = 16 * 1024;
/** How often a backed-up queue checks the channel again (ms). */
const DRAIN_POLL_MS = 2;

/**
 * When gathered records are sent: after the current event-loop phase in Node
 * (frames sent from several callbacks share messages), at the end of the task
 * where setImmediate does not exist (browsers; read from globalThis so a
 * bundler's setTimeout-based shim is not picked up).
 */
const nativeImmediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
const later: (fn: () => void) => void = typeof nativeImmediate === 'function' ? (fn) => { nativeImmediate(fn); } : queueMicrotask;

/** Largest data-channel message, record headers included. */
export const MESSAGE_SIZE = 16 * 1024;
export const RECORD_FINAL = 0;
export const RECORD_MORE = 1;
export const RECORD_HEADER = 4;

/** The part of a simple-peer instance this transport uses. */
export interface PeerLike {
  readonly connected: boolean;
  readonly bufferSize: number;
  remoteAddress?: string;
  remotePort?: number;
  send(chunk: Uint8Array): void;
  destroy(err?: Error): void;
  on(event: string, fn: (...args: any[]) => void): unknown;
  removeListener(event: string, fn: (...args: any[]) => void): unknown;
}

export interface WebRtcConnectionOptions {
  /** Largest frame accepted after reassembly (bytes). */
  maxFrame: number;
  /** Bytes that may wait to be sent before new frames are dropped (default 16 MiB). */
  maxBuffered?: number;
  /** How long ICE may stay 'disconnected' before the link counts as dead (ms, default 5000). */
  disconnectedMs?: number;
}

export class WebRtcConnection extends Connection {
  readonly kind = 'webrtc' as const;
  readonly remoteAddress: string;
  readonly #peer: PeerLike;
  readonly #maxFrame: number;
  readonly #maxBuffered: number;
  readonly #disconnectedMs: number;
  #closed = false;
  #parts: Uint8Array[] = [];
  #partsLength = 0;
  /** After an oversized frame: drop chunks until its final one. */
  #discarding = false;
  #disconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** Records not yet sent (flushed at the end of the tick or when full). */
  readonly #out = new Uint8Array(MESSAGE_SIZE);
  #outLength = 0;
  #flushScheduled = false;
  /** Messages waiting for the data channel's buffer to drain. */
  #queue: Uint8Array[] = [];
  #queued = 0;
  /** The channel's bufferedAmount at the last reading plus bytes sent since. */
  #buffered = 0;
  #sinceCheck = 0;
  #drainTimer: ReturnType<typeof setTimeout> | null = null;
  /** Frames dropped because the send buffer was full. */
  dropped = 0;

  readonly #onData = (data: Uint8Array) => this.#onMessage(data);
  readonly #onClose = () => this.#finish();
  readonly #onError = (err: Error) => {
    this.emit('error', err);
    this.#finish();
  };
  readonly #onIceState = (state: string) => this.#onIceStateChange(state);

  /** `peer` must be connected (simple-peer's 'connect' has fired). */
  constructor(peer: PeerLike, opts: WebRtcConnectionOptions) {
    super();
    if (!(opts?.maxFrame > 0)) throw new RangeError('opts.maxFrame must be a positive number');
    this.#peer = peer;
    this.#maxFrame = opts.maxFrame;
    this.#maxBuffered = opts.maxBuffered ?? 16 * 1024 * 1024;
    this.#disconnectedMs = opts.disconnectedMs ?? 5000;
    this.remoteAddress = peer.remoteAddress ? `webrtc:${peer.remoteAddress}:${peer.remotePort ?? 0}` : 'webrtc';
    peer.on('data', this.#onData);
    peer.on('close', this.#onClose);
    peer.on('error', this.#onError);
    peer.on('iceStateChange', this.#onIceState);
    if (!peer.connected) queueMicrotask(() => { if (!this.#peer.connected) this.#finish(); });
  }

  /** Tracked from the peer's events: reading `peer.connected` is a native call too. */
  get open(): boolean { return !this.#closed; }
  /**
   * Bytes waiting to leave. Between readings of the channel this is an upper
   * bound; once that bound is high enough to hold a sender back, the channel is
   * read again: otherwise a sender that waits for the figure to fall (the link
   * above) would wait forever, since nothing else refreshes it while it sends
   * nothing.
   */
  get bufferedAmount(): number {
    if (this.#sinceCheck > 0 && this.#buffered >= REREAD_ABOVE && !this.#closed) {
      try {
        this.#buffered = this.#peer.bufferSize;
        this.#sinceCheck = 0;
      } catch { /* a closing channel: keep the bound */ }
    }
    return this.#buffered + this.#queued + this.#outLength;
  }

  send(frame: Uint8Array): void {
    if (!this.open) return;
    if (this.bufferedAmount + frame.length > this.#maxBuffered) {
      this.dropped++;
      debug('send buffer full (%d bytes): dropped a frame of %d bytes', this.bufferedAmount, frame.length);
      return;
    }
    let off = 0;
    for (;;) {
      let room = MESSAGE_SIZE - this.#outLength - RECORD_HEADER;
      if (room <= 0 || (room < frame.length - off && room < 256)) {
        this.#flush();
        room = MESSAGE_SIZE - RECORD_HEADER;
      }
      const n = Math.min(room, frame.length - off);
      const last = off + n === frame.length;
      const out = this.#out;
      let at = this.#outLength;
      out[at++] = last ? RECORD_FINAL : RECORD_MORE;
      out[at++] = n >>> 16;
      out[at++] = (n >>> 8) & 255;
      out[at++] = n & 255;
      out.set(frame.subarray(off, off + n), at);
      this.#outLength = at + n;
      off += n;
      if (last) break;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      later(() => this.#flush());
    }
  }

  /** Sends the records gathered so far as one data-channel message. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#outLength === 0 || this.#closed) return;
    const msg = this.#out.slice(0, this.#outLength);
    this.#outLength = 0;
    try {
      if (this.#sinceCheck >= CHECK_EVERY) {
        this.#buffered = this.#peer.bufferSize;
        this.#sinceCheck = 0;
      }
      if (this.#queue.length === 0 && this.#buffered < CHANNEL_HIGH_WATER) {
        this.#peer.send(msg);
        this.#buffered += msg.length;
        this.#sinceCheck += msg.length;
      } else {
        this.#enqueue(msg);
      }
    } catch (err) {
      this.emit('error', err as Error);
      this.close();
    }
  }

  #enqueue(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (!this.#drainTimer) this.#drainTimer = setTimeout(() => this.#drain(), DRAIN_POLL_MS);
  }

  #drain(): void {
    this.#drainTimer = null;
    if (this.#closed) return;
    try {
      let i = 0;
      let buffered = this.#peer.bufferSize;
      while (i < this.#queue.length && buffered < CHANNEL_HIGH_WATER) {
        const chunk = this.#queue[i++];
        this.#queued -= chunk.length;
        this.#peer.send(chunk);
        buffered += chunk.length;
      }
      this.#buffered = buffered;
      this.#sinceCheck = 0;
      this.#queue = i === this.#queue.length ? [] : this.#queue.slice(i);
    } catch (err) {
      this.emit('error', err as Error);
      this.close();
      return;
    }
    if (this.#queue.length) this.#drainTimer = setTimeout(() => this.#drain(), DRAIN_POLL_MS);
  }

  close(): void {
    if (this.#closed) return;
    this.#finish();
  }

  #onMessage(data: Uint8Array): void {
    if (this.#closed) return;
    if (data.length === 0) { this.emit('invalid', 'empty message'); return; }
    let pos = 0;
    while (pos < data.length && !this.#closed) {
      const type = data[pos];
      const n = pos + RECORD_HEADER <= data.length ? (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3] : -1;
      if (type > RECORD_MORE || n < 0 || pos + RECORD_HEADER + n > data.length) {
        this.emit('invalid', type > RECORD_MORE ? `unknown record type ${type}` : 'truncated record');
        return;
      }
      this.#onRecord(type === RECORD_FINAL, data.subarray(pos + RECORD_HEADER, pos + RECORD_HEADER + n));
      pos += RECORD_HEADER + n;
    }
  }

  #onRecord(final: boolean, part: Uint8Array): void {
    if (this.#discarding) {
      if (final) this.#discarding = false;
      return;
    }
    if (final && this.#parts.length === 0) {
      this.receive(part);
      return;
    }
    this.#partsLength += part.length;
    if (this.#partsLength > this.#maxFrame) {
      this.#parts = [];
      this.#partsLength = 0;
      this.#discarding = !final;
      this.emit('invalid', `frame exceeds ${this.#maxFrame} bytes`);
      return;
    }
    this.#parts.push(part);
    if (!final) return;
    const frame = new Uint8Array(this.#partsLength);
    let off = 0;
    for (const p of this.#parts) { frame.set(p, off); off += p.length; }
    this.#parts = [];
    this.#partsLength = 0;
    this.receive(frame);
  }

  #onIceStateChange(state: string): void {
    if (state === 'disconnected') {
      if (this.#disconnectTimer || this.#closed) return;
      this.#disconnectTimer = setTimeout(() => {
        debug('ICE disconnected for %d ms: closing', this.#disconnectedMs);
        this.#finish();
      }, this.#disconnectedMs);
      this.#disconnectTimer.unref?.();
    } else if (this.#disconnectTimer && (state === 'connected' || state === 'completed')) {
      clearTimeout(this.#disconnectTimer);
      this.#disconnectTimer = null;
    }
  }

  #finish(): void {
    if (this.#closed) return;
    // Frames of this tick (a CLOSE, say) still leave if the channel takes them.
    if (this.#outLength && this.#queue.length === 0) {
      try { this.#peer.send(this.#out.slice(0, this.#outLength)); } catch { /* channel gone */ }
    }
    this.#outLength = 0;
    this.#closed = true;
    if (this.#disconnectTimer) clearTimeout(this.#disconnectTimer);
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#disconnectTimer = this.#drainTimer = null;
    this.#parts = [];
    this.#queue = [];
    this.#queued = 0;
    const peer = this.#peer;
    peer.removeListener('data', this.#onData);
    peer.removeListener('close', this.#onClose);
    peer.removeListener('iceStateChange', this.#onIceState);
    // Keep an error listener: simple-peer may still report one while tearing down.
    peer.removeListener('error', this.#onError);
    peer.on('error', (err: Error) => debug('error after close: %s', err.message));
    destroyPeerLater(peer);
    this.emit('close');
  }
}

/**
 * Destroys a simple-peer instance on the next macrotask, never inside one of
 * its own (native) callbacks: closing an RTCPeerConnection synchronously while
 * @roamhq/wrtc is still dispatching its events is a known cause of segfaults in
 * node-webrtc. The reference held by the timer also keeps it from being
 * collected before it is closed.
 */
export function destroyPeerLater(peer: { destroy(): void }): void {
  setTimeout(() => {
    try {
      peer.destroy();
    } catch {
      // already destroyed
    }
  }, 0);
}
