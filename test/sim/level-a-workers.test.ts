/**
 * Simulator level a across worker threads, as a test: 2 workers × 50 real
 * PeerRelay nodes (real crypto), linked within and across the threads over
 * ThreadNetwork. Asserts delivery and hop bounds, never timing.
 */
import test from 'tape';
import { runLevelA } from '../../bench/sim/level-a.js';

test('100 nodes in 2 worker threads: links cross the threads, random pairs are delivered within the hop bounds, also after 20 % churn', async (t) => {
  const r = await runLevelA({ nodes: 100, workers: 2, churn: 0.2, pairs: 150, pairRate: 100, maxSettleMs: 60_000, churnSettleMs: 30_000, seed: 11 });
  t.equal(r.workers, 2, 'ran in 2 worker threads');
  for (const p of r.phases) {
    const d = p.delivery;
    t.ok(p.crossThreadLinks > 0.2, `${p.name}: links join nodes of both threads (${(p.crossThreadLinks * 100).toFixed(0)} % of link ends)`);
    t.ok(d.delivered >= d.sent * 0.99, `${p.name}: at least 99 % delivered (${d.delivered}/${d.sent}; reported ${JSON.stringify(d.reported)})`);
    t.equal(d.silent, 0, `${p.name}: every message not delivered was reported undeliverable`);
    // Hops are the delivered copy's path (DATA transmissions also count retransmitted copies: a timing figure).
    t.ok(d.path !== undefined && d.path.p50 <= 4 && d.path.p99 <= 8 && d.path.p50 <= d.hops.p50, `${p.name}: the delivered copies' paths counted across threads, median at most 4, p99 at most 8 (${d.path?.p50}, ${d.path?.p99})`);
    t.ok(p.links.min >= 1 && p.links.max <= 256, `${p.name}: every node has links, none past maxLinks (${p.links.min}..${p.links.max})`);
  }
  t.equal(r.phases.length, 3, 'built, after nodes left, after as many joined');
  t.equal(r.phases[0].nodes + r.phases[2].nodes - r.phases[1].nodes, 120, '20 left and 20 joined');
});
