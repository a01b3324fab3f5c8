/**
 * Forwarding (PROTOCOL.md §4.2): greedy next hop by XOR distance with loop
 * detours, TTL, duplicate suppression, UNREACHABLE reports, and the end of a
 * recursive LOOKUP. Frames addressed to this node go to the host.
 */
import debugFactory from 'debug';
import { equalBytes, key53 as msgKey, toHex } from '../util/bytes.js';
import { RoutingTable, compareDistance } from './routing-table.js';
import { DedupCache } from './dedup-cache.js';
import { AckTracker } from './ack-tracker.js';
import type { RouteLink } from './route-link.js';
import { trace } from '../util/trace.js';
import { systemClock, type Clock } from '../util/clock.js';
import { encodeNodes, MAX_NODES_PER_FRAME, type NodeInfo } from '../wire/frames.js';
import {
  DEFAULT_TTL, encodeEnvelope, envelope, EnvelopeFlags, MSG_ID_LENGTH, MsgType, OFF_FLAGS, SPREAD_SHIFT, OFF_MSG_ID, OFF_TTL, UnreachableReason, decodeUnreachable, encodeUnreachable,
  CongestionKind, CONGESTION_ENTRY, MAX_CONGESTION_ENTRIES, decodeCongestion, encodeCongestion,
} from '../wire/envelope.js';
import { relayError, type RelayError } from '../util/errors.js';
import type { CountDrop, Detour } from '../util/drop-reasons.js';
import { DEFAULT_LIMITS } from '../util/limits.js';

const debug = debugFactory('relaymesh:router');

/** What became of a frame this node sent: handed to a link, no link at all, or the next hop's buffer is full. */
export type RouteResult = 'sent' | 'no_links' | 'congested';

export interface RouterHost {
  readonly localId: Uint8Array;
  readonly ttl: number;
  readonly maxFrameSize: number;
  /** Time for the duplicate cache (default: the wall clock). */
  readonly clock?: Clock;
  /** How this node describes itself in a LOOKUP_RESULT. */
  self(): NodeInfo;
  countDrop: CountDrop;
  /** A message went on along another path. */
  countDetour(kind: Detour): void;
  /** An end-to-end frame (KEY_*, HANDSHAKE_*, DATA, SESSION_UNKNOWN) addressed to this node. */
  deliver(frame: Uint8Array): void;
  /** Nodes learned from a LOOKUP_RESULT (a NODES frame). */
  learn(nodesFrame: Uint8Array): void;
  /** The message this node sent with id `msgKey` (key53 of its id) did not reach `to`. */
  unreachable(msgKey: number, to: Uint8Array, err: RelayError): void;
  /**
   * A congestion report about message `msgKey` to `to`, from a relay or from
   * this node's own link queue; false if this node sent no such message
   * (the report is then ignored and counted).
   */
  congestion?(kind: number, msgKey: number, to: Uint8Array): boolean;
  /** End-to-end acknowledgement of DATA through relays (§4.5; default: the node limits' defaults). */
  readonly acks?: { retransmits: number; ackTimeoutMs: number; maxUnacked: number };
}

/**
 * A LOOKUP_RESULT's message id is its LOOKUP's with this bit of the first byte
 * flipped: inside the 53 bits a duplicate-cache key keeps, so the key of one
 * is the other's with bit 52 flipped (see lookupKeyOf).
 */
const RESULT_ID_BIT = 0x10;
const RESULT_KEY_BIT = 2 ** 52;
/** The duplicate-cache key of the LOOKUP a LOOKUP_RESULT with key `resultKey` answers (and the other way round). */
export function lookupKeyOf(resultKey: number): number {
  return resultKey >= RESULT_KEY_BIT ? resultKey - RESULT_KEY_BIT : resultKey + RESULT_KEY_BIT;
}

