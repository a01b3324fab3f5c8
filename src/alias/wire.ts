/**
 * The DGRAM channel's framing (PROTOCOL.md §10) as far as the alias service
 * needs it: every payload starts with destination port u16 and source port
 * u16 (big-endian); destination port 0 carries the alias resolver's messages
 * (FIND, NODES, OWNER). The datagrams themselves are socket/'s.
 */
import { ID_LENGTH, PUBLIC_KEYS_LENGTH } from '../crypto/identity.js';

export const HEADER_LENGTH = 4;
export const RESOLVER_PORT = 0;

export const ResolverType = { FIND: 1, NODES: 2, OWNER: 3 } as const;
/** FIND flag: the asker takes an OWNER answer (resolver version 2). */
export const FIND_WANTS_OWNER = 1;
/** Most ids in one NODES answer. */
export const MAX_NODES = 8;

export interface FindMessage {
  reqId: number;
  bits: number;
  target: Uint8Array;
  /** Version 2 FIND (11 bytes): an OWNER answer is welcome. */
  wantsOwner: boolean;
}
export interface NodesMessage { reqId: number; ids: Uint8Array[] }
/** The alias owner's public keys (dsa || kem): the asker derives the id from them. */
export interface OwnerMessage { reqId: number; keys: Uint8Array }

function header(type: number, reqId: number, extra: number): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + 5 + extra);
  out[HEADER_LENGTH] = type;
  new DataView(out.buffer).setUint32(HEADER_LENGTH + 1, reqId);
  return out;
}

/**
 * FIND: type, reqId u32, bits u8 (1..32), the top 4 bytes of the target (the
 * rest are zero), and in version 2 a flags byte (FIND_WANTS_OWNER).
 */
export function encodeFind(m: FindMessage): Uint8Array {
  const out = header(ResolverType.FIND, m.reqId, m.wantsOwner ? 6 : 5);
  out[HEADER_LENGTH + 5] = m.bits;
  out.set(m.target.subarray(0, 4), HEADER_LENGTH + 6);
  if (m.wantsOwner) out[HEADER_LENGTH + 10] = FIND_WANTS_OWNER;
  return out;
}

/** NODES: type, reqId u32, count u8 (0..8), count ids of 20 bytes. */
export function encodeNodes(reqId: number, ids: readonly Uint8Array[]): Uint8Array {
  const n = Math.min(ids.length, MAX_NODES);
  const out = header(ResolverType.NODES, reqId, 1 + n * ID_LENGTH);
  out[HEADER_LENGTH + 5] = n;
  for (let i = 0; i < n; i++) out.set(ids[i], HEADER_LENGTH + 6 + i * ID_LENGTH);
  return out;
}

/** OWNER: type, reqId u32, the owner's public keys (dsa || kem, 3136 bytes). */
export function encodeOwner(reqId: number, keys: Uint8Array): Uint8Array {
  const out = header(ResolverType.OWNER, reqId, PUBLIC_KEYS_LENGTH);
  out.set(keys, HEADER_LENGTH + 5);
  return out;
}

export type ResolverMessage =
  | { type: 1; m: FindMessage }
  | { type: 2; m: NodesMessage }
  | { type: 3; m: OwnerMessage };

/** Decodes a resolver message (the 4-byte header included); null when malformed. */
export function decodeResolver(p: Uint8Array): ResolverMessage | null {
  const b = p.subarray(HEADER_LENGTH);
  if (b.length < 6) return null;
  const reqId = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1);
  if (b[0] === ResolverType.FIND) {
    const bits = b[5];
    if ((b.length !== 10 && b.length !== 11) || bits < 1 || bits > 32) return null;
    const target = new Uint8Array(ID_LENGTH);
    target.set(b.subarray(6, 10));
    // Reserved flag bits are ignored (PROTOCOL.md §8).
    return { type: 1, m: { reqId, bits, target, wantsOwner: b.length === 11 && (b[10] & FIND_WANTS_OWNER) !== 0 } };
  }
  if (b[0] === ResolverType.NODES) {
    const n = b[5];
    if (n > MAX_NODES || b.length !== 6 + n * ID_LENGTH) return null;
    const ids: Uint8Array[] = [];
    for (let i = 0; i < n; i++) ids.push(b.slice(6 + i * ID_LENGTH, 6 + (i + 1) * ID_LENGTH));
    return { type: 2, m: { reqId, ids } };
  }
  if (b[0] === ResolverType.OWNER) {
    if (b.length !== 5 + PUBLIC_KEYS_LENGTH) return null;
    return { type: 3, m: { reqId, keys: b.slice(5) } };
  }
  return null;
}
