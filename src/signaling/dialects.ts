/**
 * Issue 7's dialects on a node's listener, next to the IM dialect: protoo by
 * subprotocol `protoo`, Peer2Peer Connector by URL path (/connector or /p2p,
 * no subprotocol). Both use the node's one signaling core.
 */
import type { ConnectionCap, Listener } from '../transport/listener.js';
import type { FrameGuard } from '../transport/frame-guard.js';
import type { SignalingCore } from './core.js';
import { ConnectorSession, isConnectorPath } from './dialect-connector.js';
import { protooServerOf } from './protoo-server.js';
import { roomsOf } from './rooms.js';

/** Connector route priority: before the IM dialect (100), which takes every other path. */
export const CONNECTOR_ROUTE_PRIORITY = 60;

/** Connector and protoo take frames of at most maxSignalFrameBytes, and share the IM route's caps when given. */
export function attachDialects(listener: Listener, core: SignalingCore, cap?: ConnectionCap, frameGuard?: FrameGuard): void {
  roomsOf(core);
  listener.addRoute({ ...protooServerOf(core).route(), cap, frameGuard });
  listener.addRoute({
    name: 'signaling-connector',
    priority: CONNECTOR_ROUTE_PRIORITY,
    maxPayload: core.limits.maxSignalFrameBytes,
    cap,
    frameGuard,
    match: (req, protocols) => protocols.size === 0 && isConnectorPath(req.url),
    handle: (ws, req) => {
      new ConnectorSession(core, ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
    },
  });
}
