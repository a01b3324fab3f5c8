/**
 * Signed room anchors (PROTOCOL.md §12 "Replicas and takeover"): who homes a
 * room, who created it, and which two nodes hold its replicas. The home signs
 * the anchor with its ML-DSA-65 node key (FIPS 204) when the room is made and
 * whenever its replicas change; a replica that takes the room over signs a new
 * anchor that carries the previous one (which names it as a replica), so any
 * node can check the chain back to the node the room was made on. Membership
 * is not in the anchor (it changes too often to sign); it travels to the
 * replicas over the authenticated mesh session. Pure: no I/O, no timers.
 */
import { fromBase64, textEncoder, toBase64 } from '../util/bytes.js';
import { PublicIdentity, type Identity } from '../crypto/identity.js';
import { sha256 } from '../crypto/hash.js';

export const ROOM_ANCHOR_LABEL = 'relaymesh/room-anchor/v1';
/** Replicas a home keeps of each room, besides itself. */
export const ROOM_REPLICAS = 2;

export interface RoomAnchor {
  v: 1;
  room: string;
  /** The node that homes the room under this anchor (hex id) and its public keys (base64, must hash to it). */
  home: string;
  keys: string;
  /** The node the room was created on, and when (ms); the same along the whole chain. */
  origin: string;
  created: number;
  creator: string;
  /** Counts up with every anchor of the room (a new one after a takeover is newer than the one it replaces). */
  seq: number;
  replicas: string[];
  /** The anchor of the home this one took the room over from (absent at the origin). */
  prev?: RoomAnchor;
  sig: string;
}

type Body = Omit<RoomAnchor, 'keys' | 'sig' | 'prev'>;

function message(a: Body, prev: RoomAnchor | undefined): Uint8Array {
  const prevDigest = prev ? toBase64(sha256(textEncoder.encode(prev.sig))) : '';
  return textEncoder.encode(`${ROOM_ANCHOR_LABEL}\n${JSON.stringify([a.v, a.room, a.home, a.origin, a.created, a.creator, a.seq, a.replicas, prevDigest])}`);
}

export function signAnchor(identity: Identity, body: Omit<Body, 'v' | 'home'>, prev?: RoomAnchor): RoomAnchor {
  const b: Body = { v: 1, home: identity.idHex, ...body };
  const out: RoomAnchor = { ...b, keys: toBase64(identity.publicKeys()), sig: toBase64(identity.sign(message(b, prev))) };
  if (prev) out.prev = prev;
  return out;
}

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * Checks an anchor and its chain: shape, key-to-id binding and signature of
 * every link; each link after the origin was named as a replica by the one
 * before it and keeps the room, origin, creation time and creator. Null if
 * anything is wrong (or the chain is longer than maxMoves). Never throws.
 */
export function verifyAnchor(x: unknown, maxMoves: number, maxRoomIdLength: number): RoomAnchor | null {
  let a = x as RoomAnchor | null;
  const chain: RoomAnchor[] = [];
  while (a) {
    if (chain.length > maxMoves || typeof a !== 'object' || a.v !== 1) return null;
    chain.push(a);
    a = a.prev ?? null;
  }
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i];
    if (typeof c.room !== 'string' || c.room.length === 0 || c.room.length > maxRoomIdLength) return null;
    if (typeof c.home !== 'string' || !HEX40.test(c.home) || typeof c.origin !== 'string' || !HEX40.test(c.origin)) return null;
    if (!Number.isSafeInteger(c.created) || !Number.isSafeInteger(c.seq) || c.seq < 0 || typeof c.creator !== 'string' || c.creator.length > 128) return null;
    if (!Array.isArray(c.replicas) || c.replicas.length > ROOM_REPLICAS || !c.replicas.every((r) => typeof r === 'string' && HEX40.test(r))) return null;
    if (typeof c.keys !== 'string' || typeof c.sig !== 'string') return null;
    const prev = chain[i + 1];
    if (!prev) {
      if (c.home !== c.origin) return null;
    } else if (prev.room !== c.room || prev.origin !== c.origin || prev.created !== c.created || prev.creator !== c.creator
      || !(c.seq > prev.seq) || !prev.replicas.includes(c.home)) return null;
  }
  // Signatures last: the costly part.
  for (const c of chain) {
    try {
      const pub = PublicIdentity.fromKeys(fromBase64(c.keys));
      if (!pub || pub.idHex !== c.home || !pub.verify(fromBase64(c.sig), message(c, c.prev))) return null;
    } catch {
      return null;
    }
  }
  return x as RoomAnchor;
}

/** The 160-bit key of a room id: the first 20 bytes of SHA-256 of its UTF-8. */
export function roomKey(room: string): Uint8Array { return sha256(textEncoder.encode(room)).subarray(0, 20); }

/** The `n` node ids (hex) closest to `room` by XOR distance. */
export function closestTo(room: string, nodes: string[], n = ROOM_REPLICAS): string[] {
  const key = roomKey(room);
  const dist = (hex: string) => {
    let out = '';
    for (let i = 0; i < 20; i++) out += (parseInt(hex.slice(i * 2, i * 2 + 2), 16) ^ key[i]).toString(16).padStart(2, '0');
    return out;
  };
  return nodes.filter((h) => HEX40.test(h)).map((h) => [dist(h), h] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, n).map((p) => p[1]);
}
