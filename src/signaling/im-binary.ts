/**
 * The IM dialect's binary message frames (capability `relaymesh-bin-v1`,
 * PROTOCOL.md §11 "Binary message frames"): a `relaymesh-im-v1` message of a
 * session already started travels as its bytes instead of base64 inside JSON,
 * and several messages to one recipient from one turn as one sealed record.
 * The node reads the small header only and hands the record on as it came.
 *
 *   client -> node: kind u8 | idLen u8 | id (ASCII) | toLen u16 BE | to (UTF-8) | record
 *   node -> client: kind u8 | fromLen u16 BE | from (UTF-8) | record
 *   record:         sid (16) | seq (u64 BE) | AES-256-GCM ciphertext || tag (16)
 *
 * kind 1 (`single`): the plaintext is the message's UTF-8 text, sealed as the
 * JSON envelope's (so a node can render it as that envelope for a client
 * without the capability); kind 2 (`batch`): the plaintext is
 * `(u32 BE length | UTF-8 text)*`, sealed with nonce prefix 1.
 */
import { fromBase64 as portableFromBase64, textDecoder, textEncoder, toBase64 as portableBase64 } from '../util/bytes.js';

interface BufferLike { from(a: ArrayBufferLike, o: number, l: number): { toString(enc: 'base64'): string } }
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;
/** Base64 with Node's native codec where there is one. */
function toBase64(b: Uint8Array): string {
  return NodeBuffer ? NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64') : portableBase64(b);
}

const AllocBuffer = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer;
/** Bytes every one of which the caller writes (no zero fill in Node). */
export const allocBytes: (n: number) => Uint8Array = AllocBuffer ? (n) => AllocBuffer.allocUnsafe(n) : (n) => new Uint8Array(n);

/** Registration capability: the client sends and reads binary message frames. */
export const BINARY_FRAMES = 'relaymesh-bin-v1';
export const KIND_SINGLE = 1;
export const KIND_BATCH = 2;
export const SID_BYTES = 16;
/** sid + seq: the record's header. */
export const RECORD_HEAD = 24;
const TAG = 16;
const MAX_ID = 64;
const MAX_PEER_ID_BYTES = 512;

export interface InboundRecordFrame { kind: number; id: string; to: string; record: Uint8Array }
export interface DeliveredRecordFrame { kind: number; from: string; record: Uint8Array }

/** Reads a client's binary frame; null for anything malformed (unknown kind, bad lengths, a record too short). */
export function parseClientFrame(b: Uint8Array): InboundRecordFrame | null {
  if (b.length < 4) return null;
  const kind = b[0];
  if (kind !== KIND_SINGLE && kind !== KIND_BATCH) return null;
  const idLen = b[1];
  if (idLen > MAX_ID || b.length < 4 + idLen) return null;
  let id = '';
  for (let i = 2; i < 2 + idLen; i++) {
    const c = b[i];
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return null; // printable ASCII, no quote or backslash
    id += String.fromCharCode(c);
  }
  let off = 2 + idLen;
  const toLen = (b[off] << 8) | b[off + 1];
  off += 2;
  if (toLen === 0 || toLen > MAX_PEER_ID_BYTES || b.length < off + toLen + RECORD_HEAD + TAG) return null;
  let to: string;
  try { to = textDecoder.decode(b.subarray(off, off + toLen)); } catch { return null; }
  off += toLen;
  return { kind, id, to, record: b.subarray(off) };
}

/** A client's binary frame around `recordLength` bytes of record, written at the returned offset by the caller. */
export function clientFrame(kind: number, id: string, to: string, recordLength: number): { frame: Uint8Array; offset: number } {
  const toBytes = textEncoder.encode(to);
  const off = 4 + id.length + toBytes.length;
  const frame = allocBytes(off + recordLength);
  frame[0] = kind;
  frame[1] = id.length;
  for (let i = 0; i < id.length; i++) frame[2 + i] = id.charCodeAt(i);
  frame[2 + id.length] = toBytes.length >> 8;
  frame[3 + id.length] = toBytes.length & 0xff;
  frame.set(toBytes, 4 + id.length);
  return { frame, offset: off };
}

/** The frame a node writes to recipient client: the record as it came, behind the sender's id. */
export function deliveredFrame(kind: number, from: string, record: Uint8Array): Uint8Array {
  const fromBytes = textEncoder.encode(from);
  const out = allocBytes(3 + fromBytes.length + record.length);
  out[0] = kind;
  out[1] = fromBytes.length >> 8;
  out[2] = fromBytes.length & 0xff;
  out.set(fromBytes, 3);
  out.set(record, 3 + fromBytes.length);
  return out;
}

/** Reads a node's binary frame (what a client receives); null for anything malformed. */
export function parseDeliveredFrame(b: Uint8Array): DeliveredRecordFrame | null {
  if (b.length < 3) return null;
  const kind = b[0];
  if (kind !== KIND_SINGLE && kind !== KIND_BATCH) return null;
  const fromLen = (b[1] << 8) | b[2];
  if (fromLen === 0 || b.length < 3 + fromLen + RECORD_HEAD + TAG) return null;
  let from: string;
  try { from = textDecoder.decode(b.subarray(3, 3 + fromLen)); } catch { return null; }
  return { kind, from, record: b.subarray(3 + fromLen) };
}

