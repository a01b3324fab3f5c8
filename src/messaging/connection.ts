/**
 * MessagingPeer's connection to its signaling servers: open, register, and
 * after a drop reconnect with backoff (the seed's 1 s doubling, 30 s cap, 10
 * attempts by default) to the next server of the list and re-register; frames
 * written meanwhile wait in a bounded outbox and go out once registered again.
 * Against a relaymesh server (it echoes request ids) every message carries an
 * id and is kept until the server acknowledges it; those a dropped socket took
 * with it are sent again after re-registering. A message that is neither
 * acknowledged nor sent again is reported (onError NOT_DELIVERED), never lost
 * silently.
 */
import { relayError, type RelayError } from '../util/errors.js';
import { MESSAGING_LIMITS } from '../util/limits.js';
import { IS_NODE_WS, WebSocketImpl } from '../transport/ws-impl.js';
import { corkSocket } from '../transport/cork.js';
import type { ConnectionState } from './handlers.js';
import type { MessagingError } from './inbound.js';

/** The part of a `ws` WebSocket (Node) read here. */
interface NodeWs { on(event: 'message', fn: (data: { toString(): string }, isBinary: boolean) => void): void }

/** A frame waiting for the connection: `msg` a message's id (`count` messages in it), `id` a request's. */
interface Outgoing { frame: string | Uint8Array; id?: string; msg?: string; count?: number }

export interface ReconnectOptions { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number }

/** Close code of a server whose client registered again elsewhere: do not reconnect (core.ts TAKEN_OVER_CLOSE_CODE). */
const TAKEN_OVER = 4001;

export interface ConnectionHost {
  /** The servers, tried in turn: the first, then the next after each lost connection or failed attempt. */
  readonly urls: readonly string[];
  /** True once the server has echoed a request id (a relaymesh server: messages are acknowledged). */
  acks(): boolean;
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
  readonly #outbox: Outgoing[] = [];
  /** Messages written to the current socket and not yet acknowledged, by message id. */
  readonly #unacked = new Map<string, string | Uint8Array>();
  /** Message frames that carry more than one message (a batch record), by message id: how many. */
  readonly #counts = new Map<string, number>();
  /** The server said it takes binary message frames (its register answer; until the connection closes). */
  #binary = false;
  #nextMsg = 1;
  #url = 0;
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

  /** Registered; `binary`: the server takes binary message frames on this connection. */
  markRegistered(binary = false): void {
    this.#registered = true;
    this.#binary = binary;
  }

