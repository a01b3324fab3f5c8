/**
 * The simulator's ground-truth measures on small graphs whose answers are known
 * by hand: routing-table holes, holes near each node, and the router's
 * forwarding replayed on the link graph alone.
 */
import test from 'tape';
import { deepHoles, holes, walks, type NodeView } from '../../bench/sim/measure.js';

/** A 20-byte id whose first byte is `first`. */
const id = (first: number) => { const b = new Uint8Array(20); b[0] = first; return b; };

/** Nodes with these first bytes, linked as `edges` (both ends). */
function graph(firsts: number[], edges: [number, number][]): NodeView[] {
  const nodes = firsts.map((f) => ({ id: id(f), peers: [] as Uint8Array[] }));
  for (const [a, b] of edges) { nodes[a].peers.push(nodes[b].id); nodes[b].peers.push(nodes[a].id); }
  return nodes;
}

// 0x00 and 0x01 are each other's XOR-nearest (prefix 7); 0x80 and 0xc0 are far from both.
const FIRSTS = [0x00, 0x01, 0x80, 0xc0];

test('a node linked to everything has no hole; one not linked to its XOR-nearest has a near hole', (t) => {
  const full = graph(FIRSTS, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
  t.deepEqual(holes(full), { holes: 0, pairs: 12 }, 'every pair has a link in its bucket');
  const d = deepHoles(full);
  t.equal(d.nearest, 0, 'every node links to its XOR-nearest');
  t.equal(d.deep, 0, 'and into its deepest non-empty buckets');
  // Drop the 0x00-0x01 link: both now miss their nearest (bucket 7 of each other holds only the other).
  const cut = graph(FIRSTS, [[0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
  const c = deepHoles(cut);
  t.equal(c.nearest, 2, '0x00 and 0x01 each miss their XOR-nearest');
  t.deepEqual(c.missing.map(([i, j]) => [i, j]).sort(), [[0, 1], [1, 0]], 'named as (node, its nearest)');
  t.equal(c.deep, 2, 'which is a hole in their deepest bucket');
  t.equal(holes(cut).holes, 2, 'the random-pair measure sees those two pairs among 12');
  t.end();
});

test('walks: greedy reaches a linked target; a near hole needs the depth-first walk around it', (t) => {
  // 0x00 - 0x80 - 0x01: greedy from 0x00 toward 0x01 has no link closer than itself (0x80 is farther).
  const line = graph([0x00, 0x80, 0x01], [[0, 1], [1, 2]]);
  const w = walks(line, [[0, 2]]);
  t.equal(w.greedy, 0, 'greedy is stuck at 0x00: its only link is farther from 0x01 than itself');
  t.equal(w.stuckDepth.p50, 7, 'stuck at the node sharing 7 bits with the target');
  t.equal(w.walked, 1, 'the router\'s walk takes the next-best link and gets there');
  t.equal(w.hops.p50, 2, 'in two transmissions');
  const direct = walks(graph([0x00, 0x80, 0x01], [[0, 1], [1, 2], [0, 2]]), [[0, 2], [1, 0]]);
  t.equal(direct.greedy, 2, 'with the link, greedy delivers both');
  t.equal(direct.hops.max, 1, 'in one transmission each');
  t.end();
});

test('walks: the TTL bounds the walk; a disconnected target is never reached', (t) => {
  const apart = graph([0x00, 0x80, 0x01], [[0, 1]]);
  const w = walks(apart, [[0, 2]]);
  t.equal(w.walked, 0, 'no path, no delivery');
  // A chain of 6 transmissions with a TTL allowing only 3.
  const chain = graph([0x00, 0x40, 0x20, 0x10, 0x08, 0x04, 0x01], [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]);
  t.equal(walks(chain, [[0, 6]], 2).walked, 0, 'past the TTL the walk gives up');
  t.equal(walks(chain, [[0, 6]], 32).walked, 1, 'within it, it arrives');
  t.end();
});
