/**
 * Simulator level b as a test: 5,000 nodes running the real routing code in
 * virtual time. Asserts delivery and hop bounds, never timing.
 */
import test from 'tape';
import { runLevelB } from '../../bench/sim/level-b.js';

test('5,000 nodes in virtual time, lookahead on: random pairs are delivered in few hops, also after 20 % churn', async (t) => {
  const r = await runLevelB({ nodes: 5000, churn: 0.2, adversarial: 0, pairs: 1000, latencyMs: 20, settleMs: 90_000, seed: 3, limits: { neighbourAdvertMs: 15_000 } });
  for (const p of r.phases) {
    const d = p.delivery;
    t.ok(d.delivered >= d.sent * 0.999, `${p.name}: at least 99.9 % delivered (${d.delivered}/${d.sent})`);
    t.ok(d.hops.p50 <= 5, `${p.name}: median hops at most 5 (${d.hops.p50})`);
    // The lookahead (PROTOCOL §4.2): the graph's plain greedy walk takes a median of 4 hops here.
    t.ok(p.path!.p50 <= 3, `${p.name}: median path of the delivered copy at most 3 with the lookahead (${p.path!.p50})`);
    t.ok(p.links.max <= 256, `${p.name}: no node past maxLinks (${p.links.max})`);
    t.ok(p.holes.holes / p.holes.pairs < 0.001, `${p.name}: routing-table holes under 0.1 % (${p.holes.holes}/${p.holes.pairs})`);
    // Where random pairs rarely look: the last hops of every path run through a node's nearest nodes.
    const g = p.graph!;
    t.ok(g.nearestMissing <= g.nodes * 0.01, `${p.name}: at most 1 % of nodes not linked to their XOR-nearest node (${g.nearestMissing}/${g.nodes})`);
    t.ok(g.greedy >= g.pairs * 0.99, `${p.name}: greedy forwarding alone reaches 99 % of pairs on the link graph (${g.greedy}/${g.pairs})`);
  }
});

test('with 10 % of the nodes dropping what they should relay, at least 99 % of honest pairs are delivered (acks and retransmission, §4.5)', async (t) => {
  const r = await runLevelB({ nodes: 1000, churn: 0, adversarial: 0.1, pairs: 500, latencyMs: 20, settleMs: 60_000, seed: 4 });
  const p = r.phases[0];
  const d = p.delivery;
  t.equal(d.sent, 500, 'the round ran');
  t.ok(d.delivered >= d.sent * 0.99, `at least 99 % delivered through the droppers (${d.delivered}/${d.sent})`);
  t.equal(d.silent, 0, 'every message not delivered was reported');
  t.ok(Object.keys(d.reported).every((c) => c === 'ERR_NOT_ACKNOWLEDGED'), `reported as not acknowledged (${JSON.stringify(d.reported)})`);
  t.ok(p.wire!.retransmitted > 0, `retransmissions did the work (${p.wire!.retransmitted})`);
  t.ok(p.path!.p50 <= 5, `the delivered copies took short paths (median ${p.path!.p50})`);
});

test('droppers that also lie in their NEIGHBOURS lists attract first copies, and retransmission by the links\' own distance still delivers 99 %', async (t) => {
  const r = await runLevelB({ nodes: 1000, churn: 0, adversarial: 0.1, liars: true, pairs: 500, latencyMs: 20, settleMs: 60_000, seed: 4, limits: { neighbourAdvertMs: 15_000 } });
  const p = r.phases[0];
  const d = p.delivery;
  t.equal(d.sent, 500, 'the round ran');
  t.ok(d.delivered >= d.sent * 0.99, `at least 99 % delivered through the lying droppers (${d.delivered}/${d.sent})`);
  t.equal(d.silent, 0, 'every message not delivered was reported');
  t.ok(p.wire!.retransmitted > 0, `retransmissions did the work (${p.wire!.retransmitted})`);
});

test('without droppers nothing is retransmitted: the cost is one ACK per message', async (t) => {
  const r = await runLevelB({ nodes: 500, churn: 0, adversarial: 0, pairs: 300, latencyMs: 20, settleMs: 60_000, seed: 6 });
  const p = r.phases[0];
  t.equal(p.delivery.delivered, 300, 'all delivered');
  t.equal(p.wire!.retransmitted, 0, 'no retransmission');
  // Counted in messages, not hops: an ACK's way back may be a hop longer or shorter than the DATA's way out.
  t.ok(p.wire!.acksSent > 0 && p.wire!.acksSent <= p.delivery.delivered,
    `at most one ACK message per delivered message (${p.wire!.acksSent} for ${p.delivery.delivered}; ${p.wire!.ack} ACK and ${p.wire!.data} DATA transmissions)`);
});

test('nodes turned droppers after the mesh is built drop what they relay, and acks still deliver 99 % (--turn)', async (t) => {
  const r = await runLevelB({ nodes: 1000, churn: 0, adversarial: 0, turn: 0.1, pairs: 500, latencyMs: 20, settleMs: 60_000, seed: 5 });
  t.deepEqual(r.phases.map((p) => p.name), ['built', '10 % turned droppers'], 'one more round after the turn');
  const [built, turned] = r.phases;
  t.equal(built.wire!.retransmitted, 0, 'before the turn nothing is retransmitted');
  t.ok(turned.wire!.retransmitted > 0, `after it, retransmissions route around the droppers (${turned.wire!.retransmitted})`);
  const d = turned.delivery;
  t.ok(d.delivered >= d.sent * 0.99, `at least 99 % delivered (${d.delivered}/${d.sent})`);
  t.equal(d.silent, 0, 'every message not delivered was reported');
});
