/**
 * The routed envelope (PROTOCOL.md, "Routed envelope"): a fixed 52-byte header a
 * relay reads, then a body it forwards untouched. Relays decrement the TTL byte
 * in place and pass the same bytes on; nothing is re-serialized.
 *
 *   off len field
 *   0   1   frame type (0x10 ROUTE)
 *   1   1   message type (MsgType)
 *   2   1   ttl: hops left
 *   3   1   flags (EnvelopeFlags; unknown bits ignored)
 *   4   8   message id (random; duplicate suppression)
 *   12  20  to
 *   32  20  from
 *   52  ..  body
 */
import { randomBytes } from '../util/bytes.js';
import { ID_LENGTH } from '../crypto/identity.js';
import { FrameType } from './frames.js';

export const HEADER_LENGTH = 52;
export const MSG_ID_LENGTH = 8;
export const DEFAULT_TTL = 32;

export const MsgType = {
  KEY_REQUEST: 0x01,
  KEY_RESPONSE: 0x02,
  HANDSHAKE_INIT: 0x03,
  HANDSHAKE_RESP: 0x04,
  DATA: 0x05,
  UNREACHABLE: 0x06,
  SESSION_UNKNOWN: 0x07,
  /** Recursive lookup: `to` is a target id; the node where greedy routing stops answers. */
  LOOKUP: 0x08,
  /** Answer to LOOKUP: body is a NODES frame (the answering node and its closest links). */
  LOOKUP_RESULT: 0x09,
  /** A relay's congestion report to a message's origin: stop, go on, or these messages were dropped (§4.5). */
  CONGESTION: 0x0a,
  /** End-to-end acknowledgement: body is the 8-byte ids of flagged DATA messages (PROTOCOL.md §4.5). */
  ACK: 0x0b,
} as const;
export type MsgTypeCode = (typeof MsgType)[keyof typeof MsgType];

export const UnreachableReason = { NO_ROUTE: 1, HOP_LIMIT: 2 } as const;
/** CONGESTION kinds: the origin holds its sends to `to` (STOP, DROPPED) until GO or congestionHoldMs. */
export const CongestionKind = { STOP: 1, GO: 2, DROPPED: 3 } as const;
/** One CONGESTION entry: a message's id (8) and its `to` (20), bytes 4..32 of its envelope. */
export const CONGESTION_ENTRY = MSG_ID_LENGTH + ID_LENGTH;
export const MAX_CONGESTION_ENTRIES = 64;

/**
 * Envelope flag bits (PROTOCOL.md §4.1). Relays forward them untouched and
 * receivers ignore bits they do not know. BATCH, on HANDSHAKE_INIT and
 * HANDSHAKE_RESP: the sender opens batch records (§5.2). ACK_REQUESTED and
 * SPREAD, on DATA: acknowledgement and retransmission (§4.5).
 */
export const EnvelopeFlags = {
  BATCH: 0x01,
  /** On DATA: the origin keeps the message for retransmission and asks the destination for an ACK (§4.5). */
  ACK_REQUESTED: 0x02,
  /** Two bits on DATA: a retransmission's try (1-3); relays pick their next hop at random among that many + 1 closest links (§4.5). */
  SPREAD: 0x0c,
} as const;
/** SPREAD's lowest bit. */
export const SPREAD_SHIFT = 2;

export const OFF_TYPE = 1;
export const OFF_TTL = 2;
export const OFF_FLAGS = 3;
export const OFF_MSG_ID = 4;
export const OFF_TO = 12;
export const OFF_FROM = 32;

/** A frame with its header written and room for a body of `bodyLength` bytes at HEADER_LENGTH. */
export function allocEnvelope(type: MsgTypeCode, to: Uint8Array, from: Uint8Array, bodyLength: number, ttl = DEFAULT_TTL): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + bodyLength);
  out[0] = FrameType.ROUTE;
  out[OFF_TYPE] = type;
  out[OFF_TTL] = ttl;
  out[3] = 0;
  out.set(randomBytes(MSG_ID_LENGTH), OFF_MSG_ID);
  out.set(to, OFF_TO);
  out.set(from, OFF_FROM);
  return out;
}

export function encodeEnvelope(type: MsgTypeCode, to: Uint8Array, from: Uint8Array, body: Uint8Array, ttl = DEFAULT_TTL): Uint8Array {
  const out = allocEnvelope(type, to, from, body.length, ttl);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** Views into a routed frame; no copies. */
export const envelope = {
  valid: (f: Uint8Array): boolean => f.length >= HEADER_LENGTH && f[0] === FrameType.ROUTE,
  type: (f: Uint8Array): number => f[OFF_TYPE],
  ttl: (f: Uint8Array): number => f[OFF_TTL],
  msgId: (f: Uint8Array): Uint8Array => f.subarray(OFF_MSG_ID, OFF_MSG_ID + MSG_ID_LENGTH),
  to: (f: Uint8Array): Uint8Array => f.subarray(OFF_TO, OFF_TO + ID_LENGTH),
  from: (f: Uint8Array): Uint8Array => f.subarray(OFF_FROM, OFF_FROM + ID_LENGTH),
  body: (f: Uint8Array): Uint8Array => f.subarray(HEADER_LENGTH),
};

// UNREACHABLE body: reason u8 | original message id 8 | original to 20
export function encodeUnreachable(reason: number, msgId: Uint8Array, originalTo: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + MSG_ID_LENGTH + ID_LENGTH);
  out[0] = reason;
  out.set(msgId, 1);
  out.set(originalTo, 1 + MSG_ID_LENGTH);
  return out;
}

export function decodeUnreachable(body: Uint8Array): { reason: number; msgId: Uint8Array; to: Uint8Array } | null {
  if (body.length !== 1 + MSG_ID_LENGTH + ID_LENGTH) return null;
  return { reason: body[0], msgId: body.slice(1, 1 + MSG_ID_LENGTH), to: body.slice(1 + MSG_ID_LENGTH) };
}

// CONGESTION body: kind u8 | count u8 (1..64) | count x (message id 8 | original to 20)
export function encodeCongestion(kind: number, entries: Uint8Array[]): Uint8Array {
  const n = Math.min(entries.length, MAX_CONGESTION_ENTRIES);
  const out = new Uint8Array(2 + n * CONGESTION_ENTRY);
  out[0] = kind;
  out[1] = n;
  for (let i = 0; i < n; i++) out.set(entries[i].subarray(0, CONGESTION_ENTRY), 2 + i * CONGESTION_ENTRY);
  return out;
}

/** The kind and the entries (views into `body`), or null when malformed. */
export function decodeCongestion(body: Uint8Array): { kind: number; entries: Uint8Array[] } | null {
  if (body.length < 2 + CONGESTION_ENTRY) return null;
  const kind = body[0];
  const n = body[1];
  if (kind < CongestionKind.STOP || kind > CongestionKind.DROPPED || n < 1 || n > MAX_CONGESTION_ENTRIES) return null;
  if (body.length !== 2 + n * CONGESTION_ENTRY) return null;
  const entries: Uint8Array[] = [];
  for (let i = 0; i < n; i++) entries.push(body.subarray(2 + i * CONGESTION_ENTRY, 2 + (i + 1) * CONGESTION_ENTRY));
  return { kind, entries };
}
