/**
 * The application-facing protoo server of a node, in the spirit of
 * protoo-server: 'connectionrequest' (info, accept, reject) decides admission
 * before the WebSocket upgrade; accepted peers are ProtooPeer objects with
 * request/notify/close. Peers live in the shared signaling core, so they are
 * clients like any other: IM and Connector clients can message them.
 */
import { EventEmitter } from 'events';
import type http from 'node:http';
import type { UpgradeRoute } from '../transport/listener.js';
import { MAX_CLIENT_ID_LENGTH } from './mesh-records.js';
import { DIALECT_LIMITS } from './limits.js';
import type { SignalingCore } from './core.js';
import { PROTOO_SUBPROTOCOL, ProtooPeer } from './dialect-protoo.js';

/** Upgrade route priority: after mesh links (0), before the IM dialect (100). */
export const PROTOO_ROUTE_PRIORITY = 50;
/** Longest an application may take to accept or reject a connection (ms; src/util/limits.ts, group `dialects`). */
export const ADMISSION_TIMEOUT_MS = DIALECT_LIMITS.admissionTimeoutMs;

export interface ConnectionInfo {
  request: http.IncomingMessage;
  origin: string | undefined;
  socket: http.IncomingMessage['socket'];
  /** `peerId` from the URL query, or null. */
  peerId: string | null;
}
/** Admits the connection; resolves to the peer once the upgrade is done. `peerId` overrides the URL's. */
export type AcceptConnection = (opts?: { peerId?: string }) => Promise<ProtooPeer>;
export type RejectConnection = (code?: number | Error, reason?: string) => void;

export interface ProtooServerEvents {
  connectionrequest: [info: ConnectionInfo, accept: AcceptConnection, reject: RejectConnection];
  /** A peer connected (accepted by the application or by default). */
  peer: [peer: ProtooPeer];
}

interface Admission { peerId: string; resolve: (p: ProtooPeer) => void; reject: (e: Error) => void }

const servers = new WeakMap<SignalingCore, ProtooServer>();

/** The protoo server of a signaling core (created on first use). */
export function protooServerOf(core: SignalingCore): ProtooServer {
  let s = servers.get(core);
  if (!s) { s = new ProtooServer(core); servers.set(core, s); }
  return s;
}

export class ProtooServer extends EventEmitter<ProtooServerEvents> {
  readonly core: SignalingCore;
  readonly #peers = new Map<string, ProtooPeer>();
  readonly #admitted = new WeakMap<http.IncomingMessage, Admission>();
  #stopped = false;

  constructor(core: SignalingCore) {
    super();
    this.core = core;
  }

  get peers(): ProtooPeer[] { return [...this.#peers.values()]; }
  hasPeer(peerId: string): boolean { return this.#peers.has(peerId); }
  getPeer(peerId: string): ProtooPeer | undefined { return this.#peers.get(peerId); }

  /** No more protoo connections are admitted (existing peers stay). */
  stop(): void { this.#stopped = true; }

  /** The listener route: subprotocol `protoo`, admission before the upgrade. */
  route(): UpgradeRoute {
    return {
      name: 'signaling-protoo',
      priority: PROTOO_ROUTE_PRIORITY,
      protocol: PROTOO_SUBPROTOCOL,
      maxPayload: this.core.limits.maxSignalFrameBytes,
      match: (_req, protocols) => protocols.has(PROTOO_SUBPROTOCOL),
      verify: (req, done) => this.#verify(req, done),
      handle: (ws, req) => {
        const adm = this.#admitted.get(req);
        this.#admitted.delete(req);
        if (!adm) { ws.close(1011, 'not admitted'); return; }
        const peer = new ProtooPeer(this.core, ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`, adm.peerId);
        this.#peers.set(peer.id, peer);
        peer.once('close', () => { if (this.#peers.get(peer.id) === peer) this.#peers.delete(peer.id); });
        adm.resolve(peer);
        this.emit('peer', peer);
      },
    };
  }

  #verify(req: http.IncomingMessage, done: (ok: boolean, status?: number, reason?: string) => void): void {
    if (this.#stopped) return done(false, 503, 'Service Unavailable');
    let queryId: string | null = null;
    try {
      queryId = new URL(req.url ?? '/', 'http://x').searchParams.get('peerId');
    } catch { /* no query */ }
    let settled = false;
    const finish = (ok: boolean, status?: number, reason?: string) => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      done(ok, status, reason);
      return true;
    };
    const timer = setTimeout(() => finish(false, 503, 'No Admission Decision'), ADMISSION_TIMEOUT_MS);
    timer.unref?.();
    const admit = (peerId: string | null | undefined, resolve: Admission['resolve'], reject: Admission['reject']) => {
      if (typeof peerId !== 'string' || !peerId || peerId.length > MAX_CLIENT_ID_LENGTH) {
        finish(false, 400, 'Missing Or Bad peerId');
        return reject(new TypeError('peerId must be a string of 1 to 128 characters'));
      }
      if (this.core.sinkOf(peerId)) {
        finish(false, 409, 'peerId Taken');
        return reject(new Error(`peer ${peerId} is connected already`));
      }
      this.#admitted.set(req, { peerId, resolve, reject });
      if (!finish(true)) { this.#admitted.delete(req); reject(new Error('admission timed out')); }
    };
    if (this.listenerCount('connectionrequest') === 0) return admit(queryId, () => undefined, () => undefined);
    const accept: AcceptConnection = (opts = {}) => new Promise((resolve, reject) => admit(opts.peerId ?? queryId, resolve, reject));
    const reject: RejectConnection = (code = 403, reason = 'Rejected') => {
      if (code instanceof Error) finish(false, 500, code.message);
      else finish(false, code, reason);
    };
    const info: ConnectionInfo = { request: req, origin: req.headers.origin, socket: req.socket, peerId: queryId };
    try {
      this.emit('connectionrequest', info, accept, reject);
    } catch (err) {
      finish(false, 500, (err as Error).message);
    }
  }
}
