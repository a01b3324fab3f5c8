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
import debugFactory from 'debug';
import { equalBytes, randomBytes, toHex } from '../src/util/bytes.js';
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

export const DEFAULT_RESOLVER_LIMITS: ResolverLimits = {
  maxKnownIds: 4096, maxLookups: 64, maxQueries: 32, queryTimeoutMs: 2000, maxAnswersPerSecond: 500,
};

export interface ResolverHost {
  readonly id: Uint8Array;
  /** Ids of directly linked nodes. */
  peers(): Uint8Array[];
  /** Sends a resolver message (header included) to a node; false if it could not be queued. */
  send(to: Uint8Array, bytes: Uint8Array): boolean;
  count(reason: DropReason): void;
}

interface Index { prefix: AliasPrefix; byAlias: Map<number, Uint8Array> }
interface Pending { to: Uint8Array; timer: ReturnType<typeof setTimeout>; done: (ids: Uint8Array[] | null) => void }

const ALPHA = 3;

export class Resolver {
  readonly #host: ResolverHost;
  readonly #limits: ResolverLimits;
  readonly #known = new Map<string, Uint8Array>();
  readonly #indexes = new Map<string, Index>();
  readonly #pending = new Map<number, Pending>();
  readonly #lookups = new Map<string, Promise<Uint8Array | null>>();
  #answerWindow = 0;
  #answers = 0;
  #destroyed = false;

  constructor(host: ResolverHost, limits: Partial<ResolverLimits> = {}) {
    this.#host = host;
    this.#limits = { ...DEFAULT_RESOLVER_LIMITS, ...limits };
    this.learn(host.id);
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
    const hex = toHex(id);
    if (this.#known.has(hex)) {
      this.#known.delete(hex);
      this.#known.set(hex, id);
      return;
    }
    const copy = id.slice();
    this.#known.set(hex, copy);
    for (const index of this.#indexes.values()) this.#pin(index, copy);
    while (this.#known.size > this.#limits.maxKnownIds) {
      const [oldHex, old] = this.#known.entries().next().value as [string, Uint8Array];
      this.#known.delete(oldHex);
      if (equalBytes(old, this.#host.id)) { this.#known.set(oldHex, old); continue; }
      for (const index of this.#indexes.values()) {
        const a = aliasNumber(old, index.prefix);
        if (index.byAlias.get(a) === old) index.byAlias.delete(a);
      }
    }
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
    const running = this.#lookups.get(key);
    if (running) return running;
    if (this.#destroyed || this.#lookups.size >= this.#limits.maxLookups) {
      this.#host.count('dgram_lookup_refused');
      return Promise.resolve(null);
    }
    const p = this.#lookup(alias >>> 0, prefix).finally(() => this.#lookups.delete(key));
    this.#lookups.set(key, p);
    return p;
  }

  /** Handles a FIND from an authenticated sender: answers with the closest ids known. */
  onFind(m: FindMessage, from: Uint8Array): void {
    const now = Date.now();
    if (now - this.#answerWindow >= 1000) { this.#answerWindow = now; this.#answers = 0; }
    if (++this.#answers > this.#limits.maxAnswersPerSecond) return this.#host.count('dgram_find_rate');
    this.learn(from);
    const ids = this.#closest(m.target, MAX_NODES, from);
    debug('%s answers FIND from %s with %o', toHex(this.#host.id).slice(0, 8), toHex(from).slice(0, 8), ids.map((id) => toHex(id).slice(0, 8)));
    this.#host.send(from, encodeNodes(m.reqId, ids));
  }

  /** Handles a NODES answer: only answers to our own questions, from the node asked. */
  onNodes(m: NodesMessage, from: Uint8Array): void {
    const p = this.#pending.get(m.reqId);
    if (!p || !equalBytes(p.to, from)) return this.#host.count('dgram_unexpected_answer');
    this.#pending.delete(m.reqId);
    clearTimeout(p.timer);
    this.learn(from);
    p.done(m.ids);
  }

  destroy(): void {
    this.#destroyed = true;
    for (const p of this.#pending.values()) { clearTimeout(p.timer); p.done(null); }
    this.#pending.clear();
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

  #closest(target: Uint8Array, n: number, exclude?: Uint8Array): Uint8Array[] {
    const pool = new Map<string, Uint8Array>(this.#known);
    for (const id of this.#host.peers()) pool.set(toHex(id), id);
    const ids = [...pool.values()].filter((id) => !exclude || !equalBytes(id, exclude));
    return ids.sort((a, b) => compareDistance(target, a, b)).slice(0, n);
  }

  #ask(to: Uint8Array, target: Uint8Array, bits: number): Promise<Uint8Array[] | null> {
    return new Promise((resolve) => {
      let reqId = 0;
      do reqId = new DataView(randomBytes(4).buffer).getUint32(0); while (reqId === 0 || this.#pending.has(reqId));
      const timer = setTimeout(() => { this.#pending.delete(reqId); resolve(null); }, this.#limits.queryTimeoutMs);
      this.#pending.set(reqId, { to, timer, done: resolve });
      if (!this.#host.send(to, encodeFind({ reqId, bits, target }))) {
        clearTimeout(timer);
        this.#pending.delete(reqId);
        resolve(null);
      }
    });
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

/** The union of two id lists, closest to `target` first, at most 2 x MAX_NODES. */
function mergeClosest(target: Uint8Array, a: Uint8Array[], b: Uint8Array[]): Uint8Array[] {
  const all = new Map<string, Uint8Array>();
  for (const id of a) all.set(toHex(id), id);
  for (const id of b) all.set(toHex(id), id);
  return [...all.values()].sort((x, y) => compareDistance(target, x, y)).slice(0, MAX_NODES * 2);
}
