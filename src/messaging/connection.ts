/**
 * MessagingPeer's connection to its signaling server: open, register, and
 * after a drop reconnect with backoff (the seed's 1 s doubling, 30 s cap, 10
 * attempts by default) and re-register; frames written meanwhile wait in a
 * bounded outbox and go out once registered again.
 */
import { relayError, type RelayError } from '../util/errors.js';
import { MESSAGING_LIMITS } from '../util/limits.js';
import { WebSocketImpl } from '../transport/ws-impl.js';
import type { ConnectionState } from './handlers.js';
import type { MessagingError } from './inbound.js';

export interface ReconnectOptions { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number }

export interface ConnectionHost {
  readonly url: string;
  readonly reconnect: ReconnectOptions;
  readonly maxQueued: number | undefined;
  /** Registers on a fresh connection (resolves when the server confirmed). */
  register(): Promise<void>;
  frame(data: unknown): void;
  /** Frame `id` (a request) was written to the socket. */
  sent(id: string): void;
  /** The socket closed: what was written to it will not be answered. */
  lost(): void;
  /** No connection any more until connect(): every request fails with `err`. */
  ended(err: RelayError): void;
  state(state: ConnectionState): void;
  error(error: MessagingError): void;
}

export class ServerConnection {
  readonly #h: ConnectionHost;
  readonly #outbox: { frame: string; id?: string }[] = [];
  #ws: WebSocket | null = null;
  #registered = false;
  #wanted = false;
  /** disconnect() was called, or connecting failed for good: sends fail instead of queueing. */
  #stopped = false;
  #attempts = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(host: ConnectionHost) { this.#h = host; }

  get registered(): boolean { return this.#registered; }
  /** The application wants a connection (connect() was called and it has not given up). */
  get wanted(): boolean { return this.#wanted; }

  markRegistered(): void { this.#registered = true; }

  async connect(): Promise<void> {
    if (this.#registered) return;
    this.#wanted = true;
    this.#stopped = false;
    this.#attempts = 0;
    await this.#open(true);
  }

  disconnect(): void {
    this.#wanted = false;
    this.#stopped = true;
    this.#outbox.length = 0;
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    const ws = this.#ws;
    this.#ws = null;
    this.#registered = false;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try { ws.close(); } catch { /* already closed */ }
    }
    this.#h.ended(relayError('ERR_NOT_CONNECTED', 'disconnected'));
    if (ws) this.#h.state('disconnected');
  }

  /** Sends now (true) or queues for after (re-)registration (false). Throws ERR_NOT_CONNECTED / ERR_QUEUE_FULL. */
  write(frame: string, urgent = false, id?: string): boolean {
    const ws = this.#ws;
    if (ws && ws.readyState === 1 && (this.#registered || urgent)) {
      ws.send(frame);
      return true;
    }
    if (urgent) return false; // a register frame is re-sent on the next connection anyway
    if (this.#stopped) throw relayError('ERR_NOT_CONNECTED', 'disconnected; call connect() first');
    const max = this.#h.maxQueued ?? MESSAGING_LIMITS.maxQueued;
    if (this.#outbox.length >= max) throw relayError('ERR_QUEUE_FULL', `${max} frames already wait for the connection`);
    this.#outbox.push({ frame, id });
    return false;
  }

  #flushOutbox(): void {
    const ws = this.#ws;
    while (ws && ws.readyState === 1 && this.#outbox.length > 0) {
      const { frame, id } = this.#outbox.shift()!;
      ws.send(frame);
      if (id) this.#h.sent(id);
    }
  }

  #open(first: boolean): Promise<void> {
    const h = this.#h;
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocketImpl(h.url);
      } catch (err) {
        reject(relayError('ERR_CONNECT_FAILED', (err as Error).message));
        return;
      }
      this.#ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        h.register().then(() => {
          if (this.#ws !== ws) return;
          this.#attempts = 0;
          this.#flushOutbox();
          h.state('connected');
          resolve();
        }, (err: RelayError) => {
          h.error({ type: 'REGISTRATION_FAILED', details: err.message, code: err.code });
          if (first) this.disconnect();
          else try { ws.close(); } catch { /* closed */ }
          reject(err);
        });
      };
      ws.onmessage = (ev: MessageEvent) => h.frame(ev.data);
      ws.onerror = () => { /* a close follows */ };
      ws.onclose = () => {
        if (this.#ws !== ws) return;
        this.#ws = null;
        const wasRegistered = this.#registered;
        this.#registered = false;
        h.lost();
        if (first && !opened) {
          this.#wanted = false;
          this.#stopped = true;
          reject(relayError('ERR_CONNECT_FAILED', `could not connect to ${h.url}`));
          return;
        }
        if (wasRegistered) h.state('disconnected');
        this.#scheduleReconnect();
      };
    });
  }

  #scheduleReconnect(): void {
    if (!this.#wanted || this.#timer) return;
    const r = this.#h.reconnect;
    const max = r.maxAttempts ?? 10;
    if (this.#attempts >= max) {
      this.#wanted = false;
      this.#stopped = true;
      this.#h.error({ type: 'CONNECTION_LOST', details: `gave up after ${max} reconnection attempts`, code: 'ERR_NOT_CONNECTED' });
      this.#h.ended(relayError('ERR_NOT_CONNECTED', 'connection lost'));
      this.#outbox.length = 0;
      this.#h.state('disconnected');
      return;
    }
    const delay = Math.min((r.baseDelayMs ?? 1000) * 2 ** this.#attempts, r.maxDelayMs ?? 30_000);
    this.#attempts++;
    this.#h.state('reconnecting');
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#wanted) this.#open(false).catch(() => undefined);
    }, delay);
  }
}
