/**
 * Resolves IPv4-shaped aliases to node ids. An alias carries the top bits of
 * the id it names, so resolution is a Kademlia-style iterative lookup toward
 * that point of the id space over the DGRAM channel's resolver port: ask the
 * known nodes closest to it for the nodes they know closest to it, until a
 * node whose id matches the alias answers for itself. Only authenticated
 * senders (direct links, sealed datagrams, a resolver answer from the node
 * itself) are ever cached as an alias's owner; ids that others name are only
 * candidates to ask. The first id learned for an alias keeps it (pinned):
 * collisions are counted and logged, never silently swapped.
 */
import type { DropReason } from '../src/util/drop-reasons.js';
import { relayError } from '../src/util/errors.js';
import debugFactory from 'debug';
import { equalBytes, randomBytes, toHex } from '../src/util/bytes.js';
import { BoundedMap } from '../src/util/bounded-map.js';
import { InFlight } from '../src/util/in-flight.js';
import { PendingRequests } from '../src/util/pending.js';
import { RateWindow } from '../src/util/rate-window.js';
import { RESOLVER_LIMITS } from '../src/util/limits.js';
import { compareDistance } from '../src/routing/routing-table.js';
import { aliasNumber, aliasTarget, idMatchesAlias, type AliasPrefix } from './alias.js';
import { MAX_NODES, encodeFind, encodeNodes, type FindMessage, type NodesMessage } from './wire.js';

const debug = debugFactory('relaymesh:socket');

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
  /** Ids of directly linked nodes. */
  peers(): Uint8Array[];
  /** Sends a resolver message (header included) to a node; false if it could not be queued. */
  send(to: Uint8Array, bytes: Uint8Array): boolean;
  count(reason: DropReason): void;
}

interface Index { prefix: AliasPrefix; byAlias: Map<number, Uint8Array> }

const ALPHA = 3;

export class Resolver {
  readonly #host: ResolverHost;
  readonly #limits: ResolverLimits;
  /** Authenticated ids other than this node's own, the most recently heard from kept. */
  readonly #known: BoundedMap<string, Uint8Array>;
  readonly #indexes = new Map<string, Index>();
  /** FIND questions by the node asked and the request id, so only that node's answer matches. */
  readonly #pending: PendingRequests<string, Uint8Array[]>;
  readonly #lookups = new InFlight<string, Uint8Array | null>();
  readonly #answers: RateWindow;
  #destroyed = false;

  constructor(host: ResolverHost, limits: Partial<ResolverLimits> = {}) {
    this.#host = host;
    this.#limits = { ...DEFAULT_RESOLVER_LIMITS, ...limits };
    this.#answers = new RateWindow(this.#limits.maxAnswersPerSecond);
    this.#known = new BoundedMap(Math.max(2, this.#limits.maxKnownIds), (_hex, id) => this.#unpin(id));
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
    for (const id of this.#known.values()) this.#pin(index, id);
  }

  /** Records an authenticated id (a linked node, the sender of a sealed datagram). */
  learn(id: Uint8Array): void {
    if (equalBytes(id, this.#host.id)) return; // always known, never evicted
    const hex = toHex(id);
    const known = this.#known.get(hex);
    if (known) {
      this.#known.set(hex, known); // recently heard from: kept longer
      return;
    }
    const copy = id.slice();
    this.#known.set(hex, copy);
    for (const index of this.#indexes.values()) this.#pin(index, copy);
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

  /** Handles a FIND from an authenticated sender: answers with the closest ids known. */
  onFind(m: FindMessage, from: Uint8Array): void {
    if (!this.#answers.take()) return this.#host.count('dgram_find_rate');
    this.learn(from);
    const ids = this.#closest(m.target, MAX_NODES, from);
    debug('%s answers FIND from %s with %o', toHex(this.#host.id).slice(0, 8), toHex(from).slice(0, 8), ids.map((id) => toHex(id).slice(0, 8)));
    this.#host.send(from, encodeNodes(m.reqId, ids));
  }

  /** Handles a NODES answer: only answers to our own questions, from the node asked. */
  onNodes(m: NodesMessage, from: Uint8Array): void {
    const key = questionKey(from, m.reqId);
    if (!this.#pending.has(key)) return this.#host.count('dgram_unexpected_answer');
    this.learn(from);
    this.#pending.resolve(key, m.ids);
  }

  destroy(): void {
    this.#destroyed = true;
    this.#pending.rejectAll(relayError('ERR_DESTROYED'));
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

  /** An evicted id no longer owns its aliases. */
  #unpin(id: Uint8Array): void {
    for (const index of this.#indexes.values()) {
      const a = aliasNumber(id, index.prefix);
      if (index.byAlias.get(a) === id) index.byAlias.delete(a);
    }
  }

  #closest(target: Uint8Array, n: number, exclude?: Uint8Array): Uint8Array[] {
    const self = this.#host.id;
    const pool = [self, ...this.#known.values()];
    for (const id of this.#host.peers()) if (!equalBytes(id, self) && !this.#known.has(toHex(id))) pool.push(id);
    const ids = exclude ? pool.filter((id) => !equalBytes(id, exclude)) : pool;
    return ids.sort((a, b) => compareDistance(target, a, b)).slice(0, n);
  }

  /** Asks `to` for the ids it knows closest to `target`; null when it does not answer in time. */
  #ask(to: Uint8Array, target: Uint8Array, bits: number): Promise<Uint8Array[] | null> {
    let reqId = 0;
    do reqId = new DataView(randomBytes(4).buffer).getUint32(0); while (reqId === 0 || this.#pending.has(questionKey(to, reqId)));
    const key = questionKey(to, reqId);
    const answer = this.#pending.add(key).catch(() => null);
    if (this.#pending.has(key) && !this.#host.send(to, encodeFind({ reqId, bits, target }))) {
      this.#pending.reject(key, relayError('ERR_QUEUE_FULL', 'FIND not sent'));
    }
    return answer;
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
      candidates = mergeClosest(target, candidates, this.#closest(target, MAX_NODES * 2));
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
      const answers = await Promise.all(round.map(async (id) => ({ id, ids: await this.#ask(id, target, prefix.hostBits) })));
      for (const { id, ids } of answers) {
        // The node answered for itself over a sealed session: it exists and owns its id.
        if (ids && idMatchesAlias(id, alias, prefix)) {
          this.learn(id);
          return this.cached(alias, prefix) ?? id;
        }
      }
      const named = answers.flatMap(({ ids }) => ids ?? []).filter((id) => !equalBytes(id, this.#host.id));
      candidates = mergeClosest(target, candidates, named);
    }
    const hit = this.cached(alias, prefix);
    if (!hit) debug('alias %d under %s not found after %d questions', alias, prefix.text, queries);
    return hit ?? null;
  }
}

function questionKey(to: Uint8Array, reqId: number): string { return `${toHex(to)}:${reqId}`; }

/** The union of two id lists, closest to `target` first, at most 2 x MAX_NODES. */
function mergeClosest(target: Uint8Array, a: Uint8Array[], b: Uint8Array[]): Uint8Array[] {
  const all = new Map<string, Uint8Array>();
  for (const id of a) all.set(toHex(id), id);
  for (const id of b) all.set(toHex(id), id);
  return [...all.values()].sort((x, y) => compareDistance(target, x, y)).slice(0, MAX_NODES * 2);
}
