/**
 * Link frames (PROTOCOL.md, "Link frames"). Every frame is one binary
 * transport message whose first byte is its type. Decoders return null for
 * anything malformed; they never throw.
 */
import { KEM_CIPHERTEXT_LENGTH, PUBLIC_KEYS_LENGTH, ID_LENGTH } from '../crypto/identity.js';
import { textDecoder, textEncoder } from '../util/bytes.js';

export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol that selects a mesh link on a node's port. */
export const MESH_SUBPROTOCOL = 'relaymesh.v1';

export const FrameType = {
  HELLO: 0x01,
  CHALLENGE: 0x02,
  PROOF: 0x03,
  PING: 0x04,
  PONG: 0x05,
  FIND_NODE: 0x06,
  NODES: 0x07,
  CLOSE: 0x08,
  /** Flow control: bytes of frames the sender of CREDIT has consumed on this link (PROTOCOL.md §3.6). */
  CREDIT: 0x09,
  /** Lookahead: the first 32 bits of every id the sender is linked to (PROTOCOL.md §4.2). */
  NEIGHBOURS: 0x0a,
  ROUTE: 0x10,
} as const;

/**
 * FLOW: this node sends CREDIT frames and honours the remote's (§3.6).
 * NEIGHBOURS: this node reads NEIGHBOURS frames (§4.2); only such a node is sent them.
 */
export const HelloFlags = { WEBRTC: 1, WEBSOCKET: 2, FLOW: 4, NEIGHBOURS: 8 } as const;

export const CloseReason = {
  NORMAL: 0,
  DUPLICATE: 1,
  TOO_MANY_LINKS: 2,
  SHUTDOWN: 3,
  PROTOCOL_ERROR: 4,
  AUTH_FAILED: 5,
  BAD_VERSION: 6,
  SELF: 7,
  DEAD: 8,
} as const;
export type CloseReasonCode = (typeof CloseReason)[keyof typeof CloseReason];

export const NONCE_LENGTH = 32;
export const PROOF_LENGTH = 32;
export const MAX_URL_LENGTH = 255;
export const MAX_NODES_PER_FRAME = 20;

export interface Hello {
  version: number;
  flags: number;
  nonce: Uint8Array;
  id: Uint8Array;
  /** dsaPk || kemPk; decoded as a view into the frame (whoever keeps the keys copies them). */
  publicKeys: Uint8Array;
  url: string;
}

/** A HELLO to encode: the keys as one array or as their two parts (dsaPk, kemPk), which are not joined first. */
export type HelloToSend = Omit<Hello, 'publicKeys'> & { publicKeys: Uint8Array | readonly [Uint8Array, Uint8Array] };

// HELLO: type u8 | version u8 | flags u8 | reserved u8 | nonce 32 | id 20 | publicKeys 3136 | urlLen u8 | url
const HELLO_FIXED = 4 + NONCE_LENGTH + ID_LENGTH + PUBLIC_KEYS_LENGTH + 1;

export function encodeHello(h: HelloToSend): Uint8Array {
  const url = textEncoder.encode(h.url);
  if (url.length > MAX_URL_LENGTH) throw new RangeError('advertised url is longer than 255 bytes');
  const out = new Uint8Array(HELLO_FIXED + url.length);
  out[0] = FrameType.HELLO; out[1] = h.version; out[2] = h.flags; out[3] = 0;
  let o = 4;
  out.set(h.nonce, o); o += NONCE_LENGTH;
  out.set(h.id, o); o += ID_LENGTH;
  const keys = h.publicKeys;
  if (keys instanceof Uint8Array) {
    if (keys.length !== PUBLIC_KEYS_LENGTH) throw new RangeError(`public keys must be ${PUBLIC_KEYS_LENGTH} bytes`);
    out.set(keys, o);
  } else {
    if (keys[0].length + keys[1].length !== PUBLIC_KEYS_LENGTH) throw new RangeError(`public keys must be ${PUBLIC_KEYS_LENGTH} bytes`);
    out.set(keys[0], o);
    out.set(keys[1], o + keys[0].length);
  }
  o += PUBLIC_KEYS_LENGTH;
  out[o++] = url.length;
  out.set(url, o);
  return out;
}

