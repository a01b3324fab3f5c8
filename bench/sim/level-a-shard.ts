/**
 * Simulator level a, the nodes of one thread: real PeerRelay nodes on this
 * thread's in-memory network (a ThreadNetwork joined to the other workers'
 * when the run is spread across threads). The orchestrator (level-a.ts)
 * drives every shard through the same calls, in this thread (one shard, the
 * session-4 behaviour) or over a worker's message port (level-a-worker.ts),
 * and adds up what they report.
 */
import { PeerRelay, MemoryNetwork } from '../../src/index.js';
import type { PeerRelayOptions } from '../../src/peer-relay.js';
import { ThreadNetwork } from '../../src/transport/thread-network.js';
import { kemReady } from '../../src/crypto/kem.js';
import { Identity } from '../../src/crypto/identity.js';
import { toHex } from '../../src/util/bytes.js';
import { CloseReason, FrameType } from '../../src/wire/frames.js';
import { MsgType, OFF_FROM, OFF_TO, OFF_TTL } from '../../src/wire/envelope.js';
import { DEFAULT_LIMITS } from '../../src/util/limits.js';
import { linkHandshakes, type HandshakeCounts } from '../../src/link/link.js';
import { cpuQueue } from '../../src/util/cpu-queue.js';
import { performance } from 'node:perf_hooks';
import { commonPrefix } from './measure.js';

/** What the interceptor counts in a round, by origin+destination (hex ids): DATA transmissions, and the first copy to reach the destination's own link. */
export interface WireCounts { data: [string, number][]; path: [string, number, number][] }

/** A shard's running totals for the log lines (summed over shards by the orchestrator). */
export interface ShardStats {
  lagMax: number; lagSum: number; lagN: number;
  handshakes: number; cpuUrgent: number; cpuWaiting: number;
  frames: [string, number][];
  /** Drops and detours summed over the live nodes (totals; the log prints differences). */
  drops: [string, number][];
  zeroPeers: number;
  /** Event-loop utilization of this thread since the last stats() (0-1: how much of the time its loop was busy). */
  elu: number;
  /** What this thread's link handshakes came to so far (totals). */
  counts: HandshakeCounts;
  /** HELLOs sent to a node this one had sent a PROOF to before: handshakes of re-links (totals; both ends count). */
  relinks: number;
}

/** What a shard reports during a round, as it happens. */
export type ShardEvent =
  | { kind: 'delivered'; key: string }
  | { kind: 'undeliverable'; code: string }
  | { kind: 'log'; line: string };

export class Shard {
  readonly net: MemoryNetwork;
  readonly #nodes: (PeerRelay | null)[] = [];
  readonly #opts: Partial<PeerRelayOptions> | undefined;
  readonly #emit: (e: ShardEvent) => void;
  readonly #identities = new Map<string, Identity>();
  #counting: { data: Map<string, number>; path: Map<string, [number, number]> } | null = null;
  readonly #frames = new Map<string, number>();
  #lagMax = 0; #lagSum = 0; #lagN = 0; #lagDue = performance.now() + 100;
  readonly #lagTimer: ReturnType<typeof setInterval>;
  /** Per receiver: probe tag -> key; per sender: destination hex -> messages outstanding. */
  #waitingAt = new Map<number, Map<string, string>>();
  #sentTo = new Map<number, Map<string, number>>();
  #cleanups: (() => void)[] = [];
  #elu = performance.eventLoopUtilization();
  /** Pairs of nodes a PROOF went between (a number from both ids, the same either way). */
  readonly #proven = new Set<number>();
  #relinks = 0;

