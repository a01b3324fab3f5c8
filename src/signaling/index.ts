/** The signaling subsystem's public surface (bootstrap/signaling.ts loads this). */
export { attachSignaling, IM_ROUTE_PRIORITY } from './server.js';
export { SignalingCore, signalingError, verifyProof } from './core.js';
export type { SignalingOptions, ClientInfo, ClientEvent, ClientSink, Authorizer, RequestHandler, KeyInfo, SignalingEvents, SignalingStats } from './core.js';
export { SIGNALING_LIMITS } from './limits.js';
export type { SignalingLimits } from './limits.js';
export { WIRE_ERRORS, wireError } from './wire-errors.js';
export type { WireErrorType } from './wire-errors.js';
export { roomsOf, Rooms, ROOM_LIMITS, roomError } from './rooms.js';
export type { RoomView, RoomEvent, RoomSink, RoomLimits } from './rooms.js';
export { protooServerOf, ProtooServer } from './protoo-server.js';
export type { ConnectionInfo, AcceptConnection, RejectConnection } from './protoo-server.js';
export { ProtooPeer, PROTOO_SUBPROTOCOL, CLOSE_FOR_GOOD } from './dialect-protoo.js';
export { ConnectorSession, CONNECTOR_PATHS } from './dialect-connector.js';
