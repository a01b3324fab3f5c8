/**
 * The routing lookahead (PROTOCOL.md §4.2) on real nodes over WebSocket on
 * loopback: S is linked to A and B, both closer to T than S; A is XOR-closer
 * to T, but only B is linked to T. With NEIGHBOURS, S sends straight to B (two hops); without,
 * greedy routing goes to A first.
 */
import test, { type Test } from 'tape';
import { startNode, urlOf, waitFor, nextMessage, FAST } from '../helpers/testnet.js';
import { Identity } from '../../src/crypto/identity.js';
import { compareDistance } from '../../src/routing/routing-table.js';
import { equalBytes, toHex } from '../../src/util/bytes.js';
import type { PeerRelay } from '../../src/index.js';

async function topology(t: Test, neighbourAdvertMs: number) {
  const tId = Identity.generate();
  // A closest to T, then B, then S: both of S's links make progress toward T (only such links are
  // scored by their neighbours).
  const [aId, bId, sId] = [Identity.generate(), Identity.generate(), Identity.generate()].sort((x, y) => compareDistance(tId.id, x.id, y.id));
  const opts = { ...FAST, neighbourAdvertMs };
  const a = await startNode(t, { port: 0, identity: aId, ...opts });
  const b = await startNode(t, { port: 0, identity: bId, ...opts });
  // T keeps one link (to B) and has no port: nobody else can link to it.
  const target = await startNode(t, { identity: tId, bootstrap: [urlOf(b)], maxLinks: 1, ...opts });
  t.ok(await waitFor(() => b.peers.some((p) => equalBytes(p, target.id))), 'T linked to B');
  const s = await startNode(t, { identity: sId, bootstrap: [urlOf(a), urlOf(b)], ...opts });
  t.ok(await waitFor(() => s.peers.length === 2), 'S linked to A and B');
  t.equal(target.peers.length, 1, 'T has only B');
  return { a, b, s, target };
}

const through = (n: PeerRelay) => n.stats().relayed + n.stats().detours.backtrack;

test('lookahead: a message goes through the link that advertised the target, not the link closer by itself', async (t) => {
  const { a, b, s, target } = await topology(t, 200);
  // B's first round to S (about 1 s after S linked) lists T: T linked to B before S did.
  const bRow = () => s.linkInfo().find((l) => l.id === toHex(b.id));
  t.ok(await waitFor(() => (bRow()?.neighbours ?? 0) >= 1), `S holds B's neighbours (${bRow()?.neighbours})`);
  const got = nextMessage(target, (d) => d === 'ahead');
  s.send(target.id, 'ahead');
  t.equal((await got).data, 'ahead', 'delivered');
  t.equal(through(a), 0, 'A carried nothing: neither relayed nor handed back');
  t.ok(b.stats().relayed >= 1, `B relayed the session set-up and the message (${b.stats().relayed})`);
});

test('without lookahead (neighbourAdvertMs 0) the same message goes to A, the link closer by itself, first', async (t) => {
  const { a, s, target } = await topology(t, 0);
  const got = nextMessage(target, (d) => d === 'greedy');
  s.send(target.id, 'greedy');
  t.equal((await got).data, 'greedy', 'delivered');
  t.ok(through(a) >= 1, `A was on the way (relayed or handed back: ${through(a)})`);
  t.equal(s.stats().neighbours?.sent, 0, 'no NEIGHBOURS sent');
  t.ok(s.linkInfo().every((l) => l.neighbours === null), 'none held');
});
