/**
 * One per MeshNode: the sockets' side of the DGRAM channel. The node's alias
 * service (src/alias/service.ts, run by every node) owns the channel and
 * answers port 0; this demultiplexes the other ports to the sockets bound on
 * the node. The sender's address is the channel's authenticated `from`, never
 * anything the datagram says about itself.
 */
import { equalBytes, toHex } from '../src/util/bytes.js';
import type { RelayError } from '../src/util/errors.js';
import { Channel } from '../src/node/types.js';
import type { MeshNode } from '../src/node/mesh-node.js';
import type { DropReason } from '../src/util/drop-reasons.js';
import { AliasService, type DatagramSink } from '../src/alias/service.js';
import type { Resolver } from '../src/alias/resolver.js';
import { HEADER_LENGTH, encodeDatagram } from './wire.js';

/** How often datagrams waiting for a session are looked at (ms). */
const WAIT_POLL_MS = 20;

/** Called once a datagram left (null) or was dropped before it left (a dgram error code). */
export type Left = (code: string | null) => void;

/** The dgram code for why the node gave up on a message (its 'undeliverable' error). */
function lostCode(err: Error): string {
  const code = (err as RelayError).code;
  return code === 'ERR_QUEUE_FULL' || code === 'ERR_CONGESTED' ? 'ENOBUFS' : code === 'ERR_DESTROYED' ? 'EBADF' : 'EHOSTUNREACH';
}

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

export class Mux implements DatagramSink {
  readonly node: MeshNode;
  readonly resolver: Resolver;
  readonly #service: AliasService;
  readonly #ports = new Map<number, PortOwner>();
  readonly #stats: MuxStats = { received: 0, sent: 0, dropped: {} };
  #closed = false;
  /** The last sender learned, so a stream of datagrams from one node costs one comparison each. */
  #lastFrom: Uint8Array | null = null;
  readonly #onClose = () => this.#close();
  #scratch = new Uint8Array(2048);
  /** The destination of the datagram being handed to the node, while sendOnChannel runs. */
  #sendingTo: Uint8Array | null = null;
  #dropped = false;
  /**
   * Datagrams handed to the node while it had no session with their
   * destination wait in the node's session queue: their completions wait here,
   * oldest first, until the session opens (they left) or the node gives up on
   * them ('undeliverable', one per message). Bounded by the node's session queues.
   */
  readonly #waiting = new Map<string, { to: Uint8Array; left: Left[] }>();
  #waitTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #onUndeliverable = (err: Error, to: Uint8Array) => {
    if (this.#sendingTo && equalBytes(to, this.#sendingTo)) { this.#dropped = true; return; }
    if (this.#waiting.size === 0) return;
    const hex = toHex(to);
    const w = this.#waiting.get(hex);
    if (!w) return;
    const left = w.left.shift()!;
    if (w.left.length === 0) this.#waiting.delete(hex);
    left(lostCode(err));
  };

  /** The node's multiplexer, made (and attached to the node's alias service) on first use. */
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
    this.#service = AliasService.for(node);
    this.resolver = this.#service.resolver;
    this.#service.attach(this);
    node.once('close', this.#onClose);
    node.on('undeliverable', this.#onUndeliverable);
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

  /**
   * Sends one datagram. Throws the node's error (ERR_QUEUE_FULL, ERR_DESTROYED...)
   * if not accepted, and returns false if the node dropped it before it left
   * (reported undeliverable while sendOnChannel ran: a congested link refuses it
   * before sealing, a route refused), true once it was handed on. `left`, if
   * given, is called once it has left: at once when a session with `to` is open,
   * else once the session opens, or with a code if the node gives up on it.
   */
  send(to: Uint8Array, dstPort: number, srcPort: number, parts: readonly Uint8Array[], total: number, left?: Left): boolean {
    // One scratch buffer for every datagram: sendOnChannel copies the payload
    // before it returns (sealed at once, copied into a batch record, or copied
    // into the queue for a session), as MeshNode documents.
    const n = HEADER_LENGTH + total;
    if (this.#scratch.length < n) this.#scratch = new Uint8Array(Math.max(n, 2 * this.#scratch.length));
    const bytes = this.#scratch.subarray(0, n);
    encodeDatagram(bytes, dstPort, srcPort, parts);
    const ready = !left || this.node.hasSession(to) || equalBytes(to, this.node.id);
    this.#sendingTo = to;
    this.#dropped = false;
    try {
      this.node.sendOnChannel(to, Channel.DGRAM, bytes);
    } finally {
      this.#sendingTo = null;
    }
    if (this.#dropped) return false;
    this.#stats.sent++;
    if (left) {
      if (ready) left(null);
      else this.#wait(to, left);
    }
    return true;
  }

  #wait(to: Uint8Array, left: Left): void {
    const hex = toHex(to);
    const w = this.#waiting.get(hex);
    if (w) w.left.push(left);
    else this.#waiting.set(hex, { to: to.slice(), left: [left] });
    this.#armWait();
  }

  #armWait(): void {
    if (this.#waitTimer || this.#closed) return;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = null;
      for (const [hex, w] of this.#waiting) {
        if (!this.node.hasSession(w.to)) continue;
        // The session opened: the node sent what waited for it (failures were reported as they happened).
        this.#waiting.delete(hex);
        for (const left of w.left) left(null);
      }
      if (this.#waiting.size > 0) this.#armWait();
    }, WAIT_POLL_MS);
    this.#waitTimer.unref?.();
  }

  /** From the alias service: a datagram for a port other than 0. */
  onDatagram(payload: Uint8Array, from: Uint8Array, dstPort: number, srcPort: number): void {
    if (srcPort === 0) return this.#count('dgram_malformed');
    const owner = this.#ports.get(dstPort);
    if (!owner) return this.#count('dgram_unbound_port');
    this.#stats.received++;
    if (this.#lastFrom !== from && (!this.#lastFrom || !equalBytes(this.#lastFrom, from))) {
      this.resolver.learn(from);
      this.#lastFrom = from;
    }
    owner.onDatagram(payload.subarray(HEADER_LENGTH), from, srcPort);
  }

  #count(reason: DropReason): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
    this.#service.count(reason);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#service.detach(this);
    this.node.off('undeliverable', this.#onUndeliverable);
    if (this.#waitTimer) clearTimeout(this.#waitTimer);
    this.#waiting.clear(); // the sockets close with the node; what waited is lost with them
    muxes.delete(this.node);
    for (const owner of [...this.#ports.values()]) owner.onNodeClose();
    this.#ports.clear();
  }
}
