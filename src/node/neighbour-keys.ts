/**
 * What a node does with the public keys a new link's HELLO carried (PROTOCOL.md
 * §5.1): the policy only; the keys are held by the session layer
 * (session/peer-keys.ts), and the link handshake checked them against the id.
 *
 * The keys of a node's first targetLinks links are kept. Past that, a link's
 * keys (3,136 bytes) are dropped: most links never carry a session, and one
 * that does fetches them with KEY_REQUEST, checked against the id like any
 * keys received. One encapsulation is made ahead (for a later session
 * handshake) only for the first AHEAD_LINKS links, and only while the process
 * is not busy forming links.
 */
import type { Limits } from '../util/limits.js';

/**
 * Encapsulations are made ahead for a node's first links only: with few links a
 * session is likely to go to a neighbour; at scale that KEM work (one ML-KEM
 * encapsulation per link) would go to links that never carry a session.
 */
export const AHEAD_LINKS = 2;
/**
 * ...and only while the process is not busy forming links (fewer link handshakes in progress
 * than this fraction of busyHandshakes): a mesh being built has no session to its neighbours
 * to speed up, and the KEM work would wait for (and then delay) link handshakes.
 */
export const AHEAD_MAX_LOAD = 1 / 8;

/** What becomes of a new link's keys: dropped, kept, or kept with an encapsulation made ahead. */
export const LinkKeysUse = { DROP: 0, KEEP: 1, AHEAD: 2 } as const;
export type LinkKeysUseCode = (typeof LinkKeysUse)[keyof typeof LinkKeysUse];

/**
 * The use of the keys of a link that just opened, `links` being the node's
 * link count with it and `handshakes` the link handshakes this process has in
 * progress (linkHandshakes.load).
 */
export function linkKeysUse(links: number, handshakes: number, limits: Pick<Limits, 'targetLinks' | 'busyHandshakes'>): LinkKeysUseCode {
  if (links > limits.targetLinks) return LinkKeysUse.DROP;
  return links <= AHEAD_LINKS && handshakes < AHEAD_MAX_LOAD * limits.busyHandshakes ? LinkKeysUse.AHEAD : LinkKeysUse.KEEP;
}
