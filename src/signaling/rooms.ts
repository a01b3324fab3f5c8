/**
 * Signaling rooms, shared by every dialect. A room lives at its home node: the
 * node of the client that created it. The home holds the member list and does
 * every membership operation; members may be clients of any node. Other nodes
 * find a room's home by asking the nodes they know (roster homes and direct
 * links) once, then remember it. Operations and room events travel over
 * Channel.SIGNALING as core extension messages (PROTOCOL.md §12).
 *
 * The home copies each room's state to the two nodes whose ids are closest to
 * the room's, and signs an anchor naming them (room-records.ts). When the home
 * is found dead the first replica takes the room over (the second, if the
 * first is dead too): members stay members, the creator stays the creator, and
 * the new anchor carries the old one, so look-ups can check who may home it.
 * The copies held here live in room-replicas.ts.
 */
import debugFactory from 'debug';
import { randomBytes, toHex } from '../util/bytes.js';
import type { RelayError } from '../util/errors.js';
import { BoundedMap } from '../util/bounded-map.js';
import { PendingRequests } from '../util/pending.js';
import { tooDeep, type ClientSink, type SignalingCore } from './core.js';
import { Budgets, resolveRoomLimits, ROOM_LIMITS, type RoomLimits } from './limits.js';
import { errorTypeOf, wireError } from './wire-errors.js';
import { closestTo, ROOM_REPLICAS, signAnchor, verifyAnchor, type RoomAnchor } from './room-records.js';
import { RoomReplicas, type Replica } from './room-replicas.js';
import { RoomFinder } from './room-finder.js';

const debug = debugFactory('relaymesh:signaling:rooms');

/** Defaults in src/util/limits.ts; set them with the signaling option `rooms: {...}`. */
export { ROOM_LIMITS };
export type { RoomLimits };

export interface RoomView { room: string; name: string; creator: string; clients: string[] }

/** What members hear. `clients` is always the full member list after the change. */
export type RoomEvent =
  | { kind: 'added'; room: string; name: string; clients: string[]; client: string }
  | { kind: 'removed'; room: string; name: string; clients: string[]; client: string }
  | { kind: 'deleted'; room: string; name: string; clients: string[]; by: string }
  | { kind: 'message'; room: string; from: string; data: unknown };

/** A sink that can show room events (Connector and protoo sessions). */
export interface RoomSink extends ClientSink { roomEvent(ev: RoomEvent): void }

type Op = 'create' | 'join' | 'leave' | 'end' | 'message';
const OPS = new Set<string>(['create', 'join', 'leave', 'end', 'message']);
/** A room homed here: `ver` counts its changes, `sentAnchor` the replicas that have its current anchor. */
interface Room { name: string; creator: string; members: Set<string>; anchor: RoomAnchor; ver: number; sentAnchor: Set<string> }
/** A copy of a room homed elsewhere, kept to take it over if its home dies. */

/** A room refusal; `info.errorType` is a wire error type (wire-errors.ts: ROOM_NOT_FOUND, NOT_MEMBER, ...). */
export function roomError(errorType: string, details: string): RelayError {
  return wireError(errorType, details);
}

const byCore = new WeakMap<SignalingCore, Rooms>();

/** The rooms of a signaling core (created on first use). */
export function roomsOf(core: SignalingCore): Rooms {
  let r = byCore.get(core);
  if (!r) { r = new Rooms(core); byCore.set(core, r); }
  return r;
}

export class Rooms {
  readonly core: SignalingCore;
  readonly limits: RoomLimits;
  readonly #self: string;
  readonly #homed = new Map<string, Room>();
  /** Local client -> its rooms -> their home. */
  readonly #joined = new Map<string, Map<string, string>>();
  readonly #where: BoundedMap<string, string>;
  /**
   * Remote operations (key `<home>/<rid>`: only the home's answer matches) and
   * look-ups (key `<rid>`, room-finder.ts).
   */
  readonly #pending: PendingRequests<string, unknown>;
  /** Finds the home of a room not known here (room-finder.ts). */
  readonly #finder: RoomFinder;
  /** Remote operations and look-ups each local client waits on. */
  readonly #waiting = new Map<string, number>();
  /** Membership operations and look-ups per connection, address and node. */
  readonly #budgets: Budgets<ClientSink>;
  /** Copies of rooms other nodes home (room-replicas.ts). */
  readonly #replicas: RoomReplicas;
  /** Anchors already verified (by signature), so a chain is checked once. */
  readonly #verified: BoundedMap<string, true>;
  /** Homes found dead: a room remembered there is looked up again. */
  readonly #deadHomes: BoundedMap<string, true>;

