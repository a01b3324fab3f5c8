/**
 * One port for everything a node serves: mesh links (WebSocket subprotocol
 * `relaymesh.v1`), the signaling dialects, and plain HTTP (health, metrics,
 * status page). Upgrades are dispatched to the first route that matches.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { guardFrames, type FrameGuard } from './frame-guard.js';
import type { ConnectionCap } from './connection-cap.js';

export { ConnectionCap } from './connection-cap.js';

export interface UpgradeRoute {
  name: string;
  /** Lower runs first. */
  priority: number;
  match(req: http.IncomingMessage, protocols: Set<string>): boolean;
  /** The subprotocol to select, if any. */
  protocol?: string;
  maxPayload: number;
  /** Connection caps shared with other routes (checked before `verify` and the upgrade). */
  cap?: ConnectionCap;
  /** Bounds on unfinished frames (time and the shared byte budget). */
  frameGuard?: FrameGuard;
  /** Optional admission before the upgrade; `done(false, status, reason)` answers with an HTTP error. */
  verify?(req: http.IncomingMessage, done: (ok: boolean, status?: number, reason?: string) => void): void;
  handle(ws: WebSocket, req: http.IncomingMessage): void;
}

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export class Listener {
  readonly server: http.Server;
  readonly #routes: { route: UpgradeRoute; wss: WebSocketServer }[] = [];
  readonly #handlers: RequestHandler[] = [];
  #closed = false;

  constructor() {
    this.server = http.createServer((req, res) => this.#onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket as import('node:net').Socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  addRoute(route: UpgradeRoute): void {
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: route.maxPayload,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (route.protocol && protocols.has(route.protocol) ? route.protocol : false),
    });
    this.#routes.push({ route, wss });
    this.#routes.sort((a, b) => a.route.priority - b.route.priority);
  }

  addRequestHandler(fn: RequestHandler): void { this.#handlers.push(fn); }

  /** Every WebSocket currently open on this port, across routes. */
  *clients(): Iterable<WebSocket> {
    for (const { wss } of this.#routes) yield* wss.clients;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const ws of this.clients()) ws.terminate();
    for (const { wss } of this.#routes) wss.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      for (const h of this.#handlers) if (h(req, res)) return;
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  #onUpgrade(req: http.IncomingMessage, socket: import('node:net').Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.#closed) { socket.destroy(); return; }
    const header = req.headers['sec-websocket-protocol'];
    const protocols = new Set((typeof header === 'string' ? header : '').split(',').map((s) => s.trim()).filter(Boolean));
    for (const { route, wss } of this.#routes) {
      if (!route.match(req, protocols)) continue;
      if (route.cap) {
        const refused = route.cap.admit(String(socket.remoteAddress ?? ''), socket);
        if (refused) {
          socket.end(`HTTP/1.1 ${refused.status} ${refused.reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
      }
      const upgrade = () => wss.handleUpgrade(req, socket, head, (ws) => {
        if (this.#closed) { ws.terminate(); return; }
        if (route.frameGuard) guardFrames(ws, route.frameGuard);
        route.handle(ws, req);
      });
      if (!route.verify) { upgrade(); return; }
      route.verify(req, (ok, status = 403, reason = 'Forbidden') => {
        if (ok && !this.#closed && !socket.destroyed) return upgrade();
        const text = String(reason).replace(/[^\x20-\x7e]/g, '').slice(0, 120) || 'Forbidden';
        if (!socket.destroyed) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      });
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  }
}

/** The ws:// URL for a listening address, or '' for a wildcard address (which is no address to dial). */
export function advertisedUrl(address: string, port: number): string {
  if (address === '0.0.0.0' || address === '::') return '';
  return address.includes(':') ? `ws://[${address}]:${port}` : `ws://${address}:${port}`;
}
