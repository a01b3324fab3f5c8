/**
 * Simulator level c as a test: 3 processes × 20 real PeerRelay nodes on real
 * WebSockets over 127.0.0.1. Asserts delivery and hop bounds, never timing.
 */
import test from 'tape';
import { runLevelC } from '../../bench/sim/level-c.js';

test('60 nodes in 3 processes on WebSockets: random pairs are delivered across processes within the hop bounds, also after 20 % churn', async (t) => {
  const r = await runLevelC({ nodes: 60, procs: 3, churn: 0.2, pairs: 100, pairRate: 100, maxSettleMs: 60_000, churnSettleMs: 30_000, seed: 5 });
  t.equal(r.phases.length, 3, 'built, after nodes left, after as many joined');
  for (const p of r.phases) {
    const d = p.delivery;
    t.ok(d.delivered >= d.sent * 0.99, `${p.name}: at least 99 % delivered (${d.delivered}/${d.sent})`);
    t.equal(d.silent, 0, `${p.name}: every message not delivered was reported undeliverable`);
    t.ok(d.hops.p50 >= 1 && d.hops.p50 <= 4, `${p.name}: median hops counted on the wire, at most 4 (${d.hops.p50})`);
    t.ok(d.hops.p99 <= 8, `${p.name}: p99 hops at most 8 (${d.hops.p99})`);
    t.ok(p.links.min >= 1 && p.links.max <= 256, `${p.name}: every node has links, none past maxLinks (${p.links.min}..${p.links.max})`);
    t.ok(p.crossProcessLinks > 0.3, `${p.name}: the mesh spans the processes (${(p.crossProcessLinks * 100).toFixed(0)} % of links between two)`);
  }
  t.equal(r.phases[1].nodes, 48, '12 of 60 nodes destroyed');
  t.equal(r.phases[2].nodes, 60, 'as many joined again');
});
