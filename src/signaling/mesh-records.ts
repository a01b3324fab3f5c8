/**
 * Signed registration records ("rosters"): which client ids are registered at
 * which home node, and with which ML-DSA signing key. Each node signs one
 * roster of its own clients with its ML-DSA-65 key (FIPS 204), with a sequence
 * number and an absolute expiry, and floods it to the mesh; the others keep the
 * newest unexpired roster of each home. When two homes list one id, the first
 * indexed keeps it while its roster lives; when it goes, the other claimant
 * gets the id at once. Pure bookkeeping: no I/O and no timers (the core decides when).
 */
import { equalBytes, fromBase64, textEncoder, toBase64, toHex } from '../util/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { PublicIdentity, type Identity } from '../crypto/identity.js';

export const ROSTER_LABEL = 'relaymesh/signaling-roster/v2';
/** Hex characters of a key tag: the first 16 bytes of SHA-256 of a client's ML-DSA-65 public key. */
export const KEY_TAG_LENGTH = 32;
/** Most characters in a client id (also enforced at registration). */
export const MAX_CLIENT_ID_LENGTH = 128;

/** The wire form (JSON), PROTOCOL.md "Signaling rosters". */
export interface RosterRecord {
  v: 2;
  /** Home node id, 40 hex characters. */
  home: string;
  /** base64(dsaPublicKey || kemPublicKey) of the home node; must hash to `home`. */
  keys: string;
  seq: number;
  /** Expiry, ms since the epoch. */
  exp: number;
  ids: string[];
  /** Per id: the key tag of its registration's signing key (keyTag()), or '' for a client without one. */
  tags: string[];
  /** Per id: the time its client signed its registration (relaymesh-im's fresh proof, ms), or 0. */
  ts: number[];
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

/** What a roster says of one id. */
export interface RosterEntry { home: string; tag: string; ts: number }

/** The key tag of an ML-DSA public key: hex of the first 16 bytes of its SHA-256. */
export function keyTag(signingKey: Uint8Array | null): string {
  return signingKey ? toHex(sha256(signingKey)).slice(0, KEY_TAG_LENGTH) : '';
}

/** The signed bytes: label, then the fields as a canonical JSON array. */
export function rosterMessage(r: Pick<RosterRecord, 'v' | 'home' | 'seq' | 'exp' | 'ids' | 'tags' | 'ts'>): Uint8Array {
  return textEncoder.encode(`${ROSTER_LABEL}\n${JSON.stringify([r.v, r.home, r.seq, r.exp, r.ids, r.tags, r.ts])}`);
}

export function signRoster(identity: Identity, seq: number, exp: number, ids: string[], tags?: string[], ts?: number[]): RosterRecord {
  const body = { v: 2 as const, home: identity.idHex, seq, exp, ids, tags: tags ?? ids.map(() => ''), ts: ts ?? ids.map(() => 0) };
  return { ...body, keys: toBase64(identity.publicKeys()), sig: toBase64(identity.sign(rosterMessage(body))) };
}

const TAG_RE = new RegExp(`^([0-9a-f]{${KEY_TAG_LENGTH}})?$`);

function isClientId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_CLIENT_ID_LENGTH;
}

/** True if `x` lists more ids than a roster may (checked before anything else is). */
export function oversizedRoster(x: unknown, limits: RosterLimits): boolean {
  const ids = (x as RosterRecord | null)?.ids;
  return Array.isArray(ids) && ids.length > limits.maxIdsPerRoster;
}

