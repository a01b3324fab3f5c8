/**
 * Liveness is judged by what arrived, not by the node's own lateness: a node
 * whose event loop is blocked for longer than linkTimeoutMs keeps its links.
 */
import test from 'tape';
import { FAST, nextMessage, sleep, startNode, urlOf, waitFor } from '../helpers/testnet.js';

function blockEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* an overloaded node: nothing else runs */ }
}

test('a node whose event loop is blocked past linkTimeoutMs keeps its links and relays on', async (t) => {
  const opts = { ...FAST, pingIntervalMs: 300, linkTimeoutMs: 1000 };
  const a = await startNode(t, { port: 0, ...opts });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...opts });
  const c = await startNode(t, { bootstrap: [urlOf(a)], ...opts });
  t.ok(await waitFor(() => b.peers.length > 0 && c.peers.length > 0), 'B and C link through A');
  let disconnects = 0;
  for (const n of [a, b, c]) n.on('disconnect', () => disconnects++);
  const before = a.stats().dropped;
  // Two and a half link timeouts with no timer and no I/O; then the timers fire late, all at once.
  blockEventLoop(2500);
  await sleep(1500);
  t.equal(disconnects, 0, 'no link is declared dead');
  t.equal(b.peers.length + c.peers.length, 2, 'B and C still hold their links to A');
  t.equal(a.peers.length, 2, 'A still holds both');
  const got = nextMessage(c, (d) => d === 'after the stall');
  b.send(c.id, 'after the stall');
  t.equal((await got).data, 'after the stall', 'B -> A -> C still works');
  t.deepEqual(a.stats().dropped, before, 'nothing was dropped meanwhile');
});