  /** Binary message frames may be written now. */
  get binary(): boolean { return this.#binary && this.#registered; }

  /** The server URL in use (or tried next). */
  get url(): string { return this.#h.urls[this.#url]; }

  /** The server acknowledged (or refused, with an error frame) message `id`; returns how many messages its frame carried. */
  acked(id: string): number {
    this.#unacked.delete(id);
    const n = this.#counts.get(id);
    if (n === undefined) return 1;
    this.#counts.delete(id);
    return n;
  }

  /**
   * Writes a client message; against a relaymesh server it gets an id (`build`
   * puts it in the frame) and is kept until acknowledged. Throws like write().
   */
  writeMessage(build: (id: string | undefined) => string | Uint8Array, count = 1): void {
    if (!this.#h.acks()) { this.write(build(undefined) as string); return; }
    const id = `m${this.#nextMsg++}`;
    const frame = build(id);
    if (count > 1) this.#counts.set(id, count);
    const ws = this.#ws;
    if (ws && ws.readyState === 1 && this.#registered) {
      this.#track(id, frame);
      // Messages sent one after another (awaited or not) leave in one socket write, on the loop's next check phase.
      corkSocket(ws, 'immediate');
      ws.send(frame);
      return;
    }
    this.#enqueue({ frame, msg: id, count });
  }

  async connect(): Promise<void> {
    if (this.#registered) return;
    this.#wanted = true;
    this.#stopped = false;
    this.#attempts = 0;
    this.#url = 0;
    await this.#open(true);
  }

  disconnect(): void {
    this.#wanted = false;
    this.#stopped = true;
    this.#dropUndelivered('disconnect() was called');
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

  /** Throws what a message written now would (ERR_NOT_CONNECTED after disconnect(), ERR_QUEUE_FULL while the outbox is full). */
  checkWritable(): void {
    const ws = this.#ws;
    if (ws && ws.readyState === 1 && this.#registered) return;
    if (this.#stopped) throw relayError('ERR_NOT_CONNECTED', 'disconnected; call connect() first');
    const max = this.#h.maxQueued ?? MESSAGING_LIMITS.maxQueued;
    if (this.#outbox.length >= max) throw relayError('ERR_QUEUE_FULL', `${max} frames already wait for the connection`);
  }

  /** Sends now (true) or queues for after (re-)registration (false). Throws ERR_NOT_CONNECTED / ERR_QUEUE_FULL. */
  write(frame: string, urgent = false, id?: string): boolean {
    const ws = this.#ws;
    if (ws && ws.readyState === 1 && (this.#registered || urgent)) {
      ws.send(frame);
      return true;
    }
    if (urgent) return false; // a register frame is re-sent on the next connection anyway
    this.#enqueue({ frame, id });
    return false;
  }

  /** A request's frame still waiting in the outbox is not sent after all (it timed out). */
  unqueue(id: string): void {
    const i = this.#outbox.findIndex((e) => e.id === id);
    if (i >= 0) this.#outbox.splice(i, 1);
  }

  #enqueue(entry: Outgoing): void {
    if (this.#stopped) throw relayError('ERR_NOT_CONNECTED', 'disconnected; call connect() first');
    const max = this.#h.maxQueued ?? MESSAGING_LIMITS.maxQueued;
    if (this.#outbox.length >= max) throw relayError('ERR_QUEUE_FULL', `${max} frames already wait for the connection`);
    this.#outbox.push(entry);
  }

  #flushOutbox(): void {
    const ws = this.#ws;
    while (ws && ws.readyState === 1 && this.#outbox.length > 0) {
      const { frame, id, msg, count = 1 } = this.#outbox.shift()!;
      if (typeof frame !== 'string' && !this.#binary) {
        // Written for a node that took binary frames; this one does not (an older node on the list).
        if (msg) this.#counts.delete(msg);
        this.#h.error({ type: 'NOT_DELIVERED', details: `${count} messages were sealed as a binary frame, which ${this.url} does not take`, code: 'ERR_NOT_CONNECTED' });
        continue;
      }
      if (msg) this.#track(msg, frame);
      ws.send(frame);
      if (id) this.#h.sent(id);
    }
  }

  /** Keeps a written message until its acknowledgement; past maxQueued unacknowledged the oldest is reported, not kept. */
  #track(id: string, frame: string | Uint8Array): void {
    this.#unacked.set(id, frame);
    const max = this.#h.maxQueued ?? MESSAGING_LIMITS.maxQueued;
    if (this.#unacked.size > max) {
      const oldest = this.#unacked.keys().next().value!;
      this.#unacked.delete(oldest);
      this.#counts.delete(oldest);
      this.#h.error({ type: 'UNACKNOWLEDGED', details: `the server has not acknowledged ${max} messages; the oldest will not be sent again if the connection drops`, code: 'ERR_QUEUE_FULL' });
    }
  }

  /** The socket closed: messages it took without an acknowledgement go first on the next connection (bounded). */
  #requeueUnacked(): void {
    if (this.#unacked.size === 0) return;
    const max = this.#h.maxQueued ?? MESSAGING_LIMITS.maxQueued;
    const back: Outgoing[] = [...this.#unacked].map(([msg, frame]) => ({ frame, msg, count: this.#counts.get(msg) ?? 1 }));
    this.#unacked.clear();
    const room = Math.max(0, max - this.#outbox.length);
    if (back.length > room) {
      const lost = back.slice(room).reduce((n, e) => n + (e.count ?? 1), 0);
      this.#h.error({ type: 'NOT_DELIVERED', details: `${lost} unacknowledged messages did not fit the outbox (maxQueued ${max})`, code: 'ERR_QUEUE_FULL' });
    }
    this.#outbox.unshift(...back.slice(0, room));
  }

  /** Nothing will be sent any more: report the messages that were accepted but not acknowledged. */
  #dropUndelivered(why: string): void {
    this.#requeueUnacked();
    const n = this.#outbox.reduce((k, e) => k + (e.msg !== undefined || e.id === undefined ? e.count ?? 1 : 0), 0);
    this.#outbox.length = 0;
    this.#counts.clear();
    if (n > 0) this.#h.error({ type: 'NOT_DELIVERED', details: `${n} queued or unacknowledged frames were not delivered: ${why}`, code: 'ERR_NOT_CONNECTED' });
  }

  #open(first: boolean): Promise<void> {
    const h = this.#h;
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocketImpl(this.url);
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
      if (IS_NODE_WS) {
        // ws's own event (no MessageEvent per frame); a text frame is handed on as its text, as onmessage does.
        (ws as unknown as NodeWs).on('message', (data, isBinary) => { if (this.#ws === ws) h.frame(isBinary ? data : data.toString()); });
      } else {
        ws.binaryType = 'arraybuffer'; // binary message frames (relaymesh-bin-v1) as bytes
        ws.onmessage = (ev: MessageEvent) => h.frame(ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : ev.data);
      }
      ws.onerror = () => { /* a close follows */ };
      ws.onclose = (ev?: { code?: number }) => {
        if (this.#ws !== ws) return;
        this.#ws = null;
        const wasRegistered = this.#registered;
        this.#registered = false;
        this.#binary = false;
        this.#requeueUnacked();
        h.lost();
        // The next attempt goes to the next server of the list.
        const tried = this.url;
        this.#url = (this.#url + 1) % h.urls.length;
        if (ev?.code === TAKEN_OVER) {
          // This client registered again elsewhere (same signing key): that connection wins.
          this.#wanted = false;
          this.#stopped = true;
          h.error({ type: 'TAKEN_OVER', details: `this client id registered again elsewhere; ${tried} closed this connection`, code: 'ERR_CLIENT_ID_TAKEN' });
          this.#dropUndelivered('the client id registered again elsewhere');
          h.ended(relayError('ERR_NOT_CONNECTED', 'taken over by another connection'));
          h.state('disconnected');
          reject(relayError('ERR_NOT_CONNECTED', 'taken over by another connection'));
          return;
        }
        if (first && !opened) {
          if (this.#url !== 0) {
            // Not all servers tried yet: the next one, at once.
            this.#open(true).then(resolve, reject);
            return;
          }
          this.#wanted = false;
          this.#stopped = true;
          reject(relayError('ERR_CONNECT_FAILED', `could not connect to ${h.urls.join(', ')}`));
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
      this.#dropUndelivered(`gave up after ${max} reconnection attempts`);
      this.#h.ended(relayError('ERR_NOT_CONNECTED', 'connection lost'));
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
