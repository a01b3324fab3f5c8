/**
 * MeshNode: everything the layers above the core (signaling, the dgram
 * socket, connect()/WebRTC) may use of a node, and nothing else. RelayNode
 * (relay-node.ts) implements it; PeerRelay (the facade) extends RelayNode.
 */
import type { Identity } from '../crypto/identity.js';
import type { Connection } from '../transport/connection.js';
import type { Listener } from '../transport/listener.js';
import type { NodeInfo } from '../wire/frames.js';
import type { Limits } from '../util/limits.js';
import type { DropReason } from '../util/drop-reasons.js';
import type { NodeEvents, NodeStats, ChannelHandler, IceServer } from './types.js';

/** True for a MeshNode (structurally: what the applications call). */
export function isMeshNode(x: unknown): x is MeshNode {
  const n = x as MeshNode | null;
  return typeof n === 'object' && n !== null && n.id instanceof Uint8Array && typeof n.sendOnChannel === 'function'
    && typeof n.registerChannel === 'function' && typeof n.countDrop === 'function';
}

/** Direct links, for the layers that form them (connect(), WebRTC). */
export interface LinkControl {
  /** True while an open link to `id` exists. */
  has(id: Uint8Array): boolean;
  /** Dials a ws://, wss:// (or mem://) URL; resolves once the link is open, expecting `expectedId` if given. */
  dial(url: string, expectedId?: Uint8Array): Promise<void>;
  /** Runs the link handshake over a connection another transport made; resolves once the link is open. */
  adopt(connection: Connection, initiator: boolean, expectedId?: Uint8Array): Promise<void>;
  /** What discovery knows of how to reach `id`. */
  contact(id: Uint8Array): NodeInfo | undefined;
}

/** Forms links without a URL (WebRTC through the mesh); discovery uses it when set. */
export interface AutoConnector {
  canAuto(): boolean;
  connect(id: Uint8Array): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

export interface MeshNode {
  /** The 160-bit id (a Buffer in Node). */
  readonly id: Uint8Array;
  readonly identity: Identity;
  readonly limits: Readonly<Limits>;
  /** Ids of directly linked nodes. */
  readonly peers: Uint8Array[];
  /** The URL this node advertises, or ''. */
  readonly url: string;
  readonly destroyed: boolean;
  /** The WebRTC implementation this node was given, or null. */
  readonly wrtc: unknown;
  readonly iceServers: IceServer[] | undefined;
  /** The HTTP/WebSocket listener of a node started with a port, else null. */
  readonly listener: Listener | null;
  readonly links: LinkControl;

  /** Receives a channel's plaintexts (one handler per channel). */
  registerChannel(channel: number, handler: ChannelHandler): void;
  unregisterChannel(channel: number): void;
  /**
   * Seals `payload` end to end and routes it to node `id` on `channel`. False
   * (like stream.write) when this node's buffer toward `id` is over
   * sendHighWaterMark or a relay asked it to wait: 'drain' follows.
   * `payload` is sealed or copied before this returns: the caller may reuse its buffer at once.
   */
  sendOnChannel(id: Uint8Array, channel: number, payload: Uint8Array): boolean;
  /** This node's own messages not yet sent: queued for sessions and in link queues (bytes, count). */
  sendQueue(): { bytes: number; count: number };
  /** True while an end-to-end session with `id` is open (a message to it is sealed and sent at once). */
  hasSession(id: Uint8Array): boolean;
  /** The `n` ids this node knows closest to `target`, nearest first: its links, then discovery's contacts. */
  closestKnown(target: Uint8Array, n: number): Uint8Array[];
  /** The public keys (dsa || kem) of `id` when this node holds them checked against the id (itself, links, session peers). */
  publicKeysOf(id: Uint8Array): Uint8Array | undefined;
  /** Counts an input dropped by an application layer (stats().dropped). */
  countDrop(reason: DropReason): void;
  stats(): NodeStats;

  /** Frees everything; `cb` runs once all sockets and timers are closed. */
  destroy(cb?: (err?: Error | null) => void): void;

  /** The core's events (NodeEvents). */
  on(event: keyof NodeEvents, listener: AnyListener): this;
  once(event: keyof NodeEvents, listener: AnyListener): this;
  off(event: keyof NodeEvents, listener: AnyListener): this;
}