  constructor(opts: Partial<PeerRelayOptions> | undefined, threaded: boolean, emit: (e: ShardEvent) => void) {
    this.#opts = opts;
    this.#emit = emit;
    this.net = threaded ? new ThreadNetwork() : new MemoryNetwork();
    const ttl = opts?.ttl ?? DEFAULT_LIMITS.ttl;
    const FRAME_NAMES = new Map(Object.entries(FrameType).map(([k, v]) => [v as number, k]));
    const MSG_NAMES = new Map(Object.entries(MsgType).map(([k, v]) => [v as number, k]));
    const CLOSE_NAMES = new Map(Object.entries(CloseReason).map(([k, v]) => [v as number, k]));
    // Hops on the wire: DATA transmissions by (origin, destination) during a round, retransmitted copies
    // included; and the path of the first copy that reached the destination's own link (from its TTL), with
    // the time it was sent, so the orchestrator can keep the first over all threads.
    this.net.intercept = (f, from, to) => {
      const name = f[0] === FrameType.CLOSE ? `CLOSE:${CLOSE_NAMES.get(f[1]) ?? f[1]}${f[1] === CloseReason.PROTOCOL_ERROR ? `(${new TextDecoder().decode(f.subarray(2, 24))})` : ''}`
        : f[0] === FrameType.ROUTE ? `ROUTE:${MSG_NAMES.get(f[1]) ?? f[1]}` : FRAME_NAMES.get(f[0]) ?? String(f[0]);
      this.#frames.set(name, (this.#frames.get(name) ?? 0) + 1);
      if (f[0] === FrameType.PROOF || f[0] === FrameType.HELLO) {
        const pair = parseInt(from.slice(6, 19), 16) ^ parseInt(to.slice(6, 19), 16);
        if (f[0] === FrameType.PROOF) this.#proven.add(pair);
        else if (this.#proven.has(pair)) this.#relinks++;
      }
      const c = this.#counting;
      if (c && f[0] === FrameType.ROUTE && f[1] === MsgType.DATA) {
        const dest = toHex(f.subarray(OFF_TO, OFF_TO + 20));
        const key = toHex(f.subarray(OFF_FROM, OFF_FROM + 20)) + dest;
        c.data.set(key, (c.data.get(key) ?? 0) + 1);
        if (to === `mem://${dest}` && !c.path.has(key)) c.path.set(key, [ttl + 1 - f[OFF_TTL], performance.timeOrigin + performance.now()]);
      }
      return f;
    };
    // Event-loop lag: how late this thread runs its timers.
    this.#lagTimer = setInterval(() => {
      const late = Math.max(0, performance.now() - this.#lagDue);
      this.#lagMax = Math.max(this.#lagMax, late); this.#lagSum += late; this.#lagN++;
      this.#lagDue = performance.now() + 100;
    }, 100);
  }

  /** Makes `count` identities for nodes about to be created; returns their ids (hex). */
  prepare(count: number): string[] {
    const ids: string[] = [];
    for (let k = 0; k < count; k++) {
      const identity = Identity.generate();
      this.#identities.set(identity.idHex, identity);
      ids.push(identity.idHex);
    }
    return ids;
  }

