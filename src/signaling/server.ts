/**
 * Wires the signaling core into a node's listener: WebSocket upgrades that ask
 * for no subprotocol (what the published MessagingPeer sends) get the IM
 * dialect, on the same port as mesh links. Issue 7's dialects add routes here.
 */
import type { MeshNode } from '../node/mesh-node.js';
import { SignalingCore, type SignalingOptions } from './core.js';
import { ImSession } from './dialect-im.js';
import { attachDialects } from './dialects.js';

/** Upgrade route priority of the IM dialect: after mesh links (0) and any named subprotocol. */
export const IM_ROUTE_PRIORITY = 100;

const cores = new WeakMap<MeshNode, SignalingCore>();

/**
 * Makes `node` a signaling server. Needs `node.listener` (a node started with
 * a port); PeerRelay calls this when it is made unless `opts.signaling === false`.
 * Idempotent: a node that already serves signaling returns its core.
 */
export function attachSignaling(node: MeshNode, opts: SignalingOptions = {}): SignalingCore {
  const known = cores.get(node);
  if (known) return known;
  const listener = node.listener;
  if (!listener) throw new TypeError('node must have a listener (start it with a port)');
  const core = new SignalingCore(node, opts);
  // One connection cap and one unfinished-frame budget (the core's) for every dialect.
  const { connectionCap: cap, frameGuard } = core;
  listener.addRoute({
    name: 'signaling-im',
    priority: IM_ROUTE_PRIORITY,
    maxPayload: core.limits.maxFrameBytes,
    cap,
    frameGuard,
    match: (_req, protocols) => protocols.size === 0,
    handle: (ws, req) => {
      new ImSession(core, ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
    },
  });
  attachDialects(listener, core, cap, frameGuard);
  cores.set(node, core);
  return core;
}

export { SignalingCore };
export type { SignalingOptions };
