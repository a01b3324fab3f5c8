import test from 'tape';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../../bootstrap/identity-file.js';
import { startBootstrapNode, type BootstrapNode, type BootstrapNodeOptions } from '../../bootstrap/run-node.js';
import { createLogger } from '../../bootstrap/logger.js';
import { renderPrometheus, type NodeSnapshot } from '../../bootstrap/metrics.js';
import { FAST, nextMessage, startNode, waitFor } from '../helpers/testnet.js';
import type { Test } from 'tape';
import { WebSocket } from 'ws';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'relaymesh-bootstrap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startBn(t: Test, opts: BootstrapNodeOptions = {}): Promise<BootstrapNode> {
  const bn = await startBootstrapNode({ port: 0, dataDir: tempDir(t), logger: createLogger('silent'), limits: { ...FAST } as never, ...opts });
  t.teardown(() => bn.close());
  return bn;
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test('makes an identity file on first start and reuses it afterwards', (t) => {
  const dir = tempDir(t);
  const first = loadOrCreateIdentity(join(dir, 'data'));
  t.ok(first.created, 'the first call creates the identity');
  t.equal(statSync(first.path).mode & 0o777, 0o600, 'the key file is readable by its owner only');
  const second = loadOrCreateIdentity(join(dir, 'data'));
  t.notOk(second.created, 'the second call reads it');
  t.equal(second.identity.idHex, first.identity.idHex, 'the id is the same');
  t.end();
});

test('refuses to replace an identity file it cannot read', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'identity.json'), '{"not":"an identity"}');
  t.throws(() => loadOrCreateIdentity(dir), /not a relaymesh identity/, 'throws naming the file');
  t.equal(readFileSync(join(dir, 'identity.json'), 'utf8'), '{"not":"an identity"}', 'the file is left as it was');
  t.throws(() => loadOrCreateIdentity(''), TypeError, 'an empty path is a TypeError');
  t.end();
});

test('keeps the id of its data directory across restarts', async (t) => {
  const dir = tempDir(t);
  const a = await startBootstrapNode({ port: 0, dataDir: dir, logger: createLogger('silent') });
  const id = a.id;
  t.ok(a.identityCreated, 'the first start creates the identity');
  await a.close();
  const b = await startBootstrapNode({ port: 0, dataDir: dir, logger: createLogger('silent') });
  t.teardown(() => b.close());
  t.notOk(b.identityCreated, 'the second start reuses it');
  t.equal(b.id, id, 'same id after a restart');
});

test('serves /health as JSON naming the node', async (t) => {
  const bn = await startBn(t);
  const res = await get(bn.httpUrl + 'health');
  t.equal(res.status, 200, '200');
  t.match(res.type, /application\/json/, 'JSON');
  const body = JSON.parse(res.body);
  t.equal(body.status, 'ok', 'status ok');
  t.equal(body.id, bn.id, 'its id');
  t.equal(body.url, bn.url, 'its mesh URL');
  t.equal(body.links, 0, 'no links yet');
});

test('/metrics and /status.json count links, relayed messages and bytes', async (t) => {
  const bn = await startBn(t);
  const b = await startNode(t, { bootstrap: [bn.url], ...FAST, targetLinks: 1 });
  const c = await startNode(t, { bootstrap: [bn.url], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => bn.node.peers.length === 2), 'two nodes link to the bootstrap node');
  const got = nextMessage(c);
  b.send(c.id, { hello: 'via the bootstrap node' });
  t.deepEqual((await got).data, { hello: 'via the bootstrap node' }, 'C receives B\'s message');
  const res = await get(bn.httpUrl + 'metrics');
  t.equal(res.status, 200, '200');
  t.match(res.type, /^text\/plain; version=0\.0\.4/, 'Prometheus text format');
  const lines = res.body.trim().split('\n');
  const bad = lines.filter((l) => !l.startsWith('# ') && !/^[a-z_]+(\{[^}]*\})? -?[0-9.e+]+$/.test(l));
  t.deepEqual(bad, [], 'every sample line is `name{labels} value`');
  t.ok(lines.includes('relaymesh_links{transport="websocket"} 2'), 'two websocket links');
  t.ok(lines.includes('relaymesh_routing_table_size 2'), 'routing table of two');
  const relayed = Number(/^relaymesh_messages_relayed_total (\d+)$/m.exec(res.body)?.[1]);
  t.ok(relayed > 0, `messages relayed counted (${relayed})`);
  t.ok(Number(/^relaymesh_bytes_relayed_total (\d+)$/m.exec(res.body)?.[1]) > relayed, 'bytes relayed counted');
  t.ok(lines.includes('relaymesh_signaling_clients 0'), 'signaling clients reported');
  const status = JSON.parse((await get(bn.httpUrl + 'status.json')).body) as NodeSnapshot;
  t.deepEqual(status.links.map((l) => l.id).sort(), [b.identity.idHex, c.identity.idHex].sort(), 'status.json lists both links');
  // Lookups and keepalives keep flowing between the two requests, so the count can only grow.
  t.ok(status.relayed >= relayed, `status.json agrees with /metrics (${status.relayed} >= ${relayed})`);
});

