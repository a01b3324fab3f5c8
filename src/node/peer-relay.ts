/**
 * PeerRelay: one mesh node. It owns the links (transport + identity proof),
 * the routing table, forwarding, discovery, and the end-to-end sessions that
 * seal everything `send` carries. The API is peer-relay's (see
 * ../shared/seeds/peer-relay-api.txt) plus what that lacked.
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { compareBytes, equalBytes, fromHex, isBytes, textDecoder, textEncoder, toBuffer, toHex, randomBytes } from '../bytes.js';
import { Identity, ID_LENGTH, type IdentityJSON } from '../crypto/identity.js';
import { defaultAead, type Aead } from '../crypto/aead.js';
import { RoutingTable, compareDistance } from '../routing/routing-table.js';
import { DedupCache } from '../routing/dedup-cache.js';
import { Link } from '../link/link.js';
import type { Connection } from '../transport/connection.js';
import { dialWebSocket, WebSocketConnection } from '../transport/websocket.js';
import type { MemoryNetwork } from '../transport/memory.js';
import {
  CloseReason, type CloseReasonCode, FrameType, HelloFlags, MESH_SUBPROTOCOL, decodeFindNode, decodeNodes,
  encodeFindNode, encodeNodes, MAX_NODES_PER_FRAME, type NodeInfo,
} from '../wire/frames.js';
import {
  encodeEnvelope, envelope, MsgType, OFF_TTL, UnreachableReason, decodeUnreachable, encodeUnreachable,
} from '../wire/envelope.js';
import { SessionManager } from './sessions.js';
import { Listener } from './listener.js';
import { DEFAULT_LIMITS, FRAME_OVERHEAD, type Limits } from './limits.js';
import { Connector } from './connector.js';
import { relayError, RelayError } from '../errors.js';
import { attachSignaling, type SignalingCore, type SignalingOptions } from '../signaling/server.js';

const debug = debugFactory('relaymesh:node');

/** Channel byte that starts every sealed plaintext (PROTOCOL.md, "Channels"). */
export const Channel = { JSON: 0, BYTES: 1, CONTROL: 2, DGRAM: 3, SIGNALING: 4 } as const;
export type ChannelHandler = (payload: Uint8Array, from: Uint8Array) => void;

export interface PeerRelayOptions extends Partial<Limits> {
  /** Start a WebSocket server on this port (0 picks a free one). Omit for no server. */
  port?: number;
  /** Address to listen on (default 127.0.0.1; use 0.0.0.0 or :: to accept remote nodes). */
  host?: string;
  /** The ws:// or wss:// URL other nodes should dial to reach this one (default: derived from host and port). */
  publicUrl?: string;
  /** ws://, wss:// (or mem:// with `memory`) URLs of nodes already in the mesh. */
  bootstrap?: string[];
  /** A WebRTC implementation (`@roamhq/wrtc` in Node); browsers use their own when `true`. */
  wrtc?: unknown;
  /** STUN/TURN servers for WebRTC links. */
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  /** This node's identity; a fresh one is made if omitted. */
  identity?: Identity | IdentityJSON | string;
  /** In-memory transport for tests and simulations. */
  memory?: MemoryNetwork;
  /** AEAD backend (tests use this to run the noble and native paths). */
  aead?: Aead;
  /** Signaling server options for nodes with a port; `false` turns the server off. */
  signaling?: SignalingOptions | false;
}

export interface PeerRelayEvents {
  listening: [];
  peer: [id: Uint8Array];
  disconnect: [id: Uint8Array, err: RelayError | null];
  message: [data: unknown, from: Uint8Array];
  undeliverable: [err: RelayError, to: Uint8Array];
  error: [err: Error];
  close: [];
}

interface Contact extends NodeInfo { failures: number; lastTried: number }

export interface NodeStats {
  links: number;
  sessions: number;
  queued: number;
  sent: number;
  delivered: number;
  relayed: number;
  bytesRelayed: number;
  undeliverable: number;
  dropped: Record<string, number>;
}

