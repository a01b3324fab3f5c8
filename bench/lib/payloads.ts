/**
 * Benchmark payloads that carry their sequence number, and checks that a
 * received payload is exactly what was sent (not just that something arrived).
 */
export const BYTES_LENGTH = 1024;

const TEMPLATE = Buffer.alloc(BYTES_LENGTH);
for (let i = 0; i < BYTES_LENGTH; i++) TEMPLATE[i] = (i * 131 + 7) & 255;

/** 1 KiB: seq as u32 big-endian, then a fixed pattern. */
export function makeBytes(seq: number): Buffer {
  const b = Buffer.allocUnsafe(BYTES_LENGTH);
  TEMPLATE.copy(b, 4, 4);
  b.writeUInt32BE(seq >>> 0, 0);
  return b;
}

/** The seq of an intact 1 KiB payload, or -1. */
export function checkBytes(data: unknown): number {
  if (!(data instanceof Uint8Array) || data.length !== BYTES_LENGTH) return -1;
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  if (b.compare(TEMPLATE, 4, BYTES_LENGTH, 4, BYTES_LENGTH) !== 0) return -1;
  return b.readUInt32BE(0);
}

export interface JsonPayload { seq: number; type: string; ok: boolean; tags: string[]; at: { x: number; y: number } }

/** A small JSON object (about 80 bytes serialized). */
export function makeJson(seq: number): JsonPayload {
  return { seq, type: 'bench', ok: true, tags: ['relay', 'json'], at: { x: seq % 97, y: 3 } };
}

/** The seq of an intact JSON payload, or -1. */
export function checkJson(data: unknown): number {
  if (!data || typeof data !== 'object') return -1;
  const o = data as JsonPayload;
  if (typeof o.seq !== 'number' || o.type !== 'bench' || o.ok !== true || !Array.isArray(o.tags) || o.tags.length !== 2
    || o.tags[0] !== 'relay' || o.tags[1] !== 'json' || !o.at || o.at.x !== o.seq % 97 || o.at.y !== 3) return -1;
  return o.seq;
}
