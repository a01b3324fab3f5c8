/**
 * The one table of signaling wire errors: each error type a client may see in
 * an error frame (IM `errorType`, protoo `errorReason` prefix, room refusals),
 * with the RelayError code it becomes, the protoo `errorCode` (HTTP-like) and
 * the Peer2Peer Connector error event it is shown as. The core, rooms, every
 * dialect and MessagingPeer read it; nothing else maps error types.
 */
import { relayError, type ErrorCode, type RelayError } from '../util/errors.js';

interface WireError {
  code: ErrorCode;
  /** protoo errorCode; 500 when absent. */
  protoo?: number;
  /** Connector error event; the caller's fallback when absent. */
  connector?: string;
}

export const WIRE_ERRORS = {
  // the published IM set
  INVALID_MESSAGE: { code: 'ERR_MALFORMED_FRAME', protoo: 400, connector: 'Missing_Fields' },
  CLIENT_ID_TAKEN: { code: 'ERR_CLIENT_ID_TAKEN', protoo: 409 },
  PEER_NOT_FOUND: { code: 'ERR_PEER_NOT_FOUND', protoo: 404, connector: 'Not_Found' },
  INVALID_PUBLIC_KEY: { code: 'ERR_BAD_KEYS', protoo: 400 },
  REGISTRATION_REQUIRED: { code: 'ERR_NOT_CONNECTED', protoo: 401 },
  INTERNAL_ERROR: { code: 'ERR_REJECTED' },
  INVALID_PROOF: { code: 'ERR_INVALID_PROOF', protoo: 401 },
  // relaymesh's
  RATE_LIMITED: { code: 'ERR_RATE_LIMITED', protoo: 429, connector: 'Rate_Limited' },
  LIMIT_REACHED: { code: 'ERR_QUEUE_FULL', protoo: 429, connector: 'Limit_Reached' },
  REJECTED: { code: 'ERR_REJECTED', protoo: 403, connector: 'Unauthorised' },
  TIMEOUT: { code: 'ERR_TIMEOUT', protoo: 408, connector: 'Timeout' },
  UNKNOWN_METHOD: { code: 'ERR_REJECTED', protoo: 405 },
  // rooms
  ROOM_NOT_FOUND: { code: 'ERR_ROOM_NOT_FOUND', protoo: 404, connector: 'Not_Found' },
  NOT_MEMBER: { code: 'ERR_ROOM_NOT_FOUND', protoo: 404, connector: 'Not_Found' },
  ROOM_EXISTS: { code: 'ERR_ROOM_EXISTS', protoo: 409, connector: 'Duplicate_Room' },
  ALREADY_MEMBER: { code: 'ERR_ROOM_EXISTS', protoo: 409, connector: 'Already_Exists' },
  NOT_CREATOR: { code: 'ERR_REJECTED', protoo: 403, connector: 'Unauthorised' },
} as const satisfies Record<string, WireError>;

export type WireErrorType = keyof typeof WIRE_ERRORS;

function entry(errorType: string): WireError | undefined {
  return Object.hasOwn(WIRE_ERRORS, errorType) ? (WIRE_ERRORS as Record<string, WireError>)[errorType] : undefined;
}

/** The RelayError for a wire error; `info.errorType` keeps the wire type (unknown types: ERR_REJECTED). */
export function wireError(errorType: string, details: string): RelayError {
  return relayError(entry(errorType)?.code ?? 'ERR_REJECTED', details, { errorType });
}

/** The wire error type a RelayError carries, or '' if it is not one. */
export function errorTypeOf(err: unknown): string {
  const t = (err as RelayError | null)?.info?.errorType;
  return typeof t === 'string' ? t : '';
}

/** protoo errorCode of a wire error type (500 for unknown or none). */
export function protooErrorCode(errorType: string): number {
  return entry(errorType)?.protoo ?? 500;
}

/** Connector error event of a wire error type, else `fallback`. */
export function connectorErrorEvent(errorType: string, fallback: string): string {
  return entry(errorType)?.connector ?? fallback;
}
