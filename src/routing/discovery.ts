/**
 * Discovery (PROTOCOL.md §4.3): remembers contacts from NODES and lookup
 * results, dials them toward a healthy Kademlia table (targetLinks, and a link
 * in every bucket some known node falls in), and refreshes sparse buckets with
 * recursive lookups.
 */
import { equalBytes, randomBytes, toHex } from '../util/bytes.js';
import { ID_LENGTH } from '../crypto/identity.js';
import { BoundedMap } from '../util/bounded-map.js';
import { RoutingTable, compareDistance } from './routing-table.js';
import type { Link } from '../link/link.js';
import {
  HelloFlags, decodeFindNode, decodeNodes, encodeFindNode, encodeNodes, MAX_NODES_PER_FRAME, type NodeInfo,
} from '../wire/frames.js';
import type { Limits } from '../util/limits.js';
import type { CountDrop } from '../util/drop-reasons.js';

interface Contact extends NodeInfo { failures: number; lastTried: number }

export interface DiscoveryHost {
  readonly localId: Uint8Array;
  readonly limits: Readonly<Limits>;
  readonly active: boolean;
  /** Outgoing dials in progress. */
  dialing(): number;
  isDialing(url: string): boolean;
  dial(url: string, expectedId: Uint8Array): Promise<void>;
  /** A WebRTC link through the mesh, when this node can form one. */
  canAutoConnect(): boolean;
  connect(id: Uint8Array): Promise<void>;
  lookup(target: Uint8Array): void;
  rebootstrap(): void;
  countDrop: CountDrop;
}

export class Discovery {
  readonly #host: DiscoveryHost;
  readonly #table: RoutingTable<Link>;
  /** Known nodes, the most recently heard of kept (limits.maxContacts). */
  readonly #contacts: BoundedMap<string, Contact>;

  constructor(host: DiscoveryHost, table: RoutingTable<Link>) {
    this.#host = host;
    this.#table = table;
    this.#contacts = new BoundedMap(Math.max(2, host.limits.maxContacts));
  }

  contact(id: Uint8Array): NodeInfo | undefined { return this.#contacts.get(toHex(id)); }

  /** A new link: remember how to reach it and ask it for nodes near this one. */
  onLinkOpen(link: Link): void {
    if (link.remoteUrl || link.remoteFlags) {
      this.#contacts.set(link.idHex, { id: link.remote!.id, flags: link.remoteFlags, url: link.remoteUrl, failures: 0, lastTried: 0 });
    }
    link.send(encodeFindNode(this.#host.localId));
    if (this.#table.size === 1) setTimeout(() => this.refresh(), 100).unref?.();
  }

  /** Answers FIND_NODE with this node's open links closest to the target. */
  onFindNode(link: Link, f: Uint8Array): void {
    const target = decodeFindNode(f);
    if (!target) return this.#host.countDrop('malformed');
    const nodes = this.#table.closest(target, MAX_NODES_PER_FRAME + 1)
      .filter((e) => e.link !== link)
      .slice(0, MAX_NODES_PER_FRAME)
      .map((e) => ({ id: e.id, flags: e.link.remoteFlags, url: e.link.remoteUrl }));
    link.send(encodeNodes(nodes));
  }

  /** Learns contacts from a NODES frame (a neighbour's answer or a lookup result). */
  onNodes(f: Uint8Array): void {
    const nodes = decodeNodes(f);
    if (!nodes) return this.#host.countDrop('malformed');
    for (const n of nodes) {
      const hex = toHex(n.id);
      if (equalBytes(n.id, this.#host.localId) || this.#table.getHex(hex)) continue;
      const known = this.#contacts.get(hex);
      if (known) { known.url ||= n.url; known.flags |= n.flags; } else this.#contacts.set(hex, { ...n, failures: 0, lastTried: 0 });
    }
    this.maintainSoon();
  }

  maintainSoon(): void {
    queueMicrotask(() => this.maintain());
  }

  /** Dials known nodes toward a healthy table, emptiest bucket first. */
  maintain(): void {
    const host = this.#host;
    if (!host.active) return;
    const now = Date.now();
    const perBucket = this.#perBucket();
    const emptyBuckets = new Set<number>();
    for (const c of this.#contacts.values()) {
      const i = this.#table.bucketIndex(c.id);
      if (!perBucket[i]) emptyBuckets.add(i);
    }
    const { targetLinks, maxLinks, maxDialing } = host.limits;
    const want = Math.max(targetLinks - this.#table.size, Math.min(emptyBuckets.size, maxLinks - this.#table.size)) - host.dialing();
    if (want <= 0 || host.dialing() >= maxDialing) return;
    const auto = host.canAutoConnect();
    const candidates = [...this.#contacts.values()]
      .filter((c) => !this.#table.has(c.id) && now - c.lastTried > 5000 * 2 ** c.failures)
      .filter((c) => (c.url && !host.isDialing(c.url)) || (auto && c.flags & HelloFlags.WEBRTC))
      // Kademlia shape: fill the emptiest buckets first (far ones matter most for
      // greedy routing), nearest first within a bucket.
      .sort((a, b) => (perBucket[this.#table.bucketIndex(a.id)] ?? 0) - (perBucket[this.#table.bucketIndex(b.id)] ?? 0)
        || compareDistance(host.localId, a.id, b.id))
      .slice(0, Math.min(want, maxDialing - host.dialing()));
    for (const c of candidates) {
      c.lastTried = now;
      const attempt = c.url ? host.dial(c.url, c.id) : host.connect(c.id);
      attempt.then(() => { c.failures = 0; }, () => {
        c.failures++;
        if (c.failures >= 4) this.#contacts.delete(toHex(c.id));
      });
    }
  }

  /**
   * Kademlia bucket refresh: a recursive LOOKUP for a random id in every sparse
   * bucket range (down to the deepest occupied bucket). It travels greedily to
   * the node closest to that id, which answers with its closest links, so the
   * table learns nodes at every distance.
   */
  refresh(): void {
    const host = this.#host;
    if (!host.active) return;
    if (this.#table.size === 0) { host.rebootstrap(); return; }
    for (const e of this.#table.closest(host.localId, 3)) e.link.send(encodeFindNode(host.localId));
    const perBucket = this.#perBucket();
    const deepest = Math.min(perBucket.length, ID_LENGTH * 8 - 1);
    let lookups = 0;
    for (let i = 0; i <= deepest && lookups < 16; i++) {
      if ((perBucket[i] ?? 0) >= 2) continue;
      host.lookup(randomIdInBucket(host.localId, i));
      lookups++;
    }
    this.maintain();
  }

  #perBucket(): number[] {
    const perBucket: number[] = [];
    for (const e of this.#table.entries()) { const i = this.#table.bucketIndex(e.id); perBucket[i] = (perBucket[i] ?? 0) + 1; }
    return perBucket;
  }
}

/** A random id sharing exactly `prefix` leading bits with `local` (k-bucket `prefix`). */
export function randomIdInBucket(local: Uint8Array, prefix: number): Uint8Array {
  const id = randomBytes(ID_LENGTH);
  const byte = prefix >> 3;
  const bit = 7 - (prefix & 7);
  for (let i = 0; i < byte; i++) id[i] = local[i];
  const keep = (0xff << (bit + 1)) & 0xff;
  id[byte] = (local[byte] & keep) | ((~local[byte]) & (1 << bit)) | (id[byte] & ((1 << bit) - 1));
  return id;
}
