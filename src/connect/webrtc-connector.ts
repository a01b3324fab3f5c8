/**
 * WebRTC links negotiated through the mesh: simple-peer's offer, answer and
 * ICE candidates travel as CONTROL messages `{t:'signal', s, d}` (sealed end to
 * end like everything `sendOnChannel` carries); `{t:'signal', s, x}` ends an
 * attempt early. Once the data channel opens, the link handshake proves both
 * identities over it like over any transport (PROTOCOL.md, "WebRTC signaling").
 *
 * Glare: when both ends offer at once, the lower id's offer wins; the higher
 * id drops its own and answers. Every attempt is bounded in time, a connect()
 * retries failed attempts with backoff until its deadline, and at most
 * MAX_INCOMING offers are answered at once.
 */
import debugFactory from 'debug';
import SimplePeer from 'simple-peer';
import { compareBytes, randomBytes, toHex } from '../util/bytes.js';
import { relayError, RelayError } from '../util/errors.js';
import { WebRtcConnection, destroyPeerLater } from '../transport/webrtc.js';
import { guardWrtc, type WrtcLike } from '../transport/wrtc-guard.js';
import { FRAME_OVERHEAD, WEBRTC_LIMITS } from '../util/limits.js';
import type { MeshNode } from '../node/mesh-node.js';
import { EarlySignals, SID, checkSignal, type Signal } from './webrtc-signals.js';

const debug = debugFactory('relaymesh:webrtc');

/** Offers answered at once; more are refused with `x: 'busy'`. */
export const MAX_INCOMING = WEBRTC_LIMITS.maxIncoming;
/** Attempts per connect() call (each bounded by half of connectTimeoutMs). */
export const MAX_TRIES = WEBRTC_LIMITS.maxTries;
const RETRY_DELAY_MS = WEBRTC_LIMITS.retryDelayMs;
/** Errors after which trying again cannot help. */
const FINAL_CODES = new Set(['ERR_DESTROYED', 'ERR_AUTH_FAILED', 'ERR_BAD_KEYS', 'ERR_TOO_MANY_LINKS']);

/**
 * A connect() call waiting on an attempt. Not PendingRequests: several calls
 * (and the other side's offer) share one attempt, whose one timer is re-armed
 * when it answers a new offer, and each call has its own AbortSignal.
 */
interface Waiter { resolve: () => void; reject: (err: Error) => void }

interface Attempt {
  sid: string;
  target: Uint8Array;
  hex: string;
  initiator: boolean;
  peer: SimplePeer.Instance;
  /** The data channel opened and the link handshake runs. */
  linking: boolean;
  waiters: Waiter[];
  timer: ReturnType<typeof setTimeout>;
}

export interface WebRtcConnectOptions { signal?: AbortSignal; deadline?: number }

/** What WebRTC signaling needs of the CONTROL channel (Connector provides it). */
export interface ControlChannel {
  /** Handlers by control message type; WebRTC registers 'signal'. */
  readonly handlers: Map<string, (msg: any, from: Uint8Array) => void>;
  sendControl(to: Uint8Array, msg: { t: string; [k: string]: unknown }): void;
}

export class WebRtcConnector {
  readonly #node: MeshNode;
  readonly #connector: ControlChannel;
  /** In-progress attempts by remote id (hex): one per remote. */
  readonly #attempts = new Map<string, Attempt>();
  readonly #early = new EarlySignals();
  #incoming = 0;
  #destroyed = false;

