/**
 * Why a node dropped an input: every reason any layer counts, in one place.
 * `stats().dropped` and `/metrics` key their counters by these names, and the
 * README lists them all (test/util/drop-reasons.test.ts keeps the two in step).
 * Detours (a message that went on along another path) are not drops: see
 * `Detour`.
 */
export const DROP_REASONS = {
  // link layer
  malformed: 'a frame or message that does not parse',
  unknown_type: 'a frame or message type this version does not know',
  invalid_frame: 'the transport refused a frame (too large, wrong framing)',
  before_handshake: 'a routed frame on a link whose identity proof is not done',
  unexpected_handshake: 'a handshake frame on an open link',
  bad_version: 'a HELLO with another protocol version',
  auth_failed: 'a link whose identity proof failed',
  handler_error: 'a frame whose handler threw',
  congested: 'a frame dropped from (or refused by) a full link queue: its flow, or the link, is over its limit',
  link_closed: 'a frame still queued on a link when it closed',
  after_close: 'a frame that arrived on a link after it closed (other than routed traffic on a closed duplicate)',
  // routing
  too_large: 'a routed frame larger than maxMessageSize allows',
  duplicate: 'a message already delivered here',
  hop_limit: 'a message whose hop limit ran out here',
  no_route: 'a message with no link left to try',
  unsolicited_report: 'a congestion report naming no message this node sent to that destination',
  // end-to-end sessions
  bad_keys: 'public keys that do not hash to their id',
  bad_handshake: 'a session handshake message that does not verify',
  unsolicited_handshake: 'a handshake answer this node did not ask for',
  unknown_session: 'sealed data for a session this node does not hold',
  forged_sender: 'sealed data whose sender is not the session\'s peer',
  replay: 'sealed data already received (replay window)',
  decrypt_failed: 'sealed data that does not authenticate',
  handshake_rate: 'handshakes beyond maxHandshakesPerSecond from one sender',
  // channels (node and applications)
  unknown_channel: 'a sealed message for a channel nobody registered',
  bad_json: 'a JSON message that does not parse',
  bad_control: 'a malformed connect() control message',
  unknown_control: 'a control message of a type nobody handles',
  unsolicited_control: 'a control answer to no pending query',
  bad_signal: 'a malformed WebRTC signal',
  stale_signal: 'a WebRTC signal for an attempt that has ended',
  glare_ignored: 'a WebRTC offer that lost a simultaneous-offer tie',
  webrtc_busy: 'a WebRTC offer beyond the incoming-attempt limit',
  // PeerRelay.Socket and the alias service (every node)
  dgram_malformed: 'a datagram or resolver message that does not parse',
  dgram_unbound_port: 'a datagram for a port no socket is bound to',
  dgram_unresolved: 'a datagram whose destination alias did not resolve',
  dgram_not_from_connected_peer: 'a datagram from another peer than the connected one',
  dgram_unexpected_answer: 'a resolver answer to no pending lookup',
  dgram_lookup_refused: 'a resolver answer that fails its checks',
  dgram_find_rate: 'resolver lookups beyond the rate limit',
  dgram_alias_collision: 'two nodes claiming one alias',
  dgram_bad_owner: 'an alias answer whose keys hash to an id outside the alias (not believed)',
} as const;

export type DropReason = keyof typeof DROP_REASONS;

/** A message that went on along another path: came back here, or was handed back from a dead end. */
export type Detour = 'loop' | 'backtrack';

/** Counts drops by reason (the node's `stats().dropped`). */
export type CountDrop = (reason: DropReason) => void;

/**
 * Why the signaling mesh side (src/signaling/mesh.ts) dropped a message from
 * another node: `node.signaling.stats().dropped` keys its counters by these
 * names, and the README's signaling section lists them all
 * (test/signaling/drop-reasons.test.ts keeps the two in step).
 */
export const SIGNALING_DROP_REASONS = {
  bad_json: 'a mesh signaling message that is not UTF-8 JSON',
  bad_message: 'a mesh signaling message with missing or mistyped fields',
  bad_batch: 'a batch of client messages whose lengths do not add up',
  bad_binary_batch: 'a binary mesh batch (`mesh-bin-v1`) that is truncated, whose lengths do not add up, or with an unknown item kind, an empty or over-long id, or a record under 40 bytes (dropped whole)',
  binary_batch_oversized: 'a binary mesh batch of more than `maxMeshBatchItems` messages, or of more than one message and over `maxMeshBatchBytes` (dropped whole, before any item is read)',
  unknown_type: 'a mesh signaling message of a type neither the core nor an extension (rooms) handles',
  unlisted_sender: 'a client message from a node whose roster does not list the sender',
  unexpected_keyres: 'a key answer to no pending request (or not from the home asked, or a repeat)',
  extension_failed: 'an extension message (rooms) whose handler threw',
  send_failed: 'a mesh signaling message that could not be sent (a batch of client messages the node refused, e.g. toward a congested link: its senders get `LIMIT_REACHED`)',
  roster_invalid: 'a roster that does not verify (shape, key-to-id binding, signature, expiry)',
  roster_full: 'a roster beyond maxHomes or maxRemoteIds',
  roster_oversized: 'a roster listing more ids than maxClients (refused before its signature is checked)',
  forged_takeover: 'a takeover notice whose proof does not verify, is not the key of our client, or is older than its registration',
  takeover_refused: 'a registration (client input) for an id a live home holds under another key, or without a key',
  replayed_registration: 'a registration (client input) whose fresh proof is not newer than the one it would replace',
  room_forged: 'a room answer, replica or move notice whose anchor does not verify, is not signed by the sender, or does not name this replica',
  room_oversized: 'a room replica listing more than maxMembers members (refused before its anchor is checked)',
} as const;

export type SignalingDropReason = keyof typeof SIGNALING_DROP_REASONS;
