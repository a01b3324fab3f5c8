/**
 * Every operational or remote error relaymesh reports carries a stable `code`.
 * Errors are made here and nowhere else; the README lists every code and a
 * test checks that list against ERROR_CODES.
 */
export const ERROR_CODES = {
  ERR_DESTROYED: 'the node, socket or client was destroyed or closed',
  ERR_NO_ROUTE: 'no link leads closer to the destination',
  ERR_HOP_LIMIT: 'the message exceeded its hop limit',
  ERR_NOT_ACKNOWLEDGED: 'the destination did not acknowledge the message after every retransmission; it may or may not have arrived',
  ERR_TIMEOUT: 'the operation did not complete in time',
  ERR_ABORTED: 'the operation was aborted by its AbortSignal',
  ERR_HANDSHAKE_TIMEOUT: 'no end-to-end session could be set up in time',
  ERR_QUEUE_FULL: 'a bounded queue is full; the message was not accepted',
  ERR_CONGESTED: 'the message was dropped from a full link queue on its path (at a relay, or at this node after it was accepted)',
  ERR_SESSION_LOST: 'the destination no longer had the end-to-end session the message was sealed for; it was not delivered',
  ERR_FRAME_TOO_LARGE: 'a frame or message exceeds the size limit',
  ERR_MALFORMED_FRAME: 'a frame could not be decoded',
  ERR_UNKNOWN_TYPE: 'a frame or message of an unknown type',
  ERR_BAD_VERSION: 'the remote speaks an unsupported protocol version',
  ERR_AUTH_FAILED: 'the remote could not prove the identity it claims',
  ERR_BAD_KEYS: 'public keys do not match the id they are claimed for',
  ERR_DECRYPT_FAILED: 'a sealed message failed authentication',
  ERR_REPLAY: 'a sealed message was replayed or is outside the replay window',
  ERR_TOO_MANY_LINKS: 'the remote refused the link: its routing table is full',
  ERR_DUPLICATE_LINK: 'a second link to the same node was closed',
  ERR_LINK_DEAD: 'a link stopped answering and was closed',
  ERR_CONNECT_FAILED: 'a direct link could not be formed',
  ERR_PEER_NOT_FOUND: 'no such peer or client is known',
  ERR_INVALID_PROOF: 'a signature or proof did not verify',
  ERR_KEY_CHANGED: 'a pinned public key changed',
  ERR_RATE_LIMITED: 'too many requests in too short a time',
  ERR_REJECTED: 'the remote rejected the request',
  ERR_NOT_CONNECTED: 'the client is not connected',
  ERR_LISTEN_FAILED: 'the server could not listen',
  ERR_CLIENT_ID_TAKEN: 'the signaling client id is registered or reserved by someone else',
  ERR_ROOM_NOT_FOUND: 'no such signaling room, or the client is not a member of it',
  ERR_ROOM_EXISTS: 'the signaling room already exists, or the client is already a member',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RelayError extends Error {
  readonly code: ErrorCode;
  /** Extra context (ids as hex, sizes, ...), never secrets. */
  readonly info: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, info: Record<string, unknown> = {}) {
    super(message ?? ERROR_CODES[code]);
    this.name = 'RelayError';
    this.code = code;
    this.info = info;
  }
}

export function relayError(code: ErrorCode, message?: string, info?: Record<string, unknown>): RelayError {
  return new RelayError(code, message, info);
}
