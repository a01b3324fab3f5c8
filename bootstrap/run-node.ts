/**
 * startBootstrapNode: the node an operator runs, as a library function (the
 * `relaymesh` CLI is a thin wrapper). A PeerRelay on a fixed port with an
 * identity kept on disk, signaling, the HTTP routes (health, metrics, status
 * page, demo) and a graceful close.
 */
import { readFileSync } from 'node:fs';
import { PeerRelay, type PeerRelayOptions } from '../src/peer-relay.js';
import type { Identity } from '../src/crypto/identity.js';
import type { Limits } from '../src/util/limits.js';
import { toHex } from '../src/util/bytes.js';
import { loadOrCreateIdentity } from './identity-file.js';
import { createLogger, type Logger } from './logger.js';
import { snapshot, type NodeSnapshot } from './metrics.js';
import { createHttpRoutes } from './http.js';
import { DemoRoom } from './demo-room.js';
import { sayGoodbye, signalingStats } from './signaling.js';

export const DEFAULT_PORT = 7700;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = '.relaymesh';

export interface BootstrapNodeOptions {
  /** Port for mesh links and HTTP (default 7700; 0 picks a free one). */
  port?: number;
  /** Listen address (default 127.0.0.1; 0.0.0.0 or :: for a public node). */
  host?: string;
  /** The ws:// or wss:// URL other nodes should dial (e.g. behind a TLS reverse proxy). */
  publicUrl?: string;
  /** Other bootstrap nodes to join (ws:// or wss:// URLs). */
  bootstrap?: string[];
  /** Directory holding identity.json (default .relaymesh in the working directory). */
  dataDir?: string;
  /** Use this identity instead of the data directory's. */
  identity?: Identity;
  limits?: Partial<Limits>;
  iceServers?: PeerRelayOptions['iceServers'];
  /** A WebRTC implementation (e.g. `@roamhq/wrtc`) to let this node form WebRTC links. */
  wrtc?: unknown;
  /** Serve signaling clients (MessagingPeer) on the same port (default true). */
  signaling?: boolean;
  /** Serve /demo and keep its chat room (default true). */
  demo?: boolean;
  logger?: Logger;
  /** Path of the browser bundle served at /relaymesh.js. */
  bundlePath?: string;
}

export interface BootstrapNode {
  readonly node: PeerRelay;
  readonly id: string;
  /** The mesh URL nodes dial (ws://...). */
  readonly url: string;
  /** Where the status page is (http://...). */
  readonly httpUrl: string;
  readonly port: number;
  readonly identityPath: string | null;
  readonly identityCreated: boolean;
  /** The demo chat's room, when the demo is on. */
  readonly demo: DemoRoom | null;
  snapshot(): NodeSnapshot;
  /** Closes links (telling peers), signaling clients and the port. Idempotent. */
  close(): Promise<void>;
}

export const VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

export async function startBootstrapNode(opts: BootstrapNodeOptions = {}): Promise<BootstrapNode> {
  if (opts === null || typeof opts !== 'object') throw new TypeError('opts must be an object');
  const log = opts.logger ?? createLogger('info');
  const port = opts.port ?? DEFAULT_PORT;
  const host = opts.host ?? DEFAULT_HOST;
  let identity = opts.identity;
  let identityPath: string | null = null;
  let identityCreated = false;
  if (!identity) {
    const loaded = loadOrCreateIdentity(opts.dataDir ?? DEFAULT_DATA_DIR);
    identity = loaded.identity;
    identityPath = loaded.path;
    identityCreated = loaded.created;
    log.info(loaded.created ? 'identity created' : 'identity loaded', { path: loaded.path });
  }
  const startedAt = Date.now();
  const node = new PeerRelay({
    ...opts.limits, port, host, publicUrl: opts.publicUrl, bootstrap: opts.bootstrap ?? [],
    identity, iceServers: opts.iceServers, wrtc: opts.wrtc,
    ...(opts.signaling === false ? { signaling: false as const } : {}),
  });
  let demo: DemoRoom | null = null;
  const snap = () => snapshot(node, { version: VERSION, startedAt, signaling: () => signalingStats(node) });

  // A node made with a port has its listener at once; the port opens a microtask later.
  const listener = node.listener;
  if (!listener) throw new Error('the node has no listener');
  listener.addRequestHandler(createHttpRoutes({ snapshot: snap, demo: opts.demo !== false, bundlePath: opts.bundlePath }));
  if (opts.demo !== false) demo = new DemoRoom(node);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => { node.off('listening', onListening); node.destroy(); reject(err); };
    const onListening = () => { node.off('error', onError); resolve(); };
    node.once('listening', onListening);
    node.once('error', onError);
  });
  if (node.signaling) log.info('signaling on', { clients: 'ws:// with no subprotocol, same port' });
  node.on('error', (err) => log.error('node error', { err }));
  node.on('peer', (id) => log.info('link up', { peer: toHex(id), links: node.peers.length }));
  node.on('disconnect', (id, err) => log.info('link down', { peer: toHex(id), links: node.peers.length, reason: err?.code }));

  const address = node.address()!;
  const shown = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1'
    : address.address.includes(':') ? `[${address.address}]` : address.address;
  const httpUrl = `http://${shown}:${address.port}/`;
  const url = node.url || `ws://${shown}:${address.port}`;
  let closing: Promise<void> | null = null;
  return {
    node, id: node.identity.idHex, url, httpUrl, port: address.port, identityPath, identityCreated, demo,
    snapshot: snap,
    close() {
      closing ??= (async () => {
        demo?.close();
        const told = await sayGoodbye(node);
        if (told) log.info('signaling clients told', { clients: told });
        await new Promise<void>((resolve) => node.destroy(() => resolve()));
      })();
      return closing;
    },
  };
}
