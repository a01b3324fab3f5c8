/**
 * A public signaling server (issue 16): cheap checks before the ML-DSA verify,
 * a proof cache, budgets whose refusals carry the request id, batched
 * departures off the hot path, a shutdown that announces nothing, discover
 * pages, and no internal error text reaching a client.
 */
import test from 'tape';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';
import { rawSocket } from '../helpers/messaging.js';
import { generateKeyPair, type PeerRelay } from '../../src/index.js';
import { toBase64 } from '../../src/util/bytes.js';
import { PRESENCE_BATCH } from '../../src/signaling/core.js';
import { registrationMessage } from '../../src/signaling/mesh-records.js';

type Raw = Awaited<ReturnType<typeof rawSocket>>;

const dsa = ml_dsa65.keygen(new Uint8Array(32).fill(7));
const otherDsa = ml_dsa65.keygen(new Uint8Array(32).fill(9));

/** A register frame whose proof signs `message` (default: the key, the legacy form). */
function register(clientId: string, opts: { kem?: Uint8Array; message?: Uint8Array; signature?: Uint8Array; id?: string; capabilities?: string[]; keys?: typeof dsa } = {}): unknown {
  const kem = opts.kem ?? generateKeyPair().publicKey;
  const message = opts.message ?? kem;
  const keys = opts.keys ?? dsa;
  const verification = {
    algorithm: 'ml-dsa',
    serializedSignedData: toBase64(opts.signature ?? ml_dsa65.sign(message, keys.secretKey)),
    serializedPublicKey: toBase64(keys.publicKey),
    serializedMessage: toBase64(message),
  };
  const frame: Record<string, unknown> = { type: 'register', payload: { clientId, publicKey: Array.from(kem), verification, capabilities: opts.capabilities ?? [] } };
  if (opts.id !== undefined) frame.id = opts.id;
  return frame;
}

async function registered(t: test.Test, node: PeerRelay, clientId: string, capabilities: string[] = []): Promise<Raw> {
  const raw = await rawSocket(t, urlOf(node));
  raw.send(register(clientId, { capabilities }));
  const f = await raw.next();
  t.equal(f.type, 'register', `${clientId} registers`);
  return raw;
}

test('a replayed proof is refused, or accepted, without a second ML-DSA verify; taken ids and capacity are refused before any verify', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { maxClients: 3 } });
  const core = node.signaling!;
  const kem = generateKeyPair().publicKey;
  const frame = register('alice', { kem }) as { payload: { verification: unknown } };
  const a = await rawSocket(t, urlOf(node));
  a.send(frame);
  t.equal((await a.next()).type, 'register', 'alice registers');
  t.equal(core.stats().proofVerifies, 1, 'one verify');
  // The taken id with another key: refused before the proof is looked at.
  const b = await rawSocket(t, urlOf(node));
  b.send({ ...(register('alice', { keys: otherDsa }) as object), id: 'b1' });
  const taken = await b.next();
  t.deepEqual([taken.payload.errorType, taken.id], ['CLIENT_ID_TAKEN', 'b1'], 'the taken id is refused, with the request id');
  t.equal(core.stats().proofVerifies, 1, 'no verify for a taken id');
  // Replay of the same (legacy) proof for another id: the cache answers.
  b.send({ type: 'register', payload: { clientId: 'bob', publicKey: Array.from(kem), verification: frame.payload.verification } });
  t.equal((await b.next()).type, 'register', 'the legacy proof binds no id: the replay registers bob');
  t.deepEqual([core.stats().proofVerifies, core.stats().proofCacheHits], [1, 1], 'with a cache lookup, not a verify');
  // A bad proof replayed: one verify, then lookups.
  const bad = register('carol', { kem, signature: new Uint8Array(3309) });
  const c = await rawSocket(t, urlOf(node));
  for (let i = 0; i < 3; i++) {
    c.send(bad);
    t.equal((await c.next()).payload.errorType, 'INVALID_PROOF', `bad proof refused (${i + 1})`);
  }
  t.equal(core.stats().proofVerifies, 2, 'a bad proof is verified once, then refused from the cache');
  // Capacity: the third client fills the node; the fourth is refused before a verify.
  c.send(register('carol'));
  t.equal((await c.next()).type, 'register', 'carol registers (3 of 3)');
  const verifies = core.stats().proofVerifies;
  const d = await rawSocket(t, urlOf(node));
  d.send({ ...(register('dave') as object), id: 7 });
  const full = await d.next();
  t.deepEqual([full.payload.errorType, full.id], ['LIMIT_REACHED', 7], 'a full node refuses with LIMIT_REACHED, with the request id');
  t.equal(core.stats().proofVerifies, verifies, 'no verify on a full node');
});