/** Decodes a HELLO; the version is returned as sent so the caller can refuse it. */
export function decodeHello(f: Uint8Array): Hello | null {
  if (f.length < 2 || f[0] !== FrameType.HELLO) return null;
  if (f[1] !== PROTOCOL_VERSION) return { version: f[1], flags: 0, nonce: new Uint8Array(0), id: new Uint8Array(0), publicKeys: new Uint8Array(0), url: '' };
  if (f.length < HELLO_FIXED) return null;
  let o = 4;
  const nonce = f.slice(o, (o += NONCE_LENGTH));
  const id = f.slice(o, (o += ID_LENGTH));
  const publicKeys = f.subarray(o, (o += PUBLIC_KEYS_LENGTH));
  const urlLen = f[o++];
  if (f.length !== o + urlLen) return null;
  const url = decodeUtf8(f.subarray(o));
  if (url === null) return null;
  return { version: f[1], flags: f[2], nonce, id, publicKeys, url };
}

/** A frame of a type byte and a body of fixed length (CHALLENGE, PROOF, PING, PONG, FIND_NODE). */
function encodeFixed(type: number, body: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(1 + length);
  out[0] = type;
  out.set(body, 1);
  return out;
}

export function encodeChallenge(cipherText: Uint8Array): Uint8Array {
  return encodeFixed(FrameType.CHALLENGE, cipherText, KEM_CIPHERTEXT_LENGTH);
}

export function decodeChallenge(f: Uint8Array): Uint8Array | null {
  return f.length === 1 + KEM_CIPHERTEXT_LENGTH && f[0] === FrameType.CHALLENGE ? f.subarray(1) : null;
}

export function encodeProof(mac: Uint8Array): Uint8Array {
  return encodeFixed(FrameType.PROOF, mac, PROOF_LENGTH);
}

export function decodeProof(f: Uint8Array): Uint8Array | null {
  return f.length === 1 + PROOF_LENGTH && f[0] === FrameType.PROOF ? f.subarray(1) : null;
}

// PING / PONG: type u8 | token 8 [| head u32 x count: a NEIGHBOURS list riding along (§4.2), only to a node that set HELLO bit 3]
export function encodePing(type: typeof FrameType.PING | typeof FrameType.PONG, token: Uint8Array, neighbours?: Uint8Array): Uint8Array {
  if (!neighbours || neighbours.length <= 1) return encodeFixed(type, token.subarray(0, 8), 8);
  const out = new Uint8Array(8 + neighbours.length);
  out[0] = type;
  out.set(token.subarray(0, 8), 1);
  out.set(neighbours.subarray(1), 9);
  return out;
}

/** The token of a PING or PONG (9 bytes, or 9 + 4n with a NEIGHBOURS list, n <= MAX_NEIGHBOUR_HEADS), or null. */
export function decodePing(f: Uint8Array): Uint8Array | null {
  const extra = f.length - 9;
  return extra === 0 || (extra > 0 && extra % 4 === 0 && extra <= 4 * MAX_NEIGHBOUR_HEADS) ? f.subarray(1, 9) : null;
}

/** The NEIGHBOURS frame a PING or PONG carries (a new frame), or null when it carries none. */
export function pingNeighbours(f: Uint8Array): Uint8Array | null {
  if (f.length <= 9) return null;
  const out = new Uint8Array(f.length - 8);
  out[0] = FrameType.NEIGHBOURS;
  out.set(f.subarray(9), 1);
  return out;
}

// FIND_NODE: type u8 | target 20
export function encodeFindNode(target: Uint8Array): Uint8Array {
  return encodeFixed(FrameType.FIND_NODE, target, ID_LENGTH);
}

