/**
 * RelayNode: the mesh core of one node, composed here and nowhere else. It
 * builds the parts and wires them through their host interfaces:
 *
 *   Listener (transport) ─┐
 *   LinkManager (link) ───┼─ RoutingTable ─ Router, Discovery (routing)
 *                         └─ SessionManager (session) ─ Channels (channels.ts)
 *
 * The node's own policies are beside it: what a new link's keys are used for
 * (neighbour-keys.ts) and send()'s 'drain' signal (backpressure.ts).
 * It implements MeshNode, the one interface the applications above use.
 * PeerRelay (../peer-relay.ts) extends it with send()/'message', connect()
 * and the signaling server.
 */
import { EventEmitter } from 'events';
import { copyToBuffer, equalBytes, toBuffer, toHex } from '../util/bytes.js';
import { relayError, type RelayError } from '../util/errors.js';
import { DEFAULT_LIMITS, FRAME_OVERHEAD, resolveLimits, type Limits } from '../util/limits.js';
import type { Detour, DropReason } from '../util/drop-reasons.js';
import { Identity, type IdentityJSON } from '../crypto/identity.js';
import { defaultAead } from '../crypto/aead.js';
import { Listener, advertisedUrl } from '../transport/listener.js';
import { WebSocketConnection } from '../transport/websocket.js';
import type { Connection } from '../transport/connection.js';
import { CloseReason, FrameType, HelloFlags, MESH_SUBPROTOCOL } from '../wire/frames.js';
import { LinkManager, opened } from '../link/link-manager.js';
import { linkHandshakes, type Link } from '../link/link.js';
import { RoutingTable, closestIds } from '../routing/routing-table.js';
import { DedupCache } from '../routing/dedup-cache.js';
import { Router } from '../routing/router.js';
import { Discovery } from '../routing/discovery.js';
import { NeighbourAdverts } from '../routing/neighbour-adverts.js';
import { SessionManager } from '../session/session-manager.js';
import type { AutoConnector, LinkControl, MeshNode } from './mesh-node.js';
import { LinkKeysUse, linkKeysUse } from './neighbour-keys.js';
import { Backpressure } from './backpressure.js';
import { Channels, checkChannel } from './channels.js';
import type { ChannelHandler, IceServer, LinkInfo, NodeEvents, NodeOptions, NodeStats } from './types.js';

const NO_LINKS: { has(): boolean; readonly size: number } = { has: () => false, size: 0 };

export class RelayNode extends EventEmitter<NodeEvents> implements MeshNode {
  readonly identity: Identity;
  /** The 160-bit id, a Buffer in Node. */
  readonly id: Uint8Array;
  readonly limits: Readonly<Limits>;
  readonly wrtc: unknown;
  readonly iceServers: IceServer[] | undefined;
  /** The HTTP/WebSocket listener when started with a port (made at once; it listens on start). */
  readonly listener: Listener | null;
  readonly links: LinkControl;

  readonly #opts: NodeOptions;
  readonly #table: RoutingTable<Link>;
  readonly #linkManager: LinkManager;
  readonly #router: Router;
  readonly #discovery: Discovery;
  readonly #adverts: NeighbourAdverts;
  readonly #sessions: SessionManager;
  readonly #channels: Channels;
  readonly #dropped: Partial<Record<DropReason, number>> = {};
  readonly #detours: Record<Detour, number> = { loop: 0, backtrack: 0 };
  readonly #counters = { sent: 0, undeliverable: 0 };
  #autoConnector: AutoConnector | null = null;
  #url = '';
  #address: { address: string; family: string; port: number } | null = null;
  #destroyed = false;
  #closedEmitted = false;
  #started = false;
  /** send()'s backpressure signal: who waits for 'drain', who a CONGESTION report holds. */
  readonly #backpressure: Backpressure;
  /** The destination of the last send() (a copy) and its hex. */
  #lastTo: Uint8Array = new Uint8Array(0);
  #lastHex = '';

