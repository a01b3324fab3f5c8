/**
 * How a socket names nodes: by id (hex, family 'peer-relay', the seed's
 * addresses) or by IPv4-shaped alias (family 'IPv4', for programs that store
 * IPv4 addresses). Turns what a program passes as an address into a node id.
 */
import { equalBytes, fromHex, isBytes, toBuffer, toHex } from '../src/util/bytes.js';
import { ID_LENGTH } from '../src/crypto/identity.js';
import { BoundedMap } from '../src/util/bounded-map.js';
import { SOCKET_LIMITS } from '../src/util/limits.js';
import { aliasOf, inPrefix, ipv4ToNumber, isIPv4, type AliasPrefix } from '../src/alias/alias.js';
import type { Resolver } from '../src/alias/resolver.js';

export type AddressMode = 'id' | 'ipv4';

/** What an address turned into: a node, a lookup in progress, or an error of dgram's kind. */
export type Resolution =
  | { id: Uint8Array }
  | { pending: Promise<Uint8Array | null> }
  | { error: 'ENOTFOUND' | 'ENETUNREACH' };

const HEX_ID = /^[0-9a-fA-F]{40}$/;
/** Addresses a UDP program uses for its own machine: here, the socket's own node. */
const LOCAL = new Set(['', 'localhost', '0.0.0.0', '::', '::1', '0:0:0:0:0:0:0:1', 'ip6-localhost']);

/** Most address strings remembered as resolved (the most recently resolved are kept). */
const RECENT_LIMIT = SOCKET_LIMITS.maxCachedAddresses;

export function isLocalAddress(address: string): boolean {
  return LOCAL.has(address) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

export class Addressing {
  readonly mode: AddressMode;
  readonly family: string;
  readonly prefix: AliasPrefix;
  readonly #self: Uint8Array;
  readonly #resolver: Resolver;
  /** Recently resolved address strings (a program sends to few addresses, many times). */
  readonly #recent = new BoundedMap<string, Uint8Array>(RECENT_LIMIT);
  #lastId: Uint8Array | null = null;
  #lastName = '';

  constructor(mode: AddressMode, prefix: AliasPrefix, self: Uint8Array, resolver: Resolver) {
    this.mode = mode;
    this.family = mode === 'ipv4' ? 'IPv4' : 'peer-relay';
    this.prefix = prefix;
    this.#self = self;
    this.#resolver = resolver;
    if (mode === 'ipv4') resolver.addPrefix(prefix);
  }

  /** How this socket shows node `id`: hex, or its alias. */
  nameOf(id: Uint8Array): string {
    if (this.#lastId && equalBytes(this.#lastId, id)) return this.#lastName;
    this.#lastName = this.mode === 'ipv4' ? aliasOf(id, this.prefix) : toHex(id);
    this.#lastId = id.slice();
    return this.#lastName;
  }

  get selfName(): string { return this.nameOf(this.#self); }

  /**
   * Resolves an address a program passed: a 40-hex id or a 20-byte id (both
   * modes), a loopback or wildcard name (this node, as UDP reaches its own
   * host), or in 'ipv4' mode an alias inside the prefix.
   */
  resolve(address: string | Uint8Array | null | undefined): Resolution {
    if (typeof address === 'string') {
      const hit = this.#recent.get(address);
      if (hit) return { id: hit };
    }
    const r = this.#resolve(address);
    if (typeof address === 'string' && 'id' in r) this.#recent.set(address, r.id);
    return r;
  }

  #resolve(address: string | Uint8Array | null | undefined): Resolution {
    if (address == null) return { id: this.#self };
    if (isBytes(address)) return address.length === ID_LENGTH ? { id: toBuffer(address.slice()) } : { error: 'ENOTFOUND' };
    if (HEX_ID.test(address)) return { id: toBuffer(fromHex(address)) };
    if (isLocalAddress(address)) return { id: this.#self };
    if (isIPv4(address)) {
      const n = ipv4ToNumber(address);
      if (this.mode !== 'ipv4' || !inPrefix(n, this.prefix)) return { error: 'ENETUNREACH' };
      const hit = this.#resolver.cached(n, this.prefix);
      return hit ? { id: hit } : { pending: this.#resolver.resolve(n, this.prefix) };
    }
    if (address.includes(':')) return { error: 'ENETUNREACH' };
    return { error: 'ENOTFOUND' };
  }

  /** True when `address` names this node (what bind accepts). */
  isSelf(address: string): boolean {
    if (isLocalAddress(address)) return true;
    if (HEX_ID.test(address)) return address.toLowerCase() === toHex(this.#self);
    return this.mode === 'ipv4' && address === this.selfName;
  }
}