export function decodeFindNode(f: Uint8Array): Uint8Array | null {
  return f.length === 1 + ID_LENGTH ? f.slice(1) : null;
}

export interface NodeInfo { id: Uint8Array; flags: number; url: string }

// NODES: type u8 | count u8 | count x (id 20 | flags u8 | urlLen u8 | url)
export function encodeNodes(nodes: NodeInfo[]): Uint8Array {
  const count = Math.min(nodes.length, MAX_NODES_PER_FRAME);
  // URLs are almost always ASCII: their bytes are their char codes, written in place in one pass
  // (TextEncoder's allocation per URL was a fifth of the CPU of answering FIND_NODE). Any other
  // character and the frame is encoded again with the encoder.
  let len = 2;
  for (let i = 0; i < count; i++) len += ID_LENGTH + 2 + nodes[i].url.length;
  const out = new Uint8Array(len);
  out[0] = FrameType.NODES;
  out[1] = count;
  let o = 2;
  let chars = 0;
  for (let i = 0; i < count; i++) {
    const n = nodes[i];
    const id = n.id;
    const url = n.url;
    if (url.length > MAX_URL_LENGTH) throw new RangeError(`nodes[${i}].url is longer than 255 bytes`);
    for (let j = 0; j < ID_LENGTH; j++) out[o + j] = id[j];
    o += ID_LENGTH;
    out[o++] = n.flags;
    out[o++] = url.length;
    for (let j = 0; j < url.length; j++) { const c = url.charCodeAt(j); chars |= c; out[o + j] = c; }
    o += url.length;
  }
  return chars > 0x7f ? encodeNodesUtf8(nodes, count) : out;
}

function encodeNodesUtf8(nodes: NodeInfo[], count: number): Uint8Array {
  const urls = nodes.slice(0, count).map((n, i) => {
    const url = textEncoder.encode(n.url);
    // As encodeHello: urls come from decoded HELLOs and NODES (at most 255 bytes), so a longer one is a caller error.
    if (url.length > MAX_URL_LENGTH) throw new RangeError(`nodes[${i}].url is longer than 255 bytes`);
    return url;
  });
  let len = 2;
  for (const url of urls) len += ID_LENGTH + 2 + url.length;
  const out = new Uint8Array(len);
  out[0] = FrameType.NODES;
  out[1] = count;
  let o = 2;
  for (let i = 0; i < count; i++) {
    out.set(nodes[i].id, o); o += ID_LENGTH;
    out[o++] = nodes[i].flags;
    out[o++] = urls[i].length;
    out.set(urls[i], o); o += urls[i].length;
  }
  return out;
}

export function decodeNodes(f: Uint8Array): NodeInfo[] | null {
  const at = nodesEntries(f);
  return at && at.map((o) => nodeAt(f, o));
}

/**
 * The offset of each entry of a well-formed NODES frame (id at the offset, then
 * flags, url length, url), or null if it is malformed (truncated, lengthened,
 * over-full, or a url that is not UTF-8). Reads without copying, so a receiver
 * can skip the entries it already knows and copy out only the new ones (`nodeAt`).
 */
export function nodesEntries(f: Uint8Array): number[] | null {
  if (f.length < 2 || f[1] > MAX_NODES_PER_FRAME) return null;
  const at: number[] = [];
  let o = 2;
  for (let i = 0; i < f[1]; i++) {
    if (o + ID_LENGTH + 2 > f.length) return null;
    at.push(o);
    const urlLen = f[o + ID_LENGTH + 1];
    o += ID_LENGTH + 2;
    if (o + urlLen > f.length) return null;
    let ascii = true;
    for (let j = o; j < o + urlLen && ascii; j++) if (f[j] > 0x7f) ascii = false;
    if (!ascii && decodeUtf8(f.subarray(o, o + urlLen)) === null) return null;
    o += urlLen;
  }
  return o === f.length ? at : null;
}

