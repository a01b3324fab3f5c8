/**
 * The signaling core's vocabulary, shared by the core, its mesh side and every
 * dialect: client events and sinks, registrations, options, events, and the
 * error a dialect shows a client as an error frame.
 */
import type { RelayError } from '../util/errors.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import type { RoomLimits, SignalingLimits } from './limits.js';
import { wireError } from './wire-errors.js';

/**
 * Registration capability of a client that reads coalesced acknowledgements:
 * the IM dialect acknowledges the messages it took in one turn with one
 * `message_ack` whose payload lists their ids in `ids` (PROTOCOL.md §11 "Acknowledgements").
 */
export const ACK_BATCH = 'relaymesh-acks-v1';

/** What the core asks a dialect to deliver to one client. */
export type ClientEvent =
  | { kind: 'message'; fromId: string; message: unknown; /** The message as JSON text, when the core already has it (saves a re-encode). */ messageJson?: string }
  | { kind: 'peer_disconnected'; peerId: string }
  /**
   * Several departures of one round: one frame with every id to a client that
   * registered PRESENCE_BATCH, else (`single`) one peer_disconnected frame per
   * id. The same array goes to many sinks: a dialect may cache its rendering by it.
   */
  | { kind: 'peers_disconnected'; peerIds: string[]; single: boolean }
  | { kind: 'question'; questionId: string; question: unknown }
  | { kind: 'error'; errorType: string; details: string };

/** A dialect's handle on one client connection. */
export interface ClientSink {
  readonly remoteAddress: string;
  readonly dialect: string;
  send(event: ClientEvent): void;
  /** Stops (true) or resumes (false) reading this client's connection (the mesh toward a home is full). */
  pauseReading?(paused: boolean): void;
  /** The client reads binary message records (im-binary.ts `relaymesh-bin-v1`): a batch record may go to it. */
  readonly readsRecords?: boolean;
}

/** An ML-DSA-65 proof that the registrant holds `signingKey` and signed `message`. */
export interface RegistrationProof { signingKey: Uint8Array; signature: Uint8Array; message: Uint8Array }

export interface RegistrationRequest {
  clientId: string;
  publicKey: Uint8Array;
  proof: RegistrationProof | null;
  capabilities: string[];
  /** A client without keys (Connector, protoo): publicKey must be empty and proof null; request_public_key for it fails. */
  keyless?: boolean;
  /** relaymesh's fresh proof: ML-DSA-65 by the proof's key over registrationMessage(clientId, ts). */
  fresh?: { ts: number; signature: Uint8Array } | null;
}

export interface ClientInfo {
  clientId: string;
  publicKey: Uint8Array;
  /** The verified ML-DSA-65 key of the registration proof, or null for the unverified form. */
  signingKey: Uint8Array | null;
  capabilities: string[];
  remoteAddress: string;
  dialect: string;
  registeredAt: number;
}

/** Return true to accept; false or a reason string to reject (the client gets REJECTED). */
export type Authorizer = (req: ClientInfo) => boolean | string | Promise<boolean | string>;
/** An application request handler for a custom frame type; returns the answer. */
export type RequestHandler = (client: ClientInfo | null, payload: unknown) => { type: string; payload: unknown } | Promise<{ type: string; payload: unknown }>;

export interface KeyInfo { peerId: string; publicKey: Uint8Array; signingKey: Uint8Array | null; capabilities: string[] }

export interface SignalingOptions extends Partial<SignalingLimits> {
  /** Accept registrations without the ML-DSA proof (the client's older form). Default false. */
  allowUnverified?: boolean;
  authorize?: Authorizer;
  /** Room limits (README "Limits", group `rooms`), e.g. `{ maxRooms: 100 }`. */
  rooms?: Partial<RoomLimits>;
  /**
   * Client messages to other signaling nodes that announce `mesh-bin-v1` go as binary mesh batches
   * (PROTOCOL.md §11). Default true; false: this node announces nothing and sends only the text form,
   * as a node without the capability does (it still reads binary batches).
   */
  meshBinary?: boolean;
}

export interface SignalingEvents {
  registration: [info: ClientInfo];
  departure: [info: ClientInfo];
  /** A client answered a question nobody awaits (e.g. after debug_question). */
  response: [clientId: string, questionId: string, response: unknown];
  /** Client ids that left, local or remote (rooms drop them). */
  gone: [ids: string[]];
  /** A home node did not answer a liveness probe: its roster was dropped (rooms take over its rooms). */
  homeDead: [hex: string];
}

/** A refusal the dialect shows the client as an error frame of type `errorType` (codes: wire-errors.ts). */
export function signalingError(errorType: string, details: string): RelayError {
  return wireError(errorType, details);
}

export interface SignalingStats {
  clients: number;
  remoteClients: number;
  homes: number;
  /** Rooms homed on this node (rooms.ts). */
  rooms: number;
  dropped: Partial<Record<SignalingDropReason, number>>;
  /** ML-DSA verifications of registration proofs done (a cached proof costs none). */
  proofVerifies: number;
  /** Proofs found in the cache. */
  proofCacheHits: number;
  /** Departed ids waiting to be announced, and frames written to announce departures. */
  presenceBacklog: number;
  presenceFrames: number;
  /** Signaling connections open (all dialects), and bytes their unfinished frames may hold. */
  connections: number;
  partialFrameBytes: number;
  /** Client messages taken from other nodes, and sent to them, by form: binary mesh batches or text. */
  meshItemsIn: { binary: number; text: number };
  meshItemsOut: { binary: number; text: number };
}
