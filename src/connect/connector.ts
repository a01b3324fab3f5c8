/**
 * connect(id): asks the target, through the mesh and sealed end to end, which
 * transports it has (the CONTROL channel), then forms a direct link: WebSocket
 * to the URL it advertises, or WebRTC when both ends have it.
 */
import debugFactory from 'debug';
import { randomBytes, textDecoder, textEncoder, toHex } from '../util/bytes.js';
import { relayError, type RelayError } from '../util/errors.js';
import type { PeerRelay } from '../peer-relay.js';
import { WebRtcConnector, type WebRtcConnectOptions } from './webrtc-connector.js';

const debug = debugFactory('relaymesh:connect');
const CONTROL = 2;

export interface TransportInfo { url: string; wrtc: boolean }

type ControlMessage =
  | { t: 'query'; q: string }
  | { t: 'info'; q: string; url: string; wrtc: boolean }
  | { t: string; [k: string]: unknown };

export class Connector {
  readonly #node: PeerRelay;
  readonly #queries = new Map<string, { resolve: (i: TransportInfo) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  readonly #connecting = new Map<string, Promise<void>>();
  /** Extra CONTROL handlers by message type (WebRTC signaling registers here). */
  readonly handlers = new Map<string, (msg: any, from: Uint8Array) => void>();
  /** Forms WebRTC links (signaling through the mesh); set when the node has `wrtc`. */
  webrtc: ((target: Uint8Array, opts: WebRtcConnectOptions) => Promise<void>) | null = null;
  readonly #webrtc: WebRtcConnector | null = null;

  constructor(node: PeerRelay) {
    this.#node = node;
    node.registerChannel(CONTROL, (payload, from) => this.#onControl(payload, from));
    if (node.wrtc) {
      const w = new WebRtcConnector(node, this);
      this.#webrtc = w;
      this.webrtc = (target, opts) => w.connect(target, opts);
    }
  }

  /** True when links may be formed without a URL (WebRTC). */
  canAuto(): boolean { return this.webrtc !== null && this.handlers.has('signal'); }

  sendControl(to: Uint8Array, msg: ControlMessage): void {
    this.#node.sendOnChannel(to, CONTROL, textEncoder.encode(JSON.stringify(msg)));
  }

  connect(target: Uint8Array, signal?: AbortSignal): Promise<void> {
    const hex = toHex(target);
    if (this.#node._linkTo(target)) return Promise.resolve();
    const existing = this.#connecting.get(hex);
    if (existing) return existing;
    const p = this.#connect(target, signal);
    this.#connecting.set(hex, p);
    const done = () => this.#connecting.delete(hex);
    p.then(done, done);
    return p;
  }

  async #connect(target: Uint8Array, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.#node.limits.connectTimeoutMs;
    const contact = this.#node._contact(target);
    if (contact?.url) {
      try {
        await this.#node._dialUrl(contact.url, target);
        return;
      } catch (err) {
        debug('dial of advertised %s failed: %s', contact.url, (err as Error).message);
      }
    }
    const info = await this.#query(target, signal);
    if (this.#node._linkTo(target)) return;
    if (this.#node.wrtc && info.wrtc && this.webrtc) {
      try {
        // The query and the WebRTC attempts share one time budget.
        return await this.webrtc(target, { signal, deadline: Math.max(deadline, Date.now() + 1000) });
      } catch (err) {
        if (!info.url || signal?.aborted || (err as RelayError).code === 'ERR_DESTROYED') throw err;
        debug('WebRTC to %s failed (%s); dialing %s', toHex(target), (err as Error).message, info.url);
      }
    }
    if (info.url) {
      try {
        await this.#node._dialUrl(info.url, target);
        return;
      } catch (err) {
        throw relayError('ERR_CONNECT_FAILED', `could not dial ${info.url}: ${(err as Error).message}`, { to: toHex(target) });
      }
    }
    throw relayError('ERR_CONNECT_FAILED', `${toHex(target)} has no transport in common with this node`, { to: toHex(target) });
  }

  /**
   * Asks `target` for its transports. The query is sent again with doubling
   * delays (an answer can be lost on a link the asker just closed: the target
   * routes over it until the CLOSE arrives); it ends early if a link to
   * `target` forms meanwhile.
   */
  #query(target: Uint8Array, signal?: AbortSignal): Promise<TransportInfo> {
    return new Promise((resolve, reject) => {
      const q = toHex(randomBytes(8));
      const limit = this.#node.limits.connectTimeoutMs;
      const timer = setTimeout(() => finish(relayError('ERR_TIMEOUT', `connect(${toHex(target)}): no answer in ${limit} ms`)), limit);
      timer.unref?.();
      // Resent after 250 ms, 500 ms, 1 s, ... while no answer came.
      let wait = Math.min(250, limit / 8);
      let again: ReturnType<typeof setTimeout>;
      const schedule = () => {
        again = setTimeout(() => {
          if (!this.#queries.has(q)) return;
          if (this.#node._linkTo(target)) { finish(null, { url: '', wrtc: false }); return; }
          send();
          if (!this.#queries.has(q)) return;
          wait *= 2;
          schedule();
        }, wait);
        again.unref?.();
      };
      schedule();
      const onAbort = () => finish(relayError('ERR_TIMEOUT', 'aborted'));
      const finish = (err: Error | null, info?: TransportInfo) => {
        if (!this.#queries.has(q)) return;
        this.#queries.delete(q);
        clearTimeout(timer);
        clearTimeout(again);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err); else resolve(info!);
      };
      const send = () => {
        try {
          this.sendControl(target, { t: 'query', q });
        } catch (err) {
          finish(err as Error);
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queries.set(q, { resolve: (i) => finish(null, i), reject: (e) => finish(e), timer });
      send();
    });
  }

  #onControl(payload: Uint8Array, from: Uint8Array): void {
    let msg: ControlMessage;
    try {
      msg = JSON.parse(textDecoder.decode(payload));
    } catch {
      this.#node._count('bad_control');
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.t !== 'string') { this.#node._count('bad_control'); return; }
    if (msg.t === 'query' && typeof msg.q === 'string') {
      this.sendControl(from, { t: 'info', q: msg.q, url: this.#node.url, wrtc: Boolean(this.#node.wrtc) });
      return;
    }
    if (msg.t === 'info' && typeof msg.q === 'string') {
      const pending = this.#queries.get(msg.q);
      if (!pending) { this.#node._count('unsolicited_control'); return; }
      pending.resolve({ url: typeof msg.url === 'string' ? msg.url : '', wrtc: msg.wrtc === true });
      return;
    }
    const handler = this.handlers.get(msg.t);
    if (handler) handler(msg, from);
    else this.#node._count('unknown_control');
  }

  destroy(): void {
    this.#webrtc?.destroy();
    for (const q of this.#queries.values()) {
      clearTimeout(q.timer);
      q.reject(relayError('ERR_DESTROYED'));
    }
    this.#queries.clear();
  }
}