/** The entry at offset `o` of a NODES frame that `nodesEntries` accepted, copied out of the frame. */
export function nodeAt(f: Uint8Array, o: number): NodeInfo {
  const id = new Uint8Array(ID_LENGTH);
  for (let j = 0; j < ID_LENGTH; j++) id[j] = f[o + j];
  return { id, flags: f[o + ID_LENGTH], url: nodeUrlAt(f, o) };
}

const urlScratch: number[] = [];

/** The url of the entry at offset `o` of a NODES frame that `nodesEntries` accepted (ASCII straight from the bytes). */
export function nodeUrlAt(f: Uint8Array, o: number): string {
  const start = o + ID_LENGTH + 2;
  const n = f[o + ID_LENGTH + 1];
  for (let i = 0; i < n; i++) {
    const b = f[start + i];
    if (b > 0x7f) return decodeUtf8(f.subarray(start, start + n)) ?? '';
    urlScratch[i] = b;
  }
  urlScratch.length = n;
  return n === 0 ? '' : String.fromCharCode.apply(null, urlScratch);
}

// CREDIT: type u8 | consumed u32 (bytes of counted frames received since the link opened, mod 2^32)
export function encodeCredit(consumed: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = FrameType.CREDIT;
  new DataView(out.buffer).setUint32(1, consumed >>> 0);
  return out;
}

export function decodeCredit(f: Uint8Array): number | null {
  return f.length === 5 ? ((f[1] << 24) | (f[2] << 16) | (f[3] << 8) | f[4]) >>> 0 : null;
}

/** The most heads a NEIGHBOURS frame carries (the default maxLinks; a node with more links sends its first 256). */
export const MAX_NEIGHBOUR_HEADS = 256;

// NEIGHBOURS: type u8 | count x head u32 (the first 32 bits of a linked id, big-endian)
export function encodeNeighbours(heads: ArrayLike<number>): Uint8Array {
  const n = Math.min(heads.length, MAX_NEIGHBOUR_HEADS);
  const out = new Uint8Array(1 + 4 * n);
  out[0] = FrameType.NEIGHBOURS;
  for (let i = 0, o = 1; i < n; i++, o += 4) {
    const h = heads[i];
    out[o] = h >>> 24; out[o + 1] = h >>> 16; out[o + 2] = h >>> 8; out[o + 3] = h;
  }
  return out;
}

/** How many heads a NEIGHBOURS frame holds (they start at byte 1), or -1 when its length is not 1 + 4n with n <= MAX_NEIGHBOUR_HEADS. */
export function neighboursCount(f: Uint8Array): number {
  const n = (f.length - 1) / 4;
  return f[0] === FrameType.NEIGHBOURS && Number.isInteger(n) && n <= MAX_NEIGHBOUR_HEADS ? n : -1;
}

/** The heads of a NEIGHBOURS frame, or null when its length is not 1 + 4n with n <= MAX_NEIGHBOUR_HEADS. */
export function decodeNeighbours(f: Uint8Array): Uint32Array | null {
  const n = neighboursCount(f);
  if (n < 0) return null;
  const out = new Uint32Array(n);
  for (let i = 0, o = 1; i < n; i++, o += 4) out[i] = ((f[o] << 24) | (f[o + 1] << 16) | (f[o + 2] << 8) | f[o + 3]) >>> 0;
  return out;
}

// CLOSE: type u8 | reason u8 | message (utf-8, up to 123 bytes)
export function encodeClose(reason: CloseReasonCode, message = ''): Uint8Array {
  const msg = textEncoder.encode(message).subarray(0, 123);
  const out = new Uint8Array(2 + msg.length);
  out[0] = FrameType.CLOSE;
  out[1] = reason;
  out.set(msg, 2);
  return out;
}

export function decodeClose(f: Uint8Array): { reason: number; message: string } | null {
  if (f.length < 2) return null;
  return { reason: f[1], message: decodeUtf8(f.subarray(2)) ?? '' };
}

export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return textDecoder.decode(bytes);
  } catch {
    return null;
  }
}