  constructor(opts: NodeOptions = {}) {
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
    if (limits.sendLowWaterMark > limits.sendHighWaterMark) {
      throw new RangeError(`opts.sendLowWaterMark (${limits.sendLowWaterMark}) must not exceed opts.sendHighWaterMark (${limits.sendHighWaterMark})`);
    }
    this.limits = limits;
    this.identity = opts.identity instanceof Identity ? opts.identity
      : opts.identity ? Identity.fromJSON(opts.identity as IdentityJSON | string) : Identity.generate();
    this.id = this.identity.idBuffer();
    this.wrtc = opts.wrtc ?? null;
    this.iceServers = opts.iceServers;
    const countDrop = (reason: DropReason): void => { this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1; };
    this.countDrop = countDrop;
    this.#channels = new Channels(countDrop);
    this.#table = new RoutingTable<Link>(this.identity.id, limits.maxLinks);
    const node = this;
    this.#linkManager = new LinkManager({
      identity: this.identity,
      limits,
      memory: opts.memory,
      bootstrap: opts.bootstrap ?? [],
      flags: () => this.#flags(),
      url: () => this.#url,
      countDrop,
      onOpen: (link, isNewPeer) => this.#onLinkOpen(link, isNewPeer),
      onFrame: (link, f) => this.#onLinkFrame(link, f),
      onDisconnect: (id, err) => this.emit('disconnect', toBuffer(id.slice()), err),
      onLinkLost: (link, reason) => {
        this.#adverts.changed();
        this.#discovery.onLinkClosed(link.idHex, reason === CloseReason.TOO_MANY_LINKS);
      },
      onRebootstrap: () => this.#discovery.maintain(),
      linkHooks: {
        evicted: (frame) => this.#router.dropped(frame),
        flowSignal: (ref, origin, stop) => this.#router.flowSignal(ref, origin, stop),
        writable: () => this.#backpressure.writable(),
      },
    }, this.#table);
    this.#router = new Router({
      localId: this.identity.id,
      ttl: limits.ttl,
      maxFrameSize: limits.maxMessageSize + FRAME_OVERHEAD,
      self: () => ({ id: this.identity.id, flags: this.#flags(), url: this.#url }),
      countDrop,
      countDetour: (kind) => { this.#detours[kind]++; },
      deliver: (f) => this.#sessions.handle(f),
      learn: (f) => this.#discovery.onNodes(f),
      unreachable: (msgKey, to, err) => this.#sessions.unreachable(msgKey, to, err),
      congestion: (kind, msgKey, to) => this.#onCongestion(kind, msgKey, to),
      acks: limits,
    }, this.#table, new DedupCache(limits.dedupEntries, limits.dedupAgeMs));
    this.#discovery = new Discovery({
      localId: this.identity.id,
      limits,
      get active() { return node.#started && !node.#destroyed; },
      dialing: () => this.#linkManager.dialing,
      load: () => linkHandshakes.load / limits.busyHandshakes,
      isDialing: (url) => this.#linkManager.isDialing(url),
      dial: (url, id) => this.#linkManager.dial(url, id),
      canAutoConnect: () => Boolean(this.wrtc) && this.#autoConnector !== null && this.#autoConnector.canAuto(),
      connect: (id) => this.#autoConnector ? this.#autoConnector.connect(id) : Promise.reject(relayError('ERR_CONNECT_FAILED')),
      lookup: (target) => this.#router.lookup(target),
      rebootstrap: () => this.#linkManager.scheduleRebootstrap(),
      closeLink: (link) => (link as Link).close(CloseReason.TOO_MANY_LINKS, relayError('ERR_TOO_MANY_LINKS', `over linkBudget (${limits.linkBudget} links)`)),
      countDrop,
    }, this.#table);
    this.#adverts = new NeighbourAdverts({
      neighbourAdvertMs: limits.neighbourAdvertMs,
      get active() { return node.#started && !node.#destroyed; },
      countDrop,
    }, this.#table);
    this.#sessions = new SessionManager({
      identity: this.identity,
      aead: opts.aead ?? defaultAead,
      route: (frame) => (this.#destroyed ? 'no_links' : this.#router.route(frame)),
      deliver: (from, pt, start, end) => this.#channels.deliver(from, pt, start, end),
      fail: (to, err, count) => { for (let i = 0; i < count; i++) this.#undeliverable(err, to); },
      settled: (msgKey) => this.#router.settled(msgKey),
      countDrop,
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
      maxBatchBytes: Math.min(limits.maxBatchBytes, limits.maxMessageSize),
    });
    this.#backpressure = new Backpressure({
      limits,
      pressure: (to, hex) => this.#pressure(to, hex),
      drain: () => this.emit('drain'),
    });
    this.links = {
      has: (id) => this.#table.get(id) !== undefined,
      dial: (url, expectedId) => this.#linkManager.dial(url, expectedId),
      adopt: (conn: Connection, initiator: boolean, expectedId?: Uint8Array) =>
        opened(this.#linkManager.adopt(conn, initiator, expectedId), 'link closed during its handshake'),
      contact: (id) => this.#discovery.contact(id),
    };
    this.listener = opts.port !== undefined ? this.#makeListener() : null;
    // Like net.Server: nothing happens before the caller's synchronous code has attached listeners.
    queueMicrotask(() => this.#start());
  }

  /** Counts an input dropped by reason (stats().dropped). */
  readonly countDrop: (reason: DropReason) => void;

  get destroyed(): boolean { return this.#destroyed; }
  /** The ws:// URL this node advertises, or '' when it has none. */
  get url(): string { return this.#url; }
  /** Ids of directly linked nodes. */
  get peers(): Uint8Array[] { return this.#table.entries().map((e) => toBuffer(e.id.slice())); }

  /** Like net.Server#address(): null until listening, and for nodes without a port. */
  address(): { address: string; family: string; port: number } | null { return this.#address; }

  /** Lets discovery form links without a URL (WebRTC through the mesh). */
  useAutoConnector(c: AutoConnector): void { this.#autoConnector = c; }

  /**
   * Seals `payload` end to end and routes it to node `id` on `channel`.
   * Returns false, like stream.write(), when this node's bytes toward `id`'s
   * next hop (or queued for its session) reach sendHighWaterMark, or a relay
   * on the way asked it to wait; the message is accepted all the same, and
   * 'drain' follows once they are below sendLowWaterMark.
   */
  sendOnChannel(id: Uint8Array, channel: number, payload: Uint8Array): boolean {
    if (this.#destroyed) throw relayError('ERR_DESTROYED', 'send after destroy');
    checkChannel(channel);
    if (payload.length > this.limits.maxMessageSize) {
      throw relayError('ERR_FRAME_TOO_LARGE', `message of ${payload.length} bytes exceeds maxMessageSize ${this.limits.maxMessageSize}`);
    }
    this.#counters.sent++;
    if (equalBytes(id, this.identity.id)) {
      const pt = new Uint8Array(1 + payload.length);
      pt[0] = channel;
      pt.set(payload, 1);
      queueMicrotask(() => { if (!this.#destroyed) this.#channels.deliver(this.identity.id, pt); });
      return true;
    }
    const hex = this.#hexOf(id);
    const hop = this.#table.nextHop(id, NO_LINKS, hex);
    if (hop && hop.link.ownQueuedBytes + payload.length > this.limits.maxFlowBuffer) {
      // Over the hard limit already: refused before it is sealed (the link would refuse the frame anyway).
      this.countDrop('congested');
      this.#undeliverable(relayError('ERR_QUEUE_FULL', `the link toward ${hex} is congested`, { to: hex }), id);
      return false;
    }
    this.#sessions.send(id, channel, payload, hex);
    if (!this.#backpressure.held(hex) && this.#pressure(id, hex, hop?.link) < this.limits.sendHighWaterMark) return true;
    this.#backpressure.block(hex, id);
    return false;
  }

  /** This node's own messages not yet sent: waiting for sessions, and in link queues. */
  sendQueue(): { bytes: number; count: number } {
    let bytes = this.#sessions.queuedBytes;
    let count = this.#sessions.queued;
    for (const { link } of this.#table.entries()) {
      const q = link.ownQueued();
      bytes += q.bytes;
      count += q.frames;
    }
    return { bytes, count };
  }

  /** Bytes of this node's toward `to` (`hex`): queued for its session, and on the link to its next hop. */
  #pressure(to: Uint8Array, hex: string, link = this.#table.nextHop(to, NO_LINKS, hex)?.link): number {
    return this.#sessions.pendingBytes(hex) + (link ? link.ownBuffered : 0);
  }

  /**
   * The hex of a destination, made once for a run of sends to the same id (the
   * hex keys the routing table, the session table and the flow signal: made per
   * send, it was several strings per message). A copy of the id is compared, so
   * a caller reusing its buffer for another id gets the right hex.
   */
  #hexOf(id: Uint8Array): string {
    if (!equalBytes(id, this.#lastTo)) {
      this.#lastTo = id.slice();
      this.#lastHex = toHex(id);
    }
    return this.#lastHex;
  }

  /** A CONGESTION report (or this node's own link queue) named one of our messages: true if it was one. */
  #onCongestion(kind: number, msgKey: number, to: Uint8Array): boolean {
    if (!this.#sessions.congestion(kind, msgKey, to)) return false;
    this.#backpressure.report(kind, toHex(to));
    return true;
  }

  /** Receives a channel's plaintexts (one handler per channel). */
  registerChannel(channel: number, handler: ChannelHandler): void { this.#channels.register(channel, handler); }

  unregisterChannel(channel: number): void { this.#channels.unregister(channel); }

  /** Closes the direct link with `id`, if any. */
  disconnectLink(id: Uint8Array): void { this.#linkManager.disconnect(id); }

  /** True while an end-to-end session with `id` is open (a message to it is sealed and sent at once). */
  hasSession(id: Uint8Array): boolean { return this.#sessions.hasSession(id); }

  /** The `n` ids this node knows closest to `target`, nearest first: its links and discovery's contacts. */
  closestKnown(target: Uint8Array, n: number): Uint8Array[] {
    return closestIds(target, n, [this.#table.closest(target, n).map((e) => e.id), this.#discovery.contactIds()]);
  }

  /** The public keys (dsa || kem) of `id` when held checked against the id: its own, a link's, a session peer's. */
  publicKeysOf(id: Uint8Array): Uint8Array | undefined {
    if (equalBytes(id, this.identity.id)) return this.identity.publicKeys();
    return this.#sessions.keysOf(id)?.publicKeys();
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
    this.#backpressure.stop();
    this.#discovery.stop();
    this.#adverts.stop();
    this.#router.stop();
    this.onDestroy();
    this.#sessions.destroy();
    this.#linkManager.destroy();
    if (this.#opts.memory && this.#url.startsWith('mem://')) this.#opts.memory.unlisten(this.#url.slice(6));
    const closing = this.listener ? this.listener.close() : Promise.resolve();
    closing.then(() => {
      // Give CLOSE frames a moment to leave before declaring everything freed.
      setTimeout(() => {
        this.#linkManager.closeTransports();
        this.#closedEmitted = true;
        this.emit('close');
        cb?.(null);
      }, 25);
    });
  }

  /** Stops what a subclass added, first thing in destroy(). */
  protected onDestroy(): void { /* nothing in the core */ }

  /** Counters for tests, metrics and the status page. */
  stats(): NodeStats {
    return {
      links: this.#table.size,
      sessions: this.#sessions.sessionCount,
      queued: this.#sessions.queued,
      sent: this.#counters.sent,
      delivered: this.#channels.delivered,
      undeliverable: this.#counters.undeliverable,
      ...this.#router.counters,
      flow: { reportsSent: this.#router.reports.sent, reportsReceived: this.#router.reports.received, ...this.#linkTotals() },
      dropped: { ...this.#dropped },
      detours: { ...this.#detours },
      neighbours: { ...this.#adverts.counters },
    };
  }

  #linkTotals(): { linkQueued: number; linkInFlight: number } {
    let linkQueued = 0;
    let linkInFlight = 0;
    for (const { link } of this.#table.entries()) {
      const q = link.queueInfo();
      linkQueued += q.bytes;
      linkInFlight += q.inFlight;
    }
    return { linkQueued, linkInFlight };
  }

  /** The routing table, for status pages: id, transport, address, counters per link. */
  linkInfo(): LinkInfo[] {
    return this.#table.entries().map(({ link }) => ({
      id: link.idHex, kind: link.connection.kind, url: link.remoteUrl, remoteAddress: link.connection.remoteAddress,
      initiator: link.initiator, openedAt: link.openedAt, stats: { ...link.stats },
      neighbours: this.#table.neighboursOf(link.remote!.id)?.length ?? null,
    }));
  }

  // ------------------------------------------------------------------ start-up

  #makeListener(): Listener {
    const listener = new Listener();
    listener.addRoute({
      name: 'mesh', priority: 0, protocol: MESH_SUBPROTOCOL,
      maxPayload: this.limits.maxMessageSize + FRAME_OVERHEAD,
      match: (_req, protocols) => protocols.has(MESH_SUBPROTOCOL),
      handle: (ws, req) => {
        const addr = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
        this.#linkManager.adopt(new WebSocketConnection(ws as never, addr), false);
      },
    });
    return listener;
  }

  async #start(): Promise<void> {
    if (this.#destroyed || this.#started) return;
    this.#started = true;
    const o = this.#opts;
    try {
      if (o.memory) {
        this.#url = o.memory.listen(this.identity.idHex, (conn) => { this.#linkManager.adopt(conn, false); });
      }
      if (this.listener) {
        const host = o.host ?? '127.0.0.1';
        const info = await this.listener.listen(o.port!, host);
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
    if (this.listener) this.emit('listening');
    this.#discovery.start();
    this.#linkManager.bootstrap();
  }

  // ---------------------------------------------------------------- links

  #flags(): number { return HelloFlags.FLOW | this.#adverts.flag | (this.wrtc ? HelloFlags.WEBRTC : 0) | (this.#url ? HelloFlags.WEBSOCKET : 0); }

  #onLinkOpen(link: Link, isNewPeer: boolean): void {
    // Kept, with an encapsulation made ahead, or dropped: the policy is neighbour-keys.ts.
    const keys = link.takeKeys();
    const use = keys ? linkKeysUse(this.#table.size, linkHandshakes.load, this.limits) : LinkKeysUse.DROP;
    if (keys && use !== LinkKeysUse.DROP) this.#sessions.learnKeys(keys, use === LinkKeysUse.AHEAD);
    this.#discovery.onLinkOpen(link);
    this.#adverts.changed();
    this.#sessions.kick();
    if (isNewPeer) this.emit('peer', toBuffer(link.remote!.id.slice()));
  }

  #onLinkFrame(link: Link, f: Uint8Array): void {
    switch (f[0]) {
      case FrameType.ROUTE: return this.#router.onRouted(link, f);
      case FrameType.FIND_NODE: return this.#discovery.onFindNode(link, f);
      case FrameType.NODES: return this.#discovery.onNodes(f);
      case FrameType.NEIGHBOURS: return this.#adverts.onFrame(link, f);
      default: this.countDrop('unknown_type');
    }
  }

  #undeliverable(err: RelayError, to: Uint8Array): void {
    this.#counters.undeliverable++;
    if (!this.#destroyed) this.emit('undeliverable', err, copyToBuffer(to));
  }

}

