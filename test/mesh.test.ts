import test from 'tape';
import { startMesh, startMemoryMesh, allPairsReach, settle, waitFor, startNode, urlOf, nextMessage, FAST } from './helpers/testnet.js';

test('relays a message through one hop (B -> A -> C)', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST, targetLinks: 1 });
  const c = await startNode(t, { bootstrap: [urlOf(a)], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => b.peers.length > 0 && c.peers.length > 0), 'B and C link to A');
  const got = nextMessage(c);
  b.send(c.id, { hello: 'world', n: [1, 2, 3] });
  const { data, from } = await got;
  t.deepEqual(data, { hello: 'world', n: [1, 2, 3] }, 'C receives the JSON value');
  t.ok(Buffer.from(from).equals(Buffer.from(b.id)), 'from is B');
  t.ok(a.stats().relayed > 0, 'A relayed it');
});

test('bytes arrive as bytes', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST });
  t.ok(await waitFor(() => b.peers.length > 0), 'linked');
  const got = nextMessage(a);
  b.send(a.id, Buffer.from([0, 1, 2, 255]));
  const { data } = await got;
  t.ok(Buffer.isBuffer(data), 'a Buffer');
  t.deepEqual([...(data as Buffer)], [0, 1, 2, 255], 'same bytes');
});

test('the sender id given with each message is a Buffer of its own: changing one changes no other', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST });
  t.ok(await waitFor(() => b.peers.length > 0), 'linked');
  const froms: Buffer[] = [];
  a.on('message', (_d, from) => froms.push(from as Buffer));
  for (let i = 0; i < 3; i++) b.send(a.id, Buffer.from([i]));
  t.ok(await waitFor(() => froms.length === 3), 'three messages arrive');
  t.ok(froms.every((f) => Buffer.isBuffer(f) && f.equals(Buffer.from(b.id))), 'each from is a Buffer holding B\'s id');
  froms[0].fill(0);
  t.ok(froms[1].equals(Buffer.from(b.id)) && froms[2].equals(Buffer.from(b.id)), 'zeroing the first leaves the others as they were');
  b.send(a.id, Buffer.from([9]));
  t.ok(await waitFor(() => froms.length === 4), 'a fourth arrives');
  t.ok(froms[3].equals(Buffer.from(b.id)), 'and still names B');
});

test('every node of a 20-node WebSocket mesh reaches every other', async (t) => {
  const nodes = await startMesh(t, 20);
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length > 0), 15_000), 'every node has a link');
  await settle(nodes);
  const missing = await allPairsReach(nodes, 30_000);
  t.deepEqual(missing, [], 'all 380 ordered pairs delivered');
});

test('every node of a 30-node in-memory mesh reaches every other', async (t) => {
  const { nodes } = startMemoryMesh(t, 30);
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length > 0), 15_000), 'every node has a link');
  await settle(nodes);
  const missing = await allPairsReach(nodes, 30_000);
  t.deepEqual(missing, [], 'all 870 ordered pairs delivered');
});