test('the fresh proof binds the client id and a time: its replays cost lookups, and one verify per other id tried', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const core = node.signaling!;
  const kem = generateKeyPair().publicKey;
  const ts = Date.now();
  const fresh = { ts, sig: toBase64(ml_dsa65.sign(registrationMessage('erin', ts), dsa.secretKey)) };
  const frame = register('erin', { kem }) as { type: string; payload: Record<string, unknown> };
  frame.payload.fresh = fresh;
  const a = await rawSocket(t, urlOf(node));
  a.send(frame);
  t.equal((await a.next()).type, 'register', 'erin registers with a fresh proof');
  t.equal(core.stats().proofVerifies, 2, 'two verifies: the key proof and the fresh proof');
  const b = await rawSocket(t, urlOf(node));
  b.send({ ...frame, id: 'again' });
  const replay = await b.next();
  t.deepEqual([replay.payload.errorType, replay.id], ['CLIENT_ID_TAKEN', 'again'], 'the same registration replayed is refused');
  t.equal(core.stats().proofVerifies, 2, 'without a verify (both proofs come from the cache)');
  const other = { ...frame, payload: { ...frame.payload, clientId: 'mallory' } };
  for (let i = 0; i < 3; i++) {
    b.send({ ...other, id: `m${i}` });
    const f = await b.next();
    t.deepEqual([f.payload.errorType, f.id], ['INVALID_PROOF', `m${i}`], `erin's fresh proof does not register mallory (${i + 1})`);
  }
  t.equal(core.stats().proofVerifies, 3, 'one verify for mallory, then the cache');
});

test('RATE_LIMITED carries the request id: frames, registrations per address, verifies node-wide', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { ratePerSecond: 1, rateBurst: 1, registrationsPerSecondPerAddress: 1, verifiesPerSecond: 1 } });
  const a = await rawSocket(t, urlOf(node));
  for (let i = 1; i <= 3; i++) a.send({ type: 'discover', payload: {}, id: `q${i}` });
  const first = await a.next();
  t.deepEqual([first.type, first.id], ['discover', 'q1'], 'the first frame is answered');
  const r2 = await a.next();
  const r3 = await a.next();
  t.deepEqual([r2.payload.errorType, r2.id, r3.payload.errorType, r3.id], ['RATE_LIMITED', 'q2', 'RATE_LIMITED', 'q3'], 'frames over the rate get RATE_LIMITED with their ids');
  // Registrations per address: burst 2.
  const node2 = await startNode(t, { port: 0, ...FAST, signaling: { registrationsPerSecondPerAddress: 1 } });
  const answers: any[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await rawSocket(t, urlOf(node2));
    s.send({ ...(register(`p${i}`) as object), id: `reg${i}` });
    answers.push(await s.next());
  }
  t.deepEqual(answers.map((f) => f.type), ['register', 'register', 'error'], 'the third registration from one address in a burst is refused');
  t.deepEqual([answers[2].payload.errorType, answers[2].id], ['RATE_LIMITED', 'reg2'], 'RATE_LIMITED with its request id');
  // Verifies node-wide: burst 2; a cached proof needs none.
  const node3 = await startNode(t, { port: 0, ...FAST, signaling: { verifiesPerSecond: 1 } });
  const frames = [register('v0'), register('v1'), register('v2')];
  const got: any[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await rawSocket(t, urlOf(node3));
    s.send({ ...(frames[i] as object), id: `v${i}` });
    got.push(await s.next());
  }
  t.deepEqual([got[2].payload.errorType, got[2].id], ['RATE_LIMITED', 'v2'], 'a third verify in a burst is refused with RATE_LIMITED and the id');
  t.equal(node3.signaling!.stats().proofVerifies, 2, 'two verifies were done');
});