  constructor(core: SignalingCore, limits: Partial<RoomLimits> = {}) {
    this.core = core;
    this.limits = resolveRoomLimits({ ...core.roomLimits, ...limits });
    this.#self = core.node.identity.idHex;
    this.#where = new BoundedMap(Math.max(2, this.limits.maxCachedHomes));
    this.#pending = new PendingRequests({
      max: this.limits.maxPending, timeoutMs: this.limits.opTimeoutMs, what: 'room operation',
      timeoutError: () => roomError('TIMEOUT', 'the room\'s home node did not answer'),
      fullError: () => roomError('LIMIT_REACHED', 'too many room operations in flight'),
    });
    this.#replicas = new RoomReplicas(core, this.limits, {
      homes: (room) => this.#homed.has(room),
      check: (a, room, from) => this.#check(a, room, from),
      takeOver: (room, rep) => this.#takeOver(room, rep),
    });
    this.#finder = new RoomFinder(core, this.limits, this.#pending, {
      check: (a, room, from) => this.#check(a, room, from),
      remember: (room, home) => this.#remember(room, home),
    });
    this.#budgets = new Budgets(this.limits.opsPerSecond, this.limits.opsPerSecondPerAddress, this.limits.opsPerSecondPerNode);
    core.reportRooms(() => this.#homed.size);
    core.onMeshType('room-op', (m, from) => this.#onOp(m, from));
    core.onMeshType('room-res', (m, from) => this.#onResult(m, from));
    core.onMeshType('room-ev', (m, from) => this.#onEvent(m, from));
    core.onMeshType('room-find', (m, from) => {
      const r = typeof m.room === 'string' ? this.#homed.get(m.room) : undefined;
      core.sendMesh(from, r ? { t: 'room-found', rid: m.rid, have: true, anchor: r.anchor } : { t: 'room-found', rid: m.rid, have: false });
    });
    core.onMeshType('room-found', (m, from) => this.#finder.onFound(m, from));
    core.onMeshType('room-rep', (m, from) => this.#replicas.onReplica(m, from));
    core.onMeshType('room-rep-need', (m, from) => this.#onNeed(m, from));
    core.onMeshType('room-moved', (m, from) => this.#onMoved(m, from));
    core.on('gone', (ids) => this.#onGone(ids));
    core.on('homeDead', (hex) => this.#onHomeDead(hex));
    this.#verified = new BoundedMap(Math.max(2, this.limits.maxReplicas));
    this.#deadHomes = new BoundedMap(1024);
  }

  /** Copies of other nodes' rooms held here (for takeover). */
  replicas(): { room: string; home: string; members: string[] }[] {
    return this.#replicas.list();
  }

  /** Rooms homed on this node. */
  list(): RoomView[] { return [...this.#homed.keys()].map((id) => this.#view(id, this.#homed.get(id)!)); }

  /** Rooms a local client is a member of. */
  roomsOf(clientId: string): string[] { return [...(this.#joined.get(clientId)?.keys() ?? [])]; }

  /** Creates a room homed here, with the client as creator and only member; `room` defaults to a random id. */
  async create(sink: ClientSink, room?: unknown, name?: unknown): Promise<RoomView> {
    const client = this.#client(sink);
    const id = room === undefined || room === null || room === '' ? toHex(randomBytes(8)) : checkId(room, this.limits);
    if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > this.limits.maxNameLength)) {
      throw roomError('INVALID_MESSAGE', `name must be a string of at most ${this.limits.maxNameLength} characters`);
    }
    this.#spend(sink);
    if (!this.#homed.has(id) && (await this.#wait(client, () => this.#finder.find(id)))) throw roomError('ROOM_EXISTS', `room ${id} already exists`);
    return this.#apply('create', client, id, { name: typeof name === 'string' ? name : '' }) as RoomView;
  }

  join(sink: ClientSink, room: unknown): Promise<RoomView> { return this.#run(sink, 'join', room) as Promise<RoomView>; }
  leave(sink: ClientSink, room: unknown): Promise<RoomView> { return this.#run(sink, 'leave', room) as Promise<RoomView>; }
  end(sink: ClientSink, room: unknown): Promise<RoomView> { return this.#run(sink, 'end', room) as Promise<RoomView>; }
  /** Sends `data` to the room's other members; the sender must be a member. Resolves to how many got it. */
  broadcast(sink: ClientSink, room: unknown, data: unknown): Promise<number> {
    if (tooDeep(data, this.core.limits.maxMessageDepth)) return Promise.reject(roomError('INVALID_MESSAGE', `data is nested deeper than ${this.core.limits.maxMessageDepth} levels`));
    return this.#run(sink, 'message', room, { data }) as Promise<number>;
  }

  // ------------------------------------------------------------ routing

  #client(sink: ClientSink): string {
    const info = this.core.clientOf(sink);
    if (!info) throw roomError('REGISTRATION_REQUIRED', 'register before using rooms');
    return info.clientId;
  }

  /** Takes a token for a membership operation or look-up of `sink`'s; throws RATE_LIMITED (and takes none) when a budget is spent. */
  #spend(sink: ClientSink): void {
    const scope = this.#budgets.take(sink, sink.remoteAddress);
    if (scope) throw roomError('RATE_LIMITED', `room operations over the ${scope === 'node' ? 'node\'s' : `${scope}'s`} budget`);
  }

  /** Runs a remote wait for local client `client` within its maxPendingPerClient; throws LIMIT_REACHED past it. */
  async #wait<T>(client: string, fn: () => Promise<T>): Promise<T> {
    const n = this.#waiting.get(client) ?? 0;
    if (n >= this.limits.maxPendingPerClient) throw roomError('LIMIT_REACHED', `${client} has ${this.limits.maxPendingPerClient} room operations in flight`);
    this.#waiting.set(client, n + 1);
    try {
      return await fn();
    } finally {
      const left = (this.#waiting.get(client) ?? 1) - 1;
      if (left > 0) this.#waiting.set(client, left); else this.#waiting.delete(client);
    }
  }

  async #run(sink: ClientSink, op: Op, room: unknown, extra: Record<string, unknown> = {}): Promise<unknown> {
    const client = this.#client(sink);
    const id = checkId(room, this.limits);
    // Messages to a room whose home is known cost no budget; membership changes and look-ups do.
    if (op !== 'message' || !(this.#homed.has(id) || this.#joined.get(client)?.has(id) || this.#where.has(id))) this.#spend(sink);
    for (let attempt = 0; attempt < 2; attempt++) {
      const home = this.#homed.has(id) ? this.#self : this.#live(this.#joined.get(client)?.get(id)) ?? this.#live(this.#where.get(id)) ?? (await this.#wait(client, () => this.#finder.find(id)));
      if (!home) break;
      if (home === this.#self) return this.#apply(op, client, id, extra);
      try {
        return await this.#wait(client, () => this.#remote(home, op, client, id, extra));
      } catch (err) {
        // A remembered home that no longer holds the room: look it up once more.
        if (errorTypeOf(err) !== 'ROOM_NOT_FOUND' || attempt > 0) throw err;
        this.#where.delete(id);
        this.#joined.get(client)?.delete(id);
      }
    }
    throw roomError('ROOM_NOT_FOUND', `no room ${id}`);
  }

  /** `home`, unless it was found dead. */
  #live(home: string | undefined): string | undefined { return home !== undefined && this.#deadHomes.has(home) ? undefined : home; }

  #remote(home: string, op: Op, client: string, room: string, extra: Record<string, unknown>): Promise<unknown> {
    const rid = toHex(randomBytes(8));
    const answer = this.#pending.add(`${home}/${rid}`);
    if (this.#pending.has(`${home}/${rid}`)) this.core.sendMesh(home, { t: 'room-op', rid, op, room, client, ...extra });
    return answer;
  }

  #remember(room: string, home: string): void { this.#where.set(room, home); }

  // ------------------------------------------------------------ home side

  /** Does `op` on a room homed here. Throws a roomError. */
  #apply(op: Op, client: string, id: string, extra: Record<string, unknown>): RoomView | number {
    let room = this.#homed.get(id);
    if (op === 'create') {
      if (room) throw roomError('ROOM_EXISTS', `room ${id} already exists`);
      if (this.#homed.size >= this.limits.maxRooms) throw roomError('LIMIT_REACHED', `this node holds ${this.limits.maxRooms} rooms`);
      this.#checkRoomCount(client);
      const anchor = signAnchor(this.core.node.identity, { room: id, origin: this.#self, created: Date.now(), creator: client, seq: 0, replicas: this.#pickReplicas(id) });
      room = { name: String(extra.name ?? ''), creator: client, members: new Set([client]), anchor, ver: 0, sentAnchor: new Set() };
      this.#homed.set(id, room);
      this.#track(client, id, this.#self, true);
      this.#push(id, room);
      return this.#view(id, room);
    }
    if (!room) throw roomError('ROOM_NOT_FOUND', `no room ${id}`);
    const view = () => this.#view(id, room!);
    switch (op) {
      case 'join': {
        if (room.members.has(client)) throw roomError('ALREADY_MEMBER', `${client} is already in room ${id}`);
        if (room.members.size >= this.limits.maxMembers) throw roomError('LIMIT_REACHED', `room ${id} has ${this.limits.maxMembers} members`);
        this.#checkRoomCount(client);
        room.members.add(client);
        this.#track(client, id, this.#self, true);
        this.#push(id, room);
        const v = view();
        for (const m of room.members) this.#emit(m, { kind: 'added', room: id, name: room.name, clients: v.clients, client });
        return v;
      }
      case 'leave': {
        if (!room.members.delete(client)) throw roomError('NOT_MEMBER', `${client} is not in room ${id}`);
        this.#track(client, id, this.#self, false);
        const v = view();
        if (room.members.size === 0) {
          this.#homed.delete(id);
          this.#pushGone(id, room);
        } else this.#push(id, room);
        for (const m of room.members) this.#emit(m, { kind: 'removed', room: id, name: room.name, clients: v.clients, client });
        return v;
      }
      case 'end': {
        if (!room.members.has(client) && room.creator !== client) throw roomError('NOT_MEMBER', `${client} is not in room ${id}`);
        if (room.creator !== client) throw roomError('NOT_CREATOR', `only ${room.creator} may end room ${id}`);
        const v = view();
        this.#homed.delete(id);
        this.#pushGone(id, room);
        for (const m of room.members) this.#emit(m, { kind: 'deleted', room: id, name: room.name, clients: v.clients, by: client });
        return v;
      }
      case 'message': {
        if (!room.members.has(client)) throw roomError('NOT_MEMBER', `${client} is not in room ${id}`);
        let n = 0;
        for (const m of room.members) if (m !== client) { this.#emit(m, { kind: 'message', room: id, from: client, data: extra.data }); n++; }
        return n;
      }
    }
    throw roomError('INVALID_MESSAGE', `unknown room operation ${String(op)}`);
  }

  #checkRoomCount(client: string): void {
    if (this.core.sinkOf(client) && (this.#joined.get(client)?.size ?? 0) >= this.limits.maxRoomsPerClient) {
      throw roomError('LIMIT_REACHED', `${client} is in ${this.limits.maxRoomsPerClient} rooms`);
    }
  }

  #view(id: string, r: Room): RoomView { return { room: id, name: r.name, creator: r.creator, clients: [...r.members] }; }

  /** Delivers an event to member `client`, here or at its home node. */
  #emit(client: string, ev: RoomEvent): void {
    if (this.core.sinkOf(client)) return this.#deliver(client, ev, this.#self);
    const home = this.core.homeOf(client);
    if (home) this.core.sendMesh(home, { t: 'room-ev', to: client, ev });
    else debug('member %s of %s has no home; event dropped', client, ev.room);
  }

  /** Bookkeeping of a local client's rooms. */
  #track(client: string, room: string, home: string, member: boolean): void {
    if (!this.core.sinkOf(client)) return;
    let rooms = this.#joined.get(client);
    if (member) {
      if (!rooms) this.#joined.set(client, (rooms = new Map()));
      rooms.set(room, home);
    } else if (rooms) {
      rooms.delete(room);
      if (rooms.size === 0) this.#joined.delete(client);
    }
  }

  #deliver(client: string, ev: RoomEvent, home: string): void {
    if (ev.kind === 'added' && ev.client === client) this.#track(client, ev.room, home, true);
    if (ev.kind === 'deleted' || (ev.kind === 'removed' && ev.client === client)) this.#track(client, ev.room, home, false);
    const sink = this.core.sinkOf(client) as Partial<RoomSink> | undefined;
    if (sink && typeof sink.roomEvent === 'function') sink.roomEvent(ev);
  }

  #onGone(ids: string[]): void {
    for (const id of ids) {
      const rooms = this.#joined.get(id);
      this.#joined.delete(id);
      for (const [room, home] of rooms ?? []) {
        if (home !== this.#self) this.core.sendMesh(home, { t: 'room-op', rid: null, op: 'leave', room, client: id });
      }
      for (const [room, r] of [...this.#homed]) if (r.members.has(id)) this.#leaveQuietly(id, room);
    }
  }

  #leaveQuietly(client: string, room: string): void {
    try { this.#apply('leave', client, room, {}); } catch { /* already gone */ }
  }

  // ------------------------------------------------------------ mesh input (never throws)

  #onOp(m: Record<string, unknown>, from: string): void {
    const { rid, op, room, client } = m;
    if (typeof op !== 'string' || !OPS.has(op) || typeof room !== 'string' || typeof client !== 'string') return debug('bad room-op from %s', from.slice(0, 8));
    // Only a client's home node may act for it.
    if (this.core.homeOf(client) !== from) {
      // A departed client's node may have published its roster without it already.
      if (op === 'leave' && rid === null && this.core.homeOf(client) === undefined) return this.#leaveQuietly(client, room);
      return debug('room-op for %s not from its home', client);
    }
    let res: Record<string, unknown>;
    try {
      res = { ok: true, v: this.#apply(op as Op, client, room, { name: m.name, data: m.data }) };
    } catch (err) {
        res = { ok: false, errorType: errorTypeOf(err) || 'INTERNAL_ERROR', details: (err as Error).message };
    }
    if (typeof rid === 'string') this.core.sendMesh(from, { t: 'room-res', rid, room, client, op, ...res });
  }

  #onResult(m: Record<string, unknown>, from: string): void {
    const key = typeof m.rid === 'string' ? `${from}/${m.rid}` : '';
    if (!this.#pending.has(key)) return debug('unexpected room-res from %s', from.slice(0, 8));
    if (m.ok !== true) return void this.#pending.reject(key, roomError(String(m.errorType), String(m.details ?? 'refused')));
    const room = String(m.room);
    const client = String(m.client);
    this.#remember(room, from);
    if (m.op === 'create' || m.op === 'join') this.#track(client, room, from, true);
    if (m.op === 'leave' || m.op === 'end') this.#track(client, room, from, false);
    this.#pending.resolve(key, m.v);
  }

  #onEvent(m: Record<string, unknown>, from: string): void {
    const to = m.to;
    const ev = m.ev as RoomEvent | undefined;
    if (typeof to !== 'string' || !ev || typeof ev !== 'object' || typeof ev.room !== 'string' || !this.core.sinkOf(to)) return debug('bad room-ev');
    const home = this.#live(this.#joined.get(to)?.get(ev.room)) ?? this.#where.get(ev.room);
    if (home !== from) return debug('room-ev for %s not from its home', ev.room);
    this.#deliver(to, ev, from);
  }

  // ------------------------------------------------------------ replicas and takeover

  /** The ROOM_REPLICAS signaling nodes closest to the room id, this one excluded. */
  #pickReplicas(room: string, not?: string): string[] {
    return closestTo(room, this.core.signalingNodes().filter((n) => n !== not && !this.#deadHomes.has(n)), ROOM_REPLICAS);
  }

  /** Sends a homed room's state to its replicas (re-signing the anchor first if the closest nodes changed). */
  #push(id: string, r: Room): void {
    const want = this.#pickReplicas(id);
    if (want.length !== r.anchor.replicas.length || want.some((w) => !r.anchor.replicas.includes(w))) {
      r.anchor = signAnchor(this.core.node.identity, { room: id, origin: r.anchor.origin, created: r.anchor.created, creator: r.creator, seq: r.anchor.seq + 1, replicas: want }, r.anchor.prev);
      r.sentAnchor.clear();
    }
    r.ver++;
    for (const rep of r.anchor.replicas) {
      const msg: Record<string, unknown> = { room: id, ver: r.ver, name: r.name, creator: r.creator, members: [...r.members] };
      if (!r.sentAnchor.has(rep)) { msg.anchor = r.anchor; r.sentAnchor.add(rep); }
      this.core.sendMesh(rep, { t: 'room-rep', ...msg });
    }
  }

  #pushGone(id: string, r: Room): void {
    for (const rep of r.anchor.replicas) this.core.sendMesh(rep, { t: 'room-rep', room: id, gone: true });
  }

  /** A verified anchor of `room` whose home is `from`, or null (counted room_forged). */
  #check(x: unknown, room: string, from: string): RoomAnchor | null {
    const a = x as RoomAnchor | null;
    const ok = a && typeof a === 'object' && a.room === room && a.home === from
      && (this.#verified.has(String(a.sig)) || verifyAnchor(a, this.limits.maxRoomMoves, this.limits.maxRoomIdLength) !== null);
    if (!ok) {
      this.core.count('room_forged');
      return null;
    }
    this.#verified.set(a.sig, true);
    return a;
  }

  /** A replica lacks the anchor of a room homed here: send it again with the next state. */
  #onNeed(m: Record<string, unknown>, from: string): void {
    const r = typeof m.room === 'string' ? this.#homed.get(m.room) : undefined;
    if (!r || !r.anchor.replicas.includes(from)) return;
    r.sentAnchor.delete(from);
    r.ver--;
    this.#push(m.room as string, r);
  }

  /** Home `hex` was found dead: its rooms move to their first live replica; rooms remembered there are looked up again. */
  #onHomeDead(hex: string): void {
    this.#deadHomes.set(hex, true);
    this.#replicas.onHomeDead(hex);
  }

  #takeOver(room: string, rep: Replica): void {
    if (this.#homed.has(room) || this.#homed.size >= this.limits.maxRooms) return;
    let depth = 0;
    for (let a: RoomAnchor | undefined = rep.anchor; a; a = a.prev) depth++;
    if (depth > this.limits.maxRoomMoves) return debug('room %s moved %d times: not taken over', room, depth);
    const anchor = signAnchor(this.core.node.identity, {
      room, origin: rep.anchor.origin, created: rep.anchor.created, creator: rep.anchor.creator, seq: rep.anchor.seq + 1, replicas: this.#pickReplicas(room, rep.home),
    }, rep.anchor);
    const r: Room = { name: rep.name, creator: rep.creator, members: new Set(rep.members), anchor, ver: rep.ver, sentAnchor: new Set() };
    this.#homed.set(room, r);
    debug('took room %s over from %s', room, rep.home.slice(0, 8));
    // The old home too, in case it was only slow: it yields to the new anchor.
    const told = new Set<string>([rep.home]);
    this.core.sendMesh(rep.home, { t: 'room-moved', room, anchor });
    for (const member of r.members) {
      if (this.core.sinkOf(member)) { this.#track(member, room, this.#self, true); continue; }
      const home = this.core.homeOf(member);
      if (home && !told.has(home)) { told.add(home); this.core.sendMesh(home, { t: 'room-moved', room, anchor }); }
    }
    this.#push(room, r);
    // Members that were clients of the dead home and did not register again anywhere leave.
    const sweep = setTimeout(() => {
      const now = this.#homed.get(room);
      if (now !== r) return;
      for (const member of [...r.members]) if (!this.core.homeOf(member)) this.#leaveQuietly(member, room);
    }, this.core.limits.movingWaitMs);
    sweep.unref?.();
  }

  /** A replica took over a room: its local members' operations and events go to the new home. */
  #onMoved(m: Record<string, unknown>, from: string): void {
    const room = typeof m.room === 'string' ? m.room : '';
    const a = this.#check(m.anchor, room, from);
    if (!a) return;
    // Only a replica the known home named (directly or down the chain) may take its room over.
    const known = new Set<string>();
    const w = this.#where.get(room);
    if (w) known.add(w);
    for (const rooms of this.#joined.values()) { const h = rooms.get(room); if (h) known.add(h); }
    // Nothing here knows the room: nothing to move (and no cache to fill from an unasked claim).
    if (known.size === 0 && !this.#homed.has(room)) return;
    let chained = false;
    for (let p = a.prev; p && !chained; p = p.prev) if (known.has(p.home)) chained = true;
    if (!chained && !this.#homed.has(room)) return this.core.count('room_forged');
    // This node was thought dead and a replica took its room over: the taker wins, this copy goes.
    const mine = this.#homed.get(room);
    if (mine) {
      let ours = false;
      for (let p = a.prev; p && !ours; p = p.prev) if (p.home === this.#self && p.created === mine.anchor.created) ours = true;
      if (!ours) return this.core.count('room_forged');
      this.#homed.delete(room);
      debug('room %s was taken over by %s: yielding', room, from.slice(0, 8));
    }
    this.#where.set(room, from);
    for (const rooms of this.#joined.values()) if (rooms.has(room)) rooms.set(room, from);
    this.#replicas.dropUnlessFrom(room, from);
  }
}

function checkId(room: unknown, limits: RoomLimits): string {
  if (typeof room !== 'string' || room.length === 0 || room.length > limits.maxRoomIdLength) {
    throw roomError('INVALID_MESSAGE', `room must be a string of 1 to ${limits.maxRoomIdLength} characters`);
  }
  return room;
}