/** Origins with drop reports waiting to be sent at once (more: their drops are counted, not reported). */
const MAX_REPORT_ORIGINS = 1024;
/** Entries waiting for one origin (16 reports' worth), and for all together (~230 KB). */
const MAX_REPORT_ENTRIES = 16 * MAX_CONGESTION_ENTRIES;
const MAX_REPORT_ENTRIES_TOTAL = 8192;

export class Router {
  readonly counters = { relayed: 0, bytesRelayed: 0 };
  /** CONGESTION reports sent (as a relay) and received (as an origin). */
  readonly reports = { sent: 0, received: 0 };
  readonly #host: RouterHost;
  readonly #table: RoutingTable<RouteLink>;
  readonly #dedup: DedupCache<RouteLink>;

  readonly #clock: Clock;
  /** Drop reports being gathered for this turn, by origin (key53 of its id). */
  #drops = new Map<number, { origin: Uint8Array; entries: Uint8Array[] }>();
  #dropEntries = 0;
  #dropsScheduled = false;
  readonly #acks: AckTracker;

  constructor(host: RouterHost, table: RoutingTable<RouteLink>, dedup: DedupCache<RouteLink>) {
    this.#host = host;
    this.#clock = host.clock ?? systemClock;
    this.#table = table;
    this.#dedup = dedup;
    const a = host.acks ?? DEFAULT_LIMITS;
    this.#acks = new AckTracker({
      localId: host.localId, ttl: host.ttl, clock: this.#clock,
      retransmits: a.retransmits, ackTimeoutMs: a.ackTimeoutMs, maxUnacked: a.maxUnacked,
      send: (f) => this.#resend(f),
      sendAck: (f) => { if (this.#table.size > 0) this.#forward(f, null); },
      giveUp: (key, to, err) => host.unreachable(key, to, err),
    });
  }

