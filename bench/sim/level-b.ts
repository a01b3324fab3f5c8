/**
 * Simulator level b: the routing level in virtual time. Every node runs the
 * real RoutingTable, Router and Discovery code; links are simulated (a
 * latency, no crypto, no sockets) and the clock is virtual, so 100,000 nodes
 * run in minutes. Adversarial mode: a fraction of the nodes drop every frame
 * they should relay (S/Kademlia's evaluation).
 */
import { RoutingTable } from '../../src/routing/routing-table.js';
import { DedupCache } from '../../src/routing/dedup-cache.js';
import { Router } from '../../src/routing/router.js';
import { Discovery } from '../../src/routing/discovery.js';
import { NeighbourAdverts } from '../../src/routing/neighbour-adverts.js';
import type { RouteLink } from '../../src/routing/route-link.js';
import { DEFAULT_LIMITS, FRAME_OVERHEAD, type Limits } from '../../src/util/limits.js';
import { equalBytes, key53, toHex } from '../../src/util/bytes.js';
import { FrameType, HelloFlags, MAX_NEIGHBOUR_HEADS, encodeNeighbours } from '../../src/wire/frames.js';
import { encodeEnvelope, MsgType, OFF_MSG_ID, OFF_TO, OFF_TTL } from '../../src/wire/envelope.js';
import { quantile } from '../lib/stats.js';
import { EventQueue } from './virtual-net.js';
import { deepHoles, deliveryResult, holes, randomPairs, seededRandom, spread, walks, type DeliveryResult, type Spread } from './measure.js';

export interface LevelBOptions {
  nodes: number;
  churn: number;
  /** Fraction of nodes that drop what they should relay. */
  adversarial: number;
  /**
   * The droppers also lie in their NEIGHBOURS frames: each lists 256 random heads, so the routing
   * lookahead (PROTOCOL §4.2) sends them first copies for many targets.
   */
  liars?: boolean;
  pairs: number;
  /** One-way link latency (virtual ms). */
  latencyMs: number;
  /** Virtual time to settle after building and after each churn step (ms). */
  settleMs: number;
  /** After the churn phases, this fraction of the live honest nodes starts dropping what it should relay; one more round. */
  turn?: number;
  /** Nodes joining per virtual second (default: max(100, nodes / 100), so any mesh is built in at most 100 virtual s). */
  joinRate?: number;
  seed: number;
  limits?: Partial<Limits>;
  log?: (line: string) => void;
}

export interface PhaseB {
  name: string;
  nodes: number;
  /**
   * Frames on the wire during the delivery round: DATA transmissions (retransmissions included)
   * and ACK transmissions (hops), plus the ACK messages destinations sent (each may carry several ids).
   */
  wire?: { data: number; ack: number; retransmitted: number; acksSent: number };
  /** Length of the path the first delivered copy took (from its TTL): p50/p99/max. */
  path?: { p50: number; p99: number; max: number };
  holes: { holes: number; pairs: number };
  /** The link graph alone (up to 30,000 nodes, measure.ts): nodes not linked to their XOR-nearest, and the router's walks on it. */
  graph?: { nodes: number; nearestMissing: number; pairs: number; greedy: number; walked: number };
  links: Spread;
  delivery: DeliveryResult;
}

export interface LevelBReport {
  level: 'b';
  /** Wall time to run the whole simulation (ms) and virtual time simulated (ms). */
  wallMs: number;
  virtualMs: number;
  events: number;
  heapPerNodeKiB: number;
  phases: PhaseB[];
}

interface Probe { hops: number; delivered: boolean; reported: string | null; path: number }

