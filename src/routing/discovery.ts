/**
 * Discovery (PROTOCOL.md §4.3): remembers contacts from NODES and lookup
 * results, dials them toward a healthy, bounded Kademlia table (targetLinks,
 * linksPerBucket in every bucket some known node falls in, at most linkBudget),
 * and refreshes sparse buckets with recursive lookups on a jittered timer.
 */
import { toHex, toHexAt } from '../util/bytes.js';
import { ID_LENGTH } from '../crypto/identity.js';
import { BoundedMap } from '../util/bounded-map.js';
import { RoutingTable, compareDistance, head32 } from './routing-table.js';
import { randomIdInBucket, slotBits, slotOf } from './id-space.js';
import type { RouteLink } from './route-link.js';
import { systemClock, jitter, type Clock } from '../util/clock.js';
import { RateWindow } from '../util/rate-window.js';
import {
  HelloFlags, decodeFindNode, encodeFindNode, encodeNodes, MAX_NODES_PER_FRAME, nodeAt, nodesEntries, nodeUrlAt, type NodeInfo,
} from '../wire/frames.js';
import type { Limits } from '../util/limits.js';
import type { CountDrop } from '../util/drop-reasons.js';

/** A known node: how to reach it, its bucket and slot in it (computed once), and how dialing it went. */
interface Contact extends NodeInfo { hex: string; head: number; bucket: number; slot: number; failures: number; lastTried: number }

/** maintain() runs at most this often when prompted by NODES frames (ms), so a burst of answers costs one pass. */
const MAINTAIN_DELAY_MS = 100;
/** A maintain timer this late (ms) means the node is overloaded: no new dials this round. */
const OVERLOADED_LATE_MS = 500;
/** While the process is busy with link handshakes, maintain() looks again after about this long (ms). */
const BUSY_RETRY_MS = 1000;
/**
 * From this load on (a fraction of busyHandshakes), a maintain() pass starts at most one dial: the
 * handshakes the process can take are shared among its nodes, each getting its farthest hole filled
 * first, rather than a few nodes taking them all for holes that matter little.
 */
const ONE_DIAL_LOAD = 0.75;
/**
 * A node with fewer than targetLinks/2 links weighs the process's load by this much: the handshakes
 * the process can take go to thinly linked nodes first (each of their holes is a large share of the
 * id space), and such a node still dials its farthest hole while the others wait.
 */
const THIN_LOAD_WEIGHT = 0.75;

export interface DiscoveryHost {
  readonly localId: Uint8Array;
  readonly limits: Readonly<Limits>;
  readonly active: boolean;
  /** Time and timers (default: the wall clock); the simulator passes a virtual one. */
  readonly clock?: Clock;
  /** Outgoing dials in progress. */
  dialing(): number;
  /**
   * How busy this process is with link handshakes, as a fraction of what it
   * takes (optional, default 0): from 1/2 on, discovery dials only into empty
   * buckets (holes); from 1, not at all (a node with no link still bootstraps).
   */
  load?(): number;
  isDialing(url: string): boolean;
  dial(url: string, expectedId: Uint8Array): Promise<void>;
  /** A WebRTC link through the mesh, when this node can form one. */
  canAutoConnect(): boolean;
  connect(id: Uint8Array): Promise<void>;
  lookup(target: Uint8Array): void;
  rebootstrap(): void;
  /** Closes a surplus link (over linkBudget); the remote is told TOO_MANY_LINKS. */
  closeLink?(link: RouteLink): void;
  countDrop: CountDrop;
}

export { randomIdInBucket, slotBits, slotOf } from './id-space.js';

export class Discovery {
  readonly #host: DiscoveryHost;
  readonly #table: RoutingTable<RouteLink>;
  readonly #clock: Clock;
  /** Known nodes, the most recently heard of kept (limits.maxContacts). */
  readonly #contacts: BoundedMap<string, Contact>;
  /** Contacts remembered per k-bucket (contactsPerBucket at most). */
  readonly #perBucketContacts: number[] = [];
  /** Of those, contacts whose last dials failed (failures > 0), per k-bucket. */
  readonly #failing: number[] = [];
  readonly #dials: RateWindow;
  readonly #localHex: string;
  /** Dials this discovery started and that have not settled, by k-bucket: they count as that bucket's links. */
  readonly #dialsPerBucket = new Map<number, number>();
  /** The same dials by k-bucket and slot (a dial in progress covers its slot). */
  readonly #dialSlots = new Map<number, number[]>();
  /** Slot bits for this node's linksPerBucket. */
  readonly #slotBits: number;
  #maintainQueued: unknown = null;
  #refreshTimer: unknown = null;
  #firstRefresh: unknown = null;

