/**
 * relaymesh/socket: a drop-in for node:dgram over the mesh.
 *   import { createSocket } from 'relaymesh/socket';
 *   const socket = createSocket({ type: 'udp4', peer: node });
 * `Socket` here is PeerRelay.Socket (the seed's `new PeerRelay.Socket([opts])`).
 */
import { Socket } from '../src/peer-relay.js';
import type { RemoteInfo } from './socket.js';
import type { SocketOptions, SocketType } from './options.js';

/** The dgram socket: the same class as PeerRelay.Socket (its own node, if it makes one, is a PeerRelay). */
export { Socket };
export type { RemoteInfo, AddressInfo, SocketEvents, SendMessage } from './socket.js';
export type { SendCallback } from './send-args.js';
export type { SocketOptions, SocketType } from './options.js';
export type { AddressMode } from './addressing.js';
export { aliasOf, parsePrefix, DEFAULT_ALIAS_PREFIX } from '../src/alias/alias.js';
export { MAX_DATAGRAM } from './wire.js';

/** Like dgram.createSocket(type | options[, listener]). */
export function createSocket(typeOrOptions: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket {
  return new Socket(typeOrOptions, listener);
}
