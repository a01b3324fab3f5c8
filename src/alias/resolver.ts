/**
 * Resolves IPv4-shaped aliases to node ids, and answers other nodes' alias
 * lookups: every node runs one (src/alias/service.ts), sockets or not.
 *
 * An alias carries the top bits of the id it names, so resolution is a
 * Kademlia-style iterative lookup toward that point of the id space over the
 * DGRAM channel's resolver port: ask the known nodes closest to it; each
 * answers from what it knows (its links, its contacts, the nodes it has heard
 * from, itself) with the owner's public keys when it holds them (OWNER), else
 * with the ids it knows closest to the point (NODES), which are asked next.
 *
 * Nothing is believed on a node's word. An OWNER answer is believed only when
 * the id its keys hash to matches the alias (a liar would have to grind a key
 * pair into the alias's region, and every datagram to that id is then sealed
 * to those keys); an id named in NODES is only a candidate to ask, believed
 * once it answers for itself (its answer arrives sealed from that id). Only
 * ids checked so (and authenticated senders: links, sealed datagrams) are
 * cached as an alias's owner. The first id learned for an alias keeps it
 * (pinned): collisions are counted and logged, never silently swapped.
 */
import debugFactory from 'debug';
import type { DropReason } from '../util/drop-reasons.js';
import { relayError } from '../util/errors.js';
import { equalBytes, randomBytes, toHex } from '../util/bytes.js';
import { BoundedMap } from '../util/bounded-map.js';
import { IdSlab } from '../util/id-slab.js';
import { InFlight } from '../util/in-flight.js';
import { PendingRequests } from '../util/pending.js';
import { RateWindow } from '../util/rate-window.js';
import { RESOLVER_LIMITS } from '../util/limits.js';
import { DSA_PUBLIC_KEY_LENGTH, deriveId } from '../crypto/identity.js';
import { closestIds } from '../routing/routing-table.js';
import { aliasNumber, aliasTarget, idMatchesAlias, type AliasPrefix } from './alias.js';
import { MAX_NODES, encodeFind, encodeNodes, encodeOwner, type FindMessage, type NodesMessage, type OwnerMessage } from './wire.js';

const debug = debugFactory('relaymesh:alias');

export interface ResolverLimits {
  /** Ids remembered (LRU), the pool for alias lookups and answers. */
  maxKnownIds: number;
  /** Alias lookups in progress at once; more fail at once. */
  maxLookups: number;
  /** FIND questions one lookup may ask. */
  maxQueries: number;
  /** How long one FIND may go unanswered (ms). */
  queryTimeoutMs: number;
  /** FIND questions answered per second (the rest are dropped and counted). */
  maxAnswersPerSecond: number;
}

export const DEFAULT_RESOLVER_LIMITS: ResolverLimits = { ...RESOLVER_LIMITS }; // src/util/limits.ts, group `resolver`

export interface ResolverHost {
  readonly id: Uint8Array;
  /** This node's public keys (dsa || kem), for OWNER answers about itself. */
  publicKeys(): Uint8Array;
  /** Ids the node knows besides the resolver's own (links, contacts), closest to `target` first. */
  closestKnown(target: Uint8Array, n: number): Uint8Array[];
  /** The public keys (dsa || kem) of `id` when the node holds them checked against the id. */
  keysOf(id: Uint8Array): Uint8Array | undefined;
  /** Sends a resolver message (header included) to a node; false if it could not be queued. */
  send(to: Uint8Array, bytes: Uint8Array): boolean;
  count(reason: DropReason): void;
}

interface Index { prefix: AliasPrefix; byAlias: Map<number, Uint8Array> }

/** What a node asked answered: ids to ask next, or the keys of the alias's owner. */
type Answer = { ids: Uint8Array[] } | { keys: Uint8Array };

const ALPHA = 3;

/** True when the top `bits` bits of `id` and `target` agree (the id is in the alias's region). */
function inRegion(id: Uint8Array, target: Uint8Array, bits: number): boolean {
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (id[i] !== target[i]) return false;
  return bits === 0 || ((id[i] ^ target[i]) >>> (8 - bits)) === 0;
}

export class Resolver {
  readonly #host: ResolverHost;
  readonly #limits: ResolverLimits;
  /**
   * Authenticated ids other than this node's own, the most recently heard from
   * kept: hex -> slot of `#ids`, where the id's bytes are (no array per id).
   */
  readonly #known: BoundedMap<string, number>;
  readonly #ids: IdSlab;
  readonly #indexes = new Map<string, Index>();
  /** FIND questions by the node asked and the request id, so only that node's answer matches. */
  readonly #pending: PendingRequests<string, Answer>;
  readonly #lookups = new InFlight<string, Uint8Array | null>();
  readonly #answers: RateWindow;
  #destroyed = false;

