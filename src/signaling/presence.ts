/** Capability of a client that reads `peer_disconnected` with `payload.peerIds` (every id of one departure round). */
export const PRESENCE_BATCH = 'relaymesh-presence-v1';
