/**
 * Socket options: dgram's (type, buffer sizes, signal...) plus where the
 * socket lives (its own PeerRelay, or an existing one) and how it names nodes.
 * Caller misuse throws here, before anything is created.
 */
import { isMeshNode, type MeshNode } from '../src/node/mesh-node.js';
import type { NodeOptions } from '../src/node/types.js';
import { DEFAULT_ALIAS_PREFIX, parsePrefix, type AliasPrefix } from '../src/alias/alias.js';
import type { AddressMode } from './addressing.js';
import * as E from './errors.js';

export type SocketType = 'udp4' | 'udp6' | 'peer-relay';

export interface SocketOptions extends NodeOptions {
  /** Passed to the socket's own PeerRelay (its signaling server options, or false). */
  signaling?: unknown;
  /** 'udp4' (address mode 'ipv4' by default), 'udp6' or 'peer-relay' (address mode 'id'). */
  type?: SocketType;
  /** Host the socket on this existing node (several sockets may share one, one per port); close() leaves it running. */
  peer?: MeshNode;
  /** 'id': addresses are 40-hex node ids (the seed's); 'ipv4': IPv4-shaped aliases. */
  addressMode?: AddressMode;
  /** The alias network, "a.b.c.d/n" with n <= 24 (default 10.0.0.0/8); the same on every node. */
  aliasPrefix?: string;
  /** Reported by getRecvBufferSize(); no receive buffer exists (datagrams are delivered as they arrive). */
  recvBufferSize?: number;
  /** Most bytes waiting for bind or alias resolution; more fail with ENOBUFS (default SOCKET_LIMITS.sendBufferSize, 212992). */
  sendBufferSize?: number;
  /** Closes the socket when aborted, as in dgram. */
  signal?: AbortSignal;
  /** Accepted for dgram compatibility; no meaning over the mesh. */
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  lookup?: unknown;
}

export interface ParsedOptions {
  type: SocketType;
  peer?: MeshNode;
  addressMode: AddressMode;
  prefix: AliasPrefix;
  recvBufferSize?: number;
  sendBufferSize?: number;
  signal?: AbortSignal;
  nodeOptions: Record<string, unknown>;
}

const TYPES = new Set(['udp4', 'udp6', 'peer-relay']);
const SOCKET_KEYS = new Set(['type', 'peer', 'addressMode', 'aliasPrefix', 'recvBufferSize', 'sendBufferSize', 'signal', 'reuseAddr', 'ipv6Only', 'lookup']);

export function parseSocketOptions(input: SocketOptions | SocketType | undefined | null): ParsedOptions {
  const opts: SocketOptions = typeof input === 'string' ? { type: input } : input ?? {};
  if (typeof opts !== 'object') throw new TypeError('opts must be an object or a socket type');
  if (opts.type !== undefined && !TYPES.has(opts.type)) throw E.badType();
  const type = opts.type ?? 'peer-relay';
  if (opts.peer !== undefined && !isMeshNode(opts.peer)) throw new TypeError('opts.peer must be a PeerRelay');
  if (opts.addressMode !== undefined && opts.addressMode !== 'id' && opts.addressMode !== 'ipv4') {
    throw new TypeError(`opts.addressMode must be 'id' or 'ipv4', got ${String(opts.addressMode)}`);
  }
  for (const k of ['recvBufferSize', 'sendBufferSize'] as const) {
    const v = opts[k];
    if (v && (typeof v !== 'number' || v >>> 0 !== v)) throw E.invalidArgType(`options.${k}`, 'of type number', v);
  }
  if (opts.signal !== undefined && (typeof opts.signal !== 'object' || typeof opts.signal.addEventListener !== 'function')) {
    throw E.invalidArgType('options.signal', 'an instance of AbortSignal', opts.signal);
  }
  const nodeOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (!SOCKET_KEYS.has(k)) nodeOptions[k] = v;
  return {
    type,
    peer: opts.peer,
    addressMode: opts.addressMode ?? (type === 'udp4' ? 'ipv4' : 'id'),
    prefix: parsePrefix(opts.aliasPrefix ?? DEFAULT_ALIAS_PREFIX, 'opts.aliasPrefix'),
    recvBufferSize: opts.recvBufferSize,
    sendBufferSize: opts.sendBufferSize,
    signal: opts.signal,
    nodeOptions,
  };
}
