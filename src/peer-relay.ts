/**
 * PeerRelay: one mesh node. It owns the links (transport + identity proof),
 * the routing table, forwarding, discovery, and the end-to-end sessions that
 * seal everything `send` carries. The API is peer-relay's (see
 * ../shared/seeds/peer-relay-api.txt) plus what that lacked.
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { compareBytes, equalBytes, isBytes, textDecoder, textEncoder, toBuffer, toHex } from './util/bytes.js';
import { Identity, parseId, type IdentityJSON } from './crypto/identity.js';
import { defaultAead } from './crypto/aead.js';
import { RoutingTable } from './routing/routing-table.js';
import { DedupCache } from './routing/dedup-cache.js';
import { Link } from './link/link.js';
import type { Connection } from './transport/connection.js';
import { dialWebSocket, WebSocketConnection } from './transport/websocket.js';
import { CloseReason, type CloseReasonCode, FrameType, HelloFlags, MESH_SUBPROTOCOL, type NodeInfo } from './wire/frames.js';
import { SessionManager } from './session/session-manager.js';
import { Listener, advertisedUrl } from './transport/listener.js';
import { DEFAULT_LIMITS, FRAME_OVERHEAD, resolveLimits, type Limits } from './util/limits.js';
import { Connector } from './connect/connector.js';
import { Router } from './routing/router.js';
import { Discovery } from './routing/discovery.js';
import { relayError, RelayError } from './util/errors.js';
import { attachSignaling, type SignalingCore } from './signaling/server.js';
import { Channel, type ChannelHandler, type LinkInfo, type PeerRelayOptions, type PeerRelayEvents, type NodeStats } from './node/types.js';

const debug = debugFactory('relaymesh:node');
export { Channel };
export type { ChannelHandler, LinkInfo, PeerRelayOptions, PeerRelayEvents, NodeStats };

export class PeerRelay extends EventEmitter<PeerRelayEvents> {
  /** The dgram-shaped socket (set by relaymesh/socket to avoid an import cycle). */
  static Socket: typeof import('../socket/socket.js').Socket;

  readonly identity: Identity;
  /** The 160-bit id, a Buffer in Node. */
  readonly id: Uint8Array;
  readonly limits: Limits;
  readonly wrtc: unknown;
  readonly iceServers: PeerRelayOptions['iceServers'];
  /** The HTTP/WebSocket listener when started with a port (signaling attaches here). */
  listener: Listener | null = null;
  /** The signaling server (src/signaling) when started with a port, else null. */
  signaling: SignalingCore | null = null;

  readonly #opts: PeerRelayOptions;
  readonly #table: RoutingTable<Link>;
  readonly #router: Router;
  readonly #discovery: Discovery;
  readonly #sessions: SessionManager;
  readonly #connector: Connector;
  readonly #links = new Set<Link>();
  readonly #dialing = new Map<string, Promise<void>>();
  readonly #channels = new Map<number, ChannelHandler>();
  readonly #swapping = new Set<string>();
  readonly #dropped: Record<string, number> = {};
  readonly #detours = { loop: 0, backtrack: 0 };
  readonly #counters = { sent: 0, delivered: 0, undeliverable: 0 };
  #url = '';
  #address: { address: string; family: string; port: number } | null = null;
  #destroyed = false;
  #closedEmitted = false;
  #started = false;
  #maintainTimer: ReturnType<typeof setInterval> | null = null;
  #bootstrapTimer: ReturnType<typeof setTimeout> | null = null;
  #bootstrapBackoff = 1000;

  constructor(opts: PeerRelayOptions = {}) {
    super();
    if (opts === null || typeof opts !== 'object') throw new TypeError('opts must be an object');
    if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)) {
      throw new RangeError(`opts.port must be an integer from 0 to 65535, got ${opts.port}`);
    }
    if (opts.bootstrap !== undefined && (!Array.isArray(opts.bootstrap) || opts.bootstrap.some((u) => typeof u !== 'string'))) {
      throw new TypeError('opts.bootstrap must be an array of URL strings');
    }
    this.#opts = opts;
    const limits: Limits = resolveLimits(DEFAULT_LIMITS, opts, 'opts');
    this.limits = limits;
    this.identity = opts.identity instanceof Identity ? opts.identity
      : opts.identity ? Identity.fromJSON(opts.identity as IdentityJSON | string) : Identity.generate();
    this.id = this.identity.idBuffer();
    this.wrtc = opts.wrtc ?? null;
    this.iceServers = opts.iceServers;
    this.#table = new RoutingTable<Link>(this.identity.id, limits.maxLinks);
    this.#router = new Router({
      localId: this.identity.id,
      ttl: limits.ttl,
      maxFrameSize: limits.maxMessageSize + FRAME_OVERHEAD,
      self: () => ({ id: this.identity.id, flags: this._flags(), url: this.#url }),
      count: (r) => this.#count(r),
      deliver: (f) => this.#sessions.handle(f),
      learn: (f) => this.#discovery.onNodes(f),
      undeliverable: (err, to) => this.#undeliverable(err, to),
      handshakeUnreachable: (to, err) => this.#sessions.unreachable(to, err),
    }, this.#table, new DedupCache(limits.dedupEntries, limits.dedupAgeMs));
    const node = this;
    this.#discovery = new Discovery({
      localId: this.identity.id,
      limits,
      get active() { return node.#started && !node.#destroyed; },
      dialing: () => this.#dialing.size,
      isDialing: (url) => this.#dialing.has(url),
      dial: (url, id) => this.#dial(url, id),
      canAutoConnect: () => Boolean(this.wrtc) && this.#connector.canAuto(),
      connect: (id) => this.#connector.connect(id),
      lookup: (target) => this.#router.lookup(target),
      rebootstrap: () => this.#scheduleRebootstrap(),
      count: (r) => this.#count(r),
    }, this.#table);
    this.#sessions = new SessionManager({
      identity: this.identity,
      aead: opts.aead ?? defaultAead,
      route: (frame) => !this.#destroyed && this.#router.route(frame),
      deliver: (from, pt) => this.#deliver(from, pt),
      fail: (to, err, count) => { for (let i = 0; i < count; i++) this.#undeliverable(err, to); },
      count: (r) => this.#count(r),
      hasLinks: () => this.#table.size > 0,
      ttl: limits.ttl,
      handshakeTimeoutMs: limits.sessionTimeoutMs,
      maxQueuePerPeer: limits.maxQueuePerPeer,
      maxQueueTotal: limits.maxQueueTotal,
      queueTimeoutMs: limits.queueTimeoutMs,
      maxSessions: limits.maxSessions,
      maxKeys: limits.maxKeys,
      sessionIdleMs: limits.sessionIdleMs,
      maxHandshakesPerSecond: limits.maxHandshakesPerSecond,
    });
    this.#connector = new Connector(this);
    this.registerChannel(Channel.JSON, (payload, from) => {
      let data: unknown;
      try {
        data = JSON.parse(textDecoder.decode(payload));
      } catch {
        this.#count('bad_json');
        return;
      }
      this.emit('message', data, toBuffer(from.slice()));
    });
    this.registerChannel(Channel.BYTES, (payload, from) => this.emit('message', toBuffer(payload), toBuffer(from.slice())));
    // Like net.Server: nothing happens before the caller's synchronous code has attached listeners.
    queueMicrotask(() => this.#start());
  }

  // ---------------------------------------------------------------- public API

  get destroyed(): boolean { return this.#destroyed; }
  /** The ws:// URL this node advertises, or '' when it has none. */
  get url(): string { return this.#url; }
  /** Ids of directly linked nodes. */
  get peers(): Uint8Array[] { return this.#table.entries().map((e) => toBuffer(e.id.slice())); }

  /** Like net.Server#address(): null until listening, and for nodes without a port. */
  address(): { address: string; family: string; port: number } | null { return this.#address; }

  /** Sends `data` (JSON-serializable, or bytes) to node `id`, relayed through the mesh if needed. */
  send(id: Uint8Array | string, data: unknown): void {
    const to = parseId(id, 'id');
    let channel: number;
    let payload: Uint8Array;
    if (isBytes(data)) {
      channel = Channel.BYTES;
      payload = data;
    } else {
      const json = JSON.stringify(data);
      if (json === undefined) throw new TypeError('data must be JSON-serializable or bytes');
      channel = Channel.JSON;
      payload = textEncoder.encode(json);
    }
    this.sendOnChannel(to, channel, payload);
  }

  /**
   * Sends bytes on an application channel (relaymesh's own applications: the
   * dgram socket, signaling, connect). Sealed end to end like `send`.
   */
  sendOnChannel(id: Uint8Array, channel: number, payload: Uint8Array): void {
    if (this.#destroyed) throw relayError('ERR_DESTROYED', 'send after destroy');
    if (payload.length > this.limits.maxMessageSize) {
      throw relayError('ERR_FRAME_TOO_LARGE', `message of ${payload.length} bytes exceeds maxMessageSize ${this.limits.maxMessageSize}`);
    }
    this.#counters.sent++;
    if (equalBytes(id, this.identity.id)) {
      const pt = new Uint8Array(1 + payload.length);
      pt[0] = channel;
      pt.set(payload, 1);
      queueMicrotask(() => { if (!this.#destroyed) this.#deliver(this.identity.id, pt); });
      return;
    }
    this.#sessions.send(id, channel, payload);
  }

  /** Receives a channel's plaintexts (one handler per channel). */
  registerChannel(channel: number, handler: ChannelHandler): void {
    if (!Number.isInteger(channel) || channel < 0 || channel > 255) throw new RangeError('channel must be 0..255');
    if (this.#channels.has(channel)) throw new Error(`channel ${channel} already has a handler`);
    this.#channels.set(channel, handler);
  }

  unregisterChannel(channel: number): void { this.#channels.delete(channel); }

  /**
   * Forms a direct link with `id`. Resolves when linked; rejects with
   * ERR_CONNECT_FAILED or ERR_TIMEOUT. Safe to ignore the promise.
   */
  connect(id: Uint8Array | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const target = parseId(id, 'id');
    const p = this.#destroyed ? Promise.reject(relayError('ERR_DESTROYED')) : this.#connector.connect(target, opts.signal);
    p.catch((err) => debug('connect to %s failed: %s', toHex(target), err.message));
    return p;
  }

  /** Closes the direct link with `id`, if any. */
  disconnect(id: Uint8Array | string): void {
    const target = parseId(id, 'id');
    for (const link of this.#links) if (link.id && equalBytes(link.id, target)) link.close(CloseReason.NORMAL);
  }

  /** Frees everything; `cb` runs when all sockets and timers are closed. Idempotent. */
  destroy(cb?: (err?: Error | null) => void): void {
    if (cb !== undefined && typeof cb !== 'function') throw new TypeError('cb must be a function');
    if (this.#destroyed) {
      // Already closed: call back soon; still closing: call back on 'close'.
      if (cb && this.#closedEmitted) queueMicrotask(() => cb(null));
      else if (cb) this.once('close', () => cb(null));
      return;
    }
    this.#destroyed = true;
    if (this.#maintainTimer) clearInterval(this.#maintainTimer);
    if (this.#bootstrapTimer) clearTimeout(this.#bootstrapTimer);
    this.#connector.destroy();
    this.#sessions.destroy();
    for (const link of [...this.#links]) link.close(CloseReason.SHUTDOWN);
    if (this.#opts.memory && this.#url.startsWith('mem://')) this.#opts.memory.unlisten(this.#url.slice(6));
    const listener = this.listener;
    const closing = listener ? listener.close() : Promise.resolve();
    closing.then(() => {
      // Give CLOSE frames a moment to leave before declaring everything freed.
      setTimeout(() => {
        for (const link of this.#links) link.connection.close();
        this.#closedEmitted = true;
        this.emit('close');
        cb?.(null);
      }, 25);
    });
  }

  /** Counters for tests, metrics and the status page. */
  stats(): NodeStats {
    return {
      links: this.#table.size,
      sessions: this.#sessions.sessionCount,
      queued: this.#sessions.queued,
      ...this.#counters,
      ...this.#router.counters,
      dropped: { ...this.#dropped },
      detours: { ...this.#detours },
    };
  }

  /** The routing table, for status pages: id, transport, address, counters per link. */
  linkInfo(): LinkInfo[] {
    return this.#table.entries().map(({ link }) => ({
      id: link.idHex, kind: link.connection.kind, url: link.remoteUrl, remoteAddress: link.connection.remoteAddress,
      initiator: link.initiator, openedAt: link.openedAt, stats: { ...link.stats },
    }));
  }

  // ---------------------------------------------------------- used by Connector

  /** @internal the link to `id`, if open. */
  _linkTo(id: Uint8Array): Link | undefined { return this.#table.get(id); }
  /** @internal dials a WebSocket (or memory) URL expecting node `id`. */
  _dialUrl(url: string, expectedId?: Uint8Array): Promise<void> { return this.#dial(url, expectedId); }
  /** @internal adopts a connection made by another transport (WebRTC). */
  _adopt(conn: Connection, initiator: boolean, expectedId?: Uint8Array): Link { return this.#adopt(conn, initiator, expectedId); }
  /** @internal what this node tells others about itself. */
  _flags(): number { return (this.wrtc ? HelloFlags.WEBRTC : 0) | (this.#url ? HelloFlags.WEBSOCKET : 0); }
  /** @internal counts a dropped input by reason. */
  _count(reason: string): void { this.#count(reason); }
  /** @internal known contact info. */
  _contact(id: Uint8Array): NodeInfo | undefined { return this.#discovery.contact(id); }

  // ------------------------------------------------------------------ start-up

  async #start(): Promise<void> {
    if (this.#destroyed || this.#started) return;
    this.#started = true;
    const o = this.#opts;
    try {
      if (o.memory) {
        this.#url = o.memory.listen(this.identity.idHex, (conn) => this.#adopt(conn, false));
      }
      if (o.port !== undefined) {
        const listener = new Listener();
        this.listener = listener;
        listener.addRoute({
          name: 'mesh', priority: 0, protocol: MESH_SUBPROTOCOL,
          maxPayload: this.limits.maxMessageSize + FRAME_OVERHEAD,
          match: (_req, protocols) => protocols.has(MESH_SUBPROTOCOL),
          handle: (ws, req) => {
            const addr = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
            this.#adopt(new WebSocketConnection(ws as never, addr), false);
          },
        });
        if (o.signaling !== false) this.signaling = attachSignaling(this, o.signaling ?? {});
        const host = o.host ?? '127.0.0.1';
        const info = await listener.listen(o.port, host);
        if (this.#destroyed) return;
        this.#address = { address: info.address, family: info.family, port: info.port };
        this.#url = o.publicUrl ?? advertisedUrl(info.address, info.port);
      } else if (o.publicUrl) {
        this.#url = o.publicUrl;
      }
    } catch (err) {
      const e = relayError('ERR_LISTEN_FAILED', `could not listen on ${o.host ?? '127.0.0.1'}:${o.port}: ${(err as Error).message}`, { cause: err });
      this.emit('error', e);
      return;
    }
    if (o.port !== undefined) this.emit('listening');
    this.#maintainTimer = setInterval(() => this.#discovery.refresh(), this.limits.refreshIntervalMs);
    this.#maintainTimer.unref?.();
    this.#bootstrap();
  }

  #bootstrap(): void {
    if (this.#destroyed) return;
    this.#bootstrapTimer = null;
    const urls = (this.#opts.bootstrap ?? []).filter((u) => u !== this.#url);
    if (urls.length === 0 || this.#table.size > 0) return;
    let tries = urls.map((u) => this.#dial(u).catch(() => undefined));
    Promise.all(tries).then(() => {
      if (this.#destroyed || this.#table.size > 0 || this.#bootstrapTimer) return;
      const delay = this.#bootstrapBackoff;
      this.#bootstrapBackoff = Math.min(this.#bootstrapBackoff * 2, this.limits.maxBackoffMs);
      debug('no link after bootstrapping; again in %d ms', delay);
      this.#bootstrapTimer = setTimeout(() => this.#bootstrap(), delay);
      this.#bootstrapTimer.unref?.();
    });
    tries = [];
  }

  // ---------------------------------------------------------------- links

  #dial(url: string, expectedId?: Uint8Array): Promise<void> {
    if (this.#destroyed) return Promise.reject(relayError('ERR_DESTROYED'));
    const existing = this.#dialing.get(url);
    if (existing) return existing;
    const p = (async () => {
      let conn: Connection;
      if (url.startsWith('mem://')) {
        if (!this.#opts.memory) throw relayError('ERR_CONNECT_FAILED', 'mem:// URL without a memory network');
        conn = await this.#opts.memory.dial(url, this.#url || undefined);
      } else {
        conn = await dialWebSocket(url, { maxPayload: this.limits.maxMessageSize + FRAME_OVERHEAD, timeoutMs: this.limits.handshakeTimeoutMs });
      }
      if (this.#destroyed) { conn.close(); throw relayError('ERR_DESTROYED'); }
      const link = this.#adopt(conn, true, expectedId);
      await new Promise<void>((resolve, reject) => {
        link.once('open', () => resolve());
        link.once('close', (_r, err) => reject(err ?? relayError('ERR_CONNECT_FAILED', `link to ${url} closed during handshake`)));
      });
    })();
    this.#dialing.set(url, p);
    const done = () => this.#dialing.delete(url);
    p.then(done, done);
    return p;
  }

  #adopt(conn: Connection, initiator: boolean, expectedId?: Uint8Array): Link {
    const link = new Link(conn, {
      identity: this.identity, initiator, flags: this._flags(), url: this.#url, expectedId,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      pingIntervalMs: this.limits.pingIntervalMs,
      deadAfterMs: this.limits.linkTimeoutMs,
      maxBuffered: this.limits.maxLinkBuffer,
      count: (r) => this.#count(r),
    });
    if (this.#destroyed) { link.close(CloseReason.SHUTDOWN); return link; }
    this.#links.add(link);
    link.on('open', () => this.#onLinkOpen(link));
    link.on('frame', (f) => this.#onLinkFrame(link, f));
    link.on('close', (reason, err) => this.#onLinkClose(link, reason, err));
    return link;
  }

  /**
   * Of two open links to one node (`existing`, then `opened`), both ends keep the
   * one dialed by the lower id; if one side dialed both, the newer one (the older
   * may be half dead: the dialer would not have dialed again otherwise).
   */
  #preferred(existing: Link, opened: Link): Link {
    const dialerA = existing.initiator ? this.identity.id : existing.remote!.id;
    const dialerB = opened.initiator ? this.identity.id : opened.remote!.id;
    if (equalBytes(dialerA, dialerB)) return opened;
    return compareBytes(dialerA, dialerB) < 0 ? existing : opened;
  }

  #onLinkOpen(link: Link): void {
    const remote = link.remote!;
    const hex = remote.idHex;
    const existing = this.#table.getHex(hex);
    if (existing && existing !== link) {
      const keep = this.#preferred(existing, link);
      const drop = keep === existing ? link : existing;
      if (keep === link) this.#table.add(remote.id, link);
      drop.close(CloseReason.DUPLICATE, relayError('ERR_DUPLICATE_LINK'));
      return;
    }
    if (!this.#table.add(remote.id, link)) {
      link.close(CloseReason.TOO_MANY_LINKS, relayError('ERR_TOO_MANY_LINKS', `table full (${this.limits.maxLinks} links)`));
      return;
    }
    this.#bootstrapBackoff = 1000;
    this.#sessions.learnKeys(remote, true);
    debug('%s linked to %s over %s', this.identity.idHex.slice(0, 8), hex.slice(0, 8), link.connection.kind);
    this.#discovery.onLinkOpen(link);
    this.#sessions.kick();
    if (this.#swapping.delete(hex)) return;
    this.emit('peer', toBuffer(remote.id.slice()));
  }

  #onLinkClose(link: Link, reason: CloseReasonCode | null, err: RelayError | null): void {
    this.#links.delete(link);
    const remote = link.remote;
    if (!remote) return;
    const hex = remote.idHex;
    if (this.#table.getHex(hex) === link) {
      this.#table.remove(remote.id);
      const replacement = [...this.#links].find((l) => l !== link && !l.isClosed && l.remote && l.idHex === hex);
      if (replacement && (reason === CloseReason.DUPLICATE || replacement.isOpen)) {
        // The other end kept the other link: swap quietly, no disconnect and no second 'peer'.
        if (replacement.isOpen) this.#table.add(remote.id, replacement);
        else this.#swapping.add(hex);
      } else {
        this.emit('disconnect', toBuffer(remote.id.slice()), err);
      }
      if (this.#table.size === 0) this.#scheduleRebootstrap();
      else this.#discovery.maintainSoon();
    } else if (this.#swapping.has(hex) && ![...this.#links].some((l) => l.idHex === hex)) {
      this.#swapping.delete(hex);
      this.emit('disconnect', toBuffer(remote.id.slice()), err);
    }
  }

  #scheduleRebootstrap(): void {
    if (this.#destroyed || this.#bootstrapTimer) return;
    const delay = Math.min(this.#bootstrapBackoff, this.limits.maxBackoffMs);
    this.#bootstrapTimer = setTimeout(() => {
      this.#bootstrapTimer = null;
      if (this.#table.size > 0) return;
      this.#bootstrapBackoff = Math.min(this.#bootstrapBackoff * 2, this.limits.maxBackoffMs);
      this.#bootstrap();
      this.#discovery.maintain();
    }, Math.min(delay, 500));
    this.#bootstrapTimer.unref?.();
  }

  #onLinkFrame(link: Link, f: Uint8Array): void {
    switch (f[0]) {
      case FrameType.ROUTE: return this.#router.onRouted(link, f);
      case FrameType.FIND_NODE: return this.#discovery.onFindNode(link, f);
      case FrameType.NODES: return this.#discovery.onNodes(f);
      default: this.#count('unknown_type');
    }
  }

  #undeliverable(err: RelayError, to: Uint8Array): void {
    this.#counters.undeliverable++;
    debug('undeliverable to %s: %s', toHex(to), err.code);
    if (!this.#destroyed) this.emit('undeliverable', err, toBuffer(to.slice()));
  }

  #deliver(from: Uint8Array, pt: Uint8Array): void {
    if (pt.length === 0) return this.#count('malformed');
    const handler = this.#channels.get(pt[0]);
    if (!handler) return this.#count('unknown_channel');
    this.#counters.delivered++;
    try {
      handler(pt.subarray(1), from);
    } catch (err) {
      // A throwing application listener must not take down routing for everyone else.
      queueMicrotask(() => { throw err; });
    }
  }

  // ---------------------------------------------------------------- helpers

  #count(reason: string): void {
    if (reason === 'loop' || reason === 'backtrack') {
      // Not drops: the message went on along another path.
      this.#detours[reason]++;
      return;
    }
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
  }
}
