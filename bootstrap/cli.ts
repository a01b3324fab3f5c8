#!/usr/bin/env node
/**
 * `relaymesh`: runs a bootstrap node. Every flag has an environment variable;
 * with none, it listens on 127.0.0.1:7700 and keeps its identity in
 * ./.relaymesh/identity.json. Logs are JSON lines on stdout.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_LIMITS, type Limits } from '../src/util/limits.js';
import { createLogger, LOG_LEVELS, type LogLevel } from './logger.js';
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, startBootstrapNode, VERSION } from './run-node.js';
import { stopOnSignals } from './signals.js';

type IceServer = { urls: string | string[]; username?: string; credential?: string };

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return n;
}

function limits(v: string, prev: Partial<Limits> = {}): Partial<Limits> {
  const out = { ...prev };
  for (const pair of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = pair.split('=');
    if (!(key in DEFAULT_LIMITS)) throw new InvalidArgumentError(`unknown limit "${key}"; known: ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
    const n = Number(value);
    if (!(n > 0)) throw new InvalidArgumentError(`limit ${key} must be a positive number`);
    out[key as keyof Limits] = n;
  }
  return out;
}

function iceServers(v: string, prev: IceServer[] = []): IceServer[] {
  if (/^\s*[[{]/.test(v)) {
    try {
      const parsed = JSON.parse(v) as IceServer | IceServer[];
      return [...prev, ...(Array.isArray(parsed) ? parsed : [parsed])];
    } catch {
      throw new InvalidArgumentError('ICE servers as JSON must parse: {"urls":"turn:host:3478","username":"u","credential":"p"}');
    }
  }
  return [...prev, ...list(v).map((urls) => ({ urls }))];
}

const program = new Command('relaymesh')
  .description('Run a relaymesh bootstrap node: mesh links, signaling, /health, /metrics and a status page on one port.')
  .version(VERSION)
  .addOption(new Option('-p, --port <port>', 'port for mesh links and HTTP').env('RELAYMESH_PORT').default(DEFAULT_PORT).argParser(port))
  .addOption(new Option('--host <address>', 'address to listen on (0.0.0.0 or :: for a public node)').env('RELAYMESH_HOST').default(DEFAULT_HOST))
  .addOption(new Option('-b, --bootstrap <urls>', 'other bootstrap nodes, ws:// or wss:// (repeat or comma-separate)').env('RELAYMESH_BOOTSTRAP').argParser(list))
  .addOption(new Option('--public-url <url>', 'URL other nodes dial to reach this one, e.g. wss://relay.example.org behind a TLS proxy').env('RELAYMESH_PUBLIC_URL'))
  .addOption(new Option('-d, --data-dir <dir>', 'directory for identity.json (made on first start, reused after)').env('RELAYMESH_DATA_DIR').default(DEFAULT_DATA_DIR))
  .addOption(new Option('--limit <key=value>', 'override a limit, e.g. maxLinks=512 (repeat or comma-separate)').env('RELAYMESH_LIMITS').argParser(limits))
  .addOption(new Option('--ice-server <url|json>', 'STUN/TURN server for WebRTC links (repeat; JSON for credentials)').env('RELAYMESH_ICE_SERVERS').argParser(iceServers))
  .addOption(new Option('--webrtc', 'form WebRTC links too (loads @roamhq/wrtc)').env('RELAYMESH_WEBRTC'))
  .addOption(new Option('--no-signaling', 'do not serve signaling clients'))
  .addOption(new Option('--no-demo', 'do not serve the /demo chat page'))
  .addOption(new Option('-l, --log-level <level>', 'log level').env('RELAYMESH_LOG_LEVEL').default('info').choices(LOG_LEVELS));

program.parse();
const o = program.opts<{
  port: number; host: string; bootstrap?: string[]; publicUrl?: string; dataDir: string; limit?: Partial<Limits>;
  iceServer?: IceServer[]; webrtc?: boolean; signaling: boolean; demo: boolean; logLevel: LogLevel;
}>();
// Logs piped into a reader that went away (`relaymesh | head`) must not crash the node.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') console.error(err); });
const log = createLogger(o.logLevel);

let wrtc: unknown;
if (o.webrtc) {
  const mod = (await import('@roamhq/wrtc')) as { default?: unknown };
  wrtc = mod.default ?? mod;
}

try {
  const bn = await startBootstrapNode({
    port: o.port, host: o.host, bootstrap: o.bootstrap, publicUrl: o.publicUrl, dataDir: o.dataDir,
    limits: o.limit, iceServers: o.iceServer, wrtc, signaling: o.signaling, demo: o.demo, logger: log,
  });
  // Handlers first: a process manager that signals as soon as it reads 'listening' must find them installed
  // (a SIGINT in between took the default action and killed node without its clean stop).
  stopOnSignals(() => bn.close(), log);
  log.info('listening', { id: bn.id, url: bn.url, status: bn.httpUrl, version: VERSION, bootstrap: o.bootstrap ?? [] });
} catch (err) {
  log.error('could not start', { err: err as Error });
  process.exitCode = 1;
}
