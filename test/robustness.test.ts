import test from 'tape';
import { PeerRelay, MemoryNetwork } from '../src/index.js';
import { FAST, allPairsReach, nextMessage, settle, sleep, startMesh, startNode, urlOf, waitFor } from './helpers/testnet.js';
import { randomBytes } from '../src/util/bytes.js';

test('the rest of the mesh still reaches each other after a third of the nodes is destroyed', async (t) => {
  const nodes = await startMesh(t, 15);
  await settle(nodes);
  t.deepEqual(await allPairsReach(nodes, 30_000), [], 'all pairs reach each other before churn');
  const doomed = nodes.filter((_, i) => i % 3 === 1);
  const alive = nodes.filter((_, i) => i % 3 !== 1);
  await Promise.all(doomed.map((n) => new Promise<void>((r) => n.destroy(() => r()))));
  t.ok(await waitFor(() => alive.every((n) => n.peers.every((p) => !doomed.some((d) => Buffer.from(d.id).equals(Buffer.from(p))))), 15_000),
    'every survivor drops its links to destroyed nodes');
  t.ok(await waitFor(() => alive.every((n) => n.peers.length > 0), 15_000), 'every survivor still has a link');
  await settle(alive);
  t.deepEqual(await allPairsReach(alive, 30_000), [], 'all survivors reach each other after repair');
});

test('a message crosses a relay chain of 8 nodes', async (t) => {
  // Each node knows only the previous one; the ends keep one link and the middle ones two,
  // so every earlier node is full when the next arrives and the chain stays a chain.
  const nodes: PeerRelay[] = [];
  for (let i = 0; i < 8; i++) {
    nodes.push(await startNode(t, { port: 0, bootstrap: i ? [urlOf(nodes[i - 1])] : [], ...FAST, maxLinks: i === 0 || i === 7 ? 1 : 2, targetLinks: 1 }));
    if (i) t.ok(await waitFor(() => nodes[i].peers.length === 1), `node ${i} linked to node ${i - 1}`);
  }
  const got = nextMessage(nodes[7]);
  nodes[0].send(nodes[7].id, 'end to end');
  const { data, from } = await got;
  t.equal(data, 'end to end', 'the last node receives it');
  t.ok(Buffer.from(from).equals(Buffer.from(nodes[0].id)), 'from the first');
  t.ok(nodes.slice(1, 7).every((n) => n.stats().relayed > 0), 'every middle node relayed');
});

test('a link that stops answering is detected, removed and reported', async (t) => {
  const net = new MemoryNetwork();
  const a = new PeerRelay({ memory: net, ...FAST });
  const b = new PeerRelay({ memory: net, bootstrap: [`mem://${a.identity.idHex}`], ...FAST });
  t.teardown(() => new Promise<void>((r) => { a.destroy(); b.destroy(() => r()); }));
  // In-memory connections hold no handle on the event loop; keep the process up while waiting.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  t.ok(await waitFor(() => a.peers.length === 1 && b.peers.length === 1), 'linked');
  const gone = new Promise<{ code?: string }>((r) => a.once('disconnect', (_id, err) => r(err ?? {})));
  net.intercept = (f, from) => (from === `mem://${b.identity.idHex}` ? null : f); // B goes silent
  const err = await gone;
  t.equal(err.code, 'ERR_LINK_DEAD', 'A reports the dead link');
  t.equal(a.peers.length, 0, 'and removes it from the table');
  net.intercept = null;
  t.ok(await waitFor(() => a.peers.length === 1 && b.peers.length === 1, 15_000), 'the link is formed again once B answers');
});

test('simultaneous connects from both sides keep exactly one link', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { port: 0, ...FAST });
  let peerA = 0, peerB = 0, disc = 0;
  a.on('peer', () => peerA++); b.on('peer', () => peerB++);
  a.on('disconnect', () => disc++); b.on('disconnect', () => disc++);
  await Promise.allSettled([a.links.dial(urlOf(b)), b.links.dial(urlOf(a)), a.links.dial(urlOf(b))]);
  await sleep(300);
  t.equal(a.peers.length, 1, 'A has one link to B');
  t.equal(b.peers.length, 1, 'B has one link to A');
  t.equal(a.linkInfo()[0].initiator, !b.linkInfo()[0].initiator, 'both ends keep the same connection');
  t.equal(peerA, 1, "'peer' fired once on A");
  t.equal(peerB, 1, "'peer' fired once on B");
  t.equal(disc, 0, 'no disconnect was reported for the dropped duplicate');
  const got = nextMessage(b);
  a.send(b.id, 'over the kept link');
  t.equal((await got).data, 'over the kept link', 'the kept link carries traffic');
});

test('a message to an unknown node is reported undeliverable, not lost silently', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST, sessionTimeoutMs: 1500 });
  t.ok(await waitFor(() => b.peers.length === 1), 'linked');
  const nobody = randomBytes(20);
  const failed = new Promise<[{ code: string }, Uint8Array]>((r) => b.once('undeliverable', (err, to) => r([err, to])));
  b.send(nobody, 'hello?');
  const [err, to] = await failed;
  t.ok(['ERR_NO_ROUTE', 'ERR_HANDSHAKE_TIMEOUT'].includes(err.code), `reported with a stable code (${err.code})`);
  t.ok(Buffer.from(to).equals(Buffer.from(nobody)), 'for the right destination');
  t.ok(b.stats().undeliverable >= 1, 'and counted');
});

