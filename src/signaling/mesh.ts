/**
 * The signaling core's mesh side: publishes this node's signed roster and
 * keeps the others' (mesh-records.ts), and carries client messages, key
 * requests and extension messages between nodes over Channel.SIGNALING
 * (PROTOCOL.md §11), client messages batched per home (mesh-batches.ts).
 * It knows local clients only through MeshHost.
 */
import debugFactory from 'debug';
import { randomBytes, textDecoder, textEncoder, toBase64, toHex, fromBase64 } from '../util/bytes.js';
import { relayError } from '../util/errors.js';
import { BoundedMap } from '../util/bounded-map.js';
import { PendingRequests } from '../util/pending.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import type { MeshNode } from '../node/mesh-node.js';
import { RosterStore, signRoster, type RosterEntry, type RosterRecord } from './mesh-records.js';
import type { SignalingLimits } from './limits.js';
import { fastStringify } from './fast-json.js';
import { ClientBatches, splitTextBatch, type ItemCounts } from './mesh-batches.js';
import { RecordMessage } from './im-binary.js';
import { BINARY_BATCH, MESH_BINARY, itemMessage, parseBatch } from './mesh-binary.js';
import { MeshCaps, type Caps } from './mesh-caps.js';
import { signalingError, type ClientEvent, type KeyInfo } from './types.js';
import type { MeshHost, MeshMessage } from './mesh-types.js';

const debug = debugFactory('relaymesh:signaling:mesh');
/** Channel.SIGNALING (kept local to avoid an import cycle with peer-relay.ts). */
const SIGNALING = 4;

export type { MeshExtension, MeshHost, MeshMessage } from './mesh-types.js';