export class PeerRelay extends EventEmitter<PeerRelayEvents> {
  /** The dgram-shaped socket (set by relaymesh/socket to avoid an import cycle). */
  static Socket: unknown;

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
  readonly #dedup: DedupCache;
  readonly #sessions: SessionManager;
  readonly #connector: Connector;
  readonly #links = new Set<Link>();
  readonly #dialing = new Map<string, Promise<void>>();
  readonly #contacts = new Map<string, Contact>();
  readonly #channels = new Map<number, ChannelHandler>();
  readonly #sentData = new Map<string, Uint8Array>();
  readonly #swapping = new Set<string>();
  readonly #dropped: Record<string, number> = {};
  readonly #counters = { sent: 0, delivered: 0, relayed: 0, bytesRelayed: 0, undeliverable: 0 };
  #url = '';
  #address: { address: string; family: string; port: number } | null = null;
  #destroyed = false;
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
    const limits = { ...DEFAULT_LIMITS } as Limits;
    for (const k of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
      const v = opts[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`opts.${k} must be a positive number`);
      limits[k] = v;
    }
    this.limits = limits;
    this.identity = opts.identity instanceof Identity ? opts.identity
      : opts.identity ? Identity.fromJSON(opts.identity as IdentityJSON | string) : Identity.generate();
    this.id = this.identity.idBuffer();
    this.wrtc = opts.wrtc ?? null;
    this.iceServers = opts.iceServers;
    this.#table = new RoutingTable<Link>(this.identity.id, limits.maxLinks);
    this.#dedup = new DedupCache(limits.dedupEntries, limits.dedupAgeMs);
    this.#sessions = new SessionManager({
      identity: this.identity,
      aead: opts.aead ?? defaultAead,
      route: (frame) => this.#route(frame),
      deliver: (from, pt) => this.#deliver(from, pt),
      fail: (to, err, pts) => { for (let i = 0; i < pts.length; i++) this.#undeliverable(err, to); },
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
    const to = this.#checkId(id, 'id');
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
    const pt = new Uint8Array(1 + payload.length);
    pt[0] = channel;
    pt.set(payload, 1);
    this.#counters.sent++;
    if (equalBytes(id, this.identity.id)) {
      queueMicrotask(() => { if (!this.#destroyed) this.#deliver(this.identity.id, pt); });
      return;
    }
    this.#sessions.send(id, pt);
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
    const target = this.#checkId(id, 'id');
    const p = this.#destroyed ? Promise.reject(relayError('ERR_DESTROYED')) : this.#connector.connect(target, opts.signal);
    p.catch((err) => debug('connect to %s failed: %s', toHex(target), err.message));
    return p;
  }

  /** Closes the direct link with `id`, if any. */
  disconnect(id: Uint8Array | string): void {
    const target = this.#checkId(id, 'id');
    for (const link of this.#links) if (link.id && equalBytes(link.id, target)) link.close(CloseReason.NORMAL);
  }

  /** Frees everything; `cb` runs when all sockets and timers are closed. Idempotent. */
  destroy(cb?: (err?: Error | null) => void): void {
    if (cb !== undefined && typeof cb !== 'function') throw new TypeError('cb must be a function');
    if (this.#destroyed) {
      if (cb) this.once('close', () => cb(null));
      if (this.#closedEmitted && cb) queueMicrotask(() => cb(null));
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
  #closedEmitted = false;

  /** Counters for tests, metrics and the status page. */
  stats(): NodeStats {
    return {
      links: this.#table.size,
      sessions: this.#sessions.sessionCount,
      queued: this.#sessions.queued,
      ...this.#counters,
      dropped: { ...this.#dropped },
    };
  }

  /** The routing table, for status pages: id, transport, address, counters per link. */
  linkInfo(): { id: string; kind: string; url: string; remoteAddress: string; initiator: boolean; openedAt: number; stats: Link['stats'] }[] {
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
  _contact(id: Uint8Array): NodeInfo | undefined { return this.#contacts.get(toHex(id)); }

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
    this.#maintainTimer = setInterval(() => this.#refresh(), this.limits.refreshIntervalMs);
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

  /** Of two open links to one node, both ends keep the one dialed by the lower id. */
  #preferred(a: Link, b: Link): Link {
    const dialerA = a.initiator ? this.identity.id : a.remote!.id;
    const dialerB = b.initiator ? this.identity.id : b.remote!.id;
    if (equalBytes(dialerA, dialerB)) return a;
    return compareBytes(dialerA, dialerB) < 0 ? a : b;
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
    if (this.#table.size === 1) setTimeout(() => this.#refresh(), 100).unref?.();
    this.#sessions.learnKeys(remote);
    if (link.remoteUrl || link.remoteFlags) {
      this.#contacts.set(hex, { id: remote.id, flags: link.remoteFlags, url: link.remoteUrl, failures: 0, lastTried: 0 });
      this.#trimContacts();
    }
    debug('%s linked to %s over %s', this.identity.idHex.slice(0, 8), hex.slice(0, 8), link.connection.kind);
    link.send(encodeFindNode(this.identity.id));
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
      else this.#maintainSoon();
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
      this.#maintain();
    }, Math.min(delay, 500));
    this.#bootstrapTimer.unref?.();
  }

  #onLinkFrame(link: Link, f: Uint8Array): void {
    switch (f[0]) {
      case FrameType.ROUTE: return this.#onRouted(link, f);
      case FrameType.FIND_NODE: {
        const target = decodeFindNode(f);
        if (!target) return this.#count('malformed');
        const nodes = this.#table.closest(target, MAX_NODES_PER_FRAME + 1)
          .filter((e) => e.link !== link)
          .slice(0, MAX_NODES_PER_FRAME)
          .map((e) => ({ id: e.id, flags: e.link.remoteFlags, url: e.link.remoteUrl }));
        link.send(encodeNodes(nodes));
        return;
      }
      case FrameType.NODES: return this.#onNodes(f);
      default:
        this.#count('unknown_type');
    }
  }

  /** Learns contacts from a NODES frame (a neighbour's answer or a lookup result). */
  #onNodes(f: Uint8Array): void {
    const nodes = decodeNodes(f);
    if (!nodes) return this.#count('malformed');
    for (const n of nodes) {
      const hex = toHex(n.id);
      if (equalBytes(n.id, this.identity.id) || this.#table.getHex(hex)) continue;
      const known = this.#contacts.get(hex);
      if (known) { known.url ||= n.url; known.flags |= n.flags; } else this.#contacts.set(hex, { ...n, failures: 0, lastTried: 0 });
    }
    this.#trimContacts();
    this.#maintainSoon();
  }

  #answerLookup(f: Uint8Array): void {
    const target = envelope.to(f);
    const origin = envelope.from(f);
    if (equalBytes(origin, this.identity.id)) return;
    const nodes = this.#table.closest(target, MAX_NODES_PER_FRAME - 1)
      .filter((e) => !equalBytes(e.id, origin))
      .map((e) => ({ id: e.id, flags: e.link.remoteFlags, url: e.link.remoteUrl }));
    nodes.unshift({ id: this.identity.id, flags: this._flags(), url: this.#url });
    this.#route(encodeEnvelope(MsgType.LOOKUP_RESULT, origin, this.identity.id, encodeNodes(nodes), this.limits.ttl));
  }

  // ---------------------------------------------------------------- routing

  /** Sends a routed frame that originates here. */
  #route(frame: Uint8Array): boolean {
    if (this.#destroyed || this.#table.size === 0) return false;
    if (envelope.type(frame) === MsgType.DATA) {
      const key = toHex(envelope.msgId(frame));
      this.#sentData.set(key, envelope.to(frame).slice());
      if (this.#sentData.size > 8192) this.#sentData.delete(this.#sentData.keys().next().value as string);
    }
    this.#forward(frame, null);
    return true;
  }

  #onRouted(link: Link, f: Uint8Array): void {
    if (!envelope.valid(f)) return this.#count('malformed');
    if (f.length > this.limits.maxMessageSize + FRAME_OVERHEAD) return this.#count('too_large');
    const to = envelope.to(f);
    if (equalBytes(to, this.identity.id)) {
      const key = toHex(envelope.msgId(f));
      const seen = this.#dedup.get(key);
      if (seen?.delivered) return this.#count('duplicate');
      (seen ?? this.#dedup.add(key)).delivered = true;
      const type = envelope.type(f);
      if (type === MsgType.UNREACHABLE) return this.#onUnreachable(f);
      if (type === MsgType.LOOKUP_RESULT) return this.#onNodes(envelope.body(f));
      if (type === MsgType.LOOKUP) return this.#answerLookup(f);
      this.#sessions.handle(f);
      return;
    }
    link.stats.relayed++;
    this.#forward(f, link);
  }

  /**
   * Greedy next hop by XOR distance, never back where the message came from
   * and never twice along the same link: a message that loops back here is
   * sent along the next-best link (the dedup entry remembers the tried ones).
   */
  #forward(f: Uint8Array, from: Link | null): void {
    const key = toHex(envelope.msgId(f));
    let seen = this.#dedup.get(key);
    if (!seen) seen = this.#dedup.add(key);
    else if (from) this.#count('loop');
    if (from) {
      seen.tried.add(from.idHex);
      if (f[OFF_TTL] === 0) return this.#bounce(f, UnreachableReason.HOP_LIMIT);
      f[OFF_TTL]--;
    }
    const hop = this.#table.nextHop(envelope.to(f), seen.tried);
    if (envelope.type(f) === MsgType.LOOKUP && (!hop || compareDistance(envelope.to(f), this.identity.id, hop.id) <= 0)) {
      // No link is closer to the target than this node: greedy routing ends here.
      return this.#answerLookup(f);
    }
    if (!hop) return this.#bounce(f, UnreachableReason.NO_ROUTE);
    seen.tried.add(toHex(hop.id));
    if (from) {
      this.#counters.relayed++;
      this.#counters.bytesRelayed += f.length;
    }
    if (!hop.link.send(f) && !from && envelope.type(f) === MsgType.DATA) {
      this.#sentData.delete(key);
      this.#undeliverable(relayError('ERR_QUEUE_FULL', `the link to ${toHex(hop.id)} is congested`, { to: toHex(envelope.to(f)) }), envelope.to(f));
    }
  }

  /** Tells the origin its message could not be delivered (never for an UNREACHABLE itself). */
  #bounce(f: Uint8Array, reason: number): void {
    this.#count(reason === UnreachableReason.HOP_LIMIT ? 'hop_limit' : 'no_route');
    if (envelope.type(f) === MsgType.UNREACHABLE) return;
    const origin = envelope.from(f);
    const body = encodeUnreachable(reason, envelope.msgId(f), envelope.to(f));
    const reply = encodeEnvelope(MsgType.UNREACHABLE, origin, this.identity.id, body, this.limits.ttl);
    if (equalBytes(origin, this.identity.id)) {
      this.#onUnreachable(reply);
      return;
    }
    if (this.#table.size > 0) this.#forward(reply, null);
  }

  #onUnreachable(f: Uint8Array): void {
    const u = decodeUnreachable(envelope.body(f));
    if (!u) return this.#count('malformed');
    const err = u.reason === UnreachableReason.HOP_LIMIT
      ? relayError('ERR_HOP_LIMIT', `message to ${toHex(u.to)} exceeded ${this.limits.ttl} hops`, { to: toHex(u.to) })
      : relayError('ERR_NO_ROUTE', `no route to ${toHex(u.to)}`, { to: toHex(u.to) });
    const key = toHex(u.msgId);
    if (this.#sentData.has(key)) {
      this.#sentData.delete(key);
      this.#undeliverable(err, u.to);
    } else {
      this.#sessions.unreachable(u.to, err);
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

  // -------------------------------------------------------------- discovery

  #maintainSoon(): void {
    queueMicrotask(() => this.#maintain());
  }

  /** Dials the closest known nodes until the table reaches targetLinks. */
  #maintain(): void {
    if (this.#destroyed || !this.#started) return;
    const now = Date.now();
    const perBucket = this.#perBucket();
    // Healthy: targetLinks links, and a link in every bucket some known node falls in.
    const emptyBuckets = new Set<number>();
    for (const c of this.#contacts.values()) {
      const i = this.#table.bucketIndex(c.id);
      if (!perBucket[i]) emptyBuckets.add(i);
    }
    const want = Math.max(this.limits.targetLinks - this.#table.size, Math.min(emptyBuckets.size, this.limits.maxLinks - this.#table.size)) - this.#dialing.size;
    if (want <= 0 || this.#dialing.size >= this.limits.maxDialing) return;
    const candidates = [...this.#contacts.values()]
      .filter((c) => !this.#table.has(c.id) && now - c.lastTried > 5000 * 2 ** c.failures)
      .filter((c) => (c.url && !this.#dialing.has(c.url)) || (this.wrtc && c.flags & HelloFlags.WEBRTC && this.#connector.canAuto()))
      // Kademlia shape: fill the emptiest buckets first (far ones matter most for
      // greedy routing), nearest first within a bucket.
      .sort((a, b) => (perBucket[this.#table.bucketIndex(a.id)] ?? 0) - (perBucket[this.#table.bucketIndex(b.id)] ?? 0)
        || compareDistance(this.identity.id, a.id, b.id))
      .slice(0, Math.min(want, this.limits.maxDialing - this.#dialing.size));
    for (const c of candidates) {
      c.lastTried = now;
      const attempt = c.url ? this.#dial(c.url, c.id) : this.#connector.connect(c.id);
      attempt.then(() => { c.failures = 0; }, () => {
        c.failures++;
        if (c.failures >= 4) this.#contacts.delete(toHex(c.id));
      });
    }
  }

  /**
   * Kademlia bucket refresh: a recursive LOOKUP for a random id in every sparse
   * bucket range (down to the deepest occupied bucket). It travels greedily to
   * the node closest to that id, which answers with its closest links, so the
   * table learns nodes at every distance.
   */
  #refresh(): void {
    if (this.#destroyed) return;
    const entries = this.#table.entries();
    if (entries.length === 0) { this.#scheduleRebootstrap(); return; }
    for (const e of this.#table.closest(this.identity.id, 3)) e.link.send(encodeFindNode(this.identity.id));
    const perBucket = this.#perBucket();
    const deepest = Math.min(perBucket.length, ID_LENGTH * 8 - 1);
    let lookups = 0;
    for (let i = 0; i <= deepest && lookups < 16; i++) {
      if ((perBucket[i] ?? 0) >= 2) continue;
      const target = randomIdInBucket(this.identity.id, i);
      this.#route(encodeEnvelope(MsgType.LOOKUP, target, this.identity.id, new Uint8Array(0), this.limits.ttl));
      lookups++;
    }
    this.#maintain();
  }

  #perBucket(): number[] {
    const perBucket: number[] = [];
    for (const e of this.#table.entries()) { const i = this.#table.bucketIndex(e.id); perBucket[i] = (perBucket[i] ?? 0) + 1; }
    return perBucket;
  }

  #trimContacts(): void {
    while (this.#contacts.size > this.limits.maxContacts) this.#contacts.delete(this.#contacts.keys().next().value as string);
  }

  // ---------------------------------------------------------------- helpers

  #count(reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
  }

  #checkId(id: Uint8Array | string, name: string): Uint8Array {
    if (typeof id === 'string') {
      if (!/^[0-9a-fA-F]{40}$/.test(id)) throw new TypeError(`${name} must be a 20-byte Buffer or 40 hex characters`);
      return fromHex(id);
    }
    if (!isBytes(id) || id.length !== ID_LENGTH) throw new TypeError(`${name} must be a 20-byte Buffer or 40 hex characters`);
    return id;
  }
}

/** A random id sharing exactly `prefix` leading bits with `local` (k-bucket `prefix`). */
function randomIdInBucket(local: Uint8Array, prefix: number): Uint8Array {
  const id = randomBytes(ID_LENGTH);
  const byte = prefix >> 3;
  const bit = 7 - (prefix & 7);
  for (let i = 0; i < byte; i++) id[i] = local[i];
  const keep = (0xff << (bit + 1)) & 0xff;
  id[byte] = (local[byte] & keep) | ((~local[byte]) & (1 << bit)) | (id[byte] & ((1 << bit) - 1));
  return id;
}

function advertisedUrl(address: string, port: number): string {
  if (address === '0.0.0.0' || address === '::') return '';
  return address.includes(':') ? `ws://[${address}]:${port}` : `ws://${address}:${port}`;
}