/** Checks shape, key-to-id binding and signature; null if anything is wrong. Never throws. */
export function verifyRoster(x: unknown, limits: RosterLimits, now: number): RosterRecord | null {
  if (!x || typeof x !== 'object') return null;
  const r = x as RosterRecord;
  if (r.v !== 2 || typeof r.home !== 'string' || !/^[0-9a-f]{40}$/.test(r.home)) return null;
  if (!Number.isSafeInteger(r.seq) || r.seq < 0 || !Number.isSafeInteger(r.exp)) return null;
  if (r.exp <= now || r.exp > now + limits.maxTtlMs) return null;
  if (!Array.isArray(r.ids) || r.ids.length > limits.maxIdsPerRoster || !r.ids.every(isClientId)) return null;
  if (!Array.isArray(r.tags) || r.tags.length !== r.ids.length || !r.tags.every((t) => typeof t === 'string' && TAG_RE.test(t))) return null;
  if (!Array.isArray(r.ts) || r.ts.length !== r.ids.length || !r.ts.every((t) => Number.isSafeInteger(t) && t >= 0)) return null;
  if (typeof r.keys !== 'string' || typeof r.sig !== 'string') return null;
  try {
    const pub = PublicIdentity.fromKeys(fromBase64(r.keys));
    if (!pub || pub.idHex !== r.home) return null;
    if (!pub.verify(fromBase64(r.sig), rosterMessage(r))) return null;
  } catch {
    return null;
  }
  return { v: 2, home: r.home, keys: r.keys, seq: r.seq, exp: r.exp, ids: [...r.ids], tags: [...r.tags], ts: [...r.ts], sig: r.sig };
}

export type RosterResult =
  | { status: 'stored'; added: string[]; removed: string[] }
  | { status: 'stale' | 'invalid' | 'full' | 'oversized' };

/** The newest roster of every other home, and an index from client id to home. */
export class RosterStore {
  readonly #limits: RosterLimits;
  readonly #selfHex: string;
  readonly #rosters = new Map<string, RosterRecord>();
  readonly #homeOf = new Map<string, string>();
  /** Ids listed by a home that is not indexed for them (another home was first): they take over when it goes. */
  readonly #waiting = new Map<string, Set<string>>();
  /** Homes dropped (dead, or shut down) and the roster seq they had: an older copy relayed later is stale. */
  readonly #dropped = new Map<string, number>();
  #idCount = 0;

  constructor(selfHex: string, limits: RosterLimits) {
    this.#selfHex = selfHex;
    this.#limits = limits;
  }

