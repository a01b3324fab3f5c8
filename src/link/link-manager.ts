/**
 * The link manager: every link of one node. It dials URLs (one dial per URL
 * at a time), adopts connections other transports made, keeps one link per
 * remote node when both ends dial each other (PROTOCOL.md §3.4), and
 * bootstraps with exponential backoff while the node has no link at all.
 *
 * Which links are open is kept in a `LinkRegistry` it is given (the routing
 * table implements it), so the routing layer above sees the same set.
 */
import debugFactory from 'debug';
import { compareBytes, equalBytes } from '../util/bytes.js';
import { relayError, type RelayError } from '../util/errors.js';
import { FRAME_OVERHEAD, type Limits } from '../util/limits.js';
import type { CountDrop } from '../util/drop-reasons.js';
import { InFlight } from '../util/in-flight.js';
import type { Identity } from '../crypto/identity.js';
import type { Connection } from '../transport/connection.js';
import type { MemoryNetwork } from '../transport/memory.js';
import { dialWebSocket } from '../transport/websocket.js';
import { CloseReason, type CloseReasonCode } from '../wire/frames.js';
import { Link, linkHandshakes, type LinkHooks, type LinkOptions } from './link.js';

const debug = debugFactory('relaymesh:links');
/** First re-bootstrap delay; doubles up to limits.maxBackoffMs. */
const FIRST_BACKOFF_MS = 1000;

/** The open links by remote id: the routing table, seen from below. */
export interface LinkRegistry {
  readonly size: number;
  getHex(hex: string): Link | undefined;
  /** False when there is no room (the link is then refused). */
  add(id: Uint8Array, link: Link): boolean;
  remove(id: Uint8Array): void;
}

export interface LinkManagerHost {
  readonly identity: Identity;
  readonly limits: Readonly<Limits>;
  readonly memory: MemoryNetwork | undefined;
  /** Bootstrap URLs (this node's own URL is skipped). */
  readonly bootstrap: readonly string[];
  /** What this node says about itself in its HELLO. */
  flags(): number;
  url(): string;
  countDrop: CountDrop;
  /** A link is open and registered; `isNewPeer` is false when it quietly replaced a duplicate. */
  onOpen(link: Link, isNewPeer: boolean): void;
  /** A frame arrived on an open link. */
  onFrame(link: Link, frame: Uint8Array): void;
  /** The last link to `id` closed. */
  onDisconnect(id: Uint8Array, err: RelayError | null): void;
  /** A registered link closed and others remain. */
  onLinkLost(link: Link, reason: CloseReasonCode | null): void;
  /** A re-bootstrap ran (the node had no link). */
  onRebootstrap(): void;
  /** What became of frames queued on links (flow control, PROTOCOL.md §3.6). */
  readonly linkHooks?: LinkHooks;
}