test('a message over the hop limit is reported with ERR_HOP_LIMIT', async (t) => {
  const nodes: PeerRelay[] = [];
  for (let i = 0; i < 5; i++) {
    nodes.push(await startNode(t, { port: 0, bootstrap: i ? [urlOf(nodes[i - 1])] : [], ...FAST, maxLinks: i === 0 || i === 4 ? 1 : 2, targetLinks: 1, ttl: 2 }));
    if (i) await waitFor(() => nodes[i].peers.length === 1 && nodes[i - 1].peers.length === (i - 1 === 0 ? 1 : 2));
  }
  t.ok(nodes.every((n, i) => n.peers.length === (i === 0 || i === 4 ? 1 : 2)), 'the nodes form a chain of 5');
  const failed = new Promise<{ code: string; message: string }>((r) => nodes[0].once('undeliverable', (err) => r(err)));
  nodes[0].send(nodes[4].id, 'too far');
  const err = await failed;
  t.equal(err.code, 'ERR_HOP_LIMIT', `the origin learns the hop limit was hit (${err.message})`);
  t.ok(nodes.some((n) => (n.stats().dropped.hop_limit ?? 0) > 0), 'a relay counted it');
});

test('messages sent before the first link are queued and sent when it opens', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = new PeerRelay({ ...FAST });
  t.teardown(() => new Promise<void>((r) => b.destroy(() => r())));
  const got: unknown[] = [];
  a.on('message', (d) => got.push(d));
  for (let i = 0; i < 5; i++) b.send(a.id, { i });
  t.equal(b.stats().queued, 5, 'five messages wait');
  await sleep(200);
  t.equal(got.length, 0, 'nothing arrives without a link');
  b.links.dial(urlOf(a)).catch(() => {});
  t.ok(await waitFor(() => got.length === 5), 'all five arrive once linked');
  t.deepEqual(got, [0, 1, 2, 3, 4].map((i) => ({ i })), 'in order');
});

test('the per-destination queue is bounded and reports ERR_QUEUE_FULL', async (t) => {
  const b = await startNode(t, { maxQueuePerPeer: 3 });
  const to = randomBytes(20);
  for (let i = 0; i < 3; i++) b.send(to, i);
  try {
    b.send(to, 4);
    t.fail('the fourth send should throw');
  } catch (err) {
    t.equal((err as { code: string }).code, 'ERR_QUEUE_FULL', 'the fourth is refused');
  }
});

test('a hub with 60 leaves uses every link it keeps open', async (t) => {
  const net = new MemoryNetwork();
  const hub = new PeerRelay({ memory: net, ...FAST });
  t.teardown(() => new Promise<void>((r) => hub.destroy(() => r())));
  const leaves = Array.from({ length: 60 }, () => new PeerRelay({ memory: net, bootstrap: [`mem://${hub.identity.idHex}`], ...FAST, maxLinks: 1 }));
  t.teardown(() => Promise.all(leaves.map((l) => new Promise<void>((r) => l.destroy(() => r())))));
  t.ok(await waitFor(() => hub.peers.length === 60, 20_000), 'the hub links all 60 leaves');
  const got = new Set<string>();
  leaves.forEach((l, i) => l.on('message', (d) => { if (d === 'hub') got.add(String(i)); }));
  for (const l of leaves) hub.send(l.id, 'hub');
  t.ok(await waitFor(() => got.size === 60, 30_000), `every leaf receives from the hub (${got.size}/60)`);
});

test('a node that loses all its links bootstraps again', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST });
  t.ok(await waitFor(() => b.peers.length === 1), 'linked');
  b.disconnect(a.id);
  t.ok(await waitFor(() => b.peers.length === 0, 2000), 'the link is gone');
  t.ok(await waitFor(() => b.peers.length === 1, 10_000), 'B links to its bootstrap node again');
});

test('misuse throws at once with errors that name the parameter', (t) => {
  t.throws(() => new PeerRelay({ port: 70000 }), /port/, 'a bad port');
  t.throws(() => new PeerRelay({ bootstrap: 'ws://x' as never }), /bootstrap/, 'a bootstrap that is not an array');
  const a = new PeerRelay({});
  t.throws(() => a.send(Buffer.alloc(3), 'x'), /id must be a 20-byte Buffer/, 'a short id');
  t.throws(() => a.send(Buffer.alloc(20), undefined), /JSON-serializable/, 'undefined data');
  t.throws(() => a.destroy('nope' as never), /cb must be a function/, 'a non-function callback');
  a.destroy();
  a.destroy();
  t.throws(() => a.send(Buffer.alloc(20), 'x'), /destroy/, 'send after destroy');
  t.end();
});

test('destroy without a callback on a node with no port, twice, closes cleanly', async (t) => {
  const a = new PeerRelay({});
  const closed = new Promise<void>((r) => a.once('close', () => r()));
  a.destroy();
  a.destroy();
  await closed;
  t.pass("'close' fires");
  await new Promise<void>((r) => a.destroy(() => r()));
  t.pass('a callback given after close still runs');
});

test("'listening' fires and address() is like net.Server's", async (t) => {
  const a = new PeerRelay({ port: 0, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((r) => a.destroy(() => r())));
  t.equal(a.address(), null, 'null before listening');
  await new Promise<void>((r) => a.once('listening', () => r()));
  const addr = a.address()!;
  t.equal(addr.address, '127.0.0.1');
  t.equal(addr.family, 'IPv4');
  t.ok(addr.port > 0, 'a real port');
  t.equal(a.url, `ws://127.0.0.1:${addr.port}`, 'the advertised url');
});

test("a port in use is reported on 'error' with ERR_LISTEN_FAILED", async (t) => {
  const a = await startNode(t, { port: 0 });
  const b = new PeerRelay({ port: a.address()!.port, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((r) => b.destroy(() => r())));
  const err = await new Promise<{ code: string }>((r) => b.once('error', (e) => r(e as never)));
  t.equal(err.code, 'ERR_LISTEN_FAILED');
});
