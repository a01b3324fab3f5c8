/**
 * A link: one transport connection plus the mutual identity proof that makes
 * it usable for routing (PROTOCOL.md, "Link handshake": link-handshake.ts),
 * and the keepalive that notices when it dies.
 *
 * Once open, the link paces what it sends (PROTOCOL.md §3.6): at most
 * `window` bytes may be in flight before the remote's CREDIT frames say it
 * consumed them; the rest waits in the link's FlowQueue (flow-queue.ts: one
 * queue per origin of routed frames, served by deficit round robin).
 */
import debugFactory from 'debug';
import { Emitter } from '../util/emitter.js';
import { keepaliveQueue, type DueItem } from '../util/due-queue.js';
import { randomBytes } from '../util/bytes.js';
import { Identity, PublicIdentity } from '../crypto/identity.js';
import type { Connection, ConnectionSink } from '../transport/connection.js';
import {
  CloseReason, type CloseReasonCode, FrameType, decodeClose, decodePing, encodeClose, encodePing, pingNeighbours, type Hello,
} from '../wire/frames.js';
import { relayError, type RelayError } from '../util/errors.js';
import type { CountDrop } from '../util/drop-reasons.js';
import { jitter } from '../util/clock.js';
import { key53 } from '../util/bytes.js';
import { DEFAULT_LIMITS } from '../util/limits.js';
import { decodeCredit, encodeCredit, HelloFlags } from '../wire/frames.js';
import { FlowQueue, Go, type LinkHooks } from './flow-queue.js';
import { InboundOrder } from './inbound-order.js';
import { countLinkClosed, LinkHandshake } from './link-handshake.js';

export type { LinkHooks } from './flow-queue.js';
export { linkHandshakes, type HandshakeCounts } from './link-handshake.js';

const debug = debugFactory('relaymesh:link');

export interface LinkOptions {
  identity: Identity;
  /** True on the side that dialed. */
  initiator: boolean;
  flags: number;
  url: string;
  /** When dialing a known node: refuse any other id. */
  expectedId?: Uint8Array;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  /** A link with no frame at all for this long is closed as dead. */
  deadAfterMs: number;
  /** Bytes the link may hold unsent in all (queue and transport buffer). */
  maxBuffered: number;
  /** Bytes one origin's frames may hold in the queue (default: limits' maxFlowBuffer). */
  maxFlowBuffer?: number;
  /** A flow's queued bytes above which `flowSignal(.., true)` is called (false again below half; default: flowMark). */
  flowMark?: number;
  /** Bytes in flight before the remote's CREDIT, when both ends set HelloFlags.FLOW (default: linkWindow). */
  window?: number;
  /** Counts protocol violations by reason (shared with the node). */
  countDrop: CountDrop;
  /** What became of queued frames, for the routing layer's reports (all optional). */
  hooks?: LinkHooks;
  /**
   * The remote's HELLO checked out (its id is known), before any KEM work: false
   * closes this link as a DUPLICATE (another link to that node makes it redundant).
   */
  beforeKem?(link: Link): boolean;
}

type ResolvedLinkOptions = LinkOptions & Required<Pick<LinkOptions, 'maxFlowBuffer' | 'flowMark' | 'window'>>;

/** How often a link waiting on its transport buffer (not on CREDIT) looks again (ms). */
const POLL_MS = 2;

export interface LinkEvents {
  open: [];
  frame: [frame: Uint8Array];
  close: [reason: CloseReasonCode | null, err: RelayError | null];
}

/** Who is at the other end of a link: its id, checked against its keys in the handshake. */
export interface RemotePeer { readonly id: Uint8Array; readonly idHex: string }

