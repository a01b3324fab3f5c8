/**
 * What the bootstrap node needs from the signaling server that PeerRelay
 * attaches to every node with a port (src/signaling): counts for /metrics and
 * the status page, and a goodbye: on shutdown every signaling client's
 * WebSocket gets a close frame (1001 "going away") before the port closes, so
 * clients reconnect elsewhere at once instead of waiting for a timeout.
 */
import type { PeerRelay } from '../src/peer-relay.js';
import { MESH_SUBPROTOCOL } from '../src/wire/frames.js';
import type { SignalingStats } from './metrics.js';

export const GOING_AWAY = 1001;
/** Longest wait for clients to acknowledge the close before the port is shut anyway. */
export const GOODBYE_TIMEOUT_MS = 2000;

export function signalingStats(node: PeerRelay): SignalingStats {
  const s = node.signaling?.stats();
  return { clients: s?.clients ?? 0, rooms: s?.rooms ?? 0 };
}

/** Closes every non-mesh WebSocket on the node's port with 1001; resolves when they are closed (or after a timeout). */
export async function sayGoodbye(node: PeerRelay, timeoutMs = GOODBYE_TIMEOUT_MS): Promise<number> {
  const listener = node.listener;
  if (!listener) return 0;
  const closing: Promise<void>[] = [];
  for (const ws of listener.clients()) {
    if (ws.protocol === MESH_SUBPROTOCOL || ws.readyState !== ws.OPEN) continue;
    closing.push(new Promise<void>((resolve) => ws.once('close', () => resolve())));
    ws.close(GOING_AWAY, 'node shutting down');
  }
  if (closing.length === 0) return 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.all(closing), new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
  clearTimeout(timer);
  return closing.length;
}
