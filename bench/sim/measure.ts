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
