/**
 * What every simulator level measures, against ground truth: routing-table
 * holes, links per node, delivery of random pairs and hops counted on the
 * wire. Pure functions over ids and link lists, shared by levels a and b.
 */
import { quantile } from '../lib/stats.js';

/** Length of the common prefix of two ids: the k-bucket `b` falls in, seen from `a`. */
export function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return a.length * 8;
}

export interface NodeView { id: Uint8Array; peers: Uint8Array[] }

/**
 * Routing-table holes: pairs (x, t) where x holds no link in the bucket t
 * falls in (greedy XOR routing always makes progress when there is none).
 * Checks every pair up to `maxPairs`, else a random sample of that many.
 */
export function holes(nodes: readonly NodeView[], maxPairs = 2_000_000, rand: () => number = Math.random): { holes: number; pairs: number } {
  const n = nodes.length;
  if (n < 2) return { holes: 0, pairs: 0 };
  const buckets = nodes.map((x) => new Set(x.peers.map((p) => commonPrefix(x.id, p))));
  let h = 0;
  let pairs = 0;
  if (n * (n - 1) <= maxPairs) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        pairs++;
        if (!buckets[i].has(commonPrefix(nodes[i].id, nodes[j].id))) h++;
      }
    }
  } else {
    while (pairs < maxPairs) {
      const i = Math.floor(rand() * n);
      const j = Math.floor(rand() * n);
      if (i === j) continue;
      pairs++;
      if (!buckets[i].has(commonPrefix(nodes[i].id, nodes[j].id))) h++;
    }
  }
  return { holes: h, pairs };
}

export interface Spread { min: number; p50: number; max: number }
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: NaN, p50: NaN, max: NaN };
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) { if (v < min) min = v; if (v > max) max = v; }
  return { min, p50: quantile(values, 0.5), max };
}

export interface DeliveryResult {
  sent: number;
  delivered: number;
  /** Delivered / sent. */
  rate: number;
  hops: { p50: number; p95: number; p99: number; max: number };
  /** Hops of the path the delivered copy took, when the level can tell (a and b), apart from `hops`, which counts every DATA transmission including retransmitted copies. */
  path?: { p50: number; p95: number; p99: number; max: number };
  /** Undeliverable reports by code (every message not delivered should have one, or be counted `silent`). */
  reported: Record<string, number>;
  silent: number;
}

export function deliveryResult(sent: number, hopCounts: readonly number[], reported: Record<string, number>, paths?: readonly number[]): DeliveryResult {
  const delivered = hopCounts.length;
  const reportedTotal = Object.values(reported).reduce((a, b) => a + b, 0);
  return {
    sent,
    delivered,
    rate: sent === 0 ? NaN : delivered / sent,
    hops: quantiles(hopCounts),
    ...(paths ? { path: quantiles(paths) } : {}),
    reported,
    silent: Math.max(0, sent - delivered - reportedTotal),
  };
}

function quantiles(v: readonly number[]): { p50: number; p95: number; p99: number; max: number } {
  return { p50: quantile(v, 0.5), p95: quantile(v, 0.95), p99: quantile(v, 0.99), max: v.length ? Math.max(...v) : NaN };
}

/** `count` distinct random ordered pairs of distinct indices below `n` (fewer if there are not that many). */
export function randomPairs(n: number, count: number, rand: () => number = Math.random): [number, number][] {
  const out: [number, number][] = [];
  const seen = new Set<number>();
  const want = Math.min(count, n * (n - 1));
  while (out.length < want) {
    const a = Math.floor(rand() * n);
    const b = Math.floor(rand() * n);
    if (a === b || seen.has(a * n + b)) continue;
    seen.add(a * n + b);
    out.push([a, b]);
  }
  return out;
}

/** A seeded PRNG (mulberry32), so a simulation run can be repeated. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the link graph alone allows, with no traffic and no load: see `walks`. */
export interface WalkResult {
  pairs: number;
  /** Reached t by strictly closer steps only (no detour). */
  greedy: number;
  /** Reached t within `ttl` link transmissions by the router's rule (closest untried link, back to the parent at a dead end). */
  walked: number;
  /** Hops of the walks that reached t. */
  hops: { p50: number; p99: number; max: number };
  /** Of the greedy failures, the prefix length shared by t and the node where greedy progress stopped (how near t it got). */
  stuckDepth: { p50: number; min: number; max: number };
}

/**
 * The router's forwarding (src/routing/router.ts: the direct link first, else
 * the XOR-closest link not yet tried from here, back to the parent when none is
 * left; TTL counts transmissions) replayed on a snapshot of the link graph, so a
 * run can tell what the topology loses from what the load loses.
 */
