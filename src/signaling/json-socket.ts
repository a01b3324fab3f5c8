/**
 * One client WebSocket carrying one JSON object per text frame, as every
 * dialect (IM, Connector, protoo) needs it: per-connection rate limit,
 * keepalive pings, a single writer with a bound on unread bytes, and bad input
 * turned into a callback instead of an exception.
 */
import debugFactory from 'debug';
import type { WebSocket } from 'ws';
import { corkSocket } from '../transport/cork.js';
import { DIALECT_LIMITS, TokenBucket, type SignalingLimits } from './limits.js';

const debug = debugFactory('relaymesh:signaling:socket');
const OPEN = 1;
const BACKSLASH = 0x5c;

/** Keepalive ping period (ms; src/util/limits.ts, group `dialects`). */
export const KEEPALIVE_MS = DIALECT_LIMITS.keepaliveMs;

export type BadFrame = 'binary' | 'json' | 'shape' | 'rate';

export interface JsonSocketHandlers {
  /** A JSON object arrived; `escapeFree`: its text had no backslash (fast-json.ts `verbatim`). */
  frame(msg: Record<string, unknown>, escapeFree: boolean): void;
  /** A frame was refused (binary, not JSON, not an object, over the rate); `text` is a text frame's content. */
  bad(reason: BadFrame, text?: string): void;
  closed(code: number): void;
  /** A binary frame (under the rate); return false to refuse it as `binary`. */
  binary?(data: Buffer): boolean;
}

export class JsonSocket {
  readonly remoteAddress: string;
  readonly #ws: WebSocket;
  readonly #limits: SignalingLimits;
  readonly #bucket: TokenBucket;
  readonly #h: JsonSocketHandlers;
  readonly #ping: ReturnType<typeof setInterval> | null = null;
  #alive = true;
  #closed = false;

  /** `keepaliveMs` 0: no pings (the IM dialect, whose clients never had them). */
  constructor(ws: WebSocket, remoteAddress: string, limits: SignalingLimits, h: JsonSocketHandlers, keepaliveMs: number = KEEPALIVE_MS) {
    this.#ws = ws;
    this.remoteAddress = remoteAddress;
    this.#limits = limits;
    this.#h = h;
    this.#bucket = new TokenBucket(limits.ratePerSecond, limits.rateBurst);
    ws.on('message', (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on('pong', () => { this.#alive = true; });
    ws.on('close', (code) => this.#onClose(code));
    ws.on('error', (err) => debug('socket error from %s: %s', remoteAddress, err.message));
    if (keepaliveMs > 0) {
      this.#ping = setInterval(() => {
        if (!this.#alive) { debug('%s missed a keepalive', remoteAddress); ws.terminate(); return; }
        this.#alive = false;
        try { ws.ping(); } catch { /* closing */ }
      }, keepaliveMs);
      this.#ping.unref?.();
    }
  }

  get closed(): boolean { return this.#closed; }

  /** Stops (true) or resumes (false) reading frames: TCP backpressure holds the client back meanwhile. */
  pauseReading(paused: boolean): void {
    if (this.#closed) return;
    try {
      if (paused) this.#ws.pause();
      else this.#ws.resume();
    } catch { /* closing */ }
  }

  /** Writes one frame; closes the socket (1013) if the client does not read. */
  send(frame: unknown): boolean {
    return this.sendText(JSON.stringify(frame));
  }

  /** Writes one frame that is JSON text already. */
  sendText(text: string): boolean {
    if (!this.#writable()) return false;
    this.#ws.send(text);
    return true;
  }

  /** Writes one binary frame (as sendText). */
  sendBinary(data: Uint8Array): boolean {
    if (!this.#writable()) return false;
    this.#ws.send(data, { binary: true });
    return true;
  }

  /** True if a frame may be written now (the socket corked for this turn); closes (1013) a client that does not read. */
  #writable(): boolean {
    if (this.#closed || this.#ws.readyState !== OPEN) return false;
    if (this.#ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      debug('closing %s: %d bytes unread', this.remoteAddress, this.#ws.bufferedAmount);
      this.close(1013, 'too slow');
      return false;
    }
    corkSocket(this.#ws); // the frames written this turn (a chunk of client frames answered) leave in one write
    return true;
  }

  /** Runs `fn`, whose writes leave in one system call (the socket is corked meanwhile). */
  corked(fn: () => void): void {
    const raw = (this.#ws as unknown as { _socket?: { cork(): void; uncork(): void } | null })._socket;
    raw?.cork();
    try {
      fn();
    } finally {
      raw?.uncork();
    }
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    try { this.#ws.close(code, reason.slice(0, 120)); } catch { this.#ws.terminate(); }
    this.#onClose(code);
  }

  #onClose(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ping) clearInterval(this.#ping);
    this.#h.closed(code);
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    // Over the rate: no parse; the handler gets the text (a long frame's last 128 bytes) to find a request id in.
    if (!this.#bucket.take()) return this.#h.bad('rate', isBinary ? undefined : (data.length > 4096 ? data.subarray(data.length - 128) : data).toString('utf8'));
    if (isBinary) {
      let taken = false;
      try {
        taken = this.#h.binary?.(data) === true;
      } catch (err) {
        // Remote input never throws out of a handler.
        debug('binary handler failed: %s', (err as Error).message);
        return;
      }
      return taken ? undefined : this.#h.bad('binary');
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return this.#h.bad('json');
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return this.#h.bad('shape');
    try {
      this.#h.frame(msg as Record<string, unknown>, data.indexOf(BACKSLASH) < 0);
    } catch (err) {
      // Remote input never throws out of a handler.
      debug('handler failed: %s', (err as Error).message);
    }
  }
}