  constructor(node: MeshNode, connector: ControlChannel) {
    this.#node = node;
    this.#connector = connector;
    connector.handlers.set('signal', (msg, from) => this.#onSignal(msg, from));
  }

  /** Attempts in progress (for status pages and tests). */
  get pending(): number { return this.#attempts.size; }

  /**
   * Forms a WebRTC link with `target`; resolves once the link is open. Retries
   * failed attempts until `deadline` (default: now + connectTimeoutMs).
   */
  async connect(target: Uint8Array, opts: WebRtcConnectOptions = {}): Promise<void> {
    const limit = this.#node.limits.connectTimeoutMs;
    const deadline = opts.deadline ?? Date.now() + limit;
    let last: Error | null = null;
    for (let i = 0; i < MAX_TRIES; i++) {
      if (this.#destroyed) throw relayError('ERR_DESTROYED');
      if (this.#node.links.has(target)) return;
      const left = deadline - Date.now();
      if (left <= 0 || opts.signal?.aborted) break;
      try {
        await this.#attempt(target, Math.min(left, Math.max(limit / 2, 1000)), opts.signal);
        return;
      } catch (err) {
        last = err as Error;
        if (this.#node.links.has(target)) return;
        if (FINAL_CODES.has((err as RelayError).code) || opts.signal?.aborted) throw err;
        debug('attempt %d to %s failed: %s', i + 1, toHex(target).slice(0, 8), last.message);
        const wait = Math.min(RETRY_DELAY_MS * 4 ** i, deadline - Date.now());
        if (i + 1 < MAX_TRIES && wait > 0) await delay(wait, opts.signal);
      }
    }
    if (opts.signal?.aborted) throw relayError('ERR_ABORTED', 'connect() aborted');
    if (last && (last as RelayError).code !== 'ERR_TIMEOUT' && Date.now() < deadline) {
      throw relayError('ERR_CONNECT_FAILED', `no WebRTC link to ${toHex(target)}: ${last.message}`, { to: toHex(target), cause: last });
    }
    throw relayError('ERR_TIMEOUT', `no WebRTC link to ${toHex(target)} in ${limit} ms`, { to: toHex(target) });
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const a of [...this.#attempts.values()]) this.#fail(a, relayError('ERR_DESTROYED'), 'destroyed');
    this.#early.clear();
  }

  // ------------------------------------------------------------- attempts

  /** Joins the attempt in progress with `target`, or starts one as the offerer. */
  #attempt(target: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const hex = toHex(target);
    return new Promise<void>((resolve, reject) => {
      let a = this.#attempts.get(hex);
      if (!a) {
        a = this.#create(target, hex, toHex(randomBytes(8)), true, timeoutMs) ?? undefined;
        if (!a) { reject(relayError('ERR_CONNECT_FAILED', 'could not start a WebRTC peer connection')); return; }
      }
      const attempt = a;
      const onAbort = () => {
        const i = attempt.waiters.indexOf(waiter);
        if (i >= 0) attempt.waiters.splice(i, 1);
        reject(relayError('ERR_ABORTED', 'connect() aborted'));
      };
      const waiter: Waiter = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve(); },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err); },
      };
      attempt.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #create(target: Uint8Array, hex: string, sid: string, initiator: boolean, timeoutMs: number): Attempt | null {
    const a: Attempt = { sid, target, hex, initiator, peer: null as never, linking: false, waiters: [], timer: null as never };
    if (!this.#startPeer(a)) return null;
    this.#arm(a, timeoutMs);
    this.#attempts.set(hex, a);
    if (!initiator) this.#incoming++;
    return a;
  }

  /** (Re)starts the attempt's time limit. */
  #arm(a: Attempt, timeoutMs: number): void {
    if (a.timer) clearTimeout(a.timer);
    const timer = setTimeout(() => {
      if (a.timer === timer) this.#fail(a, relayError('ERR_TIMEOUT', `WebRTC attempt ${a.sid} timed out after ${timeoutMs} ms`), 'timeout');
    }, timeoutMs);
    timer.unref?.();
    a.timer = timer;
  }

  /** (Re)creates the attempt's simple-peer for its current sid and role. */
  #startPeer(a: Attempt): boolean {
    const wrtc = this.#node.wrtc;
    let peer: SimplePeer.Instance;
    try {
      peer = new SimplePeer({
        initiator: a.initiator, trickle: true,
        // Guarded: @roamhq/wrtc's description getters can crash the process (src/transport/wrtc-guard.ts).
        wrtc: typeof wrtc === 'object' && wrtc !== null ? guardable(wrtc) as never : undefined,
        config: { iceServers: this.#node.iceServers ?? [] },
      });
    } catch (err) {
      debug('could not create a peer connection: %s', (err as Error).message);
      return false;
    }
    a.peer = peer;
    const sid = a.sid;
    const current = () => a.peer === peer && this.#attempts.get(a.hex) === a;
    peer.on('signal', (d: Signal) => {
      if (!current()) return;
      try {
        this.#connector.sendControl(a.target, { t: 'signal', s: sid, d });
      } catch (err) {
        this.#fail(a, relayError('ERR_CONNECT_FAILED', `could not send signaling: ${(err as Error).message}`), '');
      }
    });
    peer.on('connect', () => { if (current()) this.#onConnected(a); });
    peer.on('error', (err: Error) => {
      debug('peer %s: %s', sid, err.message);
      if (current() && !a.linking) this.#fail(a, relayError('ERR_CONNECT_FAILED', `WebRTC: ${err.message}`), 'failed');
    });
    peer.on('close', () => {
      if (current() && !a.linking) this.#fail(a, relayError('ERR_CONNECT_FAILED', 'WebRTC peer connection closed'), 'closed');
    });
    return true;
  }

  #onConnected(a: Attempt): void {
    a.linking = true;
    const conn = new WebRtcConnection(a.peer as never, { maxFrame: this.#node.limits.maxMessageSize + FRAME_OVERHEAD });
    debug('data channel %s to %s open; link handshake', a.sid, a.hex.slice(0, 8));
    const sid = a.sid;
    const current = () => this.#attempts.get(a.hex) === a && a.sid === sid;
    this.#node.links.adopt(conn, a.initiator, a.target).then(
      () => { if (current()) this.#succeed(a); },
      (err: Error) => { if (current()) this.#fail(a, err, ''); },
    );
  }

  #succeed(a: Attempt): void {
    if (!this.#end(a)) return;
    for (const w of a.waiters) w.resolve();
  }

  /** Ends an attempt: tells the remote why (unless `tell` is ''), frees the peer unless a link owns it. */
  #fail(a: Attempt, err: Error, tell: string): void {
    if (!this.#end(a)) return;
    if (tell && !this.#destroyed) {
      try { this.#connector.sendControl(a.target, { t: 'signal', s: a.sid, x: tell }); } catch { /* node gone */ }
    }
    if (!a.linking) destroyPeerLater(a.peer);
    // A link formed by another path (a parallel dial, the other side's offer) also counts.
    const ok = !this.#destroyed && this.#node.links.has(a.target);
    for (const w of a.waiters) ok ? w.resolve() : w.reject(err);
  }

  #end(a: Attempt): boolean {
    if (this.#attempts.get(a.hex) !== a) return false;
    this.#attempts.delete(a.hex);
    clearTimeout(a.timer);
    if (!a.initiator) this.#incoming--;
    return true;
  }

  // -------------------------------------------------------------- signaling

  #onSignal(msg: { s?: unknown; d?: unknown; x?: unknown }, from: Uint8Array): void {
    if (this.#destroyed) return;
    if (typeof msg.s !== 'string' || !SID.test(msg.s)) { this.#node.countDrop('bad_signal'); return; }
    const sid = msg.s;
    const hex = toHex(from);
    const a = this.#attempts.get(hex);
    if (msg.x !== undefined) {
      if (a && a.sid === sid && !a.linking) {
        const why = String(msg.x).slice(0, 64);
        const code = why === 'timeout' ? 'ERR_TIMEOUT' : why === 'busy' ? 'ERR_REJECTED' : 'ERR_CONNECT_FAILED';
        this.#fail(a, relayError(code, `${hex} ended the WebRTC attempt: ${why}`), '');
      }
      this.#early.forget(sid);
      return;
    }
    const d = checkSignal(msg.d);
    if (!d) { this.#node.countDrop('bad_signal'); debug('dropped a malformed signal from %s', hex.slice(0, 8)); return; }
    if (a && a.sid === sid) { this.#feed(a, d); return; }
    if (d.type !== 'offer') {
      if (!this.#early.stash(sid, hex, d)) this.#node.countDrop('stale_signal');
      return;
    }
    // A new offer from `from`.
    if (a) {
      if (a.initiator && !a.linking && compareBytes(this.#node.id, from) < 0) {
        this.#node.countDrop('glare_ignored');
        debug('glare with %s: keeping own offer', hex.slice(0, 8));
        return;
      }
      // Glare lost, or the remote started over: answer its offer, keep our waiters.
      this.#replace(a, sid);
      this.#feed(a, d);
    } else {
      if (this.#incoming >= MAX_INCOMING) {
        this.#node.countDrop('webrtc_busy');
        try { this.#connector.sendControl(from, { t: 'signal', s: sid, x: 'busy' }); } catch { /* node gone */ }
        return;
      }
      const created = this.#create(from, hex, sid, false, this.#node.limits.connectTimeoutMs);
      if (!created) return;
      this.#feed(created, d);
    }
    for (const early of this.#early.take(sid, hex)) this.#feed(this.#attempts.get(hex), early);
  }

  #replace(a: Attempt, sid: string): void {
    debug('answering %s offer %s (was %s %s)', a.hex.slice(0, 8), sid, a.initiator ? 'offering' : 'answering', a.sid);
    const old = a.peer;
    const linked = a.linking;
    if (a.initiator) this.#incoming++;
    a.sid = sid;
    a.initiator = false;
    a.linking = false;
    if (!this.#startPeer(a)) {
      this.#fail(a, relayError('ERR_CONNECT_FAILED', 'could not start a WebRTC peer connection'), '');
    } else {
      this.#arm(a, this.#node.limits.connectTimeoutMs);
    }
    // A half-made link owns its peer and closes by itself.
    if (!linked) destroyPeerLater(old);
  }

  #feed(a: Attempt | undefined, d: Signal): void {
    if (!a || a.linking) return;
    try {
      a.peer.signal(d as SimplePeer.SignalData);
    } catch (err) {
      this.#node.countDrop('bad_signal');
      debug('signal rejected: %s', (err as Error).message);
    }
  }
}

function guardable(wrtc: object): object {
  return typeof (wrtc as WrtcLike).RTCPeerConnection === 'function' ? guardWrtc(wrtc as WrtcLike) : wrtc;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
