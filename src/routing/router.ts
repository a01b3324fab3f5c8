/**
 * Forwarding (PROTOCOL.md §4.2): greedy next hop by XOR distance with loop
 * detours, TTL, duplicate suppression, UNREACHABLE reports, and the end of a
 * recursive LOOKUP. Frames addressed to this node go to the host.
 */
import debugFactory from 'debug';
import { equalBytes, key53 as msgKey, toHex } from '../util/bytes.js';
import { RoutingTable, compareDistance } from './routing-table.js';
import { DedupCache } from './dedup-cache.js';
import type { RouteLink } from './route-link.js';
import { systemClock, type Clock } from '../util/clock.js';
import { encodeNodes, MAX_NODES_PER_FRAME, type NodeInfo } from '../wire/frames.js';
import {
  DEFAULT_TTL, encodeEnvelope, envelope, MsgType, OFF_MSG_ID, OFF_TTL, UnreachableReason, decodeUnreachable, encodeUnreachable,
} from '../wire/envelope.js';
import { relayError, type RelayError } from '../util/errors.js';
import type { CountDrop, Detour } from '../util/drop-reasons.js';

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
}

export class Router {
  readonly counters = { relayed: 0, bytesRelayed: 0 };
  readonly #host: RouterHost;
  readonly #table: RoutingTable<RouteLink>;
  readonly #dedup: DedupCache<RouteLink>;

  readonly #clock: Clock;

  constructor(host: RouterHost, table: RoutingTable<RouteLink>, dedup: DedupCache<RouteLink>) {
    this.#host = host;
    this.#clock = host.clock ?? systemClock;
    this.#table = table;
    this.#dedup = dedup;
  }

  /** Sends a routed frame that originates here. */
  route(frame: Uint8Array): RouteResult {
    if (this.#table.size === 0) return 'no_links';
    return this.#forward(frame, null);
  }

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
      const seen = this.#dedup.get(key, this.#clock.now());
      if (seen?.delivered) return host.countDrop('duplicate');
      (seen ?? this.#dedup.add(key, this.#clock.now())).delivered = true;
      switch (envelope.type(f)) {
        case MsgType.UNREACHABLE: return this.#onUnreachable(f);
        case MsgType.LOOKUP_RESULT: return host.learn(envelope.body(f));
        case MsgType.LOOKUP: return this.#answerLookup(f);
        default: return host.deliver(f);
      }
    }
    link.stats.relayed++;
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
    let seen = this.#dedup.get(key, now);
    if (!seen) {
      seen = this.#dedup.add(key, now);
      seen.parent = from;
    } else if (from) this.#host.countDetour('loop');
    if (from) {
      seen.tried.add(from);
      if (f[OFF_TTL] === 0) { this.#bounce(f, UnreachableReason.HOP_LIMIT); return 'sent'; }
      f[OFF_TTL]--;
    }
    const hop = this.#table.nextHop(envelope.to(f), seen.tried);
    if (envelope.type(f) === MsgType.LOOKUP && (!hop || compareDistance(envelope.to(f), this.#host.localId, hop.id) <= 0)) {
      // No link is closer to the target than this node: greedy routing ends here.
      this.#answerLookup(f);
      return 'sent';
    }
    if (!hop) {
      // A dead end: hand the message back to where it first came from, which
      // tries its next-best link (depth-first search with backtracking; the TTL
      // bounds the walk). Only the origin, with nowhere to go back to, bounces it.
      const back = seen.parent;
      if (back && !back.isClosed && back.send(f)) { this.#host.countDetour('backtrack'); return 'sent'; }
      this.#bounce(f, UnreachableReason.NO_ROUTE);
      return 'sent';
    }
    seen.tried.add(hop.link);
    if (from) {
      this.counters.relayed++;
      this.counters.bytesRelayed += f.length;
    }
    return hop.link.send(f) ? 'sent' : 'congested';
  }

  /** Tells the origin its message could not be delivered (never for an UNREACHABLE itself). */
  #bounce(f: Uint8Array, reason: number): void {
    this.#host.countDrop(reason === UnreachableReason.HOP_LIMIT ? 'hop_limit' : 'no_route');
    if (envelope.type(f) === MsgType.UNREACHABLE) return;
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
    this.#host.unreachable(msgKey(u.msgId, 0), u.to, err);
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
    this.route(encodeEnvelope(MsgType.LOOKUP_RESULT, origin, this.#host.localId, encodeNodes(nodes), this.#host.ttl));
  }
}
