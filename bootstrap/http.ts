/**
 * The bootstrap node's HTTP side, on the mesh port: /health (JSON), /metrics
 * (Prometheus text), /status.json (what the status page polls), / (status
 * page), /demo (chat over the mesh) and /relaymesh.js (the browser bundle).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import debugFactory from 'debug';
import { renderPrometheus, type NodeSnapshot } from './metrics.js';
import { STATUS_PAGE } from './status-page.js';
import { DEMO_PAGE } from './demo-page.js';

const debug = debugFactory('relaymesh:bootstrap');

/** Where `npm run build:browser` puts the bundle, relative to this compiled file (dist/bootstrap/). */
export const DEFAULT_BUNDLE_PATH = fileURLToPath(new URL('../browser/relaymesh.js', import.meta.url));

export interface HttpRoutesOptions {
  snapshot(): NodeSnapshot;
  /** Serve /demo (default true). */
  demo?: boolean;
  bundlePath?: string;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
// 'wasm-unsafe-eval': the demo's node may compile the bundle's liboqs WebAssembly (ML-KEM, ML-DSA); without it, noble.
const PAGE_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:";

/** Makes the handler for `listener.addRequestHandler`: true when it answered the request. */
export function createHttpRoutes(opts: HttpRoutesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const bundlePath = opts.bundlePath ?? DEFAULT_BUNDLE_PATH;
  const demo = opts.demo !== false;
  let bundle: { data: Buffer; at: number } | null = null;

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...SECURITY_HEADERS, ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/' || path === '/health' || path === '/metrics' || path === '/status.json'
      || path === '/relaymesh.js' || (demo && path === '/demo');
    if (!known) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    switch (path) {
      case '/health': {
        const s = opts.snapshot();
        send(res, 200, 'application/json', JSON.stringify({
          status: 'ok', id: s.id, url: s.url, version: s.version, uptimeSeconds: s.uptimeSeconds,
          links: s.routingTableSize, signalingClients: s.signaling.clients,
        }));
        return true;
      }
      case '/metrics':
        send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(opts.snapshot()));
        return true;
      case '/status.json':
        send(res, 200, 'application/json', JSON.stringify(opts.snapshot()));
        return true;
      case '/':
        send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE, { 'content-security-policy': PAGE_CSP });
        return true;
      case '/demo':
        send(res, 200, 'text/html; charset=utf-8', DEMO_PAGE, { 'content-security-policy': PAGE_CSP });
        return true;
      case '/relaymesh.js': {
        // Cached for a second: the file is rebuilt during development, and reads are cheap.
        if (bundle && Date.now() - bundle.at < 1000) {
          send(res, 200, 'text/javascript; charset=utf-8', bundle.data);
          return true;
        }
        readFile(bundlePath).then((data) => {
          bundle = { data, at: Date.now() };
          send(res, 200, 'text/javascript; charset=utf-8', data);
        }, (err) => {
          debug('bundle unavailable: %s', err.message);
          send(res, 404, 'text/plain; charset=utf-8', 'browser bundle not built: run `npm run build:browser`\n');
        });
        return true;
      }
    }
    return false;
  };
}
