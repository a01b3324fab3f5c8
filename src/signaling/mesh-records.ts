/**
 * Signed registration records ("rosters"): which client ids are registered at
 * which home node. Each node signs one roster of its own clients with its
 * ML-DSA-65 key (FIPS 204), with a sequence number and an absolute expiry, and
 * floods it to the mesh; the others keep the newest unexpired roster of each
 * home. Pure bookkeeping: no I/O and no timers (the core decides when).
 */
import { equalBytes, fromBase64, textEncoder, toBase64 } from '../util/bytes.js';
import { PublicIdentity, type Identity } from '../crypto/identity.js';

export const ROSTER_LABEL = 'relaymesh/signaling-roster/v1';
/** Most characters in a client id (also enforced at registration). */
export const MAX_CLIENT_ID_LENGTH = 128;

/** The wire form (JSON), PROTOCOL.md "Signaling rosters". */
export interface RosterRecord {
  v: 1;
  /** Home node id, 40 hex characters. */
  home: string;
  /** base64(dsaPublicKey || kemPublicKey) of the home node; must hash to `home`. */
  keys: string;
  seq: number;
  /** Expiry, ms since the epoch. */
  exp: number;
  ids: string[];
  /** base64 ML-DSA-65 signature over rosterMessage(). */
  sig: string;
}

export interface RosterLimits {
  /** Homes remembered (oldest-expiring dropped first). */
  maxHomes: number;
  /** Ids accepted in one roster. */
  maxIdsPerRoster: number;
  /** Ids known mesh-wide, all homes together. */
  maxRemoteIds: number;
  /** Clock skew tolerated on expiry (ms). */
  maxTtlMs: number;
}

/** The signed bytes: label, then the fields as a canonical JSON array. */
export function rosterMessage(r: Pick<RosterRecord, 'v' | 'home' | 'seq' | 'exp' | 'ids'>): Uint8Array {
  return textEncoder.encode(`${ROSTER_LABEL}\n${JSON.stringify([r.v, r.home, r.seq, r.exp, r.ids])}`);
}

export function signRoster(identity: Identity, seq: number, exp: number, ids: string[]): RosterRecord {
  const body = { v: 1 as const, home: identity.idHex, seq, exp, ids };
  return { ...body, keys: toBase64(identity.publicKeys()), sig: toBase64(identity.sign(rosterMessage(body))) };
}

function isClientId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_CLIENT_ID_LENGTH;
}

/** Checks shape, key-to-id binding and signature; null if anything is wrong. Never throws. */
export function verifyRoster(x: unknown, limits: RosterLimits, now: number): RosterRecord | null {
  if (!x || typeof x !== 'object') return null;
  const r = x as RosterRecord;
  if (r.v !== 1 || typeof r.home !== 'string' || !/^[0-9a-f]{40}$/.test(r.home)) return null;
  if (!Number.isSafeInteger(r.seq) || r.seq < 0 || !Number.isSafeInteger(r.exp)) return null;
  if (r.exp <= now || r.exp > now + limits.maxTtlMs) return null;
  if (!Array.isArray(r.ids) || r.ids.length > limits.maxIdsPerRoster || !r.ids.every(isClientId)) return null;
  if (typeof r.keys !== 'string' || typeof r.sig !== 'string') return null;
  try {
    const pub = PublicIdentity.fromKeys(fromBase64(r.keys));
    if (!pub || pub.idHex !== r.home) return null;
    if (!pub.verify(fromBase64(r.sig), rosterMessage(r))) return null;
  } catch {
    return null;
  }
  return { v: 1, home: r.home, keys: r.keys, seq: r.seq, exp: r.exp, ids: [...r.ids], sig: r.sig };
}

export type RosterResult =
  | { status: 'stored'; added: string[]; removed: string[] }
  | { status: 'stale' | 'invalid' | 'full' };

/** The newest roster of every other home, and an index from client id to home. */
export class RosterStore {
  readonly #limits: RosterLimits;
  readonly #selfHex: string;
  readonly #rosters = new Map<string, RosterRecord>();
  readonly #homeOf = new Map<string, string>();
  #idCount = 0;

  constructor(selfHex: string, limits: RosterLimits) {
    this.#selfHex = selfHex;
    this.#limits = limits;
  }

  get homes(): number { return this.#rosters.size; }
  get size(): number { return this.#homeOf.size; }

  /** Home node (hex) of a remote client id, if a live roster lists it. */
  homeOf(clientId: string): string | undefined { return this.#homeOf.get(clientId); }

  /** True if home `hex`'s newest roster lists `clientId`. */
  lists(hex: string, clientId: string): boolean { return this.#homeOf.get(clientId) === hex; }

  seqOf(hex: string): number { return this.#rosters.get(hex)?.seq ?? -1; }

  /** Up to `limit` remote ids. */
  ids(limit: number): string[] {
    const out: string[] = [];
    for (const id of this.#homeOf.keys()) {
      if (out.length >= limit) break;
      out.push(id);
    }
    return out;
  }

  records(): RosterRecord[] { return [...this.#rosters.values()]; }

  /** Verifies and stores a roster if it is newer than what we have. */
  accept(x: unknown, now: number): RosterResult {
    const home = (x as RosterRecord | null)?.home;
    if (home === this.#selfHex) return { status: 'stale' };
    if (typeof home === 'string' && this.seqOf(home) >= (x as RosterRecord).seq) return { status: 'stale' };
    const r = verifyRoster(x, this.#limits, now);
    if (!r) return { status: 'invalid' };
    const old = this.#rosters.get(r.home);
    const oldIds = old ? old.ids : [];
    const grow = r.ids.length - oldIds.length;
    if (!old && this.#rosters.size >= this.#limits.maxHomes) return { status: 'full' };
    if (this.#idCount + grow > this.#limits.maxRemoteIds) return { status: 'full' };
    const removed = this.#unindex(r.home, oldIds, new Set(r.ids));
    const added: string[] = [];
    for (const id of r.ids) {
      if (this.#homeOf.get(id) === r.home) continue;
      // First home wins while its roster lives; a second claimant is not indexed.
      if (this.#homeOf.has(id)) continue;
      this.#homeOf.set(id, r.home);
      added.push(id);
    }
    this.#rosters.set(r.home, r);
    this.#idCount += grow;
    return { status: 'stored', added, removed };
  }

  /** Drops expired rosters; returns the ids that went with them. */
  sweep(now: number): string[] {
    const removed: string[] = [];
    for (const [hex, r] of this.#rosters) {
      if (r.exp > now) continue;
      this.#rosters.delete(hex);
      this.#idCount -= r.ids.length;
      removed.push(...this.#unindex(hex, r.ids, new Set()));
    }
    return removed;
  }

  /** Forgets a home at once (its node told us it is shutting down, or was proven gone). */
  drop(hex: string): string[] {
    const r = this.#rosters.get(hex);
    if (!r) return [];
    this.#rosters.delete(hex);
    this.#idCount -= r.ids.length;
    return this.#unindex(hex, r.ids, new Set());
  }

  #unindex(hex: string, ids: string[], keep: Set<string>): string[] {
    const removed: string[] = [];
    for (const id of ids) {
      if (keep.has(id) || this.#homeOf.get(id) !== hex) continue;
      this.#homeOf.delete(id);
      removed.push(id);
    }
    return removed;
  }
}

/** True if two public-key byte strings are the same key. */
export function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a !== null && b !== null && equalBytes(a, b);
}