test('departures of one turn reach a batch-reading client as one frame, and every client once per id', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const core = node.signaling!;
  const batchReader = await registered(t, node, 'watcher', [PRESENCE_BATCH]);
  const plain = await registered(t, node, 'plain');
  const leavers = ['l0', 'l1', 'l2', 'l3', 'l4'];
  for (const id of leavers) await registered(t, node, id);
  // The five leave in one turn (as a dialect reports closed connections).
  for (const id of leavers) core.unregister(core.sinkOf(id)!);
  const frame = await batchReader.next();
  t.equal(frame.type, 'peer_disconnected', 'the batch reader gets peer_disconnected');
  t.deepEqual(frame.payload.peerIds, leavers, 'one frame lists all five ids');
  t.equal(frame.payload.peerId, 'l0', 'peerId is the first (for a reader of single ids)');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await plain.next()).payload.peerId);
  t.deepEqual(ids, leavers, 'a plain client gets one frame per id');
  t.ok(await waitFor(() => core.stats().presenceBacklog === 0), 'nothing left to announce');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(batchReader.frames.length, 0, 'no further frame to the batch reader');
});

test('an id that leaves and comes back before the announcement is not announced', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const core = node.signaling!;
  const watcher = await registered(t, node, 'watcher', [PRESENCE_BATCH]);
  await registered(t, node, 'gone');
  // Keyless sinks (as Connector connections register): their ids are not reserved after they leave.
  const sink = (n: number) => ({ remoteAddress: `127.0.0.1:${n}`, dialect: 'test', send: () => undefined });
  const first = sink(1);
  await core.register(first, { clientId: 'bouncer', publicKey: new Uint8Array(0), proof: null, capabilities: [], keyless: true });
  core.unregister(first);
  core.unregister(core.sinkOf('gone')!);
  // Back before the announcement (microtasks run before the fan-out's turn), through another connection.
  const second = sink(2);
  await core.register(second, { clientId: 'bouncer', publicKey: new Uint8Array(0), proof: null, capabilities: [], keyless: true });
  t.equal(core.sinkOf('bouncer'), second, 'bouncer is registered again before the announcement');
  const f = await watcher.next();
  t.deepEqual(f.payload.peerIds, ['gone'], 'only the id that stayed away is announced');
});

test('destroy() with connected clients announces no departures', async (t) => {
  const node = await startNode(null, { port: 0, ...FAST });
  const core = node.signaling!;
  const socks: Raw[] = [];
  for (let i = 0; i < 20; i++) socks.push(await registered(t, node, `c${i}`, i % 2 ? [PRESENCE_BATCH] : []));
  const before = core.stats().presenceFrames;
  await new Promise<void>((r) => node.destroy(() => r()));
  t.equal(core.stats().presenceFrames, before, 'no departure frame was written while shutting down');
  t.equal(core.stats().clients, 0, 'every client was released');
  t.equal(socks.reduce((n, s) => n + s.frames.filter((f) => f.type === 'peer_disconnected').length, 0), 0, 'no client saw a peer_disconnected');
});