  constructor(host: DiscoveryHost, table: RoutingTable<RouteLink>) {
    this.#host = host;
    this.#table = table;
    this.#clock = host.clock ?? systemClock;
    this.#contacts = new BoundedMap(Math.max(2, host.limits.maxContacts), (_hex, c) => this.#uncount(c));
    this.#dials = new RateWindow(host.limits.maxDialsPerSecond);
    this.#localHex = toHex(host.localId);
    this.#slotBits = slotBits(host.limits.linksPerBucket);
  }

  contact(id: Uint8Array): NodeInfo | undefined { return this.#contacts.get(toHex(id)); }

  /** The ids of every contact remembered. */
  *contactIds(): IterableIterator<Uint8Array> { for (const c of this.#contacts.values()) yield c.id; }

  /** Starts the bucket refresh: every refreshIntervalMs, jittered so nodes made together do not refresh together. */
  start(): void {
    if (this.#refreshTimer !== null) return;
    const next = (ms: number) => {
      this.#refreshTimer = this.#clock.setTimeout(() => { this.refresh(); next(jitter(this.#host.limits.refreshIntervalMs)); }, ms);
    };
    next(jitter(this.#host.limits.refreshIntervalMs, 0.5));
  }

  stop(): void {
    this.#clock.clearTimeout(this.#refreshTimer);
    this.#clock.clearTimeout(this.#firstRefresh);
    this.#clock.clearTimeout(this.#maintainQueued);
    this.#refreshTimer = this.#firstRefresh = this.#maintainQueued = null;
  }

  /** A new link: remember how to reach it and ask it for nodes near this one. */
  onLinkOpen(link: RouteLink): void {
    if (link.remoteUrl || link.remoteFlags) this.#remember(link.remote!.id, link.idHex, link.remoteFlags, link.remoteUrl);
    link.send(encodeFindNode(this.#host.localId));
    if (this.#table.size === 1 && this.#firstRefresh === null) {
      // The first link: learn the mesh's shape soon rather than at the next period.
      this.#firstRefresh = this.#clock.setTimeout(() => { this.#firstRefresh = null; this.refresh(); }, jitter(200, 0.5));
    }
  }

  /** A link closed: one the remote refused (TOO_MANY_LINKS) counts as a failed try of that contact. */
  onLinkClosed(idHex: string, refused: boolean): void {
    const c = this.#contacts.get(idHex);
    if (c && refused) { c.failures++; this.#failed(c, c.failures - 1); c.lastTried = this.#clock.now(); }
    this.maintainSoon();
  }

  /**
   * Answers FIND_NODE with the known nodes closest to the target: open links,
   * and contacts whose dials have not failed (nearest first, never the asker).
   * Contacts matter most near the asker's own id: a node learns the nodes
   * closest to it only from nodes that know them, and while links are scarce
   * (a loaded process forms few per second) the nodes of one small region of
   * the id space often know each other without being linked yet.
   */
  onFindNode(link: RouteLink, f: Uint8Array): void {
    const target = decodeFindNode(f);
    if (!target) return this.#host.countDrop('malformed');
    const asker = link.idHex;
    const nodes: NodeInfo[] = this.#table.closest(target, MAX_NODES_PER_FRAME + 1)
      .filter((e) => e.link !== link)
      .slice(0, MAX_NODES_PER_FRAME)
      .map((e) => ({ id: e.id, flags: e.link.remoteFlags, url: e.link.remoteUrl }));
    // Merged with the closest contacts: one pass, each inserted into a list of at most 20 (nearest first).
    // Distances compare by the ids' first 32 bits first (a contact's are kept: most comparisons end there).
    const t = head32(target);
    const dist = nodes.map((n) => (head32(n.id) ^ t) >>> 0);
    const nearer = (c: Contact, d: number, j: number) => d < dist[j] || (d === dist[j] && compareDistance(target, c.id, nodes[j].id) < 0);
    for (const c of this.#contacts.values()) {
      if (c.failures > 0 || !c.url || c.hex === asker) continue;
      const d = (c.head ^ t) >>> 0;
      let i = nodes.length;
      if (i === MAX_NODES_PER_FRAME) {
        if (!nearer(c, d, i - 1)) continue;
        i--;
      }
      while (i > 0 && nearer(c, d, i - 1)) { nodes[i] = nodes[i - 1]; dist[i] = dist[i - 1]; i--; }
      nodes[i] = { id: c.id, flags: c.flags, url: c.url };
      dist[i] = d;
    }
    link.send(encodeNodes(nodes));
  }

  /**
   * Learns contacts from a NODES frame (a neighbour's answer or a lookup result).
   * Entries already linked or known are read in place; only new ones are copied out.
   */
  onNodes(f: Uint8Array): void {
    const entries = nodesEntries(f);
    if (!entries) return this.#host.countDrop('malformed');
    for (const o of entries) {
      const hex = toHexAt(f, o, o + ID_LENGTH);
      if (hex === this.#localHex || this.#table.getHex(hex)) continue;
      const known = this.#contacts.get(hex);
      if (known) {
        if (!known.url) known.url = nodeUrlAt(f, o);
        known.flags |= f[o + ID_LENGTH];
        continue;
      }
      const bucket = this.#table.bucketIndex(f.subarray(o, o + ID_LENGTH));
      if (this.#hasRoom(bucket) || this.#failing[bucket] > 0) {
        const n = nodeAt(f, o);
        this.#remember(n.id, hex, n.flags, n.url);
      }
    }
    this.maintainSoon();
  }

  #hasRoom(bucket: number): boolean { return (this.#perBucketContacts[bucket] ?? 0) < this.#host.limits.contactsPerBucket; }

  /**
   * Remembers a contact, at most contactsPerBucket in one k-bucket: more than a
   * few per bucket are never dialed, and far buckets' contacts are not pushed
   * out by the many near ones (what an idle node holds is mostly contacts).
   */
  #remember(id: Uint8Array, hex: string, flags: number, url: string): void {
    const known = this.#contacts.get(hex);
    if (known) { known.url = url || known.url; known.flags |= flags; return; }
    const bucket = this.#table.bucketIndex(id);
    if (!this.#hasRoom(bucket) && !this.#makeRoom(bucket)) return;
    this.#perBucketContacts[bucket] = (this.#perBucketContacts[bucket] ?? 0) + 1;
    this.#contacts.set(hex, { id, hex, head: head32(id), flags, url, bucket, slot: slotOf(this.#host.localId, id, bucket, this.#slotBits), failures: 0, lastTried: 0 });
  }

  /**
   * A full bucket of contacts gives way to a new one when a contact there has
   * failed (Kademlia keeps live contacts over stale ones): after churn, the
   * departed nodes' contacts would otherwise fill the bucket for the minutes
   * their back-off takes, and the live nodes a lookup finds there were not
   * remembered. The contact with the most failures goes; none failed, none goes.
   */
  #makeRoom(bucket: number): boolean {
    if (!(this.#failing[bucket] > 0)) return false;
    let worst: Contact | undefined;
    for (const c of this.#contacts.values()) {
      if (c.bucket === bucket && c.failures > 0 && (!worst || c.failures > worst.failures)) worst = c;
    }
    if (!worst) { this.#failing[bucket] = 0; return false; }
    this.#forget(worst);
    return this.#hasRoom(bucket);
  }

  /** A contact's failure count changed from `before`: keeps the count of failing contacts per bucket. */
  #failed(c: Contact, before: number): void {
    if ((before > 0) !== (c.failures > 0) && this.#contacts.get(c.hex) === c) this.#failing[c.bucket] = (this.#failing[c.bucket] ?? 0) + (c.failures > 0 ? 1 : -1);
  }

  #forget(c: Contact): void { if (this.#contacts.delete(c.hex)) this.#uncount(c); }
  #uncount(c: Contact): void {
    this.#perBucketContacts[c.bucket]--;
    if (c.failures > 0) this.#failing[c.bucket]--;
  }

  /**
   * Runs maintain() once, shortly (coalesced: a burst of NODES answers costs
   * one pass). If the timer fires late, the node is overloaded (its event loop
   * is behind, e.g. with link handshakes): it starts no new dials then, and
   * looks again a little later, so an overload does not feed itself.
   */
  maintainSoon(delay = MAINTAIN_DELAY_MS): void {
    if (this.#maintainQueued !== null) return;
    const due = this.#clock.now() + delay;
    this.#maintainQueued = this.#clock.setTimeout(() => {
      this.#maintainQueued = null;
      const late = this.#clock.now() - due;
      if (late > OVERLOADED_LATE_MS) { this.maintainSoon(jitter(Math.min(late, 5000), 0.5)); return; }
      this.maintain();
    }, delay);
  }

  /**
   * Keeps the table Kademlia-shaped and bounded: dials known nodes into every
   * bucket holding fewer than linksPerBucket links (emptiest first, farthest
   * first of equally empty ones) and up to targetLinks in all, within maxDialing
   * and maxDialsPerSecond, up to linkBudget (holes up to maxLinks); above
   * linkBudget, closes surplus links.
   */
  maintain(): void {
    const host = this.#host;
    if (!host.active) return;
    const now = this.#clock.now();
    const { targetLinks, maxLinks, maxDialing, linkBudget } = host.limits;
    const size = this.#table.size;
    const load = size > 0 ? (host.load?.() ?? 0) * (size < targetLinks / 2 ? THIN_LOAD_WEIGHT : 1) : 0;
    if (load >= 1 && size <= linkBudget) {
      // Graceful overload: the handshakes under way use the CPU; dialing more would only make them time out.
      this.maintainSoon(jitter(BUSY_RETRY_MS, 0.5));
      return;
    }
    const perBucket = this.#perBucket();
    if (size > linkBudget) this.#prune(perBucket, size - linkBudget);
    if (load >= 1) { this.maintainSoon(jitter(BUSY_RETRY_MS, 0.5)); return; }
    // Busy: the handshakes this process can take go to holes first (a bucket with no link), the
    // second link of a bucket and targetLinks wait (a later maintain() adds them).
    const holesOnly = load >= 0.5;
    if (holesOnly) this.maintainSoon(jitter(BUSY_RETRY_MS, 0.5));
    const linksPerBucket = holesOnly ? 1 : host.limits.linksPerBucket;
    // Each bucket also wants its links spread over its slots (one per slot, as far as
    // linksPerBucket goes): a bucket whose links crowd into fewer slots gets a link into an
    // empty one while a contact there is known, even past linksPerBucket.
    const spread = Math.min(linksPerBucket, 1 << this.#slotBits);
    const cover = this.#cover();
    const distinct = (bucket: number) => (cover.get(bucket) ?? []).reduce((a, n) => a + (n > 0 ? 1 : 0), 0);
    const opensSlot = (c: Contact) => spread > 1 && !((cover.get(c.bucket) ?? [])[c.slot] > 0) && distinct(c.bucket) < spread;
    // How many links each bucket still wants, given the contacts known in it.
    // Past targetLinks only sparse buckets are dialed, so full ones are skipped first (cheap).
    const fill = holesOnly || size >= targetLinks;
    const room = new Map<number, number>();
    let sparse = 0;
    const auto = host.canAutoConnect();
    const byBucket = new Map<number, Contact[]>();
    for (const c of this.#contacts.values()) {
      // A dial in progress counts as a link of its bucket: under load a dial takes seconds, and
      // maintain() runs after every NODES answer meanwhile; without this a bucket got dial after dial.
      const have = (perBucket[c.bucket] ?? 0) + (this.#dialsPerBucket.get(c.bucket) ?? 0);
      if (fill && have >= linksPerBucket && !opensSlot(c)) continue;
      if (now - c.lastTried <= 5000 * 2 ** c.failures || this.#table.getHex(c.hex)) continue;
      if (!((c.url && !host.isDialing(c.url)) || (auto && c.flags & HelloFlags.WEBRTC))) continue;
      let list = byBucket.get(c.bucket);
      if (!list) {
        byBucket.set(c.bucket, (list = []));
        const r = Math.max(0, linksPerBucket - have, spread - distinct(c.bucket));
        room.set(c.bucket, r);
        sparse += r;
      }
      list.push(c);
    }
    // `sparse` already nets out this discovery's dials in progress; the other limits count every dial.
    const dialing = host.dialing();
    // Dials within linkBudget; a hole (a bucket with no link and no dial) is dialed past it, up to
    // maxLinks: a node many others dialed (their links are never pruned) still needs a link toward
    // every part of the id space it knows a node in, or greedy forwarding through it dead-ends there.
    let budget = Math.min(maxLinks, linkBudget) - size - dialing;
    const holes = [...byBucket.keys()].reduce((a, i) => a + ((perBucket[i] ?? 0) + (this.#dialsPerBucket.get(i) ?? 0) === 0 ? 1 : 0), 0);
    let want = Math.min(Math.max(targetLinks - size - dialing, sparse), Math.max(budget, Math.min(holes, maxLinks - size - dialing)), maxDialing - dialing);
    if (load >= ONE_DIAL_LOAD) want = Math.min(want, 1);
    if (want <= 0 || byBucket.size === 0) return;
    // Kademlia shape: fill the emptiest buckets first, and of those the farthest first: a node
    // missing bucket i has no link toward 2^-(i+1) of the id space, so far holes cost greedy routing
    // the most. Within a bucket, the emptiest slot first, nearest first within a slot.
    const rank = new Map<Contact, number>();
    for (const [bucket, list] of byBucket) {
      const slots = [...(cover.get(bucket) ?? [])];
      list.sort((a, b) => compareDistance(host.localId, a.id, b.id));
      for (let r = 0; list.length > 0; r++) {
        let best = 0;
        for (let j = 1; j < list.length; j++) if ((slots[list[j].slot] ?? 0) < (slots[list[best].slot] ?? 0)) best = j;
        const c = list.splice(best, 1)[0];
        slots[c.slot] = (slots[c.slot] ?? 0) + 1;
        rank.set(c, r);
      }
    }
    const candidates = [...rank.keys()];
    candidates.sort((a, b) => (perBucket[a.bucket] ?? 0) - (perBucket[b.bucket] ?? 0) || rank.get(a)! - rank.get(b)! || a.bucket - b.bucket
      || compareDistance(host.localId, a.id, b.id));
    let limited = false;
    for (const c of candidates) {
      if (want <= 0) break;
      const i = c.bucket;
      // Past targetLinks, only buckets that still want a link are dialed: below linksPerBucket,
      // or into a slot of theirs that is empty.
      const have = (perBucket[i] ?? 0) + (this.#dialsPerBucket.get(i) ?? 0);
      if (fill && ((room.get(i) ?? 0) <= 0 || (have >= linksPerBucket && !opensSlot(c)))) continue;
      if (budget <= 0 && have > 0) continue;
      if (!this.#dials.take(now)) { limited = true; break; }
      budget--;
      room.set(i, (room.get(i) ?? 0) - 1);
      want--;
      c.lastTried = now;
      const attempt = c.url ? host.dial(c.url, c.id) : host.connect(c.id);
      const { bucket, slot } = c;
      this.#dialsPerBucket.set(bucket, (this.#dialsPerBucket.get(bucket) ?? 0) + 1);
      const slots = this.#dialSlots.get(bucket) ?? [];
      slots[slot] = (slots[slot] ?? 0) + 1;
      this.#dialSlots.set(bucket, slots);
      const coverNow = cover.get(bucket) ?? [];
      coverNow[slot] = (coverNow[slot] ?? 0) + 1;
      cover.set(bucket, coverNow);
      const settled = () => {
        const left = (this.#dialsPerBucket.get(bucket) ?? 1) - 1;
        if (left > 0) this.#dialsPerBucket.set(bucket, left); else this.#dialsPerBucket.delete(bucket);
        const s = this.#dialSlots.get(bucket);
        if (s && s[slot] > 0 && --s[slot] === 0 && s.every((n) => !n)) this.#dialSlots.delete(bucket);
      };
      attempt.then(() => { settled(); const before = c.failures; c.failures = 0; this.#failed(c, before); }, () => {
        settled();
        c.failures++;
        this.#failed(c, c.failures - 1);
        if (c.failures >= 4) this.#forget(c);
      });
    }
    // Dials held back by the per-second budget go in the next window.
    if (limited) this.#clock.setTimeout(() => this.maintainSoon(), 1000);
  }

  /** Links and dials in progress per k-bucket and slot. */
  #cover(): Map<number, number[]> {
    const cover = new Map<number, number[]>();
    for (const [bucket, slots] of this.#dialSlots) cover.set(bucket, [...slots]);
    if (this.#slotBits === 0) return cover;
    for (const e of this.#table.entries()) {
      const bucket = this.#table.bucketIndex(e.id);
      const slot = slotOf(this.#host.localId, e.id, bucket, this.#slotBits);
      const slots = cover.get(bucket) ?? [];
      slots[slot] = (slots[slot] ?? 0) + 1;
      cover.set(bucket, slots);
    }
    return cover;
  }

  /**
   * Closes up to `n` links this node dialed, from the buckets holding the most
   * (never below linksPerBucket), from the slot holding the most links first and
   * never the last link of its slot, youngest first. Links the remote dialed are
   * kept: the remote chose this node (a leaf behind it may have no other way in).
   */
  #prune(perBucket: number[], n: number): void {
    const close = this.#host.closeLink;
    if (!close) return;
    const k = this.#host.limits.linksPerBucket;
    const bits = this.#slotBits;
    const local = this.#host.localId;
    const byBucket = new Map<number, { link: RouteLink; slot: number }[]>();
    const slots = new Map<number, number[]>();
    for (const e of this.#table.entries()) {
      const i = this.#table.bucketIndex(e.id);
      if ((perBucket[i] ?? 0) <= k) continue;
      const slot = slotOf(local, e.id, i, bits);
      const s = slots.get(i) ?? [];
      s[slot] = (s[slot] ?? 0) + 1;
      slots.set(i, s);
      if (!e.link.initiator) continue;
      let list = byBucket.get(i);
      if (!list) byBucket.set(i, (list = []));
      list.push({ link: e.link, slot });
    }
    const counts = new Map([...byBucket.keys()].map((i) => [i, perBucket[i] ?? 0]));
    for (const list of byBucket.values()) list.sort((a, b) => b.link.openedAt - a.link.openedAt);
    /** The link of bucket `i` to close next: in its fullest slot, youngest first; never the last of a slot. */
    const pick = (i: number): number => {
      const s = slots.get(i)!;
      let best = -1;
      byBucket.get(i)!.forEach((l, j) => { if (s[l.slot] > 1 && (best < 0 || s[l.slot] > s[byBucket.get(i)![best].slot])) best = j; });
      return best;
    };
    for (let left = n; left > 0; left--) {
      let fullest = -1;
      for (const [i, c] of counts) if (c > k && pick(i) >= 0 && (fullest < 0 || c > counts.get(fullest)!)) fullest = i;
      if (fullest < 0) return;
      const [{ link, slot }] = byBucket.get(fullest)!.splice(pick(fullest), 1);
      counts.set(fullest, counts.get(fullest)! - 1);
      slots.get(fullest)![slot]--;
      close.call(this.#host, link);
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
    // While the process is half busy with link handshakes, only holes are dialed (maintain), so
    // only they are looked up: a lookup for a bucket that has its link finds contacts not dialed now.
    const enough = (host.load?.() ?? 0) >= 0.5 ? 1 : host.limits.linksPerBucket;
    let lookups = 0;
    for (let i = 0; i <= deepest && lookups < 16; i++) {
      if ((perBucket[i] ?? 0) >= enough) continue;
      host.lookup(randomIdInBucket(host.localId, i));
      lookups++;
    }
    this.maintain();
  }

  /** Links per k-bucket, a copy (maintain closes links while it reads it). */
  #perBucket(): number[] {
    const perBucket = this.#table.perBucket().slice();
    while (perBucket.length > 0 && !perBucket[perBucket.length - 1]) perBucket.pop();
    return perBucket;
  }
}
