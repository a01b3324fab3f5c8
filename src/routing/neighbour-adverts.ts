/**
 * NEIGHBOURS adverts (PROTOCOL.md §4.2): each node tells its links the heads
 * (first 32 bits) of the ids it is linked to, and keeps what each link told it
 * in the routing table, where nextHop looks one hop further ahead. A change
 * of links is told in one round to every link that reads the frame
 * (HelloFlags.NEIGHBOURS), at most once per neighbourAdvertMs: a mesh being
 * built changes its links all the time. A link that can (Link.advertise)
 * carries the list on its next PING or PONG: at 10,000 simulated nodes, lists
 * sent as frames of their own were more frames than the keepalive and cost a
 * quarter of the link handshakes the mesh could make while it formed. Pure and synchronous apart from the timer
 * of its clock; no I/O of its own.
 */
import { systemClock, jitter, type Clock } from '../util/clock.js';
import { HelloFlags, encodeNeighbours, neighboursCount, MAX_NEIGHBOUR_HEADS } from '../wire/frames.js';
import type { CountDrop } from '../util/drop-reasons.js';
import type { RoutingTable } from './routing-table.js';
import type { RouteLink } from './route-link.js';

/** After the first change since the last round, the next round waits about this long (ms), so a burst of changes is one round. */
const ADVERT_DELAY_MS = 1000;
/**
 * A list names at most this many links per k-bucket, and at most ADVERT_MAX_HEADS in all: a node
 * with 256 links would otherwise look the best next hop toward almost any target, and at 10,000
 * simulated nodes the lookahead funnelled traffic into such hubs until their queues timed messages out.
 */
export const ADVERT_PER_BUCKET = 2;
export const ADVERT_MAX_HEADS = 40;

export interface AdvertHost {
  /** Time and timers (default: the wall clock); the simulator passes a virtual one. */
  readonly clock?: Clock;
  /** Rounds at most once per this many ms (jittered); 0: this node sends none (and reads none). */
  readonly neighbourAdvertMs: number;
  readonly active: boolean;
  countDrop: CountDrop;
}

export class NeighbourAdverts {
  readonly #host: AdvertHost;
  readonly #table: RoutingTable<RouteLink>;
  readonly #clock: Clock;
  /** The table version each link was last told (a link told nothing yet is missing). */
  readonly #told = new WeakMap<RouteLink, number>();
  #timer: unknown = null;
  #lastRound = -Infinity;
  /** Lists handed to links (each rides on a keepalive frame or goes alone, Link.advertise), and lists received. */
  readonly counters = { sent: 0, received: 0 };

  constructor(host: AdvertHost, table: RoutingTable<RouteLink>) {
    this.#host = host;
    this.#table = table;
    this.#clock = host.clock ?? systemClock;
  }

  /** The HelloFlags bit this node sets: it reads NEIGHBOURS frames when it sends them. */
  get flag(): number { return this.#host.neighbourAdvertMs > 0 ? HelloFlags.NEIGHBOURS : 0; }

  /** A link opened or closed: a round follows, no sooner than neighbourAdvertMs after the last. */
  changed(): void {
    const every = this.#host.neighbourAdvertMs;
    if (every <= 0 || this.#timer !== null || !this.#host.active) return;
    const now = this.#clock.now();
    const wait = Math.max(jitter(ADVERT_DELAY_MS, 0.5), this.#lastRound + jitter(every) - now);
    this.#timer = this.#clock.setTimeout(() => this.#round(), wait);
  }

  /** A NEIGHBOURS frame arrived on `link`. */
  onFrame(link: RouteLink, f: Uint8Array): void {
    const count = neighboursCount(f);
    if (count < 0) return this.#host.countDrop('malformed');
    this.counters.received++;
    if (this.#host.neighbourAdvertMs <= 0 || !link.remote) return;
    // Read in place into the table's own array for this link (a list is kept until the next one).
    this.#table.setNeighboursFrom(link.remote.id, f, 1, count);
  }

  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Tells every link that reads NEIGHBOURS and was not told this table version. */
  #round(): void {
    this.#timer = null;
    if (!this.#host.active) return;
    this.#lastRound = this.#clock.now();
    const version = this.#table.version;
    let frame: Uint8Array | null = null;
    let refused = false;
    for (const { link } of this.#table.entries()) {
      if (!(link.remoteFlags & HelloFlags.NEIGHBOURS) || this.#told.get(link) === version || link.isClosed) continue;
      frame ??= encodeNeighbours(this.#table.spreadHeads(ADVERT_PER_BUCKET, Math.min(ADVERT_MAX_HEADS, MAX_NEIGHBOUR_HEADS)));
      if (link.advertise ? link.advertise(frame) : link.send(frame)) {
        this.#told.set(link, version);
        this.counters.sent++;
      } else refused = true;
    }
    // A link whose queue refused the frame is told in the next round.
    if (refused) this.changed();
  }
}
