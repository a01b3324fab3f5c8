/**
 * PeerRelay, the public facade (../shared/seeds/peer-relay-api.txt): the
 * mesh core (RelayNode) composed with the applications on top of it, here
 * and nowhere else:
 *   - send(id, data) and 'message' (the JSON and BYTES channels),
 *   - connect(id) over WebSocket or WebRTC (src/connect),
 *   - the signaling server on nodes with a port (src/signaling),
 *   - the alias service, which answers alias lookups on every node (src/alias),
 *   - PeerRelay.Socket, the dgram socket (socket/), whose own node is a PeerRelay.
 */
import type { EventEmitter } from 'events';
import debugFactory from 'debug';
import { copyToBuffer, isBytes, textDecoder, textEncoder, toBuffer, toHex } from './util/bytes.js';
import { relayError } from './util/errors.js';
import { parseId } from './crypto/identity.js';
import { RelayNode } from './node/relay-node.js';
import { Channel, type ChannelHandler, type LinkInfo, type NodeEvents, type NodeOptions, type NodeStats } from './node/types.js';
import { Connector } from './connect/connector.js';
import { attachSignaling, type SignalingCore, type SignalingOptions } from './signaling/server.js';
import { AliasService } from './alias/service.js';
import { Socket as DgramSocket } from '../socket/socket.js';

const debug = debugFactory('relaymesh:node');

export interface PeerRelayOptions extends NodeOptions {
  /** Signaling server options for nodes with a port; `false` turns the server off. */
  signaling?: SignalingOptions | false;
}

export interface PeerRelayEvents extends NodeEvents {
  message: [data: unknown, from: Uint8Array];
}

export { Channel };
export type { ChannelHandler, LinkInfo, NodeStats };

/** PeerRelay.Socket: a dgram socket whose own node, when it makes one, is a PeerRelay. */
export class Socket extends DgramSocket {
  protected static override createPeer(opts: Record<string, unknown>): PeerRelay {
    return new PeerRelay(opts as PeerRelayOptions);
  }
  declare readonly peer: PeerRelay;
}

type On<E> = <K extends keyof E>(event: K, listener: E[K] extends unknown[] ? (...args: E[K]) => void : never) => any;
/** PeerRelay's events add 'message' to the core's (declaration merging retypes the inherited methods). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface PeerRelay {
  on: On<PeerRelayEvents>;
  once: On<PeerRelayEvents>;
  off: On<PeerRelayEvents>;
  addListener: On<PeerRelayEvents>;
  removeListener: On<PeerRelayEvents>;
  prependListener: On<PeerRelayEvents>;
}

export class PeerRelay extends RelayNode {
  /** The dgram-shaped socket (`new PeerRelay.Socket([opts])`). */
  static readonly Socket = Socket;

  /** The signaling server (src/signaling) when started with a port, else null. */
  readonly signaling: SignalingCore | null = null;
  readonly #connector: Connector;

  constructor(opts: PeerRelayOptions = {}) {
    super(opts);
    this.#connector = new Connector(this);
    this.useAutoConnector(this.#connector);
    if (this.listener && opts.signaling !== false) this.signaling = attachSignaling(this, opts.signaling ?? {});
    // Every node answers alias lookups, sockets or not (a bootstrap hub never loads socket/).
    AliasService.for(this);
    this.registerChannel(Channel.JSON, (payload, from) => {
      let data: unknown;
      try {
        data = JSON.parse(textDecoder.decode(payload));
      } catch {
        this.countDrop('bad_json');
        return;
      }
      this.#emitMessage(data, from);
    });
    this.registerChannel(Channel.BYTES, (payload, from) => this.#emitMessage(toBuffer(payload), from));
  }

  /**
   * Sends `data` (JSON-serializable, or bytes) to node `id`, relayed through
   * the mesh if needed. Returns false, like stream.write(), when the sender
   * should wait for 'drain' (the message is accepted all the same).
   */
  send(id: Uint8Array | string, data: unknown): boolean {
    const to = parseId(id, 'id');
    if (isBytes(data)) return this.sendOnChannel(to, Channel.BYTES, data);
    const json = JSON.stringify(data);
    if (json === undefined) throw new TypeError('data must be JSON-serializable or bytes');
    return this.sendOnChannel(to, Channel.JSON, textEncoder.encode(json));
  }

  /**
   * Forms a direct link with `id`. Resolves when linked; rejects with
   * ERR_CONNECT_FAILED or ERR_TIMEOUT. Safe to ignore the promise.
   */
  connect(id: Uint8Array | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const target = parseId(id, 'id');
    const p = this.destroyed ? Promise.reject(relayError('ERR_DESTROYED')) : this.#connector.connect(target, opts.signal);
    p.catch((err) => debug('connect to %s failed: %s', toHex(target), err.message));
    return p;
  }

  /** Closes the direct link with `id`, if any. */
  disconnect(id: Uint8Array | string): void {
    this.disconnectLink(parseId(id, 'id'));
  }

  #emitMessage(data: unknown, from: Uint8Array): void {
    (this as EventEmitter).emit('message', data, copyToBuffer(from));
  }

  protected override onDestroy(): void {
    // Signaling first: its clients' sockets close next, and a closing server announces no departures.
    this.signaling?.close();
    this.#connector.destroy();
  }
}
