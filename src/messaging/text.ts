/**
 * UTF-8 encoding of message bodies: Node's Buffer codec when present (~40%
 * faster than TextEncoder on large messages), else TextEncoder.
 */
import { textEncoder } from '../util/bytes.js';

const NodeBuffer = (globalThis as { Buffer?: { from(s: string, enc: 'utf8'): Uint8Array } }).Buffer;

export function encodeText(s: string): Uint8Array {
  return NodeBuffer ? NodeBuffer.from(s, 'utf8') : textEncoder.encode(s);
}
