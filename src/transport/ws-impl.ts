/** The WebSocket client class: `ws` in Node (aliased to the browser's own in the bundle). */
import WebSocket from 'ws';

export const WebSocketImpl = WebSocket as unknown as typeof globalThis.WebSocket;
export const IS_NODE_WS = true;