class SimLink {
  isClosed = false;
  readonly isOpen = true;
  readonly initiator: boolean;
  readonly remoteFlags: number;
  readonly stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, relayed: 0 };
  readonly openedAt: number;
  other!: SimLink;

  constructor(readonly local: SimNode, readonly far: SimNode, initiator: boolean, readonly net: SimNet) {
    this.initiator = initiator;
    this.openedAt = net.clock.now();
    this.remoteFlags = HelloFlags.WEBSOCKET | far.adverts.flag;
  }

  get remote() { return this.far.pub; }
  get id() { return this.far.id; }
  get idHex() { return this.far.hex; }
  get remoteUrl() { return this.far.url; }

  send(f: Uint8Array): boolean {
    if (this.isClosed) return false;
    if (f[0] === FrameType.NEIGHBOURS && this.local.adversarial && this.net.liars) f = this.net.lie();
    this.net.onSend(f);
    // A copy: the receiver forwards it with its TTL decremented in place, while the sender may keep its own.
    this.net.clock.call(this.net.latencyMs, arrive, this.other, f.slice());
    return true;
  }

  /** Closes both ends; `refusedByThisEnd` when this end pruned it (the other end is told TOO_MANY_LINKS). */
  close(refusedByThisEnd = false): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.other.isClosed = true;
    this.local.onClosed(this, false);
    this.other.local.onClosed(this.other, refusedByThisEnd);
  }
}

function arrive(to: SimLink, f: Uint8Array): void {
  if (!to.isClosed) to.local.onFrame(to, f);
}

class SimNode {
  readonly hex: string;
  readonly url: string;
  readonly pub: { id: Uint8Array; idHex: string };
  readonly table: RoutingTable<RouteLink>;
  readonly router: Router;
  readonly discovery: Discovery;
  readonly adverts: NeighbourAdverts;
  readonly dialing = new Set<string>();
  alive = true;

  constructor(readonly id: Uint8Array, readonly net: SimNet, public adversarial: boolean) {
    this.hex = toHex(id);
    this.url = `sim://${this.hex}`;
    this.pub = { id, idHex: this.hex };
    const limits = net.limits;
    const clock = net.clock;
    this.table = new RoutingTable<RouteLink>(id, limits.maxLinks);
    this.router = new Router({
      localId: id, ttl: limits.ttl, maxFrameSize: limits.maxMessageSize + FRAME_OVERHEAD, clock,
      self: () => ({ id, flags: HelloFlags.WEBSOCKET, url: this.url }),
      countDrop: () => {}, countDetour: () => {},
      deliver: (f) => net.onDeliver(this, f),
      learn: (f) => this.discovery.onNodes(f),
      unreachable: (msgKey, _to, err) => net.onUnreachable(msgKey, err.code),
      acks: limits,
    }, this.table, new DedupCache(limits.dedupEntries, limits.dedupAgeMs));
    const node = this;
    this.discovery = new Discovery({
      localId: id, limits, clock,
      get active() { return node.alive; },
      dialing: () => this.dialing.size,
      isDialing: (url) => this.dialing.has(url),
      dial: (url, expected) => net.dial(this, url, expected),
      canAutoConnect: () => false,
      connect: () => Promise.reject(new Error('no WebRTC in the simulator')),
      lookup: (target) => this.router.lookup(target),
      rebootstrap: () => net.rebootstrap(this),
      closeLink: (link) => (link as unknown as SimLink).close(true),
      countDrop: () => {},
    }, this.table);
    this.adverts = new NeighbourAdverts({
      clock, neighbourAdvertMs: limits.neighbourAdvertMs,
      get active() { return node.alive; },
      countDrop: () => {},
    }, this.table);
  }

  onFrame(link: SimLink, f: Uint8Array): void {
    if (!this.alive) return;
    switch (f[0]) {
      case FrameType.ROUTE:
        if (this.adversarial && !equalBytes(f.subarray(OFF_TO, OFF_TO + 20), this.id)) { this.net.droppedByAdversary++; return; }
        return this.router.onRouted(link as RouteLink, f);
      case FrameType.FIND_NODE: return this.discovery.onFindNode(link as RouteLink, f);
      case FrameType.NODES: return this.discovery.onNodes(f);
      case FrameType.NEIGHBOURS: return this.adverts.onFrame(link as RouteLink, f);
    }
  }

  onOpen(link: SimLink): void {
    this.discovery.onLinkOpen(link as RouteLink);
    this.adverts.changed();
  }

  onClosed(link: SimLink, refused: boolean): void {
    if (this.table.getHex(link.idHex) === (link as RouteLink)) this.table.remove(link.id);
    if (!this.alive) return;
    this.adverts.changed();
    if (this.table.size === 0) this.net.rebootstrap(this);
    else this.discovery.onLinkClosed(link.idHex, refused);
  }

