/**
 * NEIGHBOURS lists ride on the keepalive (PROTOCOL.md §4.2): an idle link
 * carries them on its PING and PONG, no frame of their own; a busy link,
 * which sends no PINGs, sends them alone a ping interval later.
 */
import test, { type Test } from 'tape';
import { FAST, sleep, startNode, waitFor } from '../helpers/testnet.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { FrameType } from '../../src/wire/frames.js';
import { toHex } from '../../src/util/bytes.js';

async function pair(t: Test) {
  const net = new MemoryNetwork();
  const seen = { neighbours: 0, pingTails: 0, pongTails: 0 };
  net.intercept = (frame) => {
    if (frame[0] === FrameType.NEIGHBOURS) seen.neighbours++;
    if (frame[0] === FrameType.PING && frame.length > 9) seen.pingTails++;
    if (frame[0] === FrameType.PONG && frame.length > 9) seen.pongTails++;
    return frame;
  };
  // Discovery's refresh would keep the link busy (any frame counts as life): off here.
  const opts = { ...FAST, memory: net, pingIntervalMs: 400, linkTimeoutMs: 2000, refreshIntervalMs: 600_000, neighbourAdvertMs: 100 };
  const a = await startNode(t, opts);
  const b = await startNode(t, { ...opts, bootstrap: [`mem://${a.identity.idHex}`] });
  t.ok(await waitFor(() => a.peers.length === 1 && b.peers.length === 1), 'B links to A');
  return { a, b, seen };
}

const held = (n: Awaited<ReturnType<typeof startNode>>, other: Awaited<ReturnType<typeof startNode>>) =>
  n.linkInfo().find((l) => l.id === toHex(other.id))?.neighbours ?? null;

test('an idle link carries both NEIGHBOURS lists on its PING and PONG, with no frame of their own', async (t) => {
  const { a, b, seen } = await pair(t);
  t.ok(await waitFor(() => held(a, b) !== null && held(b, a) !== null, 5000), 'each end holds the other\'s list');
  t.ok(seen.pingTails >= 1, `B's list rode on a PING (${seen.pingTails})`);
  t.ok(seen.pongTails >= 1, `A's list rode on a PONG (${seen.pongTails})`);
  t.equal(seen.neighbours, 0, 'no NEIGHBOURS frame was sent alone');
  t.equal(a.stats().dropped.malformed ?? 0, 0, 'nothing malformed');
});

test('a busy link (no PINGs) sends the list alone a ping interval later', async (t) => {
  const { a, b, seen } = await pair(t);
  // A message every 50 ms from A keeps B hearing from A, and B's answers keep A hearing from B: no end pings.
  let stop = false;
  b.on('message', () => { if (!stop) b.send(a.id, 'pong'); });
  const pump = setInterval(() => a.send(b.id, 'ping'), 50);
  t.teardown(() => { stop = true; clearInterval(pump); });
  await sleep(100);
  const pingsBefore = seen.pingTails;
  t.ok(await waitFor(() => held(a, b) !== null && held(b, a) !== null, 5000), 'each end holds the other\'s list');
  t.ok(seen.neighbours >= 1 || seen.pingTails > pingsBefore, `sent alone (${seen.neighbours}) unless a PING went out anyway`);
  stop = true;
  clearInterval(pump);
});
