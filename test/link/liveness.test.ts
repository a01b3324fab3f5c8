/**
 * Liveness is judged by what arrived, not by the node's own lateness: a node
 * whose event loop is blocked for longer than linkTimeoutMs keeps its links.
 */
import test, { type Test } from 'tape';
import { FAST, nextMessage, sleep, startNode, urlOf, waitFor } from '../helpers/testnet.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { FrameType } from '../../src/wire/frames.js';

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

/** Two in-memory nodes, B dialing A, with PINGs counted by sender (and B's dropped when `muteDialer`). */
async function pair(t: Test, muteDialer: boolean) {
  const net = new MemoryNetwork();
  // Discovery's refresh would keep the link busy (any frame counts as life): off for these tests.
  const opts = { ...FAST, memory: net, pingIntervalMs: 400, linkTimeoutMs: 2000, refreshIntervalMs: 600_000 };
  const a = await startNode(t, opts);
  const b = await startNode(t, { ...opts, bootstrap: [`mem://${a.identity.idHex}`] });
  t.ok(await waitFor(() => a.peers.length === 1 && b.peers.length === 1), 'B links to A');
  const pings = { a: 0, b: 0 };
  let disconnects = 0;
  for (const n of [a, b]) n.on('disconnect', () => disconnects++);
  net.intercept = (frame, from) => {
    if (frame[0] !== FrameType.PING) return frame;
    const sender = from === `mem://${a.identity.idHex}` ? 'a' : 'b';
    pings[sender]++;
    return sender === 'b' && muteDialer ? null : frame;
  };
  await sleep(3000);
  return { a, b, pings, disconnects: () => disconnects };
}

test('an idle link carries one keepalive: the end that dialed pings, the other only answers', async (t) => {
  const { a, b, pings, disconnects } = await pair(t, false);
  t.ok(pings.b >= 3, `the dialer pinged every interval (${pings.b} in 3 s at 400 ms)`);
  t.equal(pings.a, 0, 'the end that was dialed sent no PING: the dialer\'s PINGs tell it the link lives');
  t.equal(disconnects(), 0, 'no link was declared dead');
  t.equal(a.peers.length + b.peers.length, 2, 'both ends hold the link');
});

test('the end that was dialed pings when the dialer\'s PINGs stop arriving, and keeps a live link', async (t) => {
  const { a, b, pings, disconnects } = await pair(t, true);
  t.ok(pings.a >= 1, `A pinged once it heard nothing for 1.5 intervals (${pings.a} PINGs)`);
  t.equal(disconnects(), 0, 'the PONGs to A\'s PINGs keep the link alive at both ends');
  t.equal(a.peers.length + b.peers.length, 2, 'both ends hold the link');
});
