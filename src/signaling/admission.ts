/**
 * Who may take a client id (PROTOCOL.md §11 "Takeover"), for SignalingCore:
 * the cheap checks made before any ML-DSA verify (held here by another key,
 * reserved for a previous owner, node full), then, after the proofs, the full
 * decision, which may probe the home node of a remote holder. Ids a client
 * with a signing key left are reserved for that key for idReserveMs.
 */
import type { SignalingDropReason } from '../util/drop-reasons.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { RosterEntry } from './mesh-records.js';
import type { SignalingLimits } from './limits.js';
import { keyTag } from './proofs.js';
import type { Questions } from './questions.js';
import { signalingError, type ClientInfo, type ClientSink } from './types.js';

/**
 * A local client and the questions open to it;
 * `tag` is its signing key's tag ('' without one), `ts` the time of its fresh proof (0 without one).
 */
export interface Local { info: ClientInfo; sink: ClientSink; questions: Questions; tag: string; ts: number }

/** What admitting a registration takes: a local connection or a remote home to displace. */
export interface Admission { displace?: Local; takeover?: RosterEntry }

export interface AdmissionHost {
  /** The local clients by id. */
  readonly clients: ReadonlyMap<string, Local>;
  /** The roster entry of a remote client id, its home if any, and whether that home answers a probe. */
  entry(clientId: string): RosterEntry | undefined;
  homeOf(clientId: string): string | undefined;
  probe(home: string): Promise<boolean>;
  count(reason: SignalingDropReason): void;
}

export class Admissions {
  readonly #limits: SignalingLimits;
  readonly #h: AdmissionHost;
  readonly #reserved: BoundedMap<string, { key: string; until: number }>;

  constructor(limits: SignalingLimits, host: AdmissionHost) {
    this.#limits = limits;
    this.#h = host;
    this.#reserved = new BoundedMap(Math.max(2, limits.maxReservations));
  }

  /** `clientId` left: it stays reserved for its signing key for idReserveMs. */
  reserve(clientId: string, signingKey: Uint8Array): void {
    this.#reserved.set(clientId, { key: keyTag(signingKey), until: Date.now() + this.#limits.idReserveMs });
  }

  /** `clientId` registered again (by its owner): no reservation any more. */
  unreserve(clientId: string): void { this.#reserved.delete(clientId); }

  /** The synchronous part of admit(), before any verify: held here by another key (or none), reserved, full. */
  precheck(sink: ClientSink, info: ClientInfo, tag: string): void {
    const holder = this.#h.clients.get(info.clientId);
    if (holder && holder.sink !== sink && (!tag || holder.tag !== tag)) {
      this.#h.count('takeover_refused');
      throw signalingError('CLIENT_ID_TAKEN', `${info.clientId} is registered by another connection`);
    }
    this.#checkReserved(info);
    if (!holder && this.#h.clients.size >= this.#limits.maxClients) throw signalingError('LIMIT_REACHED', `this node holds ${this.#limits.maxClients} clients`);
  }

  /**
   * Who holds `clientId` now, and whether this registration may take it: the
   * same signing key as the holder's record takes it at once (newer fresh
   * proof needed if the record has one); another key, or none, only once the
   * holder's home is found dead.
   */
  async admit(sink: ClientSink, info: ClientInfo, tag: string, ts: number): Promise<Admission> {
    const { clientId } = info;
    const holder = this.#h.clients.get(clientId);
    let out: Admission = {};
    if (holder && holder.sink !== sink) {
      if (!tag || holder.tag !== tag) {
        this.#h.count('takeover_refused');
        throw signalingError('CLIENT_ID_TAKEN', `${clientId} is registered by another connection`);
      }
      this.#checkNewer(clientId, holder.ts, ts);
      out = { displace: holder };
    }
    const entry = holder ? undefined : this.#h.entry(clientId);
    if (entry) {
      if (tag && entry.tag === tag) {
        this.#checkNewer(clientId, entry.ts, ts);
        out = { takeover: entry };
      } else if (await this.#h.probe(entry.home)) {
        this.#h.count('takeover_refused');
        throw signalingError('CLIENT_ID_TAKEN', `${clientId} is registered on another node`);
      } else if (this.#h.homeOf(clientId)) {
        // Its home was dead, but another node lists the id too: start over with that one.
        return this.admit(sink, info, tag, ts);
      }
    }
    this.#checkReserved(info);
    if (!holder && this.#h.clients.size >= this.#limits.maxClients) throw signalingError('LIMIT_REACHED', `this node holds ${this.#limits.maxClients} clients`);
    return out;
  }

  /** A record with a fresh proof is only replaced by a newer one (an older or equal one is a replay). */
  #checkNewer(clientId: string, recordTs: number, ts: number): void {
    if (recordTs > 0 && !(ts > recordTs)) {
      this.#h.count('replayed_registration');
      throw signalingError('CLIENT_ID_TAKEN', `${clientId} holds a newer registration (a replayed one is refused)`);
    }
  }

  #checkReserved(info: ClientInfo): void {
    const { clientId } = info;
    const r = this.#reserved.get(clientId);
    if (r && r.until > Date.now() && (!info.signingKey || r.key !== keyTag(info.signingKey))) {
      throw signalingError('CLIENT_ID_TAKEN', `${clientId} is reserved for its previous owner's signing key`);
    }
  }
}