test('labels with quotes, backslashes and newlines stay one valid sample line', (t) => {
  const snap = {
    id: 'ab', url: 'ws://x"y\\z\nw', version: '1', startedAt: 0, uptimeSeconds: 1, routingTableSize: 0, links: [], linksByKind: {},
    sessions: 0, queued: 0, sent: 0, delivered: 0, relayed: 0, bytesRelayed: 0, undeliverable: 0,
    dropped: { malformed: 3 }, detours: { loop: 4, backtrack: 5 }, signaling: { clients: 1, rooms: 2 }, memory: { rss: 1, heapUsed: 1 },
  } satisfies NodeSnapshot;
  const text = renderPrometheus(snap);
  t.ok(text.includes('url="ws://x\\"y\\\\z\\nw"'), 'escaped');
  t.ok(text.includes('relaymesh_dropped_total{reason="malformed"} 3'), 'drops by reason');
  t.ok(text.includes('relaymesh_detours_total{kind="backtrack"} 5'), 'detours apart from drops');
  t.ok(text.includes('relaymesh_signaling_rooms 2'), 'rooms');
  t.end();
});

test('serves the status page and the demo page, and refuses other methods', async (t) => {
  const bn = await startBn(t);
  const page = await get(bn.httpUrl);
  t.equal(page.status, 200, '/ is 200');
  t.match(page.type, /text\/html/, '/ is HTML');
  t.ok(page.body.includes('status.json'), 'the status page polls status.json');
  const demo = await get(bn.httpUrl + 'demo');
  t.ok(demo.status === 200 && demo.body.includes('relaymesh.js'), '/demo loads the bundle');
  t.equal((await get(bn.httpUrl + 'health', { method: 'POST' })).status, 405, 'POST is 405');
  t.equal((await get(bn.httpUrl + 'nothing-here')).status, 404, 'unknown paths are 404');
  const off = await startBn(t, { demo: false });
  t.equal((await get(off.httpUrl + 'demo')).status, 404, 'no /demo with demo off');
});

test('the demo room tells members who is in it and who joins and leaves', async (t) => {
  const bn = await startBn(t);
  const a = await startNode(t, { bootstrap: [bn.url], ...FAST, targetLinks: 1 });
  const b = await startNode(t, { bootstrap: [bn.url], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => bn.node.peers.length === 2), 'both linked');
  const isDemo = (kind: string) => (d: unknown) => (d as { demo?: string })?.demo === kind;
  let got = nextMessage(a, isDemo('members'));
  a.send(bn.id, { demo: 'join', name: 'alice' });
  t.deepEqual((await got).data, { demo: 'members', members: [{ id: a.identity.idHex, name: 'alice' }] }, 'alice sees herself');
  const joined = nextMessage(a, isDemo('joined'));
  got = nextMessage(b, isDemo('members'));
  b.send(bn.id, { demo: 'join', name: 'bob' });
  t.equal(((await got).data as { members: unknown[] }).members.length, 2, 'bob sees two members');
  t.deepEqual((await joined).data, { demo: 'joined', id: b.identity.idHex, name: 'bob' }, 'alice is told bob joined');
  b.send(bn.id, { demo: 'join', name: 'x'.repeat(33) });
  b.send(bn.id, { demo: 'nonsense' });
  t.ok(await waitFor(() => bn.demo!.dropped === 2), 'a too-long name and an unknown message are dropped and counted');
  t.deepEqual(bn.demo!.members().map((m) => m.name), ['alice', 'bob'], 'the names stay as they were');
  const left = nextMessage(a, isDemo('left'));
  b.send(bn.id, { demo: 'leave' });
  t.deepEqual((await left).data, { demo: 'left', id: b.identity.idHex }, 'alice is told bob left');
});

test('counts registered signaling clients and tells them goodbye (1001) on close', async (t) => {
  const bn = await startBootstrapNode({ port: 0, dataDir: tempDir(t), logger: createLogger('silent') });
  const kem = ml_kem768.keygen();
  const dsa = ml_dsa65.keygen();
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  const ws = new WebSocket(bn.url);
  t.teardown(() => ws.terminate());
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const answer = new Promise<{ type: string; payload: { success?: boolean } }>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
  ws.send(JSON.stringify({ type: 'register', payload: {
    clientId: 'metrics-client', publicKey: [...kem.publicKey],
    verification: { algorithm: 'ml-dsa', serializedSignedData: b64(ml_dsa65.sign(kem.publicKey, dsa.secretKey)), serializedPublicKey: b64(dsa.publicKey), serializedMessage: b64(kem.publicKey) },
  } }));
  t.deepEqual(await answer, { type: 'register', payload: { success: true, clientId: 'metrics-client' } }, 'the client registers');
  const metrics = await get(bn.httpUrl + 'metrics');
  t.ok(metrics.body.split('\n').includes('relaymesh_signaling_clients 1'), '/metrics counts it');
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await bn.close();
  t.equal(await closed, 1001, 'the client gets a going-away close frame');
});
