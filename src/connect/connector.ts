/**
 * connect(id): asks the target, through the mesh and sealed end to end, which
 * transports it has (the CONTROL channel), then forms a direct link: WebSocket
 * to the URL it advertises, or WebRTC when both ends have it.
 */
import debugFactory from 'debug';
import { randomBytes, textDecoder, textEncoder, toHex } from '../util/bytes.js';
import { relayError, type RelayError } from '../util/errors.js';
import { PendingRequests } from '../util/pending.js';
import { InFlight } from '../util/in-flight.js';
import type { MeshNode } from '../node/mesh-node.js';
import { Channel } from '../node/types.js';
import { WebRtcConnector, type WebRtcConnectOptions } from './webrtc-connector.js';

const debug = debugFactory('relaymesh:connect');
const CONTROL = Channel.CONTROL;
/** connect() queries waiting for an answer at once. */
const MAX_QUERIES = 1024;

export interface TransportInfo { url: string; wrtc: boolean }

type ControlMessage =
  | { t: 'query'; q: string }
  | { t: 'info'; q: string; url: string; wrtc: boolean }
  | { t: string; [k: string]: unknown };

export class Connector {
  readonly #node: MeshNode;
  readonly #queries: PendingRequests<string, TransportInfo>;
  readonly #connecting = new InFlight<string, void>();
  /** Extra CONTROL handlers by message type (WebRTC signaling registers here). */
  readonly handlers = new Map<string, (msg: any, from: Uint8Array) => void>();
  /** Forms WebRTC links (signaling through the mesh); set when the node has `wrtc`. */
  webrtc: ((target: Uint8Array, opts: WebRtcConnectOptions) => Promise<void>) | null = null;
  readonly #webrtc: WebRtcConnector | null = null;

  constructor(node: MeshNode) {
    this.#node = node;
    this.#queries = new PendingRequests({
      max: MAX_QUERIES, timeoutMs: node.limits.connectTimeoutMs, what: 'connect() query',
      timeoutError: (_q, ms) => relayError('ERR_TIMEOUT', `connect(): no answer in ${ms} ms`),
    });
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
    if (this.#node.links.has(target)) return Promise.resolve();
    return this.#connecting.run(toHex(target), () => this.#connect(target, signal));
  }

  async #connect(target: Uint8Array, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.#node.limits.connectTimeoutMs;
    const contact = this.#node.links.contact(target);
    if (contact?.url) {
      try {
        await this.#node.links.dial(contact.url, target);
        return;
      } catch (err) {
        debug('dial of advertised %s failed: %s', contact.url, (err as Error).message);
      }
    }
    const info = await this.#query(target, signal);
    if (this.#node.links.has(target)) return;
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
        await this.#node.links.dial(info.url, target);
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
  async #query(target: Uint8Array, signal?: AbortSignal): Promise<TransportInfo> {
    const q = toHex(randomBytes(8));
    const limit = this.#node.limits.connectTimeoutMs;
    const answer = this.#queries.add(q, { signal });
    const send = () => {
      try {
        this.sendControl(target, { t: 'query', q });
      } catch (err) {
        this.#queries.reject(q, err as Error);
      }
    };
    // Resent after 250 ms, 500 ms, 1 s, ... while no answer came.
    let wait = Math.min(250, limit / 8);
    let again: ReturnType<typeof setTimeout> | null = null;
    const schedule = () => {
      again = setTimeout(() => {
        if (!this.#queries.has(q)) return;
        if (this.#node.links.has(target)) { this.#queries.resolve(q, { url: '', wrtc: false }); return; }
        send();
        wait *= 2;
        schedule();
      }, wait);
      again.unref?.();
    };
    send();
    schedule();
    try {
      return await answer;
    } finally {
      if (again) clearTimeout(again);
    }
  }

  #onControl(payload: Uint8Array, from: Uint8Array): void {
    let msg: ControlMessage;
    try {
      msg = JSON.parse(textDecoder.decode(payload));
    } catch {
      this.#node.countDrop('bad_control');
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.t !== 'string') { this.#node.countDrop('bad_control'); return; }
    if (msg.t === 'query' && typeof msg.q === 'string') {
      this.sendControl(from, { t: 'info', q: msg.q, url: this.#node.url, wrtc: Boolean(this.#node.wrtc) });
      return;
    }
    if (msg.t === 'info' && typeof msg.q === 'string') {
      const info = { url: typeof msg.url === 'string' ? msg.url : '', wrtc: msg.wrtc === true };
      if (!this.#queries.resolve(msg.q, info)) this.#node.countDrop('unsolicited_control');
      return;
    }
    const handler = this.handlers.get(msg.t);
    if (handler) handler(msg, from);
    else this.#node.countDrop('unknown_control');
  }

  destroy(): void {
    this.#webrtc?.destroy();
    this.#queries.rejectAll(relayError('ERR_DESTROYED'));
  }
}