/** The record's seq (u64 BE at offset 16; at most 2^53 - 1 is read exactly, the sender stops at 2^32). */
export function recordSeq(record: Uint8Array): number {
  let hi = 0;
  for (let i = 16; i < 20; i++) hi = hi * 256 + record[i];
  let lo = 0;
  for (let i = 20; i < 24; i++) lo = lo * 256 + record[i];
  return hi * 2 ** 32 + lo;
}

/**
 * A single record as the `relaymesh-im-v1` JSON envelope (for a recipient without the capability): the
 * same sid, seq and sealed bytes, base64 (sid + seq are 24 bytes, so base64 of the record from char 32 on
 * is that of the sealed bytes).
 */
export function recordEnvelopeJson(record: Uint8Array): string {
  const sid = toBase64(record.subarray(0, SID_BYTES));
  return `{"algorithm":"relaymesh-im-v1","sid":"${sid}","seq":${recordSeq(record)},"serializedEncryptedData":"${toBase64(record.subarray(RECORD_HEAD))}"}`;
}

/** The messages of a batch record's plaintext; null if its lengths do not add up. */
export function splitBatch(pt: Uint8Array): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < pt.length) {
    if (off + 4 > pt.length) return null;
    const len = ((pt[off] << 24) >>> 0) + (pt[off + 1] << 16) + (pt[off + 2] << 8) + pt[off + 3];
    off += 4;
    if (off + len > pt.length) return null;
    out.push(pt.subarray(off, off + len));
    off += len;
  }
  return out.length > 0 ? out : null;
}


/**
 * A binary message record on its way through the nodes (the `message` of a relayed client message): a
 * dialect that reads binary frames writes it as it came, another renders a single record as the JSON
 * envelope. As JSON (a mesh `nf` that sends it back) it is `{"$rec": kind, "r": base64}` (revive()).
 */
export class RecordMessage {
  /**
   * `room`: bytes just before `record` in its buffer that nothing reads any more (the client frame's header),
   * so the first frame written for a recipient puts its header there instead of copying the record.
   */
  #room: number;
  constructor(readonly kind: number, readonly record: Uint8Array, room = 0) { this.#room = room; }

  /**
   * The frame a node writes to a recipient that reads binary records (deliveredFrame's bytes). The first one
   * is written in place in front of the record when its header fits the room there (no copy of the record);
   * any other is a copy, so a frame already handed to a socket is never written again.
   */
  frameFor(from: string): Uint8Array {
    const fromBytes = textEncoder.encode(from);
    const head = 3 + fromBytes.length;
    const r = this.record;
    if (head > this.#room) return deliveredFrame(this.kind, from, r);
    this.#room = 0;
    const out = new Uint8Array(r.buffer, r.byteOffset - head, head + r.length);
    out[0] = this.kind;
    out[1] = fromBytes.length >> 8;
    out[2] = fromBytes.length & 0xff;
    out.set(fromBytes, 3);
    return out;
  }

  toJSON(): { $rec: number; r: string } { return { $rec: this.kind, r: toBase64(this.record) }; }

  /** The record from its base64 (a mesh item); null if malformed. */
  static fromBase64(kind: unknown, b64: string): RecordMessage | null {
    if ((kind !== KIND_SINGLE && kind !== KIND_BATCH) || b64.length % 4 !== 0) return null;
    let record: Uint8Array;
    try { record = fromBase64Fast(b64); } catch { return null; }
    return record.length >= RECORD_HEAD + TAG ? new RecordMessage(kind, record) : null;
  }

  /** A value that toJSON() made, back as a RecordMessage; anything else unchanged. */
  static revive(m: unknown): unknown {
    const v = m as { $rec?: unknown; r?: unknown } | null;
    return v && typeof v === 'object' && typeof v.r === 'string' && v.$rec !== undefined ? RecordMessage.fromBase64(v.$rec, v.r) ?? m : m;
  }
}

/** Base64 to bytes (Node's codec where there is one); throws on characters outside the alphabet. */
function fromBase64Fast(b64: string): Uint8Array {
  const B = (globalThis as { Buffer?: { from(s: string, enc: 'base64'): Uint8Array } }).Buffer;
  if (!B) return portableFromBase64(b64);
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  const out = B.from(b64, 'base64');
  if (out.length !== (b64.length / 4) * 3 - pad) throw new TypeError('expected standard base64');
  return out;
}

/** True if `message` is a batch record and `sink` does not read binary records (only a single one can be rendered as JSON). */
export function unreadable(message: unknown, sink: { readsRecords?: boolean }): boolean {
  return message instanceof RecordMessage && message.kind !== KIND_SINGLE && sink.readsRecords !== true;
}