test('discover pages with a cursor and filters by prefix, so remote clients are reachable past maxDiscover', async (t) => {
  const x = await startNode(t, { port: 0, ...FAST, signaling: { maxDiscover: 3 } });
  const y = await startNode(t, { port: 0, bootstrap: [urlOf(x)], ...FAST });
  const me = await registered(t, x, 'me');
  for (let i = 0; i < 4; i++) await registered(t, x, `x${i}`);
  for (let i = 0; i < 4; i++) await registered(t, y, `y${i}`);
  t.ok(await waitFor(() => ['y0', 'y1', 'y2', 'y3'].every((id) => x.signaling!.homeOf(id) === y.identity.idHex)), 'x knows y\'s clients');
  me.send({ type: 'discover', payload: {} });
  const plain = await me.next();
  t.deepEqual(plain.payload.peers, ['x0', 'x1', 'x2'], 'a plain discover: local first, maxDiscover ids, never the caller');
  const all: string[] = [];
  let cursor: number | undefined;
  for (let page = 0; page < 10; page++) {
    me.send({ type: 'discover', payload: cursor === undefined ? {} : { cursor } });
    const f = await me.next();
    all.push(...f.payload.peers);
    cursor = f.payload.next;
    if (cursor === undefined) break;
  }
  t.deepEqual(all.sort(), ['x0', 'x1', 'x2', 'x3', 'y0', 'y1', 'y2', 'y3'], 'pages reach every client, remote ones included');
  me.send({ type: 'discover', payload: { prefix: 'y' } });
  const ys = await me.next();
  t.deepEqual(ys.payload.peers.sort(), ['y0', 'y1', 'y2'], 'a prefix finds remote clients on a busy node');
  t.equal(ys.payload.next, 3, 'with a cursor to the rest');
});

test('no internal error text reaches a client: deep nesting and a failing handler get stable codes with the request id', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  node.signaling!.addHandler('boom', () => { throw new Error('secret internal detail'); });
  const a = await registered(t, node, 'a');
  await registered(t, node, 'b');
  // Built as text: JSON.stringify itself overflows at this depth.
  a.send(`{"type":"message","payload":{"targetId":"b","message":${'{"d":'.repeat(20_000)}1${'}'.repeat(20_000)}},"id":"deep"}`);
  const f = await a.next();
  t.deepEqual([f.payload.errorType, f.id], ['INVALID_MESSAGE', 'deep'], 'a deeply nested message gets INVALID_MESSAGE with its id');
  t.notOk(/stack|Maximum/i.test(f.payload.details), 'no stack-overflow text');
  a.send({ type: 'boom', payload: {}, id: 'h' });
  const g = await a.next();
  t.deepEqual([g.payload.errorType, g.id], ['INTERNAL_ERROR', 'h'], 'a failing handler gives INTERNAL_ERROR with the id');
  t.notOk(g.payload.details.includes('secret'), 'without the handler\'s error text');
});

test('an IM connection that never registers is closed after registerTimeoutMs', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { registerTimeoutMs: 300 } });
  const idle = await rawSocket(t, urlOf(node));
  const reg = await registered(t, node, 'ok');
  t.equal(await idle.closed, 1008, 'the idle connection is closed with 1008');
  t.equal(reg.ws.readyState, reg.ws.OPEN, 'a registered connection stays open');
});

test('protoo requests over the rate get a 429 response with their id', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { ratePerSecond: 1, rateBurst: 1 } });
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`${urlOf(node)}/?peerId=p1`, 'protoo');
  t.teardown(() => ws.terminate());
  const got: any[] = [];
  ws.on('message', (d) => got.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  for (let id = 1; id <= 3; id++) ws.send(JSON.stringify({ request: true, id, method: 'discover', data: {} }));
  t.ok(await waitFor(() => got.filter((m) => m.response).length === 3), 'three responses');
  const byId = new Map(got.filter((m) => m.response).map((m) => [m.id, m]));
  t.equal(byId.get(1)?.ok, true, 'the first request is served');
  t.deepEqual([byId.get(2)?.errorCode, byId.get(3)?.errorCode], [429, 429], 'the others get 429 with their ids');
  t.match(String(byId.get(2)?.errorReason), /^RATE_LIMITED: /, 'errorReason names RATE_LIMITED');
});
