/**
 * IPv4-shaped aliases for node ids. A node's alias is the network prefix
 * (default 10.0.0.0/8) followed by the top 32-n bits of its id, so the alias
 * names a region of the id space: any node can find the aliased node with a
 * lookup toward that region (see resolver.ts), and can check any candidate id
 * against the alias by itself (the id either starts with those bits or not).
 */
import { ID_LENGTH } from '../crypto/identity.js';

export const DEFAULT_ALIAS_PREFIX = '10.0.0.0/8';

export interface AliasPrefix {
  /** Network address as an unsigned 32-bit number (host bits zero). */
  readonly network: number;
  /** Prefix length: 0 to 24 (at least 8 host bits). */
  readonly length: number;
  /** Bits of the id an alias carries: 32 - length. */
  readonly hostBits: number;
  readonly text: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

export function ipv4ToNumber(s: string): number {
  const p = s.split('.');
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

export function numberToIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Parses "a.b.c.d/n"; throws RangeError naming `name` when it is not a prefix of 0..24 bits. */
export function parsePrefix(text: string, name = 'aliasPrefix'): AliasPrefix {
  const m = typeof text === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(text) : null;
  if (!m || !isIPv4(m[1]) || +m[2] > 24) {
    throw new RangeError(`${name} must be an IPv4 CIDR prefix "a.b.c.d/n" with n from 0 to 24, got ${String(text)}`);
  }
  const length = +m[2];
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return { network: (ipv4ToNumber(m[1]) & mask) >>> 0, length, hostBits: 32 - length, text: `${m[1]}/${length}` };
}

/** The top `bits` (1..32) bits of `id` as an unsigned number. */
function topBits(id: Uint8Array, bits: number): number {
  const word = ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;
  return bits === 32 ? word : word >>> (32 - bits);
}

/** The alias of `id` as a 32-bit number. */
export function aliasNumber(id: Uint8Array, prefix: AliasPrefix): number {
  return (prefix.network | topBits(id, prefix.hostBits)) >>> 0;
}

/** The alias of `id`, e.g. "10.171.4.93". */
export function aliasOf(id: Uint8Array, prefix: AliasPrefix): string {
  return numberToIPv4(aliasNumber(id, prefix));
}

/** True when `alias` (a number) lies inside `prefix`. */
export function inPrefix(alias: number, prefix: AliasPrefix): boolean {
  if (prefix.length === 0) return true;
  const mask = (0xffffffff << prefix.hostBits) >>> 0;
  return ((alias & mask) >>> 0) === prefix.network;
}

/** The point of the id space an alias names: its host bits first, zeros after. */
export function aliasTarget(alias: number, prefix: AliasPrefix): Uint8Array {
  const host = prefix.hostBits === 32 ? alias >>> 0 : (alias & (2 ** prefix.hostBits - 1)) >>> 0;
  const word = prefix.hostBits === 32 ? host : (host * 2 ** (32 - prefix.hostBits)) >>> 0;
  const out = new Uint8Array(ID_LENGTH);
  out[0] = word >>> 24; out[1] = (word >>> 16) & 255; out[2] = (word >>> 8) & 255; out[3] = word & 255;
  return out;
}

/** True when `id` is a node that `alias` can name. */
export function idMatchesAlias(id: Uint8Array, alias: number, prefix: AliasPrefix): boolean {
  return aliasNumber(id, prefix) === alias >>> 0;
}
