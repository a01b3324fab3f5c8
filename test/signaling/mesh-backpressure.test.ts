import test from 'tape';
import { startMesh, waitFor } from '../helpers/testnet.js';
import { startClient } from '../helpers/messaging.js';

// A client flooding a client of another node used to overrun the node's link queue toward that home
// (64 KiB CREDIT window, maxFlowBuffer 4 MiB): of 300 16 KiB messages 206 arrived, 34 mesh batches were
// dropped 'congested' and only one LIMIT_REACHED per batch was sent, so ~60 messages were never reported.
// Now the home-bound batch that finds the node past sendHighWaterMark pauses reading the senders'
// connections until the node's 'drain'.
test('600 messages of 16 KiB from a client on one node to a client on another all arrive, none refused for congestion', async (t) => {
  const [x, y] = await startMesh(t, 2, { signaling: { ratePerSecond: 1e6, rateBurst: 1e6 } });
  t.ok(await waitFor(() => x.peers.length > 0 && y.peers.length > 0, 15_000), 'the 2 nodes are linked');
  const alice = await startClient(t, x, 'alice', { maxQueued: 10_000 });
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(() => x.signaling!.discover().includes('bob')), 'X knows bob');
  let got = 0;
  let intact = 0;
  bob.onMessage((m) => { got++; if (m.length === 16 * 1024) intact++; });
  const errors: string[] = [];
  alice.onError((e) => errors.push(e.code ?? e.type));
  const n = 600;
  const body = 'z'.repeat(16 * 1024);
  let rejected = 0;
  for (let i = 0; i < n; i++) {
    // At most 256 unanswered, as bench/signaling.ts does.
    if (i - got - rejected >= 256) await waitFor(() => i - got - rejected < 256, 30_000, 1);
    alice.sendMessage('bob', body).catch(() => { rejected++; });
  }
  t.ok(await waitFor(() => got + rejected >= n, 60_000), `every message arrived or was refused (${got} arrived, ${rejected} refused)`);
  t.equal(got, n, 'all 600 arrived');
  t.equal(intact, n, 'each one whole');
  t.equal(rejected, 0, 'none refused');
  t.deepEqual(errors, [], 'alice heard no error');
  t.equal(x.signaling!.stats().dropped.send_failed ?? 0, 0, 'X sent every mesh batch (send_failed 0)');
  t.equal(x.stats().dropped.congested ?? 0, 0, 'X dropped nothing for congestion');
});
