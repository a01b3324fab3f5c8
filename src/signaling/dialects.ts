/**
 * Issue 7's dialects on a node's listener, next to the IM dialect: protoo by
 * subprotocol `protoo`, Peer2Peer Connector by URL path (/connector or /p2p,
 * no subprotocol). Both use the node's one signaling core.
 */
import type { Listener } from '../transport/listener.js';
import type { SignalingCore } from './core.js';
import { ConnectorSession, isConnectorPath } from './dialect-connector.js';
import { protooServerOf } from './protoo-server.js';
import { roomsOf } from './rooms.js';

/** Connector route priority: before the IM dialect (100), which takes every other path. */
export const CONNECTOR_ROUTE_PRIORITY = 60;

export function attachDialects(listener: Listener, core: SignalingCore): void {
  roomsOf(core);
  listener.addRoute(protooServerOf(core).route());
  listener.addRoute({
    name: 'signaling-connector',
    priority: CONNECTOR_ROUTE_PRIORITY,
    maxPayload: core.limits.maxFrameBytes,
    match: (req, protocols) => protocols.size === 0 && isConnectorPath(req.url),
    handle: (ws, req) => {
      new ConnectorSession(core, ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
    },
  });
}
