/**
 * Every buffer, queue, cache and count has a finite default, listed here, in
 * groups (node, signaling, rooms, dialects, messaging, webrtc, socket, resolver), and
 * in the README's one limits table (test/docs.test.ts keeps the two in step).
 * The layers that use a group import it from here; nothing else holds a default.
 */

/** Node limits (PeerRelay options). */
export const DEFAULT_LIMITS = {
  /** Largest `send` payload in bytes (after JSON encoding). */
  maxMessageSize: 4 * 1024 * 1024,
  /** Most open links (the routing table's capacity). */
  maxLinks: 256,
  /** Links a node tries to keep by discovery (at least; plus linksPerBucket in every bucket it knows nodes in). */
  targetLinks: 8,
  /** Links discovery keeps in each k-bucket that holds known nodes, spread over the bucket's slots (PROTOCOL §4.3). */
  linksPerBucket: 2,
  /** Above this many links, discovery closes surplus ones (in buckets holding more than linksPerBucket). */
  linkBudget: 48,
  /** Outgoing dials in progress at once. */
  maxDialing: 4,
  /** Dials discovery starts per second. */
  maxDialsPerSecond: 8,
  /** Link handshakes in progress in this process (all its nodes) at which discovery starts no new dial. */
  busyHandshakes: 256,
  /** Known-but-unlinked nodes remembered for discovery. */
  maxContacts: 512,
  /** Of those, at most this many in one k-bucket. */
  contactsPerBucket: 8,
  /** Messages waiting for one destination's session. */
  maxQueuePerPeer: 1024,
  /** Messages waiting for sessions, all destinations. */
  maxQueueTotal: 8192,
  /** Message ids remembered for duplicate suppression. */
  dedupEntries: 65536,
  /** How long a message id is remembered (ms). */
  dedupAgeMs: 120_000,
  /** End-to-end sessions held at once. */
  maxSessions: 4096,
  /** Public keys cached. */
  maxKeys: 8192,
  /** Retransmissions of a DATA message through relays that is not acknowledged (0: no acks asked). */
  retransmits: 2,
  /** Least wait for an end-to-end ACK before the first retransmission (ms; longer when 3 smoothed round trips are, up to 30 s); doubled per retry. */
  ackTimeoutMs: 2000,
  /** DATA messages held for retransmission at once; past it the oldest loses its protection. */
  maxUnacked: 1024,
  /** Hop limit of a routed message. */
  ttl: 32,
  /** Link handshake time limit (ms). */
  handshakeTimeoutMs: 10_000,
  /** End-to-end session set-up time limit (ms). */
  sessionTimeoutMs: 10_000,
  /** Queued messages fail after this long even with no links (ms). */
  queueTimeoutMs: 60_000,
  /** Keepalive period (ms). */
  pingIntervalMs: 10_000,
  /** A link silent this long is closed (ms). */
  linkTimeoutMs: 30_000,
  /** Discovery refresh period (ms). */
  refreshIntervalMs: 30_000,
  /**
   * NEIGHBOURS adverts (the routing lookahead, PROTOCOL §4.2) at most once per this (ms, jittered; 15000 is
   * the tested setting); 0, the default, turns the lookahead off: at simulator level a (10,000 nodes on
   * 2 cores) it shortened paths but delivered less (docs/bench.md, session 9).
   */
  neighbourAdvertMs: 0,
  /** Idle end-to-end sessions are dropped after (ms). */
  sessionIdleMs: 10 * 60_000,
  /** connect(id) time limit (ms). */
  connectTimeoutMs: 15_000,
  /** Bytes a link may hold unsent (its queue and its transport's buffer); beyond, frames of the heaviest flow are dropped (and reported). */
  maxLinkBuffer: 8 * 1024 * 1024,
  /** Bytes one origin's frames may hold in one link's queue; beyond, that origin's frames are dropped (and reported). */
  maxFlowBuffer: 4 * 1024 * 1024,
  /** Bytes of one origin's frames queued on a link above which a relay tells the origin to wait (CONGESTION stop; go below half). */
  flowMark: 256 * 1024,
  /** Bytes a link sends before the remote's CREDIT says it consumed them (the in-flight window; a frame of L > linkWindow bytes may start below 2L − linkWindow). */
  linkWindow: 64 * 1024,
  /** send() returns false once this node's bytes toward the message's next hop (or queued for its session) reach this. */
  sendHighWaterMark: 1024 * 1024,
  /** After send() returned false, 'drain' is emitted once those bytes are below this again. */
  sendLowWaterMark: 256 * 1024,
  /** How long a congestion report holds send() false for its destination when no CONGESTION go follows (ms). */
  congestionHoldMs: 1000,
  /** End-to-end handshakes answered per second for one sender id. */
  maxHandshakesPerSecond: 20,
  /** Plaintext bytes of one batch record: messages to one destination in one event-loop turn sealed together. */
  maxBatchBytes: 16384,
  /** Longest wait between re-bootstrap attempts (ms). */
  maxBackoffMs: 30_000,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/** Signaling server limits (`signaling: {...}` option): every count and buffer of the signaling core. */
export const SIGNALING_LIMITS = {
  /** Largest IM client frame in bytes (a 1 MiB message is ~1.4 MB of base64 JSON). */
  maxFrameBytes: 2 * 1024 * 1024,
  /** Client messages in one mesh batch to one node (a sender's bound; more from a peer is dropped, `bad_batch` / `binary_batch_oversized`). */
  maxMeshBatchItems: 256,
  /** Bytes of one binary mesh batch of more than one message (a sender's bound: a longer message goes alone; more from a peer: `binary_batch_oversized`). */
  maxMeshBatchBytes: 1024 * 1024,
  /** Largest Connector or protoo frame in bytes (SDP, candidates, room messages: large payloads go over the mesh). */
  maxSignalFrameBytes: 256 * 1024,
  /** A frame whose first bytes arrived must be complete within this (ms), else the socket is closed (1008). */
  frameTimeoutMs: 20_000,
  /** Bytes of unfinished client frames held at once, all signaling connections; the connection that would pass it is closed (1009). */
  maxPartialFrameBytes: 64 * 1024 * 1024,
  /** Signaling connections (all dialects) open at once; more are refused with HTTP 503 before the upgrade. */
  maxConnections: 12_000,
  /** Signaling connections open at once from one remote address; more are refused with HTTP 429. */
  maxConnectionsPerAddress: 256,
  /** An IM connection that has not registered this long after opening is closed (1008). */
  registerTimeoutMs: 30_000,
  /** Clients registered on one node. */
  maxClients: 10_000,
  /** `register` requests one connection may make. */
  maxRegistrationsPerConnection: 16,
  /** Registrations per second from one remote address (token bucket, burst twice the rate). */
  registrationsPerSecondPerAddress: 50,
  /** ML-DSA proof verifications per second, node-wide (token bucket, burst twice the rate); a cached proof costs none. */
  verifiesPerSecond: 200,
  /** Verified (or refused) registration proofs remembered by their bytes, so a replay costs a lookup. */
  maxCachedProofs: 10_000,
  /** Departed ids announced together in one fan-out round (more wait for the next round). */
  presenceBatch: 1000,
  /** Departure frames written per event-loop turn during a fan-out (the rest wait for the next turn). */
  presenceFramesPerTurn: 500,
  /** Nesting depth of a relayed message object (deeper: INVALID_MESSAGE). */
  maxMessageDepth: 64,
  /** Sustained frames per second per connection (token bucket rate). */
  ratePerSecond: 1000,
  /** Token bucket size: frames a connection may send in a burst. */
  rateBurst: 2000,
  /** Frames waiting in one connection's ordered output queue. */
  maxQueuedFrames: 4096,
  /** Bytes buffered in one client's socket before it is closed as too slow. */
  maxBufferedBytes: 32 * 1024 * 1024,
  /** Questions awaiting an answer from one client. */
  maxQuestionsPerClient: 64,
  /** Default time a client has to answer a question (ms). */
  questionTimeoutMs: 30_000,
  /** Longest wait for an answer (custom handler, auth hook, home node) before the client gets a TIMEOUT error (ms). */
  handlerTimeoutMs: 15_000,
  /** Time a remote home node has to answer a key request (ms; asked again after a third of it). Below the client's 10 s default. */
  remoteTimeoutMs: 8000,
  /** Remote key requests in flight, all clients. */
  maxRemoteRequests: 4096,
  /** Ids `discover` returns (local first, then mesh-wide). */
  maxDiscover: 1000,
  /** Lifetime of a published roster (ms); refreshed at a third of it. */
  rosterTtlMs: 60_000,
  /** Delay that coalesces roster changes into one signature (ms). */
  rosterDelayMs: 100,
  /** Homes (other nodes' rosters) remembered. */
  maxHomes: 1024,
  /** Client ids known mesh-wide. */
  maxRemoteIds: 100_000,
  /** After its owner leaves, an id stays bound to the owner's signing key this long (ms). */
  idReserveMs: 10 * 60_000,
  /** Reserved ids remembered. */
  maxReservations: 10_000,
  /** A home that has not answered a liveness probe in this long is dead: its roster is dropped (ms; asked 3 times). */
  homeProbeMs: 3000,
  /** How long a message or key request for a client that just left (it may be moving to another node) waits for it to register again (ms). */
  movingWaitMs: 8000,
  /** Messages held for moving clients, all clients together. */
  maxParkedMessages: 4096,
  /** Messages held for one moving client. */
  maxParkedPerClient: 256,
  /** How far the time in a relaymesh client's fresh registration proof may be from the node's clock (ms). */
  registrationSkewMs: 5 * 60_000,
} as const;

export type SignalingLimits = { -readonly [K in keyof typeof SIGNALING_LIMITS]: number };

/** Signaling room limits (`signaling: { rooms: {...} }` option). */
export const ROOM_LIMITS = {
  /** Rooms homed on one node. */
  maxRooms: 10_000,
  /** Members of one room. */
  maxMembers: 1000,
  /** Rooms one client may be a member of. */
  maxRoomsPerClient: 64,
  /** Characters in a room id. */
  maxRoomIdLength: 128,
  /** Characters in a room name. */
  maxNameLength: 256,
  /** Wait for a remote home's answer (ms). */
  opTimeoutMs: 10_000,
  /** Wait for answers when looking a room up across the mesh (ms). */
  findTimeoutMs: 3000,
  /** Remote operations and look-ups in flight. */
  maxPending: 4096,
  /** Remote operations and look-ups one client may have in flight. */
  maxPendingPerClient: 16,
  /** Membership operations (create, join, leave, end) and look-ups per second per connection (burst twice the rate). */
  opsPerSecond: 20,
  /** The same per remote address. */
  opsPerSecondPerAddress: 200,
  /** The same node-wide. */
  opsPerSecondPerNode: 2000,
  /** Remembered room -> home entries. */
  maxCachedHomes: 10_000,
  /** Copies of rooms homed on other nodes held here (for takeover). */
  maxReplicas: 10_000,
  /** How often a replica probes the homes of the rooms it copies (ms). */
  replicaCheckMs: 5000,
  /** Takeovers a room's anchor chain may record; a room moved more often is not taken over again. */
  maxRoomMoves: 8,
} as const;

export type RoomLimits = { -readonly [K in keyof typeof ROOM_LIMITS]: number };

/** The Connector and protoo dialects and the protoo server (fixed). */
export const DIALECT_LIMITS = {
  /** Keepalive ping period of Connector and protoo connections (ms); a missed pong closes the socket. */
  keepaliveMs: 30_000,
  /** Server-initiated protoo requests awaiting a response, per peer. */
  maxPendingRequests: 64,
  /** Client protoo requests being served at once, per peer. */
  maxServing: 256,
  /** Default wait for a response to a server-initiated protoo request (ms). */
  requestTimeoutMs: 20_000,
  /** Longest an application may take to accept or reject a protoo connection (ms). */
  admissionTimeoutMs: 10_000,
} as const;

/** MessagingPeer, the IM client (`maxQueued`, `maxPending` are config options; the rest are fixed). */
export const MESSAGING_LIMITS = {
  /** Frames kept while reconnecting. */
  maxQueued: 1000,
  /** Requests in flight. */
  maxPending: 1024,
  /** Peers whose keys are pinned at once. */
  maxPins: 10_000,
  /** Peers whose fetched keys are cached. */
  maxKeys: 4096,
  /** relaymesh-im-v1 inbound sessions held. */
  maxInbound: 1024,
  /** relaymesh-im-v1 session ids remembered against replays. */
  maxSeenSids: 65_536,
  /** Server URLs one MessagingPeer may be given (`serverUrl` as an array). */
  maxServerUrls: 16,
  /** Plaintext bytes of one batch record (messages to one peer in one turn, `relaymesh-bin-v1`; a longer message goes alone). */
  maxBatchBytes: 262_144,
  /** Messages in one batch record. */
  maxBatchItems: 256,
  /** Messages (and, apart, server questions) held for the first onMessage (onServerQuestion) handler; one more is NOT_DELIVERED. */
  maxEarlyInbound: 256,
} as const;

/** WebRTC links and connect(id) (fixed). */
export const WEBRTC_LIMITS = {
  /** Offers answered at once; more are refused with `busy`. */
  maxIncoming: 16,
  /** Attempts per connect() call (each bounded by half of connectTimeoutMs). */
  maxTries: 3,
  /** Pause between two attempts (ms). */
  retryDelayMs: 250,
  /** Characters of an offer's or answer's SDP accepted. */
  maxSdpLength: 64 * 1024,
  /** Characters of one ICE candidate accepted. */
  maxCandidateLength: 1024,
  /** Characters of an ICE candidate's sdpMid kept (longer: dropped to null). */
  maxSdpMidLength: 64,
  /** Attempts not yet known (their signals overtook the offer) whose signals are held. */
  maxEarlySids: 32,
  /** Signals held for one such attempt. */
  maxEarlySignalsPerSid: 16,
  /** How long such signals are held (ms). */
  earlyAgeMs: 10_000,
} as const;

/** PeerRelay.Socket (`sendBufferSize`, `recvBufferSize` are socket options; the rest are fixed). */
export const SOCKET_LIMITS = {
  /** Largest datagram in bytes, as UDP over IPv4 (65535 - 20 - 8); also at most the node's maxMessageSize - 4. */
  maxDatagram: 65_507,
  /** Bytes of datagrams waiting for bind or an alias lookup, per socket; more fail with ENOBUFS. */
  sendBufferSize: 212_992,
  /** Reported by getRecvBufferSize() (no receive buffer exists: datagrams are delivered as they arrive). */
  recvBufferSize: 212_992,
  /** Operations waiting for bind per socket (dgram's queue); more fail with ENOBUFS. */
  maxBindQueue: 1024,
  /** Address strings remembered as resolved, per socket (the most recently resolved are kept). */
  maxCachedAddresses: 1024,
} as const;

/** The alias service every node runs (src/alias): its resolver's limits (group `resolver`). */
export const RESOLVER_LIMITS = {
  /** Ids remembered (LRU), the pool for alias lookups and answers. */
  maxKnownIds: 4096,
  /** Alias lookups in progress at once; more fail at once. */
  maxLookups: 64,
  /** FIND questions one lookup may ask. */
  maxQueries: 32,
  /** How long one FIND may go unanswered (ms). */
  queryTimeoutMs: 2000,
  /** FIND questions answered per second (the rest are dropped and counted). */
  maxAnswersPerSecond: 500,
} as const;

/**
 * Every group of defaults, as the README's limits table lists them (its
 * "group" column); test/docs.test.ts checks every entry against that table.
 */
export const LIMIT_GROUPS = {
  node: DEFAULT_LIMITS,
  signaling: SIGNALING_LIMITS,
  rooms: ROOM_LIMITS,
  dialects: DIALECT_LIMITS,
  messaging: MESSAGING_LIMITS,
  webrtc: WEBRTC_LIMITS,
  socket: SOCKET_LIMITS,
  resolver: RESOLVER_LIMITS,
} as const;

/**
 * `defaults` overridden by the numeric options in `opts` that name one of
 * them; each must be a positive number (RangeError naming `prefix.key`).
 */
/** Limits for which 0 means "off" rather than nothing at all. */
const ZERO_ALLOWED = new Set(['retransmits', 'neighbourAdvertMs']);

export function resolveLimits<T extends Record<string, number>>(defaults: T, opts: Partial<Record<keyof T, unknown>>, prefix: string): { -readonly [K in keyof T]: number } {
  const out = { ...defaults } as { -readonly [K in keyof T]: number };
  for (const k of Object.keys(defaults) as (keyof T)[]) {
    const v = opts[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0 || (v === 0 && ZERO_ALLOWED.has(k as string)))) {
      throw new RangeError(`${prefix}.${String(k)} must be a positive number${ZERO_ALLOWED.has(k as string) ? ' or 0' : ''}`);
    }
    out[k] = v;
  }
  return out;
}

/** Bytes a frame may exceed the largest message by (envelope, session header, tag, channel). */
export const FRAME_OVERHEAD = 1024;