export class SignalingMesh {
  readonly #node: MeshNode;
  readonly #limits: SignalingLimits;
  readonly #host: MeshHost;
  readonly #store: RosterStore;
  /** Key requests by `<home>/<rid>`: only the asked home's answer matches. */
  readonly #pending: PendingRequests<string, KeyInfo>;
  readonly #rosterSentTo: BoundedMap<string, number>;
  /** Client messages per home node in this tick, sent as one mesh message (mesh-batches.ts). */
  readonly #batches: ClientBatches;
  readonly dropped: Partial<Record<SignalingDropReason, number>> = {};
  /** Client messages received from other nodes, by form. */
  readonly received: ItemCounts = { binary: 0, text: 0 };
  /** Which nodes read binary mesh batches (mesh-caps.ts). */
  readonly #caps: MeshCaps;
  /**
   * Nodes known to run a signaling core: every node that sent us a signaling
   * message (a `hello` on a new link, a roster, ...). Port-less nodes have no
   * core and never send one, so rosters and room look-ups skip them.
   */
  readonly #cores: BoundedMap<string, true>;
  /** Liveness probes in flight by node, and their nonces. */
  readonly #probes = new Map<string, Promise<boolean>>();
  readonly #pongs = new Map<string, () => void>();
  /** Probes in flight by node: any signaling message from that node ends its probe as alive. */
  readonly #alive = new Map<string, () => void>();
  #own: RosterRecord | null = null;
  #dirty = false;
  #publishTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #refreshTimer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(node: MeshNode, limits: SignalingLimits, host: MeshHost, binary = true) {
    this.#node = node;
    this.#limits = limits;
    this.#host = host;
    this.#caps = new MeshCaps(binary, limits.maxHomes);
    this.#rosterSentTo = new BoundedMap(Math.max(2, limits.maxHomes));
    this.#cores = new BoundedMap(Math.max(2, limits.maxHomes));
    this.#pending = new PendingRequests({
      max: limits.maxRemoteRequests, timeoutMs: limits.remoteTimeoutMs, what: 'key request',
      timeoutError: (key) => signalingError('PEER_NOT_FOUND', `home node of ${targetOf(String(key))} did not answer`),
      fullError: () => signalingError('LIMIT_REACHED', 'too many remote requests'),
    });
    this.#batches = new ClientBatches(node, SIGNALING, {
      deliver: (id, event) => { host.deliver(id, event); },
      pauseClients: (ids, paused) => host.pauseClients(ids, paused),
      count: (reason) => this.#count(reason),
      closed: () => this.#closed,
      binary: (dest) => this.#caps.binary(dest),
    }, limits.maxMeshBatchItems, limits.maxMeshBatchBytes);
    this.#store = new RosterStore(node.identity.idHex, {
      maxHomes: limits.maxHomes, maxIdsPerRoster: limits.maxClients, maxRemoteIds: limits.maxRemoteIds, maxTtlMs: limits.rosterTtlMs * 2,
    });
    node.registerChannel(SIGNALING, (payload, from) => this.#onMesh(payload, from));
    node.on('peer', (id) => this.#hello(id));
    // A lost link or an undeliverable message to a home: find out at once whether it is still there.
    node.on('disconnect', (id: Uint8Array) => this.#suspect(toHex(id)));
    // (A congested path is no sign of death: its drops are reported to the senders, not probed.)
    node.on('undeliverable', (err: { code?: string } | null, to: Uint8Array) => {
      if (to instanceof Uint8Array && err?.code !== 'ERR_CONGESTED' && err?.code !== 'ERR_QUEUE_FULL') this.#suspect(toHex(to));
    });
    this.#refreshTimer = setInterval(() => this.#refresh(), Math.max(50, limits.rosterTtlMs / 3));
    this.#refreshTimer.unref?.();
  }

  get remoteClients(): number { return this.#store.size; }
  get homes(): number { return this.#store.homes; }
  homeOf(clientId: string): string | undefined { return this.#store.homeOf(clientId); }
  /** Home, key tag and fresh-proof time of a remote client. */
  entry(clientId: string): RosterEntry | undefined { return this.#store.entry(clientId); }
  remoteIds(limit: number): string[] { return this.#store.ids(limit); }
  /** Calls `fn` with every remote id until it returns false; false if it was stopped. */
  eachRemoteId(fn: (id: string) => boolean): boolean { return this.#store.eachId(fn); }
  knownHomes(): string[] { return this.#store.records().map((r) => r.home); }
  /** Client messages sent to other nodes, by form (binary batch or text). */
  get sent(): ItemCounts { return this.#batches.sent; }

  /** True if node `hex` is known to run a signaling core (it sent us a signaling message). */
  runsCore(hex: string): boolean { return this.#cores.has(hex); }

  /** Direct links known to run a signaling core. */
  corePeers(): string[] {
    const out: string[] = [];
    for (const peer of this.#node.peers) {
      const hex = toHex(peer);
      if (this.#cores.has(hex)) out.push(hex);
    }
    return out;
  }

  /** Local clients changed: publish a new roster soon. */
  changed(): void {
    this.#dirty = true;
    if (this.#publishTimer || this.#closed) return;
    this.#publishTimer = setTimeout(() => { this.#publishTimer = null; if (this.#dirty) this.#publish(); }, this.#limits.rosterDelayMs);
    this.#publishTimer.unref?.();
  }

  /** Local clients changed and the mesh must know now (a takeover): sign and flood at once. */
  publishNow(): void {
    if (this.#publishTimer) { clearTimeout(this.#publishTimer); this.#publishTimer = null; }
    this.#publish();
  }

  /**
   * Asks node `hex` whether it is alive (ping, asked again at a third and two
   * thirds of homeProbeMs). No answer in homeProbeMs: its roster is dropped at
   * once (its ids depart) and it resolves false. One probe per node at a time.
   */
  probe(hex: string): Promise<boolean> {
    const running = this.#probes.get(hex);
    if (running) return running;
    if (this.#closed || hex === this.#node.identity.idHex) return Promise.resolve(!this.#closed);
    const n = toHex(randomBytes(8));
    const p = new Promise<boolean>((resolve) => {
      const ms = this.#limits.homeProbeMs;
      const timers = [0, ms / 3, (2 * ms) / 3].map((at) => setTimeout(() => this.send(hex, { t: 'ping', n }), at));
      const done = (alive: boolean) => {
        for (const tm of timers) clearTimeout(tm);
        clearTimeout(end);
        this.#pongs.delete(n);
        this.#alive.delete(hex);
        this.#probes.delete(hex);
        // Messages held for its clients while it was in doubt go now.
        if (alive && !this.#closed) this.#host.arrived(this.#store.idsOf(hex));
        resolve(alive);
      };
      const end = setTimeout(() => {
        done(false);
        this.#dead(hex);
      }, ms);
      for (const tm of [...timers, end]) tm.unref?.();
      this.#pongs.set(n, () => done(true));
      this.#alive.set(hex, () => done(true));
    });
    this.#probes.set(hex, p);
    return p;
  }

  /** True while a liveness probe of `hex` runs: messages for its clients wait for the answer. */
  probing(hex: string): boolean { return this.#probes.has(hex); }

  /** Tells the old home of `id` that it registered here with the same key (PROTOCOL.md §11 "Takeover"). */
  sendTakeover(home: string, msg: Extract<MeshMessage, { t: 'takeover' }>): void { this.send(home, msg); }

  /** Probes `hex` if it homes clients we know of. */
  #suspect(hex: string): void {
    if (!this.#closed && this.#store.has(hex)) void this.probe(hex);
  }

  #dead(hex: string): void {
    if (this.#closed) return;
    const { removed, moved } = this.#store.drop(hex);
    this.#cores.delete(hex);
    this.#caps.forget(hex);
    debug('home %s did not answer: dropped (%d ids, %d moved)', hex.slice(0, 8), removed.length, moved.length);
    if (removed.length) this.#host.departed(removed);
    if (moved.length) this.#host.arrived(moved);
    this.#host.homeDead(hex);
  }

  /** Asks `home` for the keys of its client `targetId`. */
  requestKey(home: string, targetId: string): Promise<KeyInfo> {
    const rid = toHex(randomBytes(8));
    const key = `${home}/${rid}/${targetId}`;
    const answer = this.#pending.add(key);
    if (!this.#pending.has(key)) return answer;
    // Asked again (same rid) at a third of the time limit, in case the mesh lost the first one.
    const retry = setTimeout(() => { if (this.#pending.has(key)) this.send(home, { t: 'keyreq', rid, to: targetId }); }, this.#limits.remoteTimeoutMs / 3);
    retry.unref?.();
    const stop = () => clearTimeout(retry);
    // No answer at all: find out whether the home is still alive.
    answer.then(stop, (err) => { stop(); if ((err as { code?: string })?.code !== 'ERR_DESTROYED' && !String((err as Error)?.message).startsWith('no client')) void this.probe(home); });
    this.send(home, { t: 'keyreq', rid, to: targetId });
    return answer;
  }

  /** Sends a mesh message (a core one, or an extension's) to node `hex`. Never throws. */
  send(hex: string, msg: MeshMessage | ({ t: string } & Record<string, unknown>)): void {
    if (this.#closed || this.#node.destroyed) return;
    try {
      if (msg.t !== 'roster' && msg.t !== 'ping' && msg.t !== 'pong' && msg.t !== 'caps') this.#rosterTo(hex);
      // A client message goes in this tick's batch to its home (mesh-batches.ts): a binary record as its
      // bytes, any other message as its JSON text, which the home hands to the dialect without re-encoding it.
      if (msg.t === 'msg') {
        const m = msg as Extract<MeshMessage, { t: 'msg' }>;
        return this.#batches.add(hex, m.to, m.from, m.m instanceof RecordMessage ? m.m : m.mj ?? fastStringify(m.m) ?? 'null');
      }
      // Rosters say what this node reads, and ask a node that has not said it yet.
      const out = msg.t === 'roster' ? { ...msg, ...this.#caps.say(hex) } : msg;
      this.#node.sendOnChannel(fromHexId(hex), SIGNALING, textEncoder.encode(JSON.stringify(out)));
    } catch (err) {
      this.#count('send_failed');
      debug('send to %s failed: %s', hex.slice(0, 8), (err as Error).message);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#batches.close();
    clearInterval(this.#refreshTimer);
    if (this.#publishTimer) clearTimeout(this.#publishTimer);
    for (const done of [...this.#pongs.values()]) done();
    this.#pending.rejectAll(relayError('ERR_DESTROYED'));
  }

  #count(reason: SignalingDropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    debug('dropped: %s', reason);
  }

  /** Makes sure `dest` has our current roster before it gets a message from one of our clients. */
  #rosterTo(dest: string): void {
    if (this.#dirty || !this.#own) this.#publish(true);
    const own = this.#own!;
    if ((this.#rosterSentTo.get(dest) ?? -1) >= own.seq) return;
    this.#rosterSentTo.set(dest, own.seq);
    this.send(dest, { t: 'roster', r: own });
  }

  /**
   * Signs a new roster and floods it to the direct links that run a core.
   * With none (and not `force`d by a send to one home), nothing is signed:
   * the roster stays dirty until a link or a message needs it.
   */
  #publish(force = false): void {
    if (this.#closed) return;
    if (!force && this.corePeers().length === 0) {
      this.#dirty = true;
      return;
    }
    this.#dirty = false;
    const seq = Math.max((this.#own?.seq ?? 0) + 1, Date.now());
    const { tags, ts } = this.#host.localEntries();
    this.#own = signRoster(this.#node.identity, seq, Date.now() + this.#limits.rosterTtlMs, this.#host.localIds(), tags, ts);
    for (const hex of this.corePeers()) {
      this.#rosterSentTo.set(hex, seq);
      this.send(hex, { t: 'roster', r: this.#own });
    }
  }

  #refresh(): void {
    if (this.#closed) return;
    const { removed, moved } = this.#store.sweep(Date.now());
    if (removed.length) this.#host.departed(removed);
    if (moved.length) this.#host.arrived(moved);
    if (this.#host.localIds().length > 0 || this.#own?.ids.length) this.#publish();
  }

  /**
   * A new direct link: say that we run a signaling core. Only a node that
   * answers with a signaling message of its own (its hello) gets rosters.
   */
  #hello(id: Uint8Array): void {
    if (this.#closed || this.#node.destroyed) return;
    try {
      this.#node.sendOnChannel(id, SIGNALING, textEncoder.encode(JSON.stringify({ t: 'hello', ...this.#caps.say(toHex(id), false) })));
    } catch (err) {
      this.#count('send_failed');
      debug('hello to %s failed: %s', toHex(id).slice(0, 8), (err as Error).message);
    }
  }

  /** A direct link runs a signaling core: tell it who is registered here and what we know. */
  #greet(hex: string): void {
    if (this.#closed) return;
    if (this.#own && !this.#dirty && this.#own.exp > Date.now()) {
      this.#rosterSentTo.set(hex, this.#own.seq);
      this.send(hex, { t: 'roster', r: this.#own });
    } else if (this.#host.localIds().length > 0 || this.#own?.ids.length) this.#rosterTo(hex);
    for (const r of this.#store.records()) if (r.home !== hex) this.send(hex, { t: 'roster', r });
  }

  /** A hello, roster or caps from `fromHex`: what it reads; an `ask` is answered. */
  #tookCaps(msg: Caps, fromHex: string): void {
    if (this.#caps.took(msg, fromHex)) this.send(fromHex, { t: 'caps', caps: [MESH_BINARY] });
  }

  #onMesh(payload: Uint8Array, from: Uint8Array): void {
    const fromHex = toHex(from);
    if (payload.length > 0 && payload[0] === BINARY_BATCH) {
      this.#alivePeer(fromHex);
      return this.#onBinaryBatch(payload, fromHex);
    }
    let text: string;
    try {
      text = textDecoder.decode(payload);
    } catch {
      return this.#count('bad_json');
    }
    this.#alivePeer(fromHex);
    if (!text.startsWith('{"t":"batch"')) return this.#onMeshText(text, fromHex);
    const texts = splitTextBatch(text, this.#limits.maxMeshBatchItems);
    if (!texts) return this.#count('bad_batch');
    for (const item of texts) this.#onMeshText(item, fromHex);
  }

  /** Any signaling message: the sender runs a core, and is alive (a pong may queue behind a busy link's traffic). */
  #alivePeer(fromHex: string): void {
    if (!this.#cores.has(fromHex)) this.#cores.set(fromHex, true);
    if (this.#alive.size > 0) this.#alive.get(fromHex)?.();
  }

  /** A binary mesh batch (mesh-binary.ts): every length checked before anything is decoded; refused whole, counted. */
  #onBinaryBatch(payload: Uint8Array, fromHex: string): void {
    const items = parseBatch(payload, this.#limits.maxMeshBatchItems, this.#limits.maxMeshBatchBytes);
    if (items === 'malformed') return this.#count('bad_binary_batch');
    if (items === 'oversized') return this.#count('binary_batch_oversized');
    for (const it of items) {
      const msg = itemMessage(payload, it);
      if (msg) this.#onClientMessage(it.to, it.from, msg.m, msg.mj, fromHex, true);
      else this.#count('bad_json');
    }
  }

  /** A client message from home `fromHex` for our client `to` (`binary`: it came in a binary batch). */
  #onClientMessage(to: string, from: string, m: unknown, mj: string | undefined, fromHex: string, binary: boolean): void {
    if (!m || typeof m !== 'object') return this.#count('bad_message');
    // Only a client's home node may speak for it.
    if (!this.#store.lists(fromHex, from)) return this.#count('unlisted_sender');
    if (binary) this.received.binary++;
    else this.received.text++;
    if (!this.#host.deliver(to, { kind: 'message', fromId: from, message: m, messageJson: mj })) {
      // The message goes back: the sender's node holds it while the client may be moving.
      this.send(fromHex, { t: 'nf', to, from, m });
    }
  }

  #onMeshText(text: string, fromHex: string): void {
    let msg: MeshMessage;
    try {
      const nl = text.indexOf('\n');
      msg = JSON.parse(nl < 0 ? text : text.slice(0, nl));
      if (nl >= 0 && msg?.t === 'msg' && msg.k !== undefined) msg.m = RecordMessage.fromBase64(msg.k, text.slice(nl + 1));
      else if (nl >= 0 && msg?.t === 'msg') {
        msg.mj = text.slice(nl + 1);
        msg.m = JSON.parse(msg.mj);
      }
    } catch {
      return this.#count('bad_json');
    }
    if (!msg || typeof msg !== 'object') return this.#count('bad_message');
    switch (msg.t) {
      // A new link's core said hello: it gets our rosters.
      case 'hello':
        this.#tookCaps(msg, fromHex);
        return this.#node.peers.some((p) => toHex(p) === fromHex) ? this.#greet(fromHex) : undefined;
      case 'roster':
        this.#tookCaps(msg as Caps, fromHex);
        return this.#onRoster(msg.r, fromHex);
      case 'caps': return this.#tookCaps(msg, fromHex);
      case 'msg': {
        if (typeof msg.to !== 'string' || typeof msg.from !== 'string') return this.#count('bad_message');
        return this.#onClientMessage(msg.to, msg.from, msg.m, msg.mj, fromHex, false);
      }
      case 'nf': {
        if (typeof msg.from !== 'string' || typeof msg.to !== 'string') return this.#count('bad_message');
        return this.#host.notFound(msg.to, msg.from, msg.m && typeof msg.m === 'object' ? RecordMessage.revive(msg.m) : undefined, fromHex);
      }
      case 'ping': {
        if (typeof msg.n !== 'string' || msg.n.length > 32) return this.#count('bad_message');
        return this.send(fromHex, { t: 'pong', n: msg.n });
      }
      case 'pong': {
        if (typeof msg.n !== 'string') return this.#count('bad_message');
        // No probe waits for it: a late answer (another message already showed the node alive).
        return this.#pongs.get(msg.n)?.();
      }
      case 'takeover': {
        if (typeof msg.id !== 'string' || !msg.proof || typeof msg.proof !== 'object') return this.#count('bad_message');
        if (!this.#host.takeover(msg, fromHex)) this.#count('forged_takeover');
        return;
      }
      case 'keyreq': {
        if (typeof msg.rid !== 'string' || typeof msg.to !== 'string') return this.#count('bad_message');
        const k = this.#host.localKeys(msg.to);
        this.send(fromHex, k
          ? { t: 'keyres', rid: msg.rid, id: msg.to, pk: toBase64(k.publicKey), sk: k.signingKey ? toBase64(k.signingKey) : null, caps: k.capabilities }
          : { t: 'keyres', rid: msg.rid, id: msg.to });
        return;
      }
      case 'keyres': return this.#onKeyResponse(msg, fromHex);
      default: {
        const t = (msg as { t: unknown }).t;
        const ext = typeof t === 'string' ? this.#host.extension(t) : undefined;
        if (!ext) return this.#count('unknown_type');
        try { ext(msg as unknown as Record<string, unknown>, fromHex); } catch (err) { this.#count('extension_failed'); debug('extension %s: %s', t, (err as Error).message); }
      }
    }
  }

  #onRoster(r: unknown, fromHex: string): void {
    const res = this.#store.accept(r, Date.now());
    if (res.status !== 'stored') {
      if (res.status !== 'stale') this.#count(res.status === 'full' ? 'roster_full' : res.status === 'oversized' ? 'roster_oversized' : 'roster_invalid');
      return;
    }
    const rec = r as RosterRecord;
    if (res.removed.length) this.#host.departed(res.removed);
    if (res.added.length) this.#host.arrived(res.added);
    // A second home lists an id: is the first one still alive?
    for (const id of rec.ids) {
      const first = this.#store.homeOf(id);
      if (first !== undefined && first !== rec.home) void this.probe(first);
    }
    for (const hex of this.corePeers()) {
      if (hex !== fromHex && hex !== rec.home) this.send(hex, { t: 'roster', r: rec });
    }
  }

  #onKeyResponse(msg: Extract<MeshMessage, { t: 'keyres' }>, fromHex: string): void {
    const key = typeof msg.rid === 'string' && typeof msg.id === 'string' ? `${fromHex}/${msg.rid}/${msg.id}` : '';
    if (!this.#pending.has(key)) return this.#count('unexpected_keyres'); // also the answer to a repeated request
    try {
      if (typeof msg.pk !== 'string') throw new Error('not found');
      const publicKey = fromBase64(msg.pk);
      const signingKey = typeof msg.sk === 'string' ? fromBase64(msg.sk) : null;
      if (publicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw new Error('bad key');
      const caps = Array.isArray(msg.caps) ? msg.caps.filter((c): c is string => typeof c === 'string').slice(0, 16) : [];
      this.#pending.resolve(key, { peerId: msg.id, publicKey, signingKey, capabilities: caps });
    } catch {
      this.#pending.reject(key, signalingError('PEER_NOT_FOUND', `no client ${String(msg.id)}`));
    }
  }
}

/** The client id of a key request's key `<home>/<rid>/<clientId>` (home and rid are hex). */
function targetOf(key: string): string { return key.slice(key.indexOf('/', key.indexOf('/') + 1) + 1); }

function fromHexId(hex: string): Uint8Array {
  const out = new Uint8Array(20);
  for (let i = 0; i < 20; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
