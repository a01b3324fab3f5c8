/**
 * One per MeshNode: owns the DGRAM channel handler and demultiplexes
 * datagrams to the sockets bound on that node by destination port. The
 * sender's address is the channel's authenticated `from`, never anything the
 * datagram says about itself. Destination port 0 is the alias resolver.
 */
import debugFactory from 'debug';
import { equalBytes, toHex } from '../src/util/bytes.js';
import { Channel } from '../src/node/types.js';
import type { MeshNode } from '../src/node/mesh-node.js';
import type { DropReason } from '../src/util/drop-reasons.js';
import { Resolver } from './resolver.js';
import { RESOLVER_PORT, ResolverType, decodeHeader, decodeResolver, encodeDatagram } from './wire.js';

const debug = debugFactory('relaymesh:socket');

/** Ephemeral ports, as IANA suggests. */
const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;

export interface PortOwner {
  /** A datagram for this port: payload (a view), authenticated sender, sender's port. */
  onDatagram(data: Uint8Array, from: Uint8Array, srcPort: number): void;
  /** The node closed under the socket. */
  onNodeClose(): void;
}

export interface MuxStats {
  received: number;
  sent: number;
  dropped: Partial<Record<DropReason, number>>;
}

const muxes = new WeakMap<MeshNode, Mux>();

export class Mux {
  readonly node: MeshNode;
  readonly resolver: Resolver;
  readonly #ports = new Map<number, PortOwner>();
  readonly #stats: MuxStats = { received: 0, sent: 0, dropped: {} };
  #closed = false;
  /** The last sender learned, so a stream of datagrams from one node costs one comparison each. */
  #lastFrom: Uint8Array | null = null;
  readonly #onPeer = (id: Uint8Array) => this.resolver.learn(id);
  readonly #onClose = () => this.#close();

  /** The node's multiplexer, made (and its channel registered) on first use. */
  static for(node: MeshNode): Mux {
    let mux = muxes.get(node);
    if (!mux) {
      mux = new Mux(node);
      muxes.set(node, mux);
    }
    return mux;
  }

  private constructor(node: MeshNode) {
    this.node = node;
    this.resolver = new Resolver({
      id: node.id,
      peers: () => node.peers,
      send: (to, bytes) => this.#sendRaw(to, bytes),
      count: (r) => this.#count(r),
    });
    node.registerChannel(Channel.DGRAM, (payload, from) => this.#onPayload(payload, from));
    for (const id of node.peers) this.resolver.learn(id);
    node.on('peer', this.#onPeer);
    node.once('close', this.#onClose);
  }

  get closed(): boolean { return this.#closed || this.node.destroyed; }

  stats(): MuxStats {
    return { received: this.#stats.received, sent: this.#stats.sent, dropped: { ...this.#stats.dropped } };
  }

  /** Binds `port` (0: a free ephemeral one); null when taken or none is free. */
  bind(port: number, owner: PortOwner): number | null {
    if (port !== 0) {
      if (this.#ports.has(port)) return null;
      this.#ports.set(port, owner);
      return port;
    }
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const p = EPHEMERAL_LOW + ((start + i) % span);
      if (!this.#ports.has(p)) {
        this.#ports.set(p, owner);
        return p;
      }
    }
    return null;
  }

  release(port: number, owner: PortOwner): void {
    if (this.#ports.get(port) === owner) this.#ports.delete(port);
  }

  /** Sends one datagram; throws the node's error (ERR_QUEUE_FULL, ERR_DESTROYED...) if not accepted. */
  send(to: Uint8Array, dstPort: number, srcPort: number, parts: readonly Uint8Array[], total: number): void {
    this.node.sendOnChannel(to, Channel.DGRAM, encodeDatagram(dstPort, srcPort, parts, total));
    this.#stats.sent++;
  }

  #sendRaw(to: Uint8Array, bytes: Uint8Array): boolean {
    if (this.closed) return false;
    try {
      this.node.sendOnChannel(to, Channel.DGRAM, bytes);
      return true;
    } catch (err) {
      debug('resolver message to %s not sent: %s', toHex(to), (err as Error).message);
      return false;
    }
  }

  #onPayload(payload: Uint8Array, from: Uint8Array): void {
    const h = decodeHeader(payload);
    if (!h) return this.#count('dgram_malformed');
    if (h.dstPort === RESOLVER_PORT) return this.#onResolver(payload, from);
    if (h.srcPort === 0) return this.#count('dgram_malformed');
    const owner = this.#ports.get(h.dstPort);
    if (!owner) return this.#count('dgram_unbound_port');
    this.#stats.received++;
    if (!this.#lastFrom || !equalBytes(this.#lastFrom, from)) {
      this.resolver.learn(from);
      this.#lastFrom = from;
    }
    owner.onDatagram(payload.subarray(4), from, h.srcPort);
  }

  #onResolver(payload: Uint8Array, from: Uint8Array): void {
    const msg = decodeResolver(payload);
    if (!msg) return this.#count('dgram_malformed');
    if (msg.type === ResolverType.FIND) this.resolver.onFind(msg.m, from);
    else this.resolver.onNodes(msg.m, from);
  }

  #count(reason: DropReason): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
    this.node.countDrop(reason);
    debug('dropped: %s', reason);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resolver.destroy();
    this.node.off('peer', this.#onPeer);
    this.node.unregisterChannel(Channel.DGRAM);
    muxes.delete(this.node);
    for (const owner of [...this.#ports.values()]) owner.onNodeClose();
    this.#ports.clear();
  }
}
