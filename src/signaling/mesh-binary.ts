/**
 * Binary mesh batches (capability `mesh-bin-v1`, PROTOCOL.md §11 "Binary
 * mesh batches"): the client messages one signaling node sends another in
 * one tick, as bytes on Channel.SIGNALING instead of a text batch, so a
 * binary record (im-binary.ts) crosses the mesh as it came (no base64, no
 * string round trip).
 *
 *   batch: 0x01 | count u16 BE | item * count
 *   item:  kind u8 | toLen u16 BE | fromLen u16 BE | bodyLen u32 BE | to (UTF-8) | from (UTF-8) | body
 *
 * kind 0: body = the client's message object as UTF-8 JSON; kind 1/2: body = a
 * binary record of that kind (≥ 40 bytes). A text mesh message starts with `{`
 * (0x7b), so the first byte tells the two forms apart.
 */
import { textDecoder } from '../util/bytes.js';
import { allocBytes, RECORD_HEAD, KIND_SINGLE, KIND_BATCH, RecordMessage } from './im-binary.js';

/** The capability a node announces (hello, roster, caps) when it reads binary mesh batches. */
export const MESH_BINARY = 'mesh-bin-v1';
/** First byte of a binary mesh batch. */
export const BINARY_BATCH = 0x01;
/** An item whose body is the message object as JSON. */
export const ITEM_JSON = 0;
/** Bytes before an item's ids: kind, toLen, fromLen, bodyLen. */
export const ITEM_HEAD = 9;
/** Bytes before the first item: marker and count. */
export const BATCH_HEAD = 3;
/** Longest client id in either direction (bytes). */
const MAX_ID_BYTES = 512;
/** Smallest record: sid, seq and tag. */
const MIN_RECORD = RECORD_HEAD + 16;

/** One client message as the sender queues it. */
export interface OutItem {
  kind: number;
  to: string;
  from: string;
  /** A record's bytes, or the message's JSON text. */
  body: Uint8Array | string;
  /** UTF-8 bytes of to, from and body. */
  toBytes: number;
  fromBytes: number;
  bodyBytes: number;
}

interface NodeBufferLike { byteLength(s: string, enc: 'utf8'): number }
const NodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;
const encoder = new TextEncoder();

/** UTF-8 length of `s` (ASCII counted in a loop: client ids are short). */
export function utf8Length(s: string): number {
  if (s.length > 64 && NodeBuffer) return NodeBuffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return NodeBuffer ? NodeBuffer.byteLength(s, 'utf8') : encoder.encode(s).length;
  return s.length;
}

/** The item's bytes in a batch. */
export function itemSize(it: OutItem): number { return ITEM_HEAD + it.toBytes + it.fromBytes + it.bodyBytes; }

function writeString(out: Uint8Array, off: number, s: string, bytes: number): void {
  if (bytes === s.length) {
    for (let i = 0; i < bytes; i++) out[off + i] = s.charCodeAt(i);
    return;
  }
  encoder.encodeInto(s, out.subarray(off, off + bytes));
}

/**
 * Writes the batch of `items` (`size` = BATCH_HEAD + their itemSize()s) into `scratch` when it is large
 * enough, else into a new buffer; returns the bytes written (a view).
 */
export function encodeBatch(items: OutItem[], size: number, scratch: Uint8Array | null): Uint8Array {
  const out = scratch && scratch.length >= size ? scratch.subarray(0, size) : allocBytes(size);
  out[0] = BINARY_BATCH;
  out[1] = items.length >>> 8;
  out[2] = items.length & 0xff;
  let o = BATCH_HEAD;
  for (const it of items) {
    out[o] = it.kind;
    out[o + 1] = it.toBytes >>> 8;
    out[o + 2] = it.toBytes & 0xff;
    out[o + 3] = it.fromBytes >>> 8;
    out[o + 4] = it.fromBytes & 0xff;
    out[o + 5] = it.bodyBytes >>> 24;
    out[o + 6] = (it.bodyBytes >>> 16) & 0xff;
    out[o + 7] = (it.bodyBytes >>> 8) & 0xff;
    out[o + 8] = it.bodyBytes & 0xff;
    o += ITEM_HEAD;
    writeString(out, o, it.to, it.toBytes);
    o += it.toBytes;
    writeString(out, o, it.from, it.fromBytes);
    o += it.fromBytes;
    if (typeof it.body === 'string') writeString(out, o, it.body, it.bodyBytes);
    else out.set(it.body, o);
    o += it.bodyBytes;
  }
  return out;
}

