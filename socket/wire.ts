/**
 * The DGRAM channel's payloads (PROTOCOL.md §10). Every payload starts
 * with destination port u16 and source port u16 (big-endian). Port 0 is never
 * a socket's port: destination 0 carries the alias resolver's messages.
 */
import { ID_LENGTH } from '../src/crypto/identity.js';
import { SOCKET_LIMITS } from '../src/util/limits.js';

export const HEADER_LENGTH = 4;
/** Largest datagram, as UDP over IPv4 (65535 - 20 - 8); src/util/limits.ts, group `socket`. */
export const MAX_DATAGRAM = SOCKET_LIMITS.maxDatagram;
export const RESOLVER_PORT = 0;

export const ResolverType = { FIND: 1, NODES: 2 } as const;
/** Most ids in one NODES answer. */
export const MAX_NODES = 8;

export function encodeDatagram(dstPort: number, srcPort: number, parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + total);
  out[0] = dstPort >>> 8; out[1] = dstPort & 255;
  out[2] = srcPort >>> 8; out[3] = srcPort & 255;
  let off = HEADER_LENGTH;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

export interface DatagramHeader { dstPort: number; srcPort: number }

/** Null when the payload is too short to carry a header. */
export function decodeHeader(p: Uint8Array): DatagramHeader | null {
  if (p.length < HEADER_LENGTH) return null;
  return { dstPort: (p[0] << 8) | p[1], srcPort: (p[2] << 8) | p[3] };
}

export interface FindMessage { reqId: number; bits: number; target: Uint8Array }
export interface NodesMessage { reqId: number; ids: Uint8Array[] }

function header(type: number, reqId: number, extra: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(HEADER_LENGTH + 5 + extra);
  const view = new DataView(out.buffer);
  out[HEADER_LENGTH] = type;
  view.setUint32(HEADER_LENGTH + 1, reqId);
  return { out, view };
}

/** FIND: type, reqId u32, bits u8 (1..32), the top 4 bytes of the target (the rest are zero). */
export function encodeFind(m: FindMessage): Uint8Array {
  const { out } = header(ResolverType.FIND, m.reqId, 5);
  out[HEADER_LENGTH + 5] = m.bits;
  out.set(m.target.subarray(0, 4), HEADER_LENGTH + 6);
  return out;
}

/** NODES: type, reqId u32, count u8 (0..8), count ids of 20 bytes. */
export function encodeNodes(reqId: number, ids: readonly Uint8Array[]): Uint8Array {
  const n = Math.min(ids.length, MAX_NODES);
  const { out } = header(ResolverType.NODES, reqId, 1 + n * ID_LENGTH);
  out[HEADER_LENGTH + 5] = n;
  for (let i = 0; i < n; i++) out.set(ids[i], HEADER_LENGTH + 6 + i * ID_LENGTH);
  return out;
}

/** Decodes a resolver message body (after the 4-byte header); null when malformed. */
export function decodeResolver(p: Uint8Array): { type: 1; m: FindMessage } | { type: 2; m: NodesMessage } | null {
  const b = p.subarray(HEADER_LENGTH);
  if (b.length < 6) return null;
  const reqId = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1);
  if (b[0] === ResolverType.FIND) {
    const bits = b[5];
    if (b.length !== 10 || bits < 1 || bits > 32) return null;
    const target = new Uint8Array(ID_LENGTH);
    target.set(b.subarray(6, 10));
    return { type: 1, m: { reqId, bits, target } };
  }
  if (b[0] === ResolverType.NODES) {
    const n = b[5];
    if (n > MAX_NODES || b.length !== 6 + n * ID_LENGTH) return null;
    const ids: Uint8Array[] = [];
    for (let i = 0; i < n; i++) ids.push(b.slice(6 + i * ID_LENGTH, 6 + (i + 1) * ID_LENGTH));
    return { type: 2, m: { reqId, ids } };
  }
  return null;
}