export class LinkManager {
  readonly #host: LinkManagerHost;
  readonly #registry: LinkRegistry;
  readonly #links = new Set<Link>();
  readonly #dialing = new InFlight<string, void>();
  /** Ids whose link is being replaced by a duplicate still in its handshake. */
  readonly #swapping = new Set<string>();
  #bootstrapTimer: ReturnType<typeof setTimeout> | null = null;
  #backoff = FIRST_BACKOFF_MS;
  #destroyed = false;
  /**
   * What every link of this node shares: one options object (each link's own holds
   * only what differs, with this as its prototype) and one listener per event
   * (called with the link as `this`), so a link costs no closures here.
   */
  readonly #shared: Omit<LinkOptions, 'initiator' | 'flags' | 'url' | 'expectedId'>;
  readonly #listeners: {
    open: (this: Link) => void;
    frame: (this: Link, f: Uint8Array) => void;
    close: (this: Link, reason: CloseReasonCode | null, err: RelayError | null) => void;
  };

  constructor(host: LinkManagerHost, registry: LinkRegistry) {
    this.#host = host;
    this.#registry = registry;
    const { limits } = host;
    this.#shared = {
      identity: host.identity,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      pingIntervalMs: limits.pingIntervalMs,
      deadAfterMs: limits.linkTimeoutMs,
      maxBuffered: limits.maxLinkBuffer,
      maxFlowBuffer: limits.maxFlowBuffer,
      flowMark: limits.flowMark,
      window: limits.linkWindow,
      countDrop: host.countDrop,
      hooks: host.linkHooks,
      beforeKem: (l) => this.#beforeKem(l),
    };
    const self = this;
    this.#listeners = {
      open(this: Link) { self.#onOpen(this); },
      frame(this: Link, f: Uint8Array) { self.#host.onFrame(this, f); },
      close(this: Link, reason: CloseReasonCode | null, err: RelayError | null) { self.#onClose(this, reason, err); },
    };
  }

  /** Outgoing dials in progress. */
  get dialing(): number { return this.#dialing.size; }
  isDialing(url: string): boolean { return this.#dialing.has(url); }

  /** Every link, open or in its handshake. */
  all(): IterableIterator<Link> { return this.#links.values(); }

  /** Dials `url`; resolves once the link is open (expecting `expectedId` if given). */
  dial(url: string, expectedId?: Uint8Array): Promise<void> {
    if (this.#destroyed) return Promise.reject(relayError('ERR_DESTROYED'));
    return this.#dialing.run(url, () => this.#dial(url, expectedId));
  }

  async #dial(url: string, expectedId?: Uint8Array): Promise<void> {
    const { memory, limits } = this.#host;
    let conn: Connection;
    // Counted from now: dials started together in one turn (many nodes' timers) are seen at once.
    linkHandshakes.dialing++;
    try {
      if (url.startsWith('mem://')) {
        if (!memory) throw relayError('ERR_CONNECT_FAILED', 'mem:// URL without a memory network');
        conn = await memory.dial(url, this.#host.url() || undefined);
      } else {
        conn = await dialWebSocket(url, { maxPayload: limits.maxMessageSize + FRAME_OVERHEAD, timeoutMs: limits.handshakeTimeoutMs });
      }
    } finally {
      linkHandshakes.dialing--;
    }
    if (this.#destroyed) { conn.close(); throw relayError('ERR_DESTROYED'); }
    return opened(this.adopt(conn, true, expectedId), `link to ${url} closed during handshake`);
  }

  /** Runs the link handshake over `conn`; returns the link at once. */
  adopt(conn: Connection, initiator: boolean, expectedId?: Uint8Array): Link {
    const o: LinkOptions = Object.create(this.#shared);
    o.initiator = initiator;
    o.flags = this.#host.flags();
    o.url = this.#host.url();
    o.expectedId = expectedId;
    const link = new Link(conn, o);
    if (this.#destroyed) { link.close(CloseReason.SHUTDOWN); return link; }
    this.#links.add(link);
    const l = this.#listeners;
    link.on('open', l.open);
    link.on('frame', l.frame);
    link.on('close', l.close);
    return link;
  }

  /** Closes every link to `id`. */
  disconnect(id: Uint8Array): void {
    for (const link of this.#links) if (link.id && equalBytes(link.id, id)) link.close(CloseReason.NORMAL);
  }

  /** Dials the bootstrap URLs while the node has no link, backing off exponentially. */
  bootstrap(): void {
    if (this.#destroyed) return;
    this.#bootstrapTimer = null;
    const own = this.#host.url();
    const urls = this.#host.bootstrap.filter((u) => u !== own);
    if (urls.length === 0 || this.#registry.size > 0) return;
    Promise.all(urls.map((u) => this.dial(u).catch(() => undefined))).then(() => {
      if (this.#destroyed || this.#registry.size > 0 || this.#bootstrapTimer) return;
      const delay = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, this.#host.limits.maxBackoffMs);
      debug('no link after bootstrapping; again in %d ms', delay);
      this.#bootstrapTimer = setTimeout(() => this.bootstrap(), delay);
      this.#bootstrapTimer.unref?.();
    });
  }

  /** The node lost its last link (or discovery found it alone): bootstrap again soon. */
  scheduleRebootstrap(): void {
    if (this.#destroyed || this.#bootstrapTimer) return;
    const delay = Math.min(this.#backoff, this.#host.limits.maxBackoffMs, 500);
    this.#bootstrapTimer = setTimeout(() => {
      this.#bootstrapTimer = null;
      if (this.#registry.size > 0) return;
      this.#backoff = Math.min(this.#backoff * 2, this.#host.limits.maxBackoffMs);
      this.bootstrap();
      this.#host.onRebootstrap();
    }, delay);
    this.#bootstrapTimer.unref?.();
  }

  /** Sends CLOSE on every link; `closeTransports` then ends what is left. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.#bootstrapTimer) clearTimeout(this.#bootstrapTimer);
    for (const link of [...this.#links]) link.close(CloseReason.SHUTDOWN);
  }

  closeTransports(): void {
    for (const link of this.#links) link.connection.close();
  }

  /**
   * Two links to one node dialed by different ends (each end dialed the other):
   * both ends keep the one the lower id dialed, as #onOpen would, but decided
   * here, on the remote's HELLO, before either side spends KEM work on the
   * loser. False: `link` is the loser. A loser still in its handshake is closed
   * now; an open one is swapped at `link`'s open (#onOpen). Links one end
   * dialed both of are left to #onOpen (the newer wins there).
   */
  #beforeKem(link: Link): boolean {
    const local = this.#host.identity.id;
    const id = link.remote!.id;
    const dialer = link.initiator ? local : id;
    for (const other of this.#links) {
      if (other === link || other.isClosed) continue;
      const pid = other.peerId;
      if (!pid || !equalBytes(pid, id)) continue;
      const otherDialer = other.initiator ? local : id;
      if (equalBytes(otherDialer, dialer)) continue;
      if (compareBytes(otherDialer, dialer) < 0) return false;
      if (!other.isOpen) other.close(CloseReason.DUPLICATE, relayError('ERR_DUPLICATE_LINK', `another link to ${link.idHex} is kept`));
    }
    return true;
  }

  /**
   * Of two open links to one node (`existing`, then `opened`), both ends keep the
   * one dialed by the lower id; if one side dialed both, the newer one (the older
   * may be half dead: the dialer would not have dialed again otherwise). Only
   * called when this node dialed at least one of them.
   */
  #preferred(existing: Link, opened: Link): Link {
    const local = this.#host.identity.id;
    const dialerA = existing.initiator ? local : existing.remote!.id;
    const dialerB = opened.initiator ? local : opened.remote!.id;
    if (equalBytes(dialerA, dialerB)) return opened;
    return compareBytes(dialerA, dialerB) < 0 ? existing : opened;
  }

  #onOpen(link: Link): void {
    const remote = link.remote!;
    const hex = remote.idHex;
    const existing = this.#registry.getHex(hex);
    if (existing && existing !== link) {
      // Both dialed by the remote: "newer" is the dialer's call alone. The two links
      // may open in one order here and the other there, and if both ends chose,
      // each could close a different one and leave none. The dialer closes the
      // other with DUPLICATE; if that is the registered one, #onClose swaps quietly.
      if (!existing.initiator && !link.initiator) return;
      const keep = this.#preferred(existing, link);
      const drop = keep === existing ? link : existing;
      if (keep === link) this.#registry.add(remote.id, link);
      drop.close(CloseReason.DUPLICATE, relayError('ERR_DUPLICATE_LINK'));
      return;
    }
    if (!this.#registry.add(remote.id, link)) {
      link.close(CloseReason.TOO_MANY_LINKS, relayError('ERR_TOO_MANY_LINKS', `table full (${this.#host.limits.maxLinks} links)`));
      return;
    }
    this.#backoff = FIRST_BACKOFF_MS;
    debug('%s linked to %s over %s', this.#host.identity.idHex.slice(0, 8), hex.slice(0, 8), link.connection.kind);
    // A quiet swap of duplicate links is no new peer.
    this.#host.onOpen(link, !this.#swapping.delete(hex));
  }

  #onClose(link: Link, reason: CloseReasonCode | null, err: RelayError | null): void {
    this.#links.delete(link);
    const remote = link.remote;
    if (!remote) return;
    const hex = remote.idHex;
    if (this.#registry.getHex(hex) === link) {
      this.#registry.remove(remote.id);
      const replacement = [...this.#links].find((l) => l !== link && !l.isClosed && l.remote && l.idHex === hex);
      if (replacement && (reason === CloseReason.DUPLICATE || replacement.isOpen)) {
        // The other end kept the other link: swap quietly, no disconnect and no second 'peer'.
        if (replacement.isOpen) this.#registry.add(remote.id, replacement);
        else this.#swapping.add(hex);
      } else {
        this.#host.onDisconnect(remote.id, err);
      }
      if (this.#registry.size === 0) this.scheduleRebootstrap();
      else this.#host.onLinkLost(link, reason);
    } else if (this.#swapping.has(hex) && ![...this.#links].some((l) => l.idHex === hex)) {
      this.#swapping.delete(hex);
      this.#host.onDisconnect(remote.id, err);
    }
  }
}

/** Resolves when `link` opens, rejects with its close error. */
export function opened(link: Link, what: string): Promise<void> {
  if (link.isOpen) return Promise.resolve();
  if (link.isClosed) return Promise.reject(relayError('ERR_DESTROYED', what));
  return new Promise<void>((resolve, reject) => {
    // Each listener takes the other away: an open link keeps no closure of its dial.
    const onOpen = () => { link.off('close', onClose); resolve(); };
    const onClose = (_r: CloseReasonCode | null, err: RelayError | null) => {
      link.off('open', onOpen);
      reject(err ?? relayError('ERR_CONNECT_FAILED', what));
    };
    link.once('open', onOpen);
    link.once('close', onClose);
  });
}
