export { PeerRelay, Channel } from './node/peer-relay.js';
export type { PeerRelayOptions, PeerRelayEvents, NodeStats, ChannelHandler } from './node/peer-relay.js';
export { Identity, PublicIdentity, generateKemKeyPair, deriveId } from './crypto/identity.js';
export type { IdentityJSON } from './crypto/identity.js';
export { RelayError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { DEFAULT_LIMITS } from './node/limits.js';
export { MemoryNetwork } from './transport/memory.js';
export { PROTOCOL_VERSION, MESH_SUBPROTOCOL } from './wire/frames.js';
