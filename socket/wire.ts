/**
 * The DGRAM channel's datagrams (PROTOCOL.md §10): destination port u16,
 * source port u16 (big-endian), then the datagram's bytes. The header and the
 * resolver's messages on port 0 are the alias service's (src/alias/wire.ts).
 */
import { SOCKET_LIMITS } from '../src/util/limits.js';
import { HEADER_LENGTH } from '../src/alias/wire.js';

export { HEADER_LENGTH };
/** Largest datagram, as UDP over IPv4 (65535 - 20 - 8); src/util/limits.ts, group `socket`. */
export const MAX_DATAGRAM = SOCKET_LIMITS.maxDatagram;

/** Writes the header and `parts` into `out` (exactly 4 + their total length). */
export function encodeDatagram(out: Uint8Array, dstPort: number, srcPort: number, parts: readonly Uint8Array[]): Uint8Array {
  out[0] = dstPort >>> 8; out[1] = dstPort & 255;
  out[2] = srcPort >>> 8; out[3] = srcPort & 255;
  let off = HEADER_LENGTH;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
