/**
 * Forwarding (PROTOCOL.md §4.2): greedy next hop by XOR distance with loop
 * detours, TTL, duplicate suppression, UNREACHABLE reports, and the end of a
 * recursive LOOKUP. Frames addressed to this node go to the host.
 */
import debugFactory from 'debug';
import { equalBytes, key53 as msgKey, toHex } from '../util/bytes.js';
import { RoutingTable, compareDistance } from './routing-table.js';
import { DedupCache } from './dedup-cache.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { Link } from '../link/link.js';
import { encodeNodes, MAX_NODES_PER_FRAME, type NodeInfo } from '../wire/frames.js';
import {
  DEFAULT_TTL, encodeEnvelope, envelope, MsgType, OFF_MSG_ID, OFF_TTL, UnreachableReason, decodeUnreachable, encodeUnreachable,
} from '../wire/envelope.js';
import { relayError, type RelayError } from '../util/errors.js';

const debug = debugFactory('relaymesh:router');
/** DATA message ids remembered to map an UNREACHABLE back to its message. */
const SENT_DATA_ENTRIES = 8192;


export interface RouterHost {
  readonly localId: Uint8Array;
  readonly ttl: number;
  readonly maxFrameSize: number;
  /** How this node describes itself in a LOOKUP_RESULT. */
  self(): NodeInfo;
  count(reason: string): void;
  /** An end-to-end frame (KEY_*, HANDSHAKE_*, DATA, SESSION_UNKNOWN) addressed to this node. */
  deliver(frame: Uint8Array): void;
  /** Nodes learned from a LOOKUP_RESULT (a NODES frame). */
  learn(nodesFrame: Uint8Array): void;
  /** One of this node's DATA messages could not be delivered. */
  undeliverable(err: RelayError, to: Uint8Array): void;
  /** One of this node's handshake messages could not be delivered. */
  handshakeUnreachable(to: Uint8Array, err: RelayError): void;
}

export class Router {
  readonly counters = { relayed: 0, bytesRelayed: 0 };
  readonly #host: RouterHost;
  readonly #table: RoutingTable<Link>;
  readonly #dedup: DedupCache<Link>;
  readonly #sentData = new BoundedMap<number, Uint8Array>(SENT_DATA_ENTRIES);

  constructor(host: RouterHost, table: RoutingTable<Link>, dedup: DedupCache<Link>) {
    this.#host = host;
    this.#table = table;
    this.#dedup = dedup;
  }

  /** Sends a routed frame that originates here; false if the node has no link. */
  route(frame: Uint8Array): boolean {
    if (this.#table.size === 0) return false;
    if (envelope.type(frame) === MsgType.DATA) this.#sentData.set(msgKey(frame, OFF_MSG_ID), envelope.to(frame).slice());
    this.#forward(frame, null);
    return true;
  }

  /** Starts a recursive lookup for `target` (PROTOCOL.md §4.3). */
  lookup(target: Uint8Array): void {
    this.route(encodeEnvelope(MsgType.LOOKUP, target, this.#host.localId, new Uint8Array(0), this.#host.ttl));
  }

  /** A ROUTE frame arrived on `link`. */
  onRouted(link: Link, f: Uint8Array): void {
    const host = this.#host;
    if (!envelope.valid(f)) return host.count('malformed');
    if (f.length > host.maxFrameSize) return host.count('too_large');
    if (equalBytes(envelope.to(f), host.localId)) {
      const key = msgKey(f, OFF_MSG_ID);
      const seen = this.#dedup.get(key);
      if (seen?.delivered) return host.count('duplicate');
      (seen ?? this.#dedup.add(key)).delivered = true;
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
  #forward(f: Uint8Array, from: Link | null): void {
    const key = msgKey(f, OFF_MSG_ID);
    const now = Date.now();
    let seen = this.#dedup.get(key, now);
    if (!seen) {
      seen = this.#dedup.add(key, now);
      seen.parent = from;
    } else if (from) this.#host.count('loop');
    if (from) {
      seen.tried.add(from);
      if (f[OFF_TTL] === 0) return this.#bounce(f, UnreachableReason.HOP_LIMIT);
      f[OFF_TTL]--;
    }
    const hop = this.#table.nextHop(envelope.to(f), seen.tried);
    if (envelope.type(f) === MsgType.LOOKUP && (!hop || compareDistance(envelope.to(f), this.#host.localId, hop.id) <= 0)) {
      // No link is closer to the target than this node: greedy routing ends here.
      return this.#answerLookup(f);
    }
    if (!hop) {
      // A dead end: hand the message back to where it first came from, which
      // tries its next-best link (depth-first search with backtracking; the TTL
      // bounds the walk). Only the origin, with nowhere to go back to, bounces it.
      const back = seen.parent;
      if (back && !back.isClosed && back.send(f)) { this.#host.count('backtrack'); return; }
      return this.#bounce(f, UnreachableReason.NO_ROUTE);
    }
    seen.tried.add(hop.link);
    if (from) {
      this.counters.relayed++;
      this.counters.bytesRelayed += f.length;
    }
    if (!hop.link.send(f) && !from && envelope.type(f) === MsgType.DATA) {
      this.#sentData.delete(key);
      this.#host.undeliverable(relayError('ERR_QUEUE_FULL', `the link to ${toHex(hop.id)} is congested`, { to: toHex(envelope.to(f)) }), envelope.to(f));
    }
  }

  /** Tells the origin its message could not be delivered (never for an UNREACHABLE itself). */
  #bounce(f: Uint8Array, reason: number): void {
    this.#host.count(reason === UnreachableReason.HOP_LIMIT ? 'hop_limit' : 'no_route');
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
    if (!u) return this.#host.count('malformed');
    const err = u.reason === UnreachableReason.HOP_LIMIT
      ? relayError('ERR_HOP_LIMIT', `message to ${toHex(u.to)} exceeded ${this.#host.ttl} hops`, { to: toHex(u.to) })
      : relayError('ERR_NO_ROUTE', `no route to ${toHex(u.to)}`, { to: toHex(u.to) });
    const key = msgKey(u.msgId, 0);
    debug('unreachable %s: %s', toHex(u.to), err.code);
    if (this.#sentData.delete(key)) this.#host.undeliverable(err, u.to);
    else this.#host.handshakeUnreachable(u.to, err);
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