  get homes(): number { return this.#rosters.size; }
  get size(): number { return this.#homeOf.size; }

  /** Home node (hex) of a remote client id, if a live roster lists it. */
  homeOf(clientId: string): string | undefined { return this.#homeOf.get(clientId); }

  /** True if home `hex`'s newest roster lists `clientId` (indexed there, or waiting for the first home to go). */
  lists(hex: string, clientId: string): boolean {
    return this.#homeOf.get(clientId) === hex || this.#waiting.get(clientId)?.has(hex) === true;
  }

  /** The ids home `hex`'s roster lists. */
  idsOf(hex: string): string[] { return this.#rosters.get(hex)?.ids ?? []; }

  seqOf(hex: string): number { return this.#rosters.get(hex)?.seq ?? this.#dropped.get(hex) ?? -1; }

  /** Home, key tag and signing time of a remote client id, if a live roster lists it. */
  entry(clientId: string): RosterEntry | undefined {
    const home = this.#homeOf.get(clientId);
    const r = home === undefined ? undefined : this.#rosters.get(home);
    if (!r) return undefined;
    const i = r.ids.indexOf(clientId);
    return i < 0 ? undefined : { home: r.home, tag: r.tags[i], ts: r.ts[i] };
  }

  /** Up to `limit` remote ids. */
  ids(limit: number): string[] {
    const out: string[] = [];
    for (const id of this.#homeOf.keys()) {
      if (out.length >= limit) break;
      out.push(id);
    }
    return out;
  }

  /** Calls `fn` with every remote id until it returns false; false if it was stopped. */
  eachId(fn: (id: string) => boolean): boolean {
    for (const id of this.#homeOf.keys()) if (!fn(id)) return false;
    return true;
  }

  records(): RosterRecord[] { return [...this.#rosters.values()]; }

  /** True while a live roster of home `hex` is held. */
  has(hex: string): boolean { return this.#rosters.has(hex); }

  /** Verifies and stores a roster if it is newer than what we have. */
  accept(x: unknown, now: number): RosterResult {
    const home = (x as RosterRecord | null)?.home;
    if (home === this.#selfHex) return { status: 'stale' };
    if (typeof home === 'string' && this.seqOf(home) >= (x as RosterRecord).seq) return { status: 'stale' };
    if (oversizedRoster(x, this.#limits)) return { status: 'oversized' };
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
      // First home wins while its roster lives; a second claimant waits for it to go.
      if (this.#homeOf.has(id)) {
        let w = this.#waiting.get(id);
        if (!w) this.#waiting.set(id, (w = new Set()));
        w.add(r.home);
        continue;
      }
      this.#homeOf.set(id, r.home);
      added.push(id);
    }
    this.#rosters.set(r.home, r);
    this.#dropped.delete(r.home);
    this.#idCount += grow;
    // Ids this home no longer lists may now go to a waiting claimant.
    for (const id of removed) if (this.#homeOf.has(id)) added.push(id);
    return { status: 'stored', added, removed: removed.filter((id) => !this.#homeOf.has(id)) };
  }

  /** Drops expired rosters; returns the ids that went with them and those that moved to another home. */
  sweep(now: number): { removed: string[]; moved: string[] } {
    const out = { removed: [] as string[], moved: [] as string[] };
    for (const [hex, r] of this.#rosters) {
      if (r.exp > now) continue;
      const res = this.drop(hex, false);
      out.removed.push(...res.removed);
      out.moved.push(...res.moved);
    }
    return out;
  }

  /**
   * Forgets a home at once (it was found dead, or told us it is shutting down);
   * `remember`: a copy of its roster relayed later is stale unless newer.
   */
  drop(hex: string, remember = true): { removed: string[]; moved: string[] } {
    const r = this.#rosters.get(hex);
    if (!r) return { removed: [], moved: [] };
    this.#rosters.delete(hex);
    if (remember) {
      this.#dropped.set(hex, r.seq);
      if (this.#dropped.size > this.#limits.maxHomes) this.#dropped.delete(this.#dropped.keys().next().value!);
    }
    this.#idCount -= r.ids.length;
    const gone = this.#unindex(hex, r.ids, new Set());
    return { removed: gone.filter((id) => !this.#homeOf.has(id)), moved: gone.filter((id) => this.#homeOf.has(id)) };
  }

  /** Unindexes `hex`'s ids not in `keep`; each goes to a waiting claimant if one still lists it. */
  #unindex(hex: string, ids: string[], keep: Set<string>): string[] {
    const removed: string[] = [];
    for (const id of ids) {
      if (keep.has(id)) continue;
      const w = this.#waiting.get(id);
      w?.delete(hex);
      if (this.#homeOf.get(id) !== hex) continue;
      this.#homeOf.delete(id);
      removed.push(id);
      for (const other of w ?? []) {
        w!.delete(other);
        if (this.#rosters.get(other)?.ids.includes(id)) { this.#homeOf.set(id, other); break; }
      }
      if (w && w.size === 0) this.#waiting.delete(id);
    }
    return removed;
  }
}

export const REGISTRATION_LABEL = 'relaymesh/im-register/v1';

/**
 * What relaymesh's MessagingPeer signs on every registration, next to the
 * published proof (which signs only the KEM key, the same bytes every time):
 * the label, the client id and the time, so an old registration cannot be
 * replayed to take a name over.
 */
export function registrationMessage(clientId: string, ts: number): Uint8Array {
  return textEncoder.encode(`${REGISTRATION_LABEL}\n${clientId}\n${ts}`);
}

/** True if two public-key byte strings are the same key. */
export function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a !== null && b !== null && equalBytes(a, b);
}
