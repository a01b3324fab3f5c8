/**
 * Where an id falls in another's k-buckets, beyond the bucket index the
 * routing table gives: the slot within its bucket (the id bits right after
 * the bucket's own bit), and random ids inside a bucket's range for lookups.
 * Pure functions (PROTOCOL.md §4.3).
 */
import { randomBytes } from '../util/bytes.js';
import { ID_LENGTH } from '../crypto/identity.js';

/** Most id bits after a bucket's own bit that tell its slots apart (2: quarters). */
const MAX_SLOT_BITS = 2;

/**
 * Slot bits for `linksPerBucket` links: enough for each link of a bucket to
 * sit in its own slot (1 bit, halves, for 2; 2 bits, quarters, for 3 or 4).
 */
export function slotBits(linksPerBucket: number): number {
  return Math.min(MAX_SLOT_BITS, Math.ceil(Math.log2(Math.max(1, linksPerBucket))));
}

/**
 * The slot of `id` in its k-bucket `bucket` under `local`: the `bits` id bits
 * after the bucket's own bit, XOR the local id's (0 past the id's end). Links
 * in different slots of a bucket differ in the first bits a message to a
 * target there still has to gain, so together they gain more bits per hop
 * than links crowded into one slot.
 */
export function slotOf(local: Uint8Array, id: Uint8Array, bucket: number, bits: number): number {
  let slot = 0;
  for (let j = 1; j <= bits; j++) {
    const i = bucket + j;
    const byte = i >> 3;
    const b = byte < id.length ? ((id[byte] ^ local[byte]) >> (7 - (i & 7))) & 1 : 0;
    slot = (slot << 1) | b;
  }
  return slot;
}

/** A random id sharing exactly `prefix` leading bits with `local` (k-bucket `prefix`). */
export function randomIdInBucket(local: Uint8Array, prefix: number): Uint8Array {
  const id = randomBytes(ID_LENGTH);
  const byte = prefix >> 3;
  const bit = 7 - (prefix & 7);
  for (let i = 0; i < byte; i++) id[i] = local[i];
  const keep = (0xff << (bit + 1)) & 0xff;
  id[byte] = (local[byte] & keep) | ((~local[byte]) & (1 << bit)) | (id[byte] & ((1 << bit) - 1));
  return id;
}