export class Link extends Emitter<LinkEvents> implements ConnectionSink, DueItem {
  readonly connection: Connection;
  readonly initiator: boolean;
  /** The remote's id, once its HELLO checked out (its keys are held apart, until `takeKeys()`). */
  remote: RemotePeer | null = null;
  /** What the remote's HELLO said of itself (kept as two fields, not the HELLO: one object per link fewer). */
  #remoteUrl = '';
  #remoteFlags = 0;
  openedAt = 0;
  stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, relayed: 0 };

  readonly #o: ResolvedLinkOptions;
  /** The handshake, until the link opens or closes. */
  #hs: LinkHandshake | null = null;
  /** The remote's public keys (checked against its id), until the node takes them. */
  #keys: PublicIdentity | null = null;
  #state: 'handshake' | 'open' | 'closed' = 'handshake';
  #closeReason: CloseReasonCode | null = null;
  #lastIn = Date.now();
  /** When the keepalive tick is due (in the process's keepalive queue): how late it fires is this node's own lateness. */
  dueAt = 0;
  /** The keepalive queue's slot for this link (-1: no tick queued). */
  dueSlot = -1;
  // ---- flow control (§3.6)
  /** Both ends set HelloFlags.FLOW: in-flight bytes are bounded by `window`. */
  #windowed = false;
  /** Counted bytes sent since open, and the remote's last CREDIT (both mod 2^32). */
  #sent = 0;
  #acked = 0;
  /** Counted bytes received since open, and what the last CREDIT sent said (mod 2^32). */
  #consumed = 0;
  #credited = 0;
  readonly #queue: FlowQueue;
  /** Routed frames received: light origins' handed up first within a read (inbound-order.ts). */
  readonly #inbound: InboundOrder;
  #pollTimer: ReturnType<typeof setTimeout> | null = null;
  #localKey: number;
  /** A NEIGHBOURS frame waiting to ride on the next PING or PONG (§4.2), and since when. */
  #advert: Uint8Array | null = null;
  #advertAt = 0;

  constructor(connection: Connection, o: LinkOptions) {
    super();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const link = this;
    this.connection = connection;
    this.initiator = o.initiator;
    // Kept as given when complete (the link manager's share one object per node), else with the defaults filled in.
    this.#o = o.maxFlowBuffer !== undefined && o.flowMark !== undefined && o.window !== undefined ? o as ResolvedLinkOptions : {
      maxFlowBuffer: DEFAULT_LIMITS.maxFlowBuffer, flowMark: DEFAULT_LIMITS.flowMark, window: DEFAULT_LIMITS.linkWindow, ...o,
    } as ResolvedLinkOptions;
    this.#localKey = key53(o.identity.id, 0);
    this.#inbound = new InboundOrder(this.#o.window, (f) => this.#handUp(f));
    this.#queue = new FlowQueue(this.#o);
    connection.attach(this);
    this.#hs = new LinkHandshake({
      get inHandshake() { return link.#state === 'handshake'; },
      send: (frame) => this.#send(frame),
      close: (reason, err) => this.close(reason, err),
      identified: (remote, h) => this.#identified(remote, h),
      proven: () => this.#open(),
    }, o);
  }

  /** The transport's calls (ConnectionSink): the link is its connection's one receiver. */
  onTransportMessage(f: Uint8Array): void { this.#onFrame(f); }
  onTransportInvalid(reason: string): void { this.#o.countDrop('invalid_frame'); debug('dropped input: %s', reason); }
  onTransportClose(): void { this.#closed(null, null); }
  onTransportError(err: Error): void { debug('transport error: %s', err.message); }

  /** The remote's HELLO checked out: its id and what it said are kept, its keys until takeKeys(). */
  #identified(remote: PublicIdentity, h: Hello): boolean {
    this.remote = { id: remote.id, idHex: remote.idHex };
    this.#keys = remote;
    // Kept: what the remote said of itself. Not kept: its keys (until takeKeys) and the HELLO bytes (in th).
    this.#remoteUrl = h.url;
    this.#remoteFlags = h.flags;
    return !this.#o.beforeKem || this.#o.beforeKem(this);
  }

  /**
   * The remote's public keys, checked against its id in the handshake, handed
   * over once: the link needs them no more after its HELLO. A node that does not
   * keep them (past its first targetLinks links) then holds only the id, and
   * fetches the keys with KEY_REQUEST if it ever wants a session (§5.1).
   */
  takeKeys(): PublicIdentity | null {
    const keys = this.#keys;
    this.#keys = null;
    return keys;
  }

  get isOpen(): boolean { return this.#state === 'open'; }
  get isClosed(): boolean { return this.#state === 'closed'; }
  get id(): Uint8Array | null { return this.remote?.id ?? null; }
  get idHex(): string { return this.remote ? this.remote.idHex : ''; }
  /** The remote's id once its HELLO checked out, else the id this link was dialed to expect (or null). */
  get peerId(): Uint8Array | null { return this.remote?.id ?? this.#o.expectedId ?? null; }
  /** The url the remote advertises for dialing it, or ''. */
  get remoteUrl(): string { return this.#remoteUrl; }
  get remoteFlags(): number { return this.#remoteFlags; }

  /**
   * Sends a frame on an open link, or queues it while the window or the
   * transport is full. False when the link cannot take it (closed, or over
   * its limits: the frame was dropped and counted as `congested`).
   */
  send(frame: Uint8Array): boolean {
    if (this.#state !== 'open') return false;
    // Nothing of its kind ahead of it (control frames, light origins' frames: §3.6): it goes now if the window allows.
    const go = this.#queue.classify(frame);
    if (go !== Go.QUEUE && this.#canWrite(go === Go.RESERVE, frame.length)) {
      // The hard limit holds on the fast path too (a transport may buffer beyond the window: a stale estimate).
      if (this.connection.bufferedAmount + frame.length > this.#o.maxBuffered) { this.#o.countDrop('congested'); return false; }
      this.#queue.sent(frame);
      this.#send(frame);
      return true;
    }
    if (!this.#queue.push(frame, this.connection.bufferedAmount)) return false;
    this.#armPump();
    return true;
  }

  /** Bytes this link holds unsent: its queue and its transport's buffer. */
  get buffered(): number { return this.#queue.bytes + this.connection.bufferedAmount; }
  /** Bytes of this node's own routed frames in the queue, plus the transport's buffer. */
  get ownBuffered(): number {
    const transport = this.#windowed ? Math.min(this.connection.bufferedAmount, this.inFlight) : this.connection.bufferedAmount;
    return this.#queue.flowBytes(this.#localKey) + transport;
  }
  /** Bytes of this node's own routed frames in the queue (no object made, unlike ownQueued()). */
  get ownQueuedBytes(): number { return this.#queue.flowBytes(this.#localKey); }
  /** Bytes sent and not yet credited by the remote (0 when the link is not windowed). */
  get inFlight(): number { return this.#windowed ? (this.#sent - this.#acked) >>> 0 : 0; }
  /** Queue figures for stats: bytes, frames, and flows with frames waiting. */
  queueInfo(): { bytes: number; frames: number; flows: number; inFlight: number } {
    return { ...this.#queue.info(), inFlight: this.inFlight };
  }
  /** This node's own frames in the queue: bytes and count. */
  ownQueued(): { bytes: number; frames: number } {
    return this.#queue.flowOf(this.#localKey);
  }

  /**
   * Windowed, only the window counts: bytes in the transport are in flight too, and a transport's
   * bufferedAmount may be a stale upper bound (WebRTC reads its channel's only while sending), so
   * waiting on it could wait for ever. Otherwise the transport's buffer is all there is to go by.
   * `reserve`: a control frame or a light origin's, which may go past the window by the queue's reserve.
   * `len`: the frame's length. One longer than the window may start while fewer than 2·len − window
   * bytes are in flight, so two such frames are in flight at once (the remote handles one while the
   * next is on its way) instead of one at a time; a frame up to the window is paced as before.
   */
  #canWrite(reserve: boolean, len: number): boolean {
    const w = this.#o.window;
    const cap = (len > w ? 2 * len - w : w) + (reserve ? this.#queue.reserve : 0);
    if (this.#windowed) return ((this.#sent - this.#acked) >>> 0) < cap;
    return this.connection.bufferedAmount < cap;
  }

  /** Waiting on CREDIT needs no timer (the CREDIT pumps); waiting on the transport's buffer polls. */
  #armPump(): void {
    if (this.#pollTimer || this.#queue.bytes === 0) return;
    if (this.#windowed && ((this.#sent - this.#acked) >>> 0) >= this.#o.window) return;
    this.#pollTimer = setTimeout(() => { this.#pollTimer = null; this.#pump(); }, POLL_MS);
  }

  /** Sends queued frames while the window and the transport allow: control first, light origins next, then flows by DRR. */
  #pump(): void {
    this.#queue.drain((reserve, len) => this.#state === 'open' && this.#canWrite(reserve, len), (f) => this.#send(f));
    this.#armPump();
  }

  /** Drops everything queued (the link closed): routed frames are reported to the routing layer. */
  #dropQueue(): void {
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#queue.clear();
  }

  /** Closes with a reason the remote is told. Idempotent. */
  close(reason: CloseReasonCode = CloseReason.NORMAL, err: RelayError | null = null, message = ''): void {
    if (this.#state === 'closed') return;
    if (this.connection.open) this.connection.send(encodeClose(reason, message || err?.message || ''));
    this.#closed(reason, err);
    // Let the CLOSE frame flush before the transport goes.
    setTimeout(() => this.connection.close(), 20).unref?.();
  }

  #send(frame: Uint8Array): void {
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    if (this.#state === 'open') this.#sent = (this.#sent + frame.length) >>> 0;
    this.connection.send(frame);
  }

  #onCredit(f: Uint8Array): void {
    const consumed = decodeCredit(f);
    if (consumed === null) { this.#o.countDrop('malformed'); return; }
    // A credit beyond what was sent is a lying or broken remote: ignored.
    if (((this.#sent - consumed) >>> 0) > ((this.#sent - this.#acked) >>> 0)) { this.#o.countDrop('malformed'); return; }
    this.#acked = consumed;
    if (this.#queue.bytes > 0) {
      this.#pump();
      this.#o.hooks?.writable?.();
    }
  }

  /** Counts a consumed frame and credits the remote every quarter window. */
  #consume(len: number): void {
    if (!this.#windowed) return;
    this.#consumed = (this.#consumed + len) >>> 0;
    if (((this.#consumed - this.#credited) >>> 0) >= this.#o.window / 4) {
      this.#credited = this.#consumed;
      this.connection.send(encodeCredit(this.#consumed));
    }
  }

  #onFrame(f: Uint8Array): void {
    if (this.#state === 'closed') {
      // A link closed as a duplicate of another to the same node: what the remote sent
      // before it saw our CLOSE is still authenticated traffic from it, routed as usual.
      if (this.#closeReason === CloseReason.DUPLICATE && f[0] === FrameType.ROUTE && this.remote) {
        this.stats.framesIn++;
        this.#inbound.take(f);
      } else {
        this.#o.countDrop('after_close');
      }
      return;
    }
    this.#lastIn = Date.now();
    this.stats.framesIn++;
    this.stats.bytesIn += f.length;
    if (f.length === 0) { this.#o.countDrop('malformed'); return; }
    try {
      if (this.#state === 'open') {
        switch (f[0]) {
          case FrameType.PING: case FrameType.PONG: {
            const token = decodePing(f);
            if (!token) this.#o.countDrop('malformed');
            else {
              if (f[0] === FrameType.PING) this.#send(encodePing(FrameType.PONG, token, this.#takeAdvert()));
              const neighbours = pingNeighbours(f);
              if (neighbours) this.#emitFrame(neighbours);
            }
            return this.#consume(f.length);
          }
          case FrameType.CREDIT: return this.#onCredit(f);
          case FrameType.CLOSE: return this.#onClose(f);
          case FrameType.HELLO: case FrameType.CHALLENGE: case FrameType.PROOF:
            // Not counted: a peer sends these only before the link opens, when nothing is counted.
            this.#o.countDrop('unexpected_handshake');
            return;
          case FrameType.ROUTE:
            // A heavy origin's frames wait for the end of this turn: a light one's in the same read go first (§3.6).
            return this.#inbound.take(f);
          default:
            return this.#handUp(f);
        }
      }
      switch (f[0]) {
        case FrameType.HELLO: case FrameType.CHALLENGE: case FrameType.PROOF: return this.#hs?.onFrame(f);
        case FrameType.CLOSE: return this.#onClose(f);
        default:
          this.#o.countDrop('before_handshake');
          return;
      }
    } catch (err) {
      // A listener threw (or a decoder bug): never let remote input crash the process.
      this.#o.countDrop('handler_error');
      debug('error handling frame: %s', (err as Error).stack);
    }
  }

  /** Hands a frame to the node and counts it consumed (a throwing listener is counted, never fatal). */
  #handUp(f: Uint8Array): void {
    this.#emitFrame(f);
    if (this.#state === 'open') this.#consume(f.length);
  }

  #emitFrame(f: Uint8Array): void {
    try {
      this.emit('frame', f);
    } catch (err) {
      this.#o.countDrop('handler_error');
      debug('error handling frame: %s', (err as Error).stack);
    }
  }

  /**
   * Tells the remote a NEIGHBOURS frame (§4.2) at no frame's cost: it rides on
   * the next PING or PONG, or goes alone at the first keepalive tick a ping
   * interval later (a busy link sends no PINGs). A newer one replaces it.
   * Only for a remote that set HelloFlags.NEIGHBOURS; false if the link is not open.
   */
  advertise(frame: Uint8Array): boolean {
    if (this.#state !== 'open') return false;
    if (this.#advert === null) this.#advertAt = Date.now();
    this.#advert = frame;
    return true;
  }

  #takeAdvert(): Uint8Array | undefined {
    const a = this.#advert;
    this.#advert = null;
    return a ?? undefined;
  }

  /** Both proofs are done: the link opens. */
  #open(): void {
    if (this.#state !== 'handshake') return;
    this.#state = 'open';
    this.#hs?.end(true);
    this.#hs = null;
    this.#windowed = (this.#o.flags & HelloFlags.FLOW) !== 0 && (this.remoteFlags & HelloFlags.FLOW) !== 0;
    this.openedAt = Date.now();
    this.#scheduleKeepalive();
    this.emit('open');
  }

  /**
   * Keepalive ticks are jittered (±10 %): links opened together do not ping
   * together. A tick keeps its phase (the next is due an interval after this
   * one was due, not after it ran): ticks a stalled event loop ran together
   * would otherwise stay together, their PINGs and PONGs a burst every
   * interval that stalls the loop again. One that ran more than an interval
   * late goes to a random point of the next interval.
   */
  #scheduleKeepalive(now = Date.now(), after = now): void {
    const interval = this.#o.pingIntervalMs;
    const next = after + jitter(interval, 0.1);
    keepaliveQueue.schedule(this, next > now ? next : now + Math.random() * interval);
  }

  /** The keepalive queue's call (DueItem): the tick is due. */
  onDue(): void { this.#keepalive(); }

  /**
   * Liveness is judged by what arrived, never by this node's own lateness: a
   * tick that fires late (the event loop was blocked) credits the remote with
   * the time this node was away, and the verdict waits until the input queued
   * meanwhile has been read (setImmediate runs after the poll phase).
   */
  #keepalive(): void {
    if (this.#state !== 'open') return;
    const now = Date.now();
    const late = now - this.dueAt;
    if (late > 0) this.#lastIn = Math.min(now, this.#lastIn + late);
    this.#scheduleKeepalive(now, this.dueAt);
    const idle = now - this.#lastIn;
    if (idle >= this.#o.deadAfterMs) {
      setImmediate(() => {
        const silent = Date.now() - this.#lastIn;
        if (this.#state === 'open' && silent >= this.#o.deadAfterMs) {
          this.close(CloseReason.DEAD, relayError('ERR_LINK_DEAD', `no frame from ${this.idHex} for ${silent} ms`));
        }
      });
    } else if (idle >= (this.initiator ? this.#o.pingIntervalMs / 2 : this.#o.pingIntervalMs * 1.5)) {
      // One keepalive per link, not one per end: the end that dialed pings; the other hears
      // those PINGs and pings itself only when they stop (an end that does not ping, §3.4).
      this.#send(encodePing(FrameType.PING, randomBytes(8), this.#takeAdvert()));
    } else if (this.#advert !== null && now - this.#advertAt >= this.#o.pingIntervalMs) {
      this.#send(this.#takeAdvert()!);
    }
  }


  #onClose(f: Uint8Array): void {
    const c = decodeClose(f);
    const reason = (c?.reason ?? CloseReason.NORMAL) as CloseReasonCode;
    const err = reason === CloseReason.TOO_MANY_LINKS ? relayError('ERR_TOO_MANY_LINKS', c?.message)
      : reason === CloseReason.DUPLICATE ? relayError('ERR_DUPLICATE_LINK', c?.message)
      : reason === CloseReason.AUTH_FAILED ? relayError('ERR_AUTH_FAILED', c?.message)
      : reason === CloseReason.BAD_VERSION ? relayError('ERR_BAD_VERSION', c?.message)
      : null;
    this.#closed(reason, err);
    this.connection.close();
  }

  #closed(reason: CloseReasonCode | null, err: RelayError | null): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'open') countLinkClosed(this.openedAt, reason);
    this.#hs?.end(false);
    this.#hs = null;
    this.#state = 'closed';
    this.#closeReason = reason;
    keepaliveQueue.cancel(this);
    this.#dropQueue();
    this.emit('close', reason, err);
  }
}