  links(): SimLink[] { return this.table.entries().map((e) => e.link as unknown as SimLink); }
  get peers(): Uint8Array[] { return this.table.entries().map((e) => e.id); }
}

class SimNet {
  readonly clock = new EventQueue();
  readonly limits: Limits;
  readonly byHex = new Map<string, SimNode>();
  readonly nodes: SimNode[] = [];
  droppedByAdversary = 0;
  /** Droppers lie in their NEIGHBOURS frames (LevelBOptions.liars). */
  liars = false;
  /** Frames on the wire while a round counts. */
  wire = { data: 0, ack: 0 };
  /** DATA transmissions per probe (key53 of the message id), delivered probes, reported ones. */
  probes: Map<number, Probe> | null = null;
  /** Hops of each message delivered in the last round (for the histogram in the log). */
  lastHops: number[] = [];

  constructor(readonly latencyMs: number, limits: Limits, readonly rand: () => number) {
    this.limits = limits;
  }

  /** A new node, bootstrapping to 1-3 random nodes of the first `poolSize` of `pool` (no copy of the pool per join). */
  add(adversarial: boolean, pool: readonly SimNode[], poolSize = pool.length): SimNode {
    const id = new Uint8Array(20);
    for (let i = 0; i < 20; i++) id[i] = Math.floor(this.rand() * 256);
    const node = new SimNode(id, this, adversarial);
    this.byHex.set(node.hex, node);
    this.nodes.push(node);
    const fanout = 1 + Math.floor(this.rand() * 3);
    for (let k = 0; k < fanout && poolSize > 0; k++) {
      const to = pool[Math.floor(this.rand() * poolSize)];
      this.dial(node, to.url).catch(() => {});
    }
    node.discovery.start();
    return node;
  }

  kill(node: SimNode): void {
    node.alive = false;
    node.discovery.stop();
    node.adverts.stop();
    node.router.stop();
    // The far ends notice by keepalive: somewhere between one ping and the link timeout.
    for (const link of node.links()) {
      const wait = this.limits.pingIntervalMs + this.rand() * (this.limits.linkTimeoutMs - this.limits.pingIntervalMs);
      this.clock.setTimeout(() => link.close(), wait);
    }
  }

  dial(from: SimNode, url: string, expected?: Uint8Array): Promise<void> {
    const to = this.byHex.get(url.slice(6));
    if (from.dialing.has(url)) return Promise.reject(new Error('already dialing'));
    from.dialing.add(url);
    return new Promise((resolve, reject) => {
      // A link handshake takes two round trips.
      this.clock.setTimeout(() => {
        from.dialing.delete(url);
        if (!from.alive || !to || !to.alive || to === from || (expected && !equalBytes(expected, to.id))) return reject(new Error('dial failed'));
        if (from.table.has(to.id)) return resolve();
        const a = new SimLink(from, to, true, this);
        const b = new SimLink(to, from, false, this);
        a.other = b;
        b.other = a;
        if (!from.table.add(to.id, a as RouteLink)) return reject(new Error('table full'));
        if (!to.table.add(from.id, b as RouteLink)) { from.table.remove(to.id); return reject(new Error('TOO_MANY_LINKS')); }
        from.onOpen(a);
        to.onOpen(b);
        resolve();
      }, 4 * this.latencyMs);
    });
  }

  rebootstrap(node: SimNode): void {
    if (!node.alive) return;
    this.clock.setTimeout(() => {
      if (!node.alive || node.table.size > 0) return;
      // A random live node (most are: sampling beats filtering 100,000 nodes on every call).
      let to: SimNode | undefined;
      for (let tries = 0; tries < 64 && !to; tries++) {
        const n = this.nodes[Math.floor(this.rand() * this.nodes.length)];
        if (n.alive && n !== node) to = n;
      }
      if (to) this.dial(node, to.url).catch(() => this.rebootstrap(node));
    }, 1000 + this.rand() * 1000);
  }

  /** A liar's NEIGHBOURS frame: 256 random heads. */
  lie(): Uint8Array {
    const heads = new Uint32Array(MAX_NEIGHBOUR_HEADS);
    for (let i = 0; i < heads.length; i++) heads[i] = Math.floor(this.rand() * 2 ** 32);
    return encodeNeighbours(heads);
  }

