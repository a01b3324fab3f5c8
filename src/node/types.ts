/** The public types of a mesh node: options, events, stats, channels. */
import type { Identity, IdentityJSON } from '../crypto/identity.js';
import type { Aead } from '../crypto/aead.js';
import type { MemoryNetwork } from '../transport/memory.js';
import type { RelayError } from '../util/errors.js';
import type { Limits } from '../util/limits.js';
import type { DropReason } from '../util/drop-reasons.js';

/** Channel byte that starts every sealed plaintext (PROTOCOL.md, "Channels"). */
export const Channel = { JSON: 0, BYTES: 1, CONTROL: 2, DGRAM: 3, SIGNALING: 4 } as const;
export type ChannelHandler = (payload: Uint8Array, from: Uint8Array) => void;

export interface IceServer { urls: string | string[]; username?: string; credential?: string }

/** Options of the mesh core (RelayNode); PeerRelayOptions adds the applications'. */
export interface NodeOptions extends Partial<Limits> {
  /** Start a WebSocket server on this port (0 picks a free one). Omit for no server. */
  port?: number;
  /** Address to listen on (default 127.0.0.1; use 0.0.0.0 or :: to accept remote nodes). */
  host?: string;
  /** The ws:// or wss:// URL other nodes should dial to reach this one (default: derived from host and port). */
  publicUrl?: string;
  /** ws://, wss:// (or mem:// with `memory`) URLs of nodes already in the mesh. */
  bootstrap?: string[];
  /** A WebRTC implementation (`@roamhq/wrtc` in Node); browsers use their own when `true`. */
  wrtc?: unknown;
  /** STUN/TURN servers for WebRTC links. */
  iceServers?: IceServer[];
  /** This node's identity; a fresh one is made if omitted. */
  identity?: Identity | IdentityJSON | string;
  /** In-memory transport for tests and simulations. */
  memory?: MemoryNetwork;
  /** AEAD backend (tests use this to run the noble and native paths). */
  aead?: Aead;
}

/** Events of the mesh core; PeerRelayEvents adds 'message'. */
export interface NodeEvents {
  listening: [];
  peer: [id: Uint8Array];
  disconnect: [id: Uint8Array, err: RelayError | null];
  undeliverable: [err: RelayError, to: Uint8Array];
  /** After send() returned false: the buffers it reported are below sendLowWaterMark again. */
  drain: [];
  error: [err: Error];
  close: [];
}

export interface NodeStats {
  links: number;
  sessions: number;
  queued: number;
  sent: number;
  delivered: number;
  relayed: number;
  bytesRelayed: number;
  undeliverable: number;
  /** Flow control (PROTOCOL.md §3.6, §4.4); optional for snapshots made by older code. */
  flow?: {
    /** CONGESTION reports this node sent as a relay (stop, go, dropped), and received as an origin. */
    reportsSent: number;
    reportsReceived: number;
    /** Bytes waiting in link queues (all flows), and in flight (sent, not yet credited by the remote). */
    linkQueued: number;
    linkInFlight: number;
  };
  /** Inputs dropped, by reason (src/util/drop-reasons.ts). */
  dropped: Partial<Record<DropReason, number>>;
  /** Messages that went on along another path: came back here (`loop`) or were handed back from a dead end (`backtrack`). */
  detours: { loop: number; backtrack: number };
  /** NEIGHBOURS frames (the routing lookahead, PROTOCOL.md §4.2) sent and received; optional for older snapshots. */
  neighbours?: { sent: number; received: number };
}


/** One row of `linkInfo()`: a link as status pages show it. */
export interface LinkInfo {
  id: string;
  kind: string;
  url: string;
  remoteAddress: string;
  initiator: boolean;
  openedAt: number;
  stats: { framesIn: number; framesOut: number; bytesIn: number; bytesOut: number; relayed: number };
  /** Heads of the remote's own links this node holds from its last NEIGHBOURS frame (PROTOCOL.md §4.2), or null before one came. */
  neighbours: number | null;
}