export function walks(nodes: readonly NodeView[], pairs: readonly [number, number][], ttl = 32): WalkResult {
  const index = new Map<string, number>();
  const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  nodes.forEach((x, i) => index.set(hex(x.id), i));
  const adj = nodes.map((x) => x.peers.map((p) => index.get(hex(p))).filter((i): i is number => i !== undefined));
  const ids = nodes.map((x) => x.id);
  /** Negative if a is XOR-closer to t than b. */
  const cmp = (t: Uint8Array, a: Uint8Array, b: Uint8Array): number => {
    for (let k = 0; k < t.length; k++) { const d = (a[k] ^ t[k]) - (b[k] ^ t[k]); if (d !== 0) return d; }
    return 0;
  };
  let greedy = 0, walked = 0;
  const hops: number[] = [];
  const stuck: number[] = [];
  for (const [s, d] of pairs) {
    const t = ids[d];
    // Pure greedy.
    let x = s, ok = false;
    for (let step = 0; step <= ttl; step++) {
      if (x === d) { ok = true; break; }
      let best = -1;
      for (const y of adj[x]) if (best < 0 || y === d || (best !== d && cmp(t, ids[y], ids[best]) < 0)) best = y;
      if (best < 0 || (best !== d && cmp(t, ids[best], ids[x]) >= 0)) break;
      x = best;
    }
    if (ok) greedy++;
    else stuck.push(commonPrefix(ids[x], t));
    // The router's depth-first walk.
    const tried = new Map<number, Set<number>>();
    const parent = new Map<number, number>();
    let at = s, left = ttl + 1, n = 0;
    parent.set(s, -1);
    while (left > 0 && at !== d) {
      let tr = tried.get(at);
      if (!tr) { tr = new Set(); tried.set(at, tr); }
      let best = -1;
      for (const y of adj[at]) {
        if (tr.has(y)) continue;
        if (y === d) { best = y; break; }
        if (best < 0 || cmp(t, ids[y], ids[best]) < 0) best = y;
      }
      let next: number;
      if (best >= 0) next = best;
      else { const p = parent.get(at)!; if (p < 0) break; next = p; }
      tr.add(next);
      if (!parent.has(next)) parent.set(next, at);
      (tried.get(next) ?? tried.set(next, new Set()).get(next)!).add(at);
      at = next;
      left--;
      n++;
    }
    if (at === d) { walked++; hops.push(n); }
  }
  const q = (v: number[]) => ({ p50: quantile(v, 0.5), p99: quantile(v, 0.99), max: v.length ? Math.max(...v) : NaN });
  return {
    pairs: pairs.length, greedy, walked, hops: q(hops),
    stuckDepth: { p50: quantile(stuck, 0.5), min: stuck.length ? Math.min(...stuck) : NaN, max: stuck.length ? Math.max(...stuck) : NaN },
  };
}

/**
 * Holes near each node, where random pairs rarely look but every path to the
 * node ends: the share of nodes with no link in one of their `depth` deepest
 * non-empty k-buckets (by ground truth), and with no link to their XOR-nearest
 * node. Ids compare by their first 32 bits (exact below 2^32 nodes per prefix).
 */
export function deepHoles(nodes: readonly NodeView[], depth = 3): { nodes: number; deep: number; nearest: number; missing: [number, number][] } {
  const n = nodes.length;
  const heads = new Uint32Array(n);
  const head = (b: Uint8Array) => ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  nodes.forEach((x, i) => { heads[i] = head(x.id); });
  let deep = 0, nearest = 0;
  const missing: [number, number][] = [];
  const count = new Int32Array(33);
  for (let i = 0; i < n; i++) {
    count.fill(0);
    const h = heads[i];
    let best = -1, bestD = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (h ^ heads[j]) >>> 0;
      count[Math.clz32(d)]++;
      if (d < bestD) { bestD = d; best = j; }
    }
    const linked = new Set(nodes[i].peers.map((p) => Math.clz32((h ^ head(p)) >>> 0)));
    let seen = 0, hole = false;
    for (let b = 32; b >= 0 && seen < depth; b--) {
      if (count[b] === 0) continue;
      seen++;
      if (!linked.has(b)) hole = true;
    }
    if (hole) deep++;
    const nh = heads[best];
    if (!nodes[i].peers.some((p) => head(p) === nh)) { nearest++; missing.push([i, best]); }
  }
  return { nodes: n, deep, nearest, missing };
}