  /** Acknowledgement counters (§4.5). */
  get ackCounters(): Readonly<AckTracker['counters']> & { unacked: number } { return { ...this.#acks.counters, unacked: this.#acks.unacked }; }

  /** Sends a routed frame that originates here. */
  route(frame: Uint8Array): RouteResult {
    if (this.#table.size === 0) return 'no_links';
    // DATA through relays is kept until the destination acknowledges it (§4.5);
    // a message handed straight to the destination's own link needs no ack.
    const track = this.#acks.enabled && envelope.type(frame) === MsgType.DATA && !this.#table.get(envelope.to(frame));
    if (track) this.#acks.flag(frame);
    const result = this.#forward(frame, null);
    if (track && result === 'sent') this.#acks.track(frame);
    return result;
  }

  /** A retransmission goes out by a link it has not tried yet, if one is left (the origin's dedup entry knows). */
  #resend(f: Uint8Array): boolean {
    const seen = this.#dedup.find(msgKey(f, OFF_MSG_ID), this.#clock.now());
    if (this.#table.size === 0 || (seen >= 0 && !this.#table.nextHop(envelope.to(f), this.#dedup.tried(seen)))) return false;
    this.#forward(f, null);
    return true;
  }

  /** Stops the acknowledgement timers and drops what they held. */
  stop(): void { this.#acks.stop(); }

  /** DATA message `msgKey` was reported undeliverable by the session layer: it is not retransmitted. */
  settled(msgKey: number): void { this.#acks.forget(msgKey); }

  /** Starts a recursive lookup for `target` (PROTOCOL.md §4.3). */
  lookup(target: Uint8Array): void {
    this.route(encodeEnvelope(MsgType.LOOKUP, target, this.#host.localId, new Uint8Array(0), this.#host.ttl));
  }

  /** A ROUTE frame arrived on `link`. */
  onRouted(link: RouteLink, f: Uint8Array): void {
    const host = this.#host;
    if (!envelope.valid(f)) return host.countDrop('malformed');
    if (f.length > host.maxFrameSize) return host.countDrop('too_large');
    if (equalBytes(envelope.to(f), host.localId)) {
      const key = msgKey(f, OFF_MSG_ID);
      const dedup = this.#dedup;
      const seen = dedup.find(key, this.#clock.now());
      // A flagged DATA message is acknowledged every time it arrives: a retransmission means the ack was lost.
      const ack = f[OFF_FLAGS] & EnvelopeFlags.ACK_REQUESTED && envelope.type(f) === MsgType.DATA;
      if (ack) this.#acks.ackLater(f);
      if (seen >= 0 && dedup.delivered(seen)) return host.countDrop('duplicate');
      const entry = seen >= 0 ? seen : dedup.add(key, this.#clock.now());
      dedup.setDelivered(entry);
      // A LOOKUP's answer goes back on the link the LOOKUP came by (#forward).
      if (envelope.type(f) === MsgType.LOOKUP && dedup.parent(entry) === null) dedup.setParent(entry, link);
      switch (envelope.type(f)) {
        case MsgType.ACK: if (!this.#acks.onAck(f)) host.countDrop('malformed'); return;
        case MsgType.UNREACHABLE: return this.#onUnreachable(f);
        case MsgType.CONGESTION: return this.#onCongestion(f);
        case MsgType.LOOKUP_RESULT: return host.learn(envelope.body(f));
        case MsgType.LOOKUP: return this.#answerLookup(f);
        default: return host.deliver(f);
      }
    }
    link.stats.relayed++;
    trace('relayed', host.localId);
    this.#forward(f, link);
  }

  /**
   * Greedy next hop by XOR distance, never back where the message came from
   * and never twice along the same link: a message that loops back here is
   * sent along the next-best link (the dedup entry remembers the tried ones),
   * and a node with no untried link returns it to its parent (backtracking).
   */
  #forward(f: Uint8Array, from: RouteLink | null): RouteResult {
    const key = msgKey(f, OFF_MSG_ID);
    const now = this.#clock.now();
    const dedup = this.#dedup;
    // The entry's handle stays valid until the next dedup.add (none below).
    let seen = dedup.find(key, now);
    const fresh = seen < 0;
    if (fresh) {
      seen = dedup.add(key, now);
      dedup.setParent(seen, from);
    } else if (from) this.#host.countDetour('loop');
    if (from) {
      dedup.addTried(seen, from);
      if (f[OFF_TTL] === 0) { this.#bounce(f, UnreachableReason.HOP_LIMIT); return 'sent'; }
      f[OFF_TTL]--;
    }
    // A LOOKUP_RESULT goes back along its LOOKUP's path, on the link the LOOKUP first came by, while
    // that link is open and the origin has no direct link here: the origin is often a node joining
    // that the mesh does not know yet, where greedy routing meets dead ends (§4.3).
    if (fresh && envelope.type(f) === MsgType.LOOKUP_RESULT) {
      const lookup = dedup.find(lookupKeyOf(key), now);
      const back = lookup >= 0 ? dedup.parent(lookup) : null;
      if (back && back !== from && !back.isClosed && !this.#table.get(envelope.to(f))) {
        dedup.addTried(seen, back);
        if (from) {
          this.counters.relayed++;
          this.counters.bytesRelayed += f.length;
        }
        if (back.send(f)) return 'sent';
        if (from) this.dropped(f);
        return 'congested';
      }
    }
    // A retransmission asks every relay to pick among its few closest links at random (§4.5).
    // A LOOKUP must end at the node closest to its target, so it goes by the links' own distance: no
    // lookahead; nor for a message that came back here (a detour goes to the next-closest link).
    const hop = this.#table.nextHop(envelope.to(f), dedup.tried(seen), undefined, 1 + ((f[OFF_FLAGS] & EnvelopeFlags.SPREAD) >> SPREAD_SHIFT), fresh && envelope.type(f) !== MsgType.LOOKUP);
    if (envelope.type(f) === MsgType.LOOKUP && from && (!hop || compareDistance(envelope.to(f), this.#host.localId, hop.id) <= 0)) {
      // No link is closer to the target than this node: greedy routing ends here. Not at the origin: a
      // node looks up a bucket it has no link in (a hole), and no link of its is then closer to an id
      // there than itself; its closest link, whose own table covers that bucket, carries the lookup on.
      this.#answerLookup(f);
      return 'sent';
    }
    if (!hop) {
      // A dead end: hand the message back to where it first came from, which
      // tries its next-best link (depth-first search with backtracking; the TTL
      // bounds the walk). Only the origin, with nowhere to go back to, bounces it.
      const back = dedup.parent(seen);
      if (back && !back.isClosed && back.send(f)) { this.#host.countDetour('backtrack'); return 'sent'; }
      this.#bounce(f, UnreachableReason.NO_ROUTE);
      return 'sent';
    }
    dedup.addTried(seen, hop.link);
    if (from) {
      this.counters.relayed++;
      this.counters.bytesRelayed += f.length;
    }
    if (hop.link.send(f)) return 'sent';
    // A relayed message the next hop's queue refused: its origin is told (an origin's own gets 'congested').
    if (from) this.dropped(f);
    return 'congested';
  }

  /**
   * A routed frame was dropped from a link's queue (refused, evicted for a
   * heavier flow, or left on a link that closed). Its origin gets a
   * CONGESTION DROPPED report naming it, gathered per origin for this turn;
   * this node's own messages are reported here. Reports are never reported.
   */
  dropped(f: Uint8Array): void {
    const type = envelope.type(f);
    if (type === MsgType.CONGESTION || type === MsgType.UNREACHABLE) return;
    const origin = envelope.from(f);
    if (equalBytes(origin, this.#host.localId)) {
      this.#host.congestion?.(CongestionKind.DROPPED, msgKey(f, OFF_MSG_ID), envelope.to(f).slice());
      return;
    }
    const key = msgKey(origin, 0);
    let d = this.#drops.get(key);
    if (!d) {
      if (this.#drops.size >= MAX_REPORT_ORIGINS) return;
      d = { origin: origin.slice(), entries: [] };
      this.#drops.set(key, d);
    }
    if (d.entries.length >= MAX_REPORT_ENTRIES || this.#dropEntries >= MAX_REPORT_ENTRIES_TOTAL) return;
    d.entries.push(f.slice(OFF_MSG_ID, OFF_MSG_ID + CONGESTION_ENTRY));
    this.#dropEntries++;
    if (!this.#dropsScheduled) {
      this.#dropsScheduled = true;
      queueMicrotask(() => this.#flushDrops());
    }
  }

  /** A flow on one of this node's links crossed its mark: its origin is told to stop, or to go on. */
  flowSignal(ref: Uint8Array, origin: Uint8Array, stop: boolean): void {
    if (equalBytes(origin, this.#host.localId)) return; // send()'s own return value says it
    this.#report(origin, stop ? CongestionKind.STOP : CongestionKind.GO, [ref]);
  }

  #flushDrops(): void {
    this.#dropsScheduled = false;
    const drops = this.#drops;
    this.#drops = new Map();
    this.#dropEntries = 0;
    for (const { origin, entries } of drops.values()) {
      for (let i = 0; i < entries.length; i += MAX_CONGESTION_ENTRIES) {
        this.#report(origin, CongestionKind.DROPPED, entries.slice(i, i + MAX_CONGESTION_ENTRIES));
      }
    }
  }

  #report(origin: Uint8Array, kind: number, entries: Uint8Array[]): void {
    if (this.#table.size === 0) return;
    this.reports.sent++;
    const ttl = Math.max(this.#host.ttl, DEFAULT_TTL);
    this.#forward(encodeEnvelope(MsgType.CONGESTION, origin, this.#host.localId, encodeCongestion(kind, entries), ttl), null);
  }

  #onCongestion(f: Uint8Array): void {
    const c = decodeCongestion(envelope.body(f));
    if (!c) return this.#host.countDrop('malformed');
    this.reports.received++;
    // The path toward these destinations is alive but full: no retransmission into it for now (§4.5).
    this.#acks.postpone(new Set(c.entries.map((e) => msgKey(e, 8))));
    for (const e of c.entries) {
      // A message dropped for congestion is reported (ERR_CONGESTED), not retransmitted into the congestion.
      if (c.kind === CongestionKind.DROPPED) this.#acks.forget(msgKey(e, 0));
      if (!this.#host.congestion?.(c.kind, msgKey(e, 0), e.subarray(8, CONGESTION_ENTRY))) this.#host.countDrop('unsolicited_report');
    }
  }

  /** Tells the origin its message could not be delivered (never for an UNREACHABLE itself). */
  #bounce(f: Uint8Array, reason: number): void {
    this.#host.countDrop(reason === UnreachableReason.HOP_LIMIT ? 'hop_limit' : 'no_route');
    const type = envelope.type(f);
    // Nobody acts on a report about a report, an ack or a lookup (a lost lookup is made again at the next refresh).
    if (type === MsgType.UNREACHABLE || type === MsgType.CONGESTION || type === MsgType.ACK || type === MsgType.LOOKUP || type === MsgType.LOOKUP_RESULT) return;
    const origin = envelope.from(f);
    const body = encodeUnreachable(reason, envelope.msgId(f), envelope.to(f));
    // The report gets at least the default hop limit: a small TTL chosen for the
    // message must not also stop the news that it died.
    const reply = encodeEnvelope(MsgType.UNREACHABLE, origin, this.#host.localId, body, Math.max(this.#host.ttl, DEFAULT_TTL));
    if (equalBytes(origin, this.#host.localId)) {
      this.#onUnreachable(reply);
      return;
    }
    if (this.#table.size > 0) this.#forward(reply, null);
  }

  #onUnreachable(f: Uint8Array): void {
    const u = decodeUnreachable(envelope.body(f));
    if (!u) return this.#host.countDrop('malformed');
    const err = u.reason === UnreachableReason.HOP_LIMIT
      ? relayError('ERR_HOP_LIMIT', `message to ${toHex(u.to)} exceeded ${this.#host.ttl} hops`, { to: toHex(u.to) })
      : relayError('ERR_NO_ROUTE', `no route to ${toHex(u.to)}`, { to: toHex(u.to) });
    debug('unreachable %s: %s', toHex(u.to), err.code);
    const key = msgKey(u.msgId, 0);
    // While copies of a retransmission are out, one copy's dead end says nothing
    // of the others: the tracker reports if none is acknowledged.
    if (this.#acks.retrying(key)) return;
    this.#acks.forget(key);
    this.#host.unreachable(key, u.to, err);
  }

  /** Answers a LOOKUP that ends here with this node and its links closest to the target. */
  #answerLookup(f: Uint8Array): void {
    const target = envelope.to(f);
    const origin = envelope.from(f);
    if (equalBytes(origin, this.#host.localId)) return;
    const nodes = this.#table.closest(target, MAX_NODES_PER_FRAME - 1)
      .filter((e) => !equalBytes(e.id, origin))
      .map((e) => ({ id: e.id, flags: e.link.remoteFlags, url: e.link.remoteUrl }));
    nodes.unshift(this.#host.self());
    const result = encodeEnvelope(MsgType.LOOKUP_RESULT, origin, this.#host.localId, encodeNodes(nodes), this.#host.ttl);
    result.set(f.subarray(OFF_MSG_ID, OFF_MSG_ID + MSG_ID_LENGTH), OFF_MSG_ID);
    result[OFF_MSG_ID] ^= RESULT_ID_BIT;
    this.route(result);
  }
}
