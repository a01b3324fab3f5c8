/**
 * Attaches the signaling server (src/signaling, MessagingPeer's server) to the
 * bootstrap node's port when that module is present in this build, and gives
 * the bootstrap node what it needs from it: counts for /metrics and a close
 * that tells clients the node is going away. Without the module the node
 * runs as a plain mesh node and reports zero signaling clients.
 */
import type { PeerRelay } from '../src/node/peer-relay.js';
import type { Logger } from './logger.js';
import type { SignalingStats } from './metrics.js';

export interface SignalingHandle {
  stats(): SignalingStats;
  close(): Promise<void>;
}

/** The shape this adapter expects of src/signaling/index.ts (duck-typed: it lands separately). */
interface SignalingModule {
  attachSignaling?: (node: PeerRelay, opts?: Record<string, unknown>) => unknown;
}

interface ServerLike {
  stats?: () => Partial<SignalingStats> & { clients?: number; rooms?: number };
  clientCount?: number;
  roomCount?: number;
  close?: (cb?: () => void) => unknown;
}

export async function attachSignaling(node: PeerRelay, log: Logger): Promise<SignalingHandle | null> {
  let mod: SignalingModule;
  try {
    const path = '../src/signaling/index.js';
    mod = (await import(path)) as SignalingModule;
  } catch {
    log.debug('signaling module not in this build; serving mesh links only');
    return null;
  }
  if (typeof mod.attachSignaling !== 'function') {
    log.warn('signaling module has no attachSignaling(); signaling off');
    return null;
  }
  const server = (await mod.attachSignaling(node)) as ServerLike;
  log.info('signaling on');
  return {
    stats() {
      const s = server.stats?.() ?? {};
      return { clients: Number(s.clients ?? server.clientCount ?? 0), rooms: Number(s.rooms ?? server.roomCount ?? 0) };
    },
    async close() {
      const r = server.close?.();
      if (r && typeof (r as Promise<void>).then === 'function') await r;
    },
  };
}