  constructor(host: ResolverHost, limits: Partial<ResolverLimits> = {}) {
    this.#host = host;
    this.#limits = { ...DEFAULT_RESOLVER_LIMITS, ...limits };
    this.#answers = new RateWindow(this.#limits.maxAnswersPerSecond);
    const maxKnown = Math.max(2, this.#limits.maxKnownIds);
    // The map holds at most maxKnown (two generations of ceil(maxKnown / 2)) and takes the new id's slot before it evicts.
    this.#ids = new IdSlab(2 * Math.ceil(maxKnown / 2) + 1);
    this.#known = new BoundedMap(maxKnown, (_hex, slot) => {
      this.#unpin(slot);
      this.#ids.remove(slot);
    });
    this.#pending = new PendingRequests({
      max: this.#limits.maxLookups * ALPHA, timeoutMs: this.#limits.queryTimeoutMs, what: 'alias FIND',
      keepAlive: true, // like a UDP program waiting for an answer: a lookup keeps the process alive
    });
  }

  /** Makes aliases under `prefix` resolvable (idempotent). */
  addPrefix(prefix: AliasPrefix): void {
    if (this.#indexes.has(prefix.text)) return;
    const index: Index = { prefix, byAlias: new Map() };
    this.#indexes.set(prefix.text, index);
    this.#pin(index, this.#host.id);
    for (const slot of this.#known.values()) this.#pin(index, this.#ids.copy(slot));
  }

  /** Records an authenticated id (a linked node, the sender of a sealed datagram, a checked owner). */
  learn(id: Uint8Array): void {
    if (id.length !== this.#ids.width || equalBytes(id, this.#host.id)) return; // itself: always known, never evicted
    const hex = toHex(id);
    const known = this.#known.get(hex);
    if (known !== undefined) {
      this.#known.set(hex, known); // recently heard from: kept longer
      return;
    }
    const slot = this.#ids.add(id);
    this.#known.set(hex, slot);
    for (const index of this.#indexes.values()) this.#pin(index, this.#ids.copy(slot));
  }

  /** The cached id for an alias, or undefined. */
  cached(alias: number, prefix: AliasPrefix): Uint8Array | undefined {
    return this.#indexes.get(prefix.text)?.byAlias.get(alias >>> 0);
  }

  /** Finds the node an alias names; null when no node answers for it in time. */
  resolve(alias: number, prefix: AliasPrefix): Promise<Uint8Array | null> {
    this.addPrefix(prefix);
    const hit = this.cached(alias, prefix);
    if (hit) return Promise.resolve(hit);
    const key = `${prefix.text}|${alias >>> 0}`;
    if (!this.#lookups.has(key) && (this.#destroyed || this.#lookups.size >= this.#limits.maxLookups)) {
      this.#host.count('dgram_lookup_refused');
      return Promise.resolve(null);
    }
    return this.#lookups.run(key, () => this.#lookup(alias >>> 0, prefix));
  }

  /**
   * Handles a FIND from an authenticated sender. A version 2 FIND whose region
   * holds a node this one has checked keys for (itself included) gets OWNER with
   * those keys; otherwise NODES with the closest ids known (itself included, the
   * asker excluded).
   */
  onFind(m: FindMessage, from: Uint8Array): void {
    if (this.#destroyed) return;
    if (!this.#answers.take()) return this.#host.count('dgram_find_rate');
    this.learn(from);
    const ids = this.#closest(m.target, MAX_NODES, from);
    if (m.wantsOwner) {
      for (const id of ids) {
        if (!inRegion(id, m.target, m.bits)) break; // closest first: the region's ids come first
        const keys = equalBytes(id, this.#host.id) ? this.#host.publicKeys() : this.#host.keysOf(id);
        if (keys) {
          debug('%s answers FIND from %s: owner %s', toHex(this.#host.id).slice(0, 8), toHex(from).slice(0, 8), toHex(id).slice(0, 8));
          this.#host.send(from, encodeOwner(m.reqId, keys));
          return;
        }
      }
    }
    debug('%s answers FIND from %s with %o', toHex(this.#host.id).slice(0, 8), toHex(from).slice(0, 8), ids.map((id) => toHex(id).slice(0, 8)));
    this.#host.send(from, encodeNodes(m.reqId, ids));
  }

  /** Handles a NODES answer: only answers to our own questions, from the node asked. */
  onNodes(m: NodesMessage, from: Uint8Array): void {
    this.#answer(m.reqId, from, { ids: m.ids });
  }

  /** Handles an OWNER answer: only to our own questions, from the node asked; checked by the lookup. */
  onOwner(m: OwnerMessage, from: Uint8Array): void {
    this.#answer(m.reqId, from, { keys: m.keys });
  }

  destroy(): void {
    this.#destroyed = true;
    this.#pending.rejectAll(relayError('ERR_DESTROYED'));
  }

  #answer(reqId: number, from: Uint8Array, a: Answer): void {
    const key = questionKey(from, reqId);
    if (!this.#pending.has(key)) return this.#host.count('dgram_unexpected_answer');
    this.learn(from);
    this.#pending.resolve(key, a);
  }

  #pin(index: Index, id: Uint8Array): void {
    const a = aliasNumber(id, index.prefix);
    const owner = index.byAlias.get(a);
    if (!owner) { index.byAlias.set(a, id); return; }
    if (!equalBytes(owner, id)) {
      this.#host.count('dgram_alias_collision');
      debug('alias collision under %s: %s keeps it, %s is reachable by id only', index.prefix.text, toHex(owner), toHex(id));
    }
  }

  /** An evicted id (in `slot`) no longer owns its aliases. */
  #unpin(slot: number): void {
    if (this.#indexes.size === 0) return;
    const id = this.#ids.copy(slot);
    for (const index of this.#indexes.values()) {
      const a = aliasNumber(id, index.prefix);
      const owner = index.byAlias.get(a);
      if (owner && equalBytes(owner, id)) index.byAlias.delete(a);
    }
  }

  /** The `n` ids this node knows closest to `target`: itself, the node's links and contacts, the ids heard from. */
  #closest(target: Uint8Array, n: number, exclude?: Uint8Array): Uint8Array[] {
    return closestIds(target, n, [[this.#host.id], this.#host.closestKnown(target, n + 1), this.#ids.closest(target, n, exclude)], exclude);
  }

  /** Asks `to` what it knows of `target`'s region; null when it does not answer in time. */
  #ask(to: Uint8Array, target: Uint8Array, bits: number): Promise<Answer | null> {
    let reqId = 0;
    do reqId = new DataView(randomBytes(4).buffer).getUint32(0); while (reqId === 0 || this.#pending.has(questionKey(to, reqId)));
    const key = questionKey(to, reqId);
    const answer = this.#pending.add(key).catch(() => null);
    if (this.#pending.has(key) && !this.#host.send(to, encodeFind({ reqId, bits, target, wantsOwner: true }))) {
      this.#pending.reject(key, relayError('ERR_QUEUE_FULL', 'FIND not sent'));
    }
    return answer;
  }

  /** The owner an answer proves, or null: OWNER keys must hash to an id inside the alias. */
  #checkOwner(id: Uint8Array, a: Answer | null, alias: number, prefix: AliasPrefix): Uint8Array | null {
    if (!a) return null;
    if ('keys' in a) {
      const owner = deriveId(a.keys.subarray(0, DSA_PUBLIC_KEY_LENGTH), a.keys.subarray(DSA_PUBLIC_KEY_LENGTH));
      if (idMatchesAlias(owner, alias, prefix)) return owner;
      this.#host.count('dgram_bad_owner');
      debug('%s answered for alias %d with keys of %s, outside it: not believed', toHex(id).slice(0, 8), alias, toHex(owner).slice(0, 8));
      return null;
    }
    // The node answered for itself over a sealed session: it exists and owns its id.
    return idMatchesAlias(id, alias, prefix) ? id : null;
  }

  async #lookup(alias: number, prefix: AliasPrefix): Promise<Uint8Array | null> {
    const target = aliasTarget(alias, prefix);
    const asked = new Set<string>([toHex(this.#host.id)]);
    let candidates: Uint8Array[] = [];
    let queries = 0;
    debug('looking up alias %d under %s', alias, prefix.text);
    const waitUntil = Date.now() + this.#limits.queryTimeoutMs;
    while (!this.#destroyed && queries < this.#limits.maxQueries) {
      // Nodes linked or heard from meanwhile are candidates too.
      candidates = closestIds(target, MAX_NODES * 2, [candidates, this.#closest(target, MAX_NODES * 2)]);
      const round = candidates.filter((id) => !asked.has(toHex(id))).slice(0, ALPHA);
      if (round.length === 0) {
        // A node still joining the mesh has no one to ask yet: give its first links a moment.
        if (queries > 0 || Date.now() >= waitUntil) break;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      queries += round.length;
      for (const id of round) asked.add(toHex(id));
      debug('asking %o', round.map((id) => toHex(id).slice(0, 8)));
      const answers = await Promise.all(round.map(async (id) => ({ id, a: await this.#ask(id, target, prefix.hostBits) })));
      for (const { id, a } of answers) {
        const owner = this.#checkOwner(id, a, alias, prefix);
        if (owner) {
          this.learn(owner);
          return this.cached(alias, prefix) ?? owner;
        }
      }
      const named = answers.flatMap(({ a }) => (a && 'ids' in a ? a.ids : [])).filter((id) => !equalBytes(id, this.#host.id));
      candidates = closestIds(target, MAX_NODES * 2, [candidates, named]);
    }
    const hit = this.cached(alias, prefix);
    if (!hit) debug('alias %d under %s not found after %d questions', alias, prefix.text, queries);
    return hit ?? null;
  }
}

function questionKey(to: Uint8Array, reqId: number): string { return `${toHex(to)}:${reqId}`; }
