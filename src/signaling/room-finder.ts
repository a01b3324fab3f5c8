/**
 * Finding the home of a room this node does not know (PROTOCOL.md §12): ask
 * every node known to run a signaling core once, take the first that shows the
 * room's anchor, signed by itself and chained back to the room's origin. Part
 * of rooms.ts (Rooms), which answers the same question for the rooms it homes.
 */
import { randomBytes, toHex } from '../util/bytes.js';
import type { PendingRequests } from '../util/pending.js';
import type { SignalingCore } from './core.js';
import type { RoomLimits } from './limits.js';
import { errorTypeOf } from './wire-errors.js';
import type { RoomAnchor } from './room-records.js';

/** What the finder needs of Rooms. */
export interface FinderHooks {
  /** A verified anchor of `room` whose home is `from`, or null (counted room_forged). */
  check(anchor: unknown, room: string, from: string): RoomAnchor | null;
  /** `home` homes `room`: remember it. */
  remember(room: string, home: string): void;
}

export class RoomFinder {
  readonly #core: SignalingCore;
  readonly #limits: RoomLimits;
  /** Shared with Rooms' remote operations (one maxPending for both); look-ups are keyed by their rid. */
  readonly #pending: PendingRequests<string, unknown>;
  readonly #hooks: FinderHooks;
  /** Look-ups in flight: rid -> nodes still to answer. */
  readonly #asking = new Map<string, number>();
  /** The room each look-up in flight asks about (its answers must carry that room's anchor). */
  readonly #askingRoom = new Map<string, string>();
  /** Look-ups in flight by room: concurrent operations on one unknown room share one. */
  readonly #finding = new Map<string, Promise<string | null>>();

  constructor(core: SignalingCore, limits: RoomLimits, pending: PendingRequests<string, unknown>, hooks: FinderHooks) {
    this.#core = core;
    this.#limits = limits;
    this.#pending = pending;
    this.#hooks = hooks;
  }

  /**
   * Asks every node known to run a signaling core whether it homes `room`
   * (port-less links have none and are not asked); resolves to the home as
   * soon as one says so, or null once all said no (or none answered in time).
   * Concurrent look-ups of one room share one question.
   */
  find(room: string): Promise<string | null> {
    const known = this.#finding.get(room);
    if (known) return known;
    const p = this.#ask(room).finally(() => this.#finding.delete(room));
    this.#finding.set(room, p);
    return p;
  }

  async #ask(room: string): Promise<string | null> {
    const nodes = this.#core.signalingNodes();
    if (nodes.length === 0) return null;
    const rid = toHex(randomBytes(8));
    const answer = this.#pending.add(rid, { timeoutMs: this.#limits.findTimeoutMs });
    if (this.#pending.has(rid)) {
      this.#asking.set(rid, nodes.length);
      this.#askingRoom.set(rid, room);
      for (const n of nodes) this.#core.sendMesh(n, { t: 'room-find', rid, room });
    }
    let home: unknown;
    try {
      home = await answer;
    } catch (err) {
      if (errorTypeOf(err) !== 'TIMEOUT') throw err;
      home = null;
    } finally {
      this.#asking.delete(rid);
      this.#askingRoom.delete(rid);
    }
    if (typeof home === 'string') this.#hooks.remember(room, home);
    return typeof home === 'string' ? home : null;
  }

  /** A node's answer to a look-up (mesh input: never throws). */
  onFound(m: Record<string, unknown>, from: string): void {
    const rid = typeof m.rid === 'string' ? m.rid : '';
    const left = this.#asking.get(rid);
    if (left === undefined) return;
    // A home must show the room's anchor, signed by itself and chained back to the room's origin.
    if (m.have === true) {
      const a = this.#hooks.check(m.anchor, this.#askingRoom.get(rid) ?? '', from);
      if (a) return void this.#pending.resolve(rid, from);
    }
    if (left <= 1) this.#pending.resolve(rid, null);
    else this.#asking.set(rid, left - 1);
  }
}
