/**
 * WebSocket transport: binary frames, no per-message compression (it cost the
 * original ~40% of its CPU). Works over `ws` sockets in Node (client or server
 * side) and the browser's WebSocket.
 */
import { Connection } from './connection.js';
import { WebSocketImpl, IS_NODE_WS } from './ws-impl.js';
import { MESH_SUBPROTOCOL } from '../wire/frames.js';
import { corkSocket } from './cork.js';

/** The subset of the W3C WebSocket (and of `ws`) this transport uses. */
interface WsLike {
  readyState: number;
  bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, fn: (ev: any) => void): void;
  terminate?: () => void;
}

export class WebSocketConnection extends Connection {
  readonly kind = 'websocket' as const;
  readonly remoteAddress: string;
  readonly #ws: WsLike;
  #closed = false;

  constructor(ws: WsLike, remoteAddress: string) {
    super();
    this.#ws = ws;
    this.remoteAddress = remoteAddress;
    ws.binaryType = IS_NODE_WS ? 'nodebuffer' : 'arraybuffer';
    ws.addEventListener('message', (ev: { data: unknown }) => {
      const d = ev.data;
      if (d instanceof Uint8Array) this.receive(d);
      else if (d instanceof ArrayBuffer) this.receive(new Uint8Array(d));
      else this.emit('invalid', 'text frame on a binary link');
    });
    ws.addEventListener('close', () => this.#onClose());
    ws.addEventListener('error', (ev: { error?: Error; message?: string }) => {
      this.emit('error', ev.error ?? new Error(ev.message ?? 'websocket error'));
      this.#onClose();
    });
  }

  get open(): boolean { return !this.#closed && this.#ws.readyState === 1; }
  get bufferedAmount(): number { return this.#ws.bufferedAmount; }

  send(frame: Uint8Array): void {
    if (!this.open) return;
    // Frames sent in one tick leave in one socket write (one syscall instead of one per frame).
    corkSocket(this.#ws);
    this.#ws.send(frame);
  }

  close(): void {
    if (this.#closed) return;
    try {
      if (this.#ws.readyState === 0 && this.#ws.terminate) this.#ws.terminate();
      else this.#ws.close(1000);
    } catch {
      // already closing
    }
    this.#onClose();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }
}

export interface DialOptions { maxPayload: number; timeoutMs: number; signal?: AbortSignal }

/** Opens a mesh link to `url`; resolves once the WebSocket is open. */
export function dialWebSocket(url: string, opts: DialOptions): Promise<WebSocketConnection> {
  return new Promise((resolve, reject) => {
    let ws: WsLike;
    try {
      ws = (IS_NODE_WS
        ? new (WebSocketImpl as any)(url, MESH_SUBPROTOCOL, { maxPayload: opts.maxPayload, perMessageDeflate: false, handshakeTimeout: opts.timeoutMs })
        : new WebSocketImpl(url, MESH_SUBPROTOCOL)) as WsLike;
    } catch (err) {
      reject(err);
      return;
    }
    const conn = new WebSocketConnection(ws, url);
    let done = false;
    const timer = setTimeout(() => fail(new Error(`timed out connecting to ${url}`)), opts.timeoutMs);
    const onAbort = () => fail(new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    function fail(err: Error) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      conn.close();
      reject(err);
    }
    ws.addEventListener('open', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(conn);
    });
    conn.once('close', () => fail(new Error(`could not connect to ${url}`)));
    conn.on('error', () => { /* reported through close */ });
  });
}
