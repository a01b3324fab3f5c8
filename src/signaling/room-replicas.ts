/**
 * The copies a signaling node holds of rooms other nodes home (PROTOCOL.md §12
 * "Replicas and takeover"): each arrives with the home's signed anchor, which
 * must name this node as a replica; homes are probed every replicaCheckMs, and
 * when one is found dead its rooms are taken over by their first live replica.
 */
import debugFactory from 'debug';
import type { SignalingCore } from './core.js';
import type { RoomLimits } from './limits.js';
import type { RoomAnchor } from './room-records.js';

const debug = debugFactory('relaymesh:signaling:rooms');

/** A room homed elsewhere, as its home last sent it. */
export interface Replica { home: string; anchor: RoomAnchor; ver: number; name: string; creator: string; members: string[] }

export interface ReplicaHost {
  /** True if the room is homed on this node. */
  homes(room: string): boolean;
  /** A verified anchor of `room` whose home is `from`, or null (counted room_forged). */
  check(anchor: unknown, room: string, from: string): RoomAnchor | null;
  /** Makes this node the room's home from its replica. */
  takeOver(room: string, rep: Replica): void;
}

export class RoomReplicas {
  readonly #core: SignalingCore;
  readonly #limits: RoomLimits;
  readonly #host: ReplicaHost;
  readonly #self: string;
  readonly #held = new Map<string, Replica>();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(core: SignalingCore, limits: RoomLimits, host: ReplicaHost) {
    this.#core = core;
    this.#limits = limits;
    this.#host = host;
    this.#self = core.node.identity.idHex;
    // Replicas watch their homes: a home that stops answering is found dead within homeProbeMs.
    this.#timer = setInterval(() => {
      for (const home of new Set([...this.#held.values()].map((r) => r.home))) void core.probeNode(home);
    }, limits.replicaCheckMs);
    this.#timer.unref?.();
    core.node.once('close', () => clearInterval(this.#timer));
  }

  list(): { room: string; home: string; members: string[] }[] {
    return [...this.#held].map(([room, r]) => ({ room, home: r.home, members: [...r.members] }));
  }

  /** Forgets the copy of `room` unless `home` homes it (the room moved there). */
  dropUnlessFrom(room: string, home: string): void {
    const held = this.#held.get(room);
    if (held && held.home !== home) this.#held.delete(room);
  }

  /** Forgets the copy of `room` (it is taken over here). */
  delete(room: string): void { this.#held.delete(room); }

  /** `room-rep` from node `from`: a room's state, its anchor when new, or `gone`. */
  onReplica(m: Record<string, unknown>, from: string): void {
    const room = m.room;
    if (typeof room !== 'string' || room.length > this.#limits.maxRoomIdLength) return debug('bad room-rep from %s', from.slice(0, 8));
    const held = this.#held.get(room);
    if (m.gone === true) {
      if (held?.home === from) this.#held.delete(room);
      return;
    }
    const members = m.members;
    // Cheap checks before the signature: an oversized roster is refused and counted.
    if (Array.isArray(members) && members.length > this.#limits.maxMembers) return this.#core.count('room_oversized');
    if (!Array.isArray(members) || !members.every((c) => typeof c === 'string' && c.length <= 128) || !Number.isSafeInteger(m.ver)
      || typeof m.creator !== 'string' || typeof m.name !== 'string' || m.name.length > this.#limits.maxNameLength) return debug('bad room-rep from %s', from.slice(0, 8));
    if (this.#host.homes(room)) return debug('room-rep for %s, homed here', room);
    let anchor = held?.home === from ? held.anchor : undefined;
    if (m.anchor !== undefined) {
      const a = this.#host.check(m.anchor, room, from);
      if (!a) return;
      anchor = a;
    }
    if (!anchor) return this.#core.sendMesh(from, { t: 'room-rep-need', room });
    if (!anchor.replicas.includes(this.#self) || anchor.creator !== m.creator) return this.#core.count('room_forged');
    if (held && held.home === from && held.ver >= (m.ver as number) && m.anchor === undefined) return;
    if (!held && this.#held.size >= this.#limits.maxReplicas) return debug('replica of %s refused: %d held', room, this.#held.size);
    this.#held.set(room, { home: from, anchor, ver: m.ver as number, name: m.name, creator: m.creator, members: members as string[] });
  }

  /** Home `hex` was found dead: its rooms move to their first live replica. */
  onHomeDead(hex: string): void {
    for (const [room, rep] of [...this.#held]) {
      if (rep.home !== hex) continue;
      const rank = rep.anchor.replicas.indexOf(this.#self);
      if (rank === 0) this.#takeOver(room, rep);
      else if (rank > 0) {
        // The replicas before this one take it over unless they are dead too.
        const before = rep.anchor.replicas.slice(0, rank);
        void Promise.all(before.map((b) => this.#core.probeNode(b))).then((alive) => {
          if (this.#held.get(room) !== rep) return;
          // A replica before this one lives and takes it over (and replicates it anew): this copy is stale.
          if (alive.some(Boolean)) this.#held.delete(room);
          else this.#takeOver(room, rep);
        });
      }
    }
  }

  #takeOver(room: string, rep: Replica): void {
    this.#held.delete(room);
    this.#host.takeOver(room, rep);
  }
}