  onSend(f: Uint8Array): void {
    if (!this.probes || f[0] !== FrameType.ROUTE) return;
    if (f[1] === MsgType.ACK) { this.wire.ack++; return; }
    if (f[1] !== MsgType.DATA) return;
    this.wire.data++;
    const p = this.probes.get(key53(f, OFF_MSG_ID));
    if (p) p.hops++;
  }

  onDeliver(_node: SimNode, f: Uint8Array): void {
    if (!this.probes || f[1] !== MsgType.DATA) return;
    const p = this.probes.get(key53(f, OFF_MSG_ID));
    if (p && !p.delivered) { p.delivered = true; p.path = this.limits.ttl + 1 - f[OFF_TTL]; }
  }

  onUnreachable(msgKey: number, code: string): void {
    const p = this.probes?.get(msgKey);
    if (p && !p.delivered && !p.reported) p.reported = code;
  }
}

export async function runLevelB(o: LevelBOptions): Promise<LevelBReport> {
  const log = o.log ?? (() => {});
  const rand = seededRandom(o.seed);
  const limits = { ...DEFAULT_LIMITS, ...o.limits } as Limits;
  const net = new SimNet(o.latencyMs, limits, rand);
  net.liars = o.liars ?? false;
  const t0 = performance.now();
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  // Nodes join at joinRate per virtual second, spread evenly over each second (one every 1000/joinRate ms),
  // each bootstrapping to 1-3 random earlier nodes. Every node's own rate limits (maxDialing,
  // maxDialsPerSecond) hold whatever the join rate.
  const joinRate = o.joinRate ?? Math.max(100, Math.ceil(o.nodes / 100));
  const join = async (count: number, pool: () => readonly SimNode[], poolSize: (i: number) => number) => {
    const step = 1000 / joinRate;
    for (let i = 0; i < count; i++) {
      net.add(rand() < o.adversarial, pool(), poolSize(i));
      await net.clock.runUntil(net.clock.now() + step, 256);
      if (i % (o.nodes >= 50_000 ? 10_000 : 2_500) === (o.nodes >= 50_000 ? 9_999 : 2_499)) log(`joined ${i + 1} nodes (virtual ${(net.clock.now() / 1000).toFixed(0)} s, ${net.clock.ran} events, wall ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  };
  await join(o.nodes, () => net.nodes, (i) => Math.max(1, i));
  const phases: PhaseB[] = [];
  const phase = async (name: string, settleMs = o.settleMs) => {
    await net.clock.runUntil(net.clock.now() + settleMs);
    const live = net.nodes.filter((n) => n.alive);
    const h = holes(live, 1_000_000, rand);
    let graph: PhaseB['graph'];
    if (live.length <= 30_000) {
      // Near holes and what the link graph alone allows (measure.ts); quadratic, so only for smaller runs.
      const dh = deepHoles(live);
      const w = walks(live, randomPairs(live.length, 2000, seededRandom(live.length)));
      graph = { nodes: dh.nodes, nearestMissing: dh.nearest, pairs: w.pairs, greedy: w.greedy, walked: w.walked };
      const pc = (n: number, d: number) => `${(100 * n / Math.max(1, d)).toFixed(2)} %`;
      log(`${name}: near holes ${pc(dh.deep, dh.nodes)} of nodes (a link missing in one of their 3 deepest non-empty buckets), ${pc(dh.nearest, dh.nodes)} not linked to their XOR-nearest; on the link graph alone greedy ${pc(w.greedy, w.pairs)}, walk within the TTL ${pc(w.walked, w.pairs)}, hops p50 ${w.hops.p50} p99 ${w.hops.p99}`);
    }
    net.wire = { data: 0, ack: 0 };
    const sum = (k: 'retransmitted' | 'acksSent') => net.nodes.reduce((a, n) => a + n.router.ackCounters[k], 0);
    const retx0 = sum('retransmitted');
    const acks0 = sum('acksSent');
    const delivery = await deliverB(net, live.filter((n) => !n.adversarial), o.pairs, rand);
    const wire = { ...net.wire, retransmitted: sum('retransmitted') - retx0, acksSent: sum('acksSent') - acks0 };
    phases.push({ name, nodes: live.length, holes: h, graph, links: spread(live.map((n) => n.table.size)), wire, path: delivery.path, delivery });
    const l = phases[phases.length - 1].links;
    const path = delivery.path;
    log(`${name} (virtual ${(net.clock.now() / 1000).toFixed(0)} s, ${net.clock.ran} events, wall ${((performance.now() - t0) / 1000).toFixed(0)} s, heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB): ${live.length} nodes, holes ${h.holes}/${h.pairs}, links ${l.min}/${l.p50}/${l.max}, delivered ${delivery.delivered}/${delivery.sent} ${JSON.stringify(delivery.reported)} silent ${delivery.silent}, hops p50/p95/p99/max ${delivery.hops.p50}/${delivery.hops.p95}/${delivery.hops.p99}/${delivery.hops.max}, path p50/p99/max ${path?.p50}/${path?.p99}/${path?.max}, DATA ${wire.data} (${wire.retransmitted} retransmitted), hops mean ${mean(net.lastHops).toFixed(2)} histogram ${JSON.stringify(histogram(net.lastHops))}`);
  };
  await phase('built');
  global.gc?.();
  const heapPerNodeKiB = (process.memoryUsage().heapUsed - heap0) / 1024 / net.nodes.length;
  if (o.churn > 0) {
    const alive = net.nodes.filter((n) => n.alive);
    const kill = Math.round(alive.length * o.churn);
    for (const n of alive.map((n) => ({ n, r: rand() })).sort((a, b) => a.r - b.r).slice(0, kill).map((x) => x.n)) net.kill(n);
    await phase(`after ${Math.round(o.churn * 100)} % left`);
    const survivors = net.nodes.filter((n) => n.alive);
    await join(kill, () => survivors, () => survivors.length);
    await phase(`after ${kill} joined`);
  }
  if (o.turn && o.turn > 0) {
    // Droppers in a mesh built without them: the tables are what honest nodes built, the
    // delivery round the same as with --adversarial (endpoints honest, droppers drop what they relay).
    const honest = net.nodes.filter((n) => n.alive && !n.adversarial);
    const turn = Math.round(honest.length * o.turn);
    for (const n of honest.map((n) => ({ n, r: rand() })).sort((a, b) => a.r - b.r).slice(0, turn)) n.n.adversarial = true;
    await phase(`${Math.round(o.turn * 100)} % turned droppers`, 0);
  }
  return { level: 'b', wallMs: performance.now() - t0, virtualMs: net.clock.now(), events: net.clock.ran, heapPerNodeKiB, phases };
}

/** Random pairs of honest nodes each route one DATA message; the run goes on until each is delivered or reported. */
async function deliverB(net: SimNet, honest: SimNode[], count: number, rand: () => number): Promise<DeliveryResult> {
  const pairs = randomPairs(honest.length, count, rand);
  const probes = new Map<number, Probe>();
  net.probes = probes;
  for (const [i, j] of pairs) {
    const a = honest[i], b = honest[j];
    const f = encodeEnvelope(MsgType.DATA, b.id, a.id, new Uint8Array(16), net.limits.ttl);
    probes.set(key53(f, OFF_MSG_ID), { hops: 0, delivered: false, reported: null, path: 0 });
    if (a.router.route(f) !== 'sent') probes.get(key53(f, OFF_MSG_ID))!.reported = 'no_links';
    await net.clock.runUntil(net.clock.now() + 2);
  }
  // Long enough for a message's retransmissions (2 + 4 s before a round trip is measured) and their give-up (8 s more).
  await net.clock.runUntil(net.clock.now() + 20_000);
  net.probes = null;
  const hops: number[] = [];
  const reported: Record<string, number> = {};
  for (const p of probes.values()) {
    if (p.delivered) hops.push(p.hops);
    else if (p.reported) reported[p.reported] = (reported[p.reported] ?? 0) + 1;
  }
  net.lastHops = hops;
  const paths = [...probes.values()].filter((p) => p.delivered).map((p) => p.path);
  return deliveryResult(pairs.length, hops, reported, paths);
}

function mean(xs: number[]): number { return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0; }

/** How many values of each size: index i counts the values equal to i. */
function histogram(xs: number[]): number[] {
  const h: number[] = [];
  for (const x of xs) h[x] = (h[x] ?? 0) + 1;
  for (let i = 0; i < h.length; i++) h[i] ??= 0;
  return h;
}