/** One received item: its ids, and where its body is in the batch. */
export interface InItem { kind: number; to: string; from: string; bodyAt: number; bodyEnd: number; room: number }

/** Why a binary batch was refused. */
export type BatchFault = 'malformed' | 'oversized';

/**
 * Reads a binary batch: the lengths are all checked (cheap, no decoding) before any id is decoded; a batch
 * is taken whole or refused whole. `oversized`: more than `maxItems` items, or more than `maxBytes` bytes
 * in more than one item (a sender sends a longer message alone).
 */
export function parseBatch(b: Uint8Array, maxItems: number, maxBytes: number): InItem[] | BatchFault {
  if (b.length < BATCH_HEAD + ITEM_HEAD || b[0] !== BINARY_BATCH) return 'malformed';
  const count = (b[1] << 8) | b[2];
  if (count === 0) return 'malformed';
  if (count > maxItems || (count > 1 && b.length > maxBytes)) return 'oversized';
  if (b.length < BATCH_HEAD + count * (ITEM_HEAD + 2)) return 'malformed';
  const at = new Array<number>(count);
  let o = BATCH_HEAD;
  for (let i = 0; i < count; i++) {
    if (o + ITEM_HEAD > b.length) return 'malformed';
    const kind = b[o];
    const toLen = (b[o + 1] << 8) | b[o + 2];
    const fromLen = (b[o + 3] << 8) | b[o + 4];
    const bodyLen = b[o + 5] * 0x1000000 + ((b[o + 6] << 16) | (b[o + 7] << 8) | b[o + 8]);
    if (kind !== ITEM_JSON && kind !== KIND_SINGLE && kind !== KIND_BATCH) return 'malformed';
    if (toLen === 0 || toLen > MAX_ID_BYTES || fromLen === 0 || fromLen > MAX_ID_BYTES) return 'malformed';
    if (kind === ITEM_JSON ? bodyLen === 0 : bodyLen < MIN_RECORD) return 'malformed';
    at[i] = o;
    o += ITEM_HEAD + toLen + fromLen + bodyLen;
    if (o > b.length) return 'malformed';
  }
  if (o !== b.length) return 'malformed';
  const out: InItem[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = at[i];
    const toLen = (b[s + 1] << 8) | b[s + 2];
    const fromLen = (b[s + 3] << 8) | b[s + 4];
    const bodyLen = b[s + 5] * 0x1000000 + ((b[s + 6] << 16) | (b[s + 7] << 8) | b[s + 8]);
    const toAt = s + ITEM_HEAD;
    const fromAt = toAt + toLen;
    const bodyAt = fromAt + fromLen;
    let to: string;
    let from: string;
    try {
      to = textDecoder.decode(b.subarray(toAt, fromAt));
      from = textDecoder.decode(b.subarray(fromAt, bodyAt));
    } catch {
      return 'malformed';
    }
    // The item's header bytes in front of its body are free once read: a record's delivered frame header goes there.
    out[i] = { kind: b[s], to, from, bodyAt, bodyEnd: bodyAt + bodyLen, room: bodyAt - s };
  }
  return out;
}

/**
 * A received item's message: a record (RecordMessage, whose delivered frame header goes into the item's own
 * header bytes), or the parsed JSON and its text; null for JSON that does not parse.
 */
export function itemMessage(b: Uint8Array, it: InItem): { m: unknown; mj?: string } | null {
  const body = b.subarray(it.bodyAt, it.bodyEnd);
  if (it.kind !== ITEM_JSON) return { m: new RecordMessage(it.kind, body, it.room) };
  try {
    const mj = textDecoder.decode(body);
    return { m: JSON.parse(mj), mj };
  } catch {
    return null;
  }
}
