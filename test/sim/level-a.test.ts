/**
 * Simulator level a as a test: 200 real PeerRelay nodes (real crypto) on the
 * in-memory transport. Asserts delivery and hop bounds, never timing.
 */
import test from 'tape';
import { runLevelA } from '../../bench/sim/level-a.js';

test('200 nodes with real crypto: random pairs are delivered within the hop bounds, also after 20 % churn', async (t) => {
  const r = await runLevelA({ nodes: 200, churn: 0.2, pairs: 200, pairRate: 100, maxSettleMs: 60_000, churnSettleMs: 30_000, seed: 7 });
  for (const p of r.phases) {
    const d = p.delivery;
    t.ok(d.delivered >= d.sent * 0.99, `${p.name}: at least 99 % delivered (${d.delivered}/${d.sent}; reported ${JSON.stringify(d.reported)})`);
    t.equal(d.silent, 0, `${p.name}: every message not delivered was reported undeliverable`);
    // Hops are the delivered copy's path: DATA transmissions also count retransmitted copies, whose number
    // depends on how late a loaded machine runs the retransmission timers (a timing figure).
    t.ok(d.path !== undefined && d.path.p50 <= 4, `${p.name}: the delivered copies' paths, median at most 4 hops (${d.path?.p50})`);
    t.ok(d.path !== undefined && d.path.p99 <= 8, `${p.name}: the delivered copies' paths, p99 at most 8 (${d.path?.p99})`);
    t.ok(d.path !== undefined && d.path.max <= d.hops.max && d.path.p50 <= d.hops.p50, `${p.name}: a path is never longer than the DATA transmissions counted for its message`);
    t.ok(p.links.max <= 256 && p.links.min >= 1, `${p.name}: every node has links, none past maxLinks (${p.links.min}..${p.links.max})`);
  }
  t.equal(r.phases.length, 3, 'built, after nodes left, after as many joined');
});
