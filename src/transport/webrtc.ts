/**
 * WebRTC transport: a Connection over one connected simple-peer data channel
 * (reliable, ordered). Data channels cap message sizes (16-256 KiB depending on
 * the browser), so frames travel as chunks of at most CHUNK_SIZE bytes, each
 * prefixed with one byte: CHUNK_MORE (more chunks follow) or CHUNK_FINAL
 * (PROTOCOL.md, "WebRTC links"). A channel that closes, errors, or whose ICE
 * stays 'disconnected' for `disconnectedMs` closes the connection; a channel
 * that is open but silent is caught by the link's keepalive above.
 */
import debugFactory from 'debug';
import { Connection } from './connection.js';

const debug = debugFactory('relaymesh:webrtc');

/** Largest chunk payload; 16 KiB crosses every browser's data channel. */
export const CHUNK_SIZE = 16 * 1024;
export const CHUNK_FINAL = 0;
export const CHUNK_MORE = 1;

/** The part of a simple-peer instance this transport uses. */
export interface PeerLike {
  readonly connected: boolean;
  readonly bufferSize: number;
  readonly writableLength: number;
  remoteAddress?: string;
  remotePort?: number;
  write(chunk: Uint8Array): boolean;
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
  /** Frames dropped because the send buffer was full. */
  dropped = 0;

  readonly #onData = (data: Uint8Array) => this.#onChunk(data);
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

  get open(): boolean { return !this.#closed && this.#peer.connected; }
  get bufferedAmount(): number { return this.#peer.bufferSize + this.#peer.writableLength; }

  send(frame: Uint8Array): void {
    if (!this.open) return;
    if (this.bufferedAmount + frame.length > this.#maxBuffered) {
      this.dropped++;
      debug('send buffer full (%d bytes): dropped a frame of %d bytes', this.bufferedAmount, frame.length);
      return;
    }
    try {
      let off = 0;
      do {
        const n = Math.min(CHUNK_SIZE, frame.length - off);
        const chunk = new Uint8Array(n + 1);
        chunk[0] = off + n < frame.length ? CHUNK_MORE : CHUNK_FINAL;
        chunk.set(frame.subarray(off, off + n), 1);
        this.#peer.write(chunk);
        off += n;
      } while (off < frame.length);
    } catch (err) {
      this.emit('error', err as Error);
      this.close();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#finish();
  }

  #onChunk(data: Uint8Array): void {
    if (this.#closed) return;
    if (data.length === 0 || data[0] > CHUNK_MORE) {
      this.emit('invalid', data.length === 0 ? 'empty chunk' : `unknown chunk header ${data[0]}`);
      return;
    }
    const final = data[0] === CHUNK_FINAL;
    const part = data.subarray(1);
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
    this.#closed = true;
    if (this.#disconnectTimer) clearTimeout(this.#disconnectTimer);
    this.#disconnectTimer = null;
    this.#parts = [];
    const peer = this.#peer;
    peer.removeListener('data', this.#onData);
    peer.removeListener('close', this.#onClose);
    peer.removeListener('iceStateChange', this.#onIceState);
    // Keep an error listener: simple-peer may still report one while tearing down.
    peer.removeListener('error', this.#onError);
    peer.on('error', (err: Error) => debug('error after close: %s', err.message));
    try {
      peer.destroy();
    } catch {
      // already destroyed
    }
    this.emit('close');
  }
}