  /**
   * Creates a node per [id from prepare(), bootstrap URLs], in order; returns their indices here. In a
   * threaded run a bootstrap URL in another thread is first waited for until its listener is announced.
   */
  async create(list: [string, string[]][]): Promise<number[]> {
    await kemReady(); // this thread's liboqs ML-KEM has loaded (or failed to) before any handshake
    const net = this.net;
    if (net instanceof ThreadNetwork) {
      // Nodes of this list bootstrapping to earlier ones of it: those listen here as they are created.
      const unknown = [...new Set(list.flatMap(([, b]) => b))].filter((u) => !net.knows(u) && !this.#identities.has(u.slice(6)));
      const known = await Promise.all(unknown.map((u) => net.whenKnown(u, 60_000)));
      if (known.includes(false)) this.#emit({ kind: 'log', line: `${known.filter((k) => !k).length} bootstrap URLs not announced within 60 s` });
    }
    const out: number[] = [];
    for (const [id, bootstrap] of list) {
      const identity = this.#identities.get(id);
      if (!identity) throw new Error(`create(): no identity ${id} from prepare()`);
      this.#identities.delete(id);
      const node = new PeerRelay({ ...this.#opts, identity, memory: this.net, bootstrap });
      node.on('error', (err) => this.#emit({ kind: 'log', line: `node error: ${err.message}` }));
      out.push(this.#nodes.length);
      this.#nodes.push(node);
    }
    return out;
  }

  /** Every live node's id and its links' ids, packed: per node [index u32][id 20][count u16][ids 20 each]. */
  views(): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < this.#nodes.length; i++) {
      const n = this.#nodes[i];
      if (!n) continue;
      const peers = n.peers;
      const b = new Uint8Array(26 + 20 * peers.length);
      const v = new DataView(b.buffer);
      v.setUint32(0, i);
      b.set(n.identity.id, 4);
      v.setUint16(24, peers.length);
      for (let k = 0; k < peers.length; k++) b.set(peers[k], 26 + 20 * k);
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  stats(): ShardStats {
    const drops = new Map<string, number>();
    let zeroPeers = 0;
    for (const n of this.#nodes) {
      if (!n) continue;
      if (n.peers.length === 0) zeroPeers++;
      const s = n.stats();
      for (const [k, v] of Object.entries(s.dropped)) drops.set(k, (drops.get(k) ?? 0) + (v ?? 0));
      drops.set('detour:loop', (drops.get('detour:loop') ?? 0) + s.detours.loop);
      drops.set('detour:backtrack', (drops.get('detour:backtrack') ?? 0) + s.detours.backtrack);
    }
    const out: ShardStats = {
      lagMax: this.#lagMax, lagSum: this.#lagSum, lagN: this.#lagN,
      handshakes: linkHandshakes.inProgress, cpuUrgent: cpuQueue.urgent, cpuWaiting: cpuQueue.waiting,
      frames: [...this.#frames], drops: [...drops], zeroPeers,
      elu: performance.eventLoopUtilization(this.#elu).utilization,
      counts: { ...linkHandshakes.counts, closedEarly: { ...linkHandshakes.counts.closedEarly } },
      relinks: this.#relinks,
    };
    this.#elu = performance.eventLoopUtilization();
    this.#lagMax = this.#lagSum = this.#lagN = 0;
    this.#frames.clear();
    return out;
  }

  /**
   * For holes (x, t) given as [x's index here, t's id hex]: how many nodes x knows (links and
   * contacts, of its 8 known closest to t) in the k-bucket t falls in, so a log can tell a hole
   * whose node knows no one there (short of contacts) from one that knows someone and has not linked.
   */
  knownIn(list: [number, string][]): number[] {
    return list.map(([i, tHex]) => {
      const n = this.#nodes[i];
      if (!n) return -1;
      const t = Buffer.from(tHex, 'hex');
      const b = commonPrefix(n.identity.id, t);
      return n.closestKnown(t, 8).filter((id) => commonPrefix(n.identity.id, id) === b).length;
    });
  }

  /** Whether node i knows node t (a link or a contact), for each [i, t hex]. */
  knows(list: [number, string][]): boolean[] {
    return list.map(([i, tHex]) => {
      const n = this.#nodes[i];
      if (!n) return false;
      const t = Buffer.from(tHex, 'hex');
      return n.closestKnown(t, 1).some((id) => Buffer.compare(Buffer.from(id), t) === 0);
    });
  }

  /** How many live nodes have no link yet (the build waits for none). */
  zeroPeers(): number {
    let z = 0;
    for (const n of this.#nodes) if (n && n.peers.length === 0) z++;
    return z;
  }

  gc(): void { (globalThis as { gc?: () => void }).gc?.(); }

  /** Destroys the nodes at these indices here (churn). */
  destroy(indices: number[]): void {
    for (const i of indices) { this.#nodes[i]?.destroy(); this.#nodes[i] = null; }
  }

  /**
   * Starts a round: `receive` is [receiver index, probe tag, key] and `send` is [sender index, destination
   * hex] for every pair with an end here. Counting on the wire starts now.
   */
  expect(receive: [number, string, string][], send: [number, string][]): void {
    this.#counting = { data: new Map(), path: new Map() };
    for (const [j, tag, key] of receive) {
      let m = this.#waitingAt.get(j);
      if (!m) {
        const mm = new Map<string, string>();
        m = mm;
        this.#waitingAt.set(j, mm);
        const b = this.#nodes[j]!;
        const onMessage = (data: unknown) => {
          const t = (data as { probe?: string } | null)?.probe;
          const k = t !== undefined ? mm.get(t) : undefined;
          if (k === undefined) return;
          mm.delete(t!);
          this.#emit({ kind: 'delivered', key: k });
        };
        b.on('message', onMessage);
        this.#cleanups.push(() => b.off('message', onMessage));
      }
      m.set(tag, key);
    }
    for (const [i, destHex] of send) {
      let m = this.#sentTo.get(i);
      if (!m) {
        const mm = new Map<string, number>();
        m = mm;
        this.#sentTo.set(i, mm);
        const a = this.#nodes[i]!;
        const onUndeliverable = (err: { code: string }, to: Uint8Array) => {
          const hex = toHex(to);
          const n = mm.get(hex);
          if (!n) return;
          if (n === 1) mm.delete(hex); else mm.set(hex, n - 1);
          this.#emit({ kind: 'undeliverable', code: err.code });
        };
        a.on('undeliverable', onUndeliverable);
        this.#cleanups.push(() => a.off('undeliverable', onUndeliverable));
      }
      m.set(destHex, (m.get(destHex) ?? 0) + 1);
    }
  }

  /** Sends each probe: [sender index, destination hex, tag]. */
  send(list: [number, string, string][]): void {
    for (const [i, destHex, tag] of list) {
      try {
        this.#nodes[i]!.send(Buffer.from(destHex, 'hex'), { probe: tag });
      } catch (err) {
        this.#emit({ kind: 'undeliverable', code: (err as { code?: string }).code ?? 'THROWN' });
      }
    }
  }

  /** Ends a round: what was counted on the wire here. */
  finish(): WireCounts {
    const c = this.#counting ?? { data: new Map(), path: new Map() };
    this.#counting = null;
    for (const f of this.#cleanups) f();
    this.#cleanups = [];
    this.#waitingAt = new Map();
    this.#sentTo = new Map();
    return { data: [...c.data], path: [...c.path].map(([k, [p, t]]) => [k, p, t]) };
  }

  async close(): Promise<void> {
    clearInterval(this.#lagTimer);
    await Promise.all(this.#nodes.map((n) => (n ? new Promise<void>((r) => n.destroy(() => r())) : undefined)));
    if (this.net instanceof ThreadNetwork) this.net.detachAll();
  }
}
