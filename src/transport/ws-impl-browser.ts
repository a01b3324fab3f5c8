/** Browser stand-in for ws-impl.ts. */
export const WebSocketImpl = globalThis.WebSocket;
export const IS_NODE_WS = false;
