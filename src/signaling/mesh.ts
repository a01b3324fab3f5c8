/**
 * The signaling core's mesh side: publishes this node's signed roster and
 * keeps the others' (mesh-records.ts), and carries client messages, key
 * requests and extension messages between nodes over Channel.SIGNALING
 * (PROTOCOL.md §11). It knows local clients only through MeshHost.
 */
import debugFactory from 'debug';
import { randomBytes, textDecoder, textEncoder, toBase64, toHex, fromBase64 } from '../util/bytes.js';
import { relayError } from '../util/errors.js';
import { BoundedMap } from '../util/bounded-map.js';
import { PendingRequests } from '../util/pending.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import { KEM_PUBLIC_KEY_LENGTH } from '../crypto/identity.js';
import type { MeshNode } from '../node/mesh-node.js';
import { RosterStore, signRoster, type RosterRecord } from './mesh-records.js';
import type { SignalingLimits } from './limits.js';
import { fastStringify } from './fast-json.js';
import { signalingError, type ClientEvent, type KeyInfo } from './types.js';

const debug = debugFactory('relaymesh:signaling:mesh');
/** Channel.SIGNALING (kept local to avoid an import cycle with peer-relay.ts). */
const SIGNALING = 4;
const MAX_BATCH_ITEMS = 256;
const MAX_BATCH_CHARS = 1024 * 1024;

export type MeshMessage =
  | { t: 'roster'; r: RosterRecord }
  | { t: 'msg'; to: string; from: string; m: unknown; mj?: string }
  | { t: 'nf'; to: string; from: string }
  | { t: 'keyreq'; rid: string; to: string }
  | { t: 'keyres'; rid: string; id: string; pk?: string; sk?: string | null; caps?: string[] }
  | { t: 'hello' };

export type MeshExtension = (msg: Record<string, unknown>, fromHex: string) => void;

/** What the mesh side needs of the core. */
export interface MeshHost {
  localIds(): string[];
  localKeys(clientId: string): KeyInfo | null;
  /** Delivers to a local client; false if there is none. */
  deliver(clientId: string, event: ClientEvent): boolean;
  /** Remote clients left (their home's roster dropped them, or it expired). */
  departed(ids: string[]): void;
  extension(t: string): MeshExtension | undefined;
}

