/**
 * The alias service: one per node, run by every PeerRelay whether or not it
 * hosts a socket (a bootstrap hub never loads socket/, and must still answer
 * alias lookups). It owns the DGRAM channel (PROTOCOL.md §10): destination
 * port 0 is the alias resolver (resolver.ts), answered here; every other port
 * goes to the node's sockets when some are attached (socket/mux.ts), else the
 * datagram is dropped as `dgram_unbound_port`.
 */
import debugFactory from 'debug';
import { toHex } from '../util/bytes.js';
import type { DropReason } from '../util/drop-reasons.js';
import { Channel } from '../node/types.js';
import type { MeshNode } from '../node/mesh-node.js';
import { Resolver } from './resolver.js';
import { HEADER_LENGTH, RESOLVER_PORT, decodeResolver } from './wire.js';

const debug = debugFactory('relaymesh:alias');

/** Where datagrams for ports other than 0 go: the node's sockets. */
export interface DatagramSink {
  /** A datagram: the whole payload (header included), its authenticated sender, its ports. */
  onDatagram(payload: Uint8Array, from: Uint8Array, dstPort: number, srcPort: number): void;
}

const services = new WeakMap<MeshNode, AliasService>();

export class AliasService {
  readonly node: MeshNode;
  readonly resolver: Resolver;
  #sink: DatagramSink | null = null;
  #closed = false;
  readonly #onPeer = (id: Uint8Array) => this.resolver.learn(id);
  readonly #onClose = () => this.#close();

  /** The node's alias service, started (and the DGRAM channel registered) on first use. */
  static for(node: MeshNode): AliasService {
    let s = services.get(node);
    if (!s) {
      s = new AliasService(node);
      services.set(node, s);
    }
    return s;
  }

  private constructor(node: MeshNode) {
    this.node = node;
    this.resolver = new Resolver({
      id: node.id,
      publicKeys: () => node.identity.publicKeys(),
      closestKnown: (target, n) => node.closestKnown(target, n),
      keysOf: (id) => node.publicKeysOf(id),
      send: (to, bytes) => this.#send(to, bytes),
      count: (r) => this.count(r),
    });
    node.registerChannel(Channel.DGRAM, (payload, from) => this.#onPayload(payload, from));
    for (const id of node.peers) this.resolver.learn(id);
    node.on('peer', this.#onPeer);
    node.once('close', this.#onClose);
  }

  get closed(): boolean { return this.#closed || this.node.destroyed; }

  /** Hands datagrams for ports other than 0 to `sink` (one per node: the socket multiplexer). */
  attach(sink: DatagramSink): void {
    if (this.#sink && this.#sink !== sink) throw new Error('the DGRAM channel already has a socket multiplexer');
    this.#sink = sink;
  }

  detach(sink: DatagramSink): void {
    if (this.#sink === sink) this.#sink = null;
  }

  count(reason: DropReason): void {
    this.node.countDrop(reason);
    debug('dropped: %s', reason);
  }

  #send(to: Uint8Array, bytes: Uint8Array): boolean {
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
    if (payload.length < HEADER_LENGTH) return this.count('dgram_malformed');
    const dstPort = (payload[0] << 8) | payload[1];
    if (dstPort !== RESOLVER_PORT) {
      const sink = this.#sink;
      if (!sink) return this.count('dgram_unbound_port');
      sink.onDatagram(payload, from, dstPort, (payload[2] << 8) | payload[3]);
      return;
    }
    const msg = decodeResolver(payload);
    if (!msg) return this.count('dgram_malformed');
    if (msg.type === 1) this.resolver.onFind(msg.m, from);
    else if (msg.type === 2) this.resolver.onNodes(msg.m, from);
    else this.resolver.onOwner(msg.m, from);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resolver.destroy();
    this.node.off('peer', this.#onPeer);
    this.node.unregisterChannel(Channel.DGRAM);
    services.delete(this.node);
    this.#sink = null;
  }
}
