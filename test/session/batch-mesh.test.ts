/**
 * Batch records end to end over real WebSocket links on loopback: B -> A -> C
 * with A relaying, and the channel reserved for records refused to applications.
 */
import test from 'tape';
import { startNode, urlOf, waitFor } from '../helpers/testnet.js';
import type { PeerRelay } from '../../src/index.js';

async function trio(t: test.Test): Promise<{ a: PeerRelay; b: PeerRelay; c: PeerRelay }> {
  const a = await startNode(t, { port: 0 });
  const b = await startNode(t, { bootstrap: [urlOf(a)] });
  const c = await startNode(t, { bootstrap: [urlOf(a)] });
  if (!(await waitFor(() => b.peers.length === 1 && c.peers.length === 1))) throw new Error('B and C did not link to A');
  return { a, b, c };
}

test('messages sent in one turn cross a relay as fewer DATA frames and arrive each, in order', async (t) => {
  const { a, b, c } = await trio(t);
  const got: number[] = [];
  c.on('message', (d) => { got.push((d as Buffer).readUInt32BE(0)); });
  b.send(c.id, Buffer.alloc(4)); // the session first
  t.ok(await waitFor(() => got.length === 1), 'the first message arrives');
  const relayedBefore = a.stats().relayed;
  const N = 40;
  for (let i = 1; i <= N; i++) { const m = Buffer.alloc(1024); m.writeUInt32BE(i, 0); b.send(c.id, m); }
  t.ok(await waitFor(() => got.length === N + 1), `all ${N} arrive`);
  t.deepEqual(got.slice(1), Array.from({ length: N }, (_, i) => i + 1), 'in order, each once');
  const frames = a.stats().relayed - relayedBefore;
  t.ok(frames < N / 4, `A relayed ${frames} DATA frames for ${N} messages (16 KiB records)`);
  t.equal(c.stats().delivered, N + 1, 'C counts each message delivered');
  const d = c.stats().dropped;
  t.deepEqual([d.malformed, d.replay, d.decrypt_failed], [undefined, undefined, undefined], 'C dropped no record (malformed, replay, decrypt_failed)');
  t.end();
});

test('channel 255 (batch records) is refused to applications', async (t) => {
  const { b, c } = await trio(t);
  t.throws(() => b.registerChannel(255, () => {}), /0\.\.254/, 'registerChannel(255) throws');
  t.throws(() => b.sendOnChannel(c.id, 255, new Uint8Array(1)), /0\.\.254/, 'sendOnChannel(…, 255) throws');
  t.end();
});
