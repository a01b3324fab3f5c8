/** The signaling subsystem's public surface (bootstrap/signaling.ts loads this). */
export { attachSignaling, IM_ROUTE_PRIORITY } from './server.js';
export { SignalingCore, signalingError, verifyProof } from './core.js';
export type { SignalingOptions, ClientInfo, ClientEvent, ClientSink, Authorizer, RequestHandler, KeyInfo, SignalingEvents } from './core.js';
export { SIGNALING_LIMITS } from './limits.js';
export type { SignalingLimits } from './limits.js';