export class SignalingMesh {
  readonly #node: MeshNode;
  readonly #limits: SignalingLimits;
  readonly #host: MeshHost;
  readonly #store: RosterStore;
  /** Key requests by `<home>/<rid>`: only the asked home's answer matches. */
  readonly #pending: PendingRequests<string, KeyInfo>;
  readonly #rosterSentTo: BoundedMap<string, number>;
  /** Client messages per home node waiting for the end of this tick, sent as one mesh message. */
  readonly #batches = new Map<string, { items: string[]; chars: number }>();
  readonly dropped: Partial<Record<SignalingDropReason, number>> = {};
  /**
   * Nodes known to run a signaling core: every node that sent us a signaling
   * message (a `hello` on a new link, a roster, ...). Port-less nodes have no
   * core and never send one, so rosters and room look-ups skip them.
   */
  readonly #cores: BoundedMap<string, true>;
  #own: RosterRecord | null = null;
  #dirty = false;
  #publishTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #refreshTimer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(node: MeshNode, limits: SignalingLimits, host: MeshHost) {
    this.#node = node;
    this.#limits = limits;
    this.#host = host;
    this.#rosterSentTo = new BoundedMap(Math.max(2, limits.maxHomes));
    this.#cores = new BoundedMap(Math.max(2, limits.maxHomes));
    this.#pending = new PendingRequests({
      max: limits.maxRemoteRequests, timeoutMs: limits.remoteTimeoutMs, what: 'key request',
      timeoutError: (key) => signalingError('PEER_NOT_FOUND', `home node of ${targetOf(String(key))} did not answer`),
      fullError: () => signalingError('LIMIT_REACHED', 'too many remote requests'),
    });
    this.#store = new RosterStore(node.identity.idHex, {
      maxHomes: limits.maxHomes, maxIdsPerRoster: limits.maxClients, maxRemoteIds: limits.maxRemoteIds, maxTtlMs: limits.rosterTtlMs * 2,
    });
    node.registerChannel(SIGNALING, (payload, from) => this.#onMesh(payload, from));
    node.on('peer', (id) => this.#hello(id));
    this.#refreshTimer = setInterval(() => this.#refresh(), Math.max(50, limits.rosterTtlMs / 3));
    this.#refreshTimer.unref?.();
  }

  get remoteClients(): number { return this.#store.size; }
  get homes(): number { return this.#store.homes; }
  homeOf(clientId: string): string | undefined { return this.#store.homeOf(clientId); }
  remoteIds(limit: number): string[] { return this.#store.ids(limit); }
  knownHomes(): string[] { return this.#store.records().map((r) => r.home); }

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
    answer.then(stop, stop);
    this.send(home, { t: 'keyreq', rid, to: targetId });
    return answer;
  }

  /** Sends a mesh message (a core one, or an extension's) to node `hex`. Never throws. */
  send(hex: string, msg: MeshMessage | ({ t: string } & Record<string, unknown>)): void {
    if (this.#closed || this.#node.destroyed) return;
    try {
      if (msg.t !== 'roster') this.#rosterTo(hex);
      // A client message travels as `{"t":"msg",to,from}\n<message JSON>` so the home node
      // can hand the JSON text to the dialect without re-encoding it.
      if (msg.t === 'msg') {
        const m = msg as Extract<MeshMessage, { t: 'msg' }>;
        return this.#batch(hex, `${JSON.stringify({ t: 'msg', to: m.to, from: m.from })}\n${fastStringify(m.m)}`);
      }
      this.#node.sendOnChannel(fromHexId(hex), SIGNALING, textEncoder.encode(JSON.stringify(msg)));
    } catch (err) {
      this.#count('send_failed');
      debug('send to %s failed: %s', hex.slice(0, 8), (err as Error).message);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#refreshTimer);
    if (this.#publishTimer) clearTimeout(this.#publishTimer);
    this.#pending.rejectAll(relayError('ERR_DESTROYED'));
  }

  #count(reason: SignalingDropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    debug('dropped: %s', reason);
  }

  /**
   * Client messages to one home node in the same tick travel together:
   * `{"t":"batch","lens":[..]}\n` then the messages back to back (lens in
   * UTF-16 code units), which saves a sealed mesh message per client message.
   */
  #batch(dest: string, text: string): void {
    let b = this.#batches.get(dest);
    if (b && b.chars + text.length > MAX_BATCH_CHARS) {
      this.#flushBatch(dest);
      b = undefined;
    }
    if (!b) {
      b = { items: [], chars: 0 };
      this.#batches.set(dest, b);
      queueMicrotask(() => this.#flushBatch(dest));
    }
    b.items.push(text);
    b.chars += text.length;
    if (b.items.length >= MAX_BATCH_ITEMS) this.#flushBatch(dest);
  }

  #flushBatch(dest: string): void {
    const b = this.#batches.get(dest);
    if (!b) return;
    this.#batches.delete(dest);
    if (this.#closed || this.#node.destroyed) return;
    const text = b.items.length === 1 ? b.items[0] : `${JSON.stringify({ t: 'batch', lens: b.items.map((i) => i.length) })}\n${b.items.join('')}`;
    try {
      this.#node.sendOnChannel(fromHexId(dest), SIGNALING, textEncoder.encode(text));
    } catch (err) {
      this.#count('send_failed');
      debug('send to %s failed: %s', dest.slice(0, 8), (err as Error).message);
    }
  }

  /** Makes sure `dest` has our current roster before it gets a message from one of our clients. */
  #rosterTo(dest: string): void {
    if (this.#dirty || !this.#own) this.#publish();
    const own = this.#own!;
    if ((this.#rosterSentTo.get(dest) ?? -1) >= own.seq) return;
    this.#rosterSentTo.set(dest, own.seq);
    this.send(dest, { t: 'roster', r: own });
  }

  /** Signs a new roster of our clients and floods it to our direct links. */
  #publish(): void {
    if (this.#closed) return;
    this.#dirty = false;
    const seq = Math.max((this.#own?.seq ?? 0) + 1, Date.now());
    this.#own = signRoster(this.#node.identity, seq, Date.now() + this.#limits.rosterTtlMs, this.#host.localIds());
    for (const hex of this.corePeers()) {
      this.#rosterSentTo.set(hex, seq);
      this.send(hex, { t: 'roster', r: this.#own });
    }
  }

  #refresh(): void {
    if (this.#closed) return;
    const gone = this.#store.sweep(Date.now());
    if (gone.length) this.#host.departed(gone);
    if (this.#host.localIds().length > 0 || this.#own?.ids.length) this.#publish();
  }

  /**
   * A new direct link: say that we run a signaling core. Only a node that
   * answers with a signaling message of its own (its hello) gets rosters.
   */
  #hello(id: Uint8Array): void {
    if (this.#closed || this.#node.destroyed) return;
    try {
      this.#node.sendOnChannel(id, SIGNALING, textEncoder.encode('{"t":"hello"}'));
    } catch (err) {
      this.#count('send_failed');
      debug('hello to %s failed: %s', toHex(id).slice(0, 8), (err as Error).message);
    }
  }

  /** A direct link runs a signaling core: tell it who is registered here and what we know. */
  #greet(hex: string): void {
    if (this.#closed) return;
    if (this.#own && this.#own.exp > Date.now()) {
      this.#rosterSentTo.set(hex, this.#own.seq);
      this.send(hex, { t: 'roster', r: this.#own });
    } else if (this.#host.localIds().length > 0) this.#rosterTo(hex);
    for (const r of this.#store.records()) if (r.home !== hex) this.send(hex, { t: 'roster', r });
  }

  #onMesh(payload: Uint8Array, from: Uint8Array): void {
    let text: string;
    try {
      text = textDecoder.decode(payload);
    } catch {
      return this.#count('bad_json');
    }
    const fromHex = toHex(from);
    if (!this.#cores.has(fromHex)) this.#cores.set(fromHex, true);
    if (!text.startsWith('{"t":"batch"')) return this.#onMeshText(text, fromHex);
    const nl = text.indexOf('\n');
    let lens: unknown;
    try { lens = JSON.parse(text.slice(0, nl)).lens; } catch { lens = null; }
    if (nl < 0 || !Array.isArray(lens) || lens.length > MAX_BATCH_ITEMS || !lens.every((l) => Number.isSafeInteger(l) && l > 0)
      || (lens as number[]).reduce((a, l) => a + l, 0) !== text.length - nl - 1) return this.#count('bad_batch');
    let off = nl + 1;
    for (const l of lens as number[]) {
      this.#onMeshText(text.slice(off, off + l), fromHex);
      off += l;
    }
  }

  #onMeshText(text: string, fromHex: string): void {
    let msg: MeshMessage;
    try {
      const nl = text.indexOf('\n');
      msg = JSON.parse(nl < 0 ? text : text.slice(0, nl));
      if (nl >= 0 && msg?.t === 'msg') {
        msg.mj = text.slice(nl + 1);
        msg.m = JSON.parse(msg.mj);
      }
    } catch {
      return this.#count('bad_json');
    }
    if (!msg || typeof msg !== 'object') return this.#count('bad_message');
    switch (msg.t) {
      // A new link's core said hello: it gets our rosters.
      case 'hello': return this.#node.peers.some((p) => toHex(p) === fromHex) ? this.#greet(fromHex) : undefined;
      case 'roster': return this.#onRoster(msg.r, fromHex);
      case 'msg': {
        if (typeof msg.to !== 'string' || typeof msg.from !== 'string' || !msg.m || typeof msg.m !== 'object') return this.#count('bad_message');
        // Only a client's home node may speak for it.
        if (!this.#store.lists(fromHex, msg.from)) return this.#count('unlisted_sender');
        if (!this.#host.deliver(msg.to, { kind: 'message', fromId: msg.from, message: msg.m, messageJson: msg.mj })) {
          this.send(fromHex, { t: 'nf', to: msg.to, from: msg.from });
        }
        return;
      }
      case 'nf': {
        const event: ClientEvent = { kind: 'error', errorType: 'PEER_NOT_FOUND', details: `${String(msg.to)} is no longer registered` };
        if (typeof msg.from !== 'string' || !this.#host.deliver(msg.from, event)) this.#count('bad_message');
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
      if (res.status !== 'stale') this.#count(res.status === 'full' ? 'roster_full' : 'roster_invalid');
      return;
    }
    const rec = r as RosterRecord;
    if (res.removed.length) this.#host.departed(res.removed);
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
