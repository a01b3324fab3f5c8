import test from 'tape';
import { startMesh, waitFor, urlOf } from '../helpers/testnet.js';
import { startClient, makeClient, inbox, nextError } from '../helpers/messaging.js';
import { MessagingPeer as StockPeer } from '../helpers/demos-im/messaging-peer.js';
import { stockKemPublicKey } from '../helpers/demos-im/unified-crypto-shim.js';
import type { PeerRelay } from '../../src/index.js';

async function mesh(t: test.Test): Promise<PeerRelay[]> {
  const nodes = await startMesh(t, 3, { signaling: { rosterDelayMs: 20 } });
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length > 0), 15_000), 'the 3 nodes are linked');
  return nodes;
}

const knows = (node: PeerRelay, id: string) => () => node.signaling!.discover().includes(id);

test('clients on two different nodes of a 3-node mesh exchange messages both ways', async (t) => {
  const [x, , y] = await mesh(t);
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(knows(x, 'bob')) && await waitFor(knows(y, 'alice')), 'each node learns the other\'s client');
  const a = inbox(alice);
  const b = inbox(bob);
  t.deepEqual(await alice.discoverPeers(), ['bob'], 'discover on X lists bob, registered on Y');
  await alice.sendMessage('bob', 'across the mesh');
  await bob.sendMessage('alice', 'and back');
  t.ok(await waitFor(() => a.length === 1 && b.length === 1), 'both arrive');
  t.deepEqual(b[0], { message: 'across the mesh', fromId: 'alice', info: { algorithm: 'relaymesh-im-v1', authenticated: true } }, 'bob: from alice, authenticated');
  t.deepEqual(a[0], { message: 'and back', fromId: 'bob', info: { algorithm: 'relaymesh-im-v1', authenticated: true } }, 'alice: from bob, authenticated');
  t.deepEqual([...(await alice.requestPublicKey('bob'))], [...bob.config.publicKey], 'bob\'s key comes from his home node');
});

test('the published client reaches a client on another node', async (t) => {
  const [x, , y] = await mesh(t);
  const s = new (StockPeer as any)({ serverUrl: urlOf(x), clientId: 'stocky', publicKey: stockKemPublicKey });
  t.teardown(() => s.disconnect());
  await s.connect();
  const rm = await startClient(t, y, 'rm');
  const got: string[] = [];
  s.onMessage((m: Uint8Array, from: string) => { if (from === 'rm') got.push(Buffer.from(m).toString()); });
  const rmIn = inbox(rm);
  t.ok(await waitFor(knows(x, 'rm')) && await waitFor(knows(y, 'stocky')), 'rosters spread');
  await s.sendMessage('rm', 'stock to mesh');
  await rm.sendMessage('stocky', 'mesh to stock');
  t.ok(await waitFor(() => rmIn.length === 1 && got.length === 1), 'both arrive');
  t.equal(rmIn[0]?.message, 'stock to mesh', 'relaymesh client decrypts');
  t.equal(got[0], 'mesh to stock', 'published client decrypts');
});

test('a client that leaves is gone mesh-wide and announced to remote clients', async (t) => {
  const [x, , y] = await mesh(t);
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(knows(x, 'bob')), 'X knows bob');
  const gone: string[] = [];
  alice.onPeerDisconnected((id) => gone.push(id));
  bob.disconnect();
  t.ok(await waitFor(() => !x.signaling!.discover().includes('bob')), 'X forgets bob');
  t.ok(await waitFor(() => gone.includes('bob')), 'alice hears peer_disconnected for bob');
  await alice.sendMessage('bob', 'hi').then(() => t.fail('sent'), (e) => t.equal(e.code, 'ERR_PEER_NOT_FOUND', 'bob is not found any more'));
});

test('an id registered on one node is refused on another', async (t) => {
  const [x, , y] = await mesh(t);
  await startClient(t, x, 'dup');
  t.ok(await waitFor(knows(y, 'dup')), 'Y knows dup');
  const second = makeClient(t, y, 'dup');
  await second.connect().then(() => t.fail('accepted'), (e) => t.equal(e.code, 'ERR_CLIENT_ID_TAKEN', 'ERR_CLIENT_ID_TAKEN'));
});

test('a node does not accept a message for a client another node does not list', async (t) => {
  const [x, , y] = await mesh(t);
  const bob = await startClient(t, y, 'bob');
  const b = inbox(bob);
  t.ok(await waitFor(knows(x, 'bob')), 'X knows bob');
  // X speaks for a client it does not host: Y drops it.
  x.sendOnChannel(y.id, 4, Buffer.from(JSON.stringify({ t: 'msg', to: 'bob', from: 'forged', m: { algorithm: 'ml-kem-aes' } })));
  t.ok(await waitFor(() => (y.signaling!.stats().dropped.unlisted_sender ?? 0) === 1), 'Y counts an unlisted sender');
  t.equal(b.length, 0, 'bob gets nothing');
});

test('tampered, truncated and malformed mesh records are dropped and counted', async (t) => {
  const [x, z, y] = await mesh(t);
  const bob = await startClient(t, y, 'bob');
  await startClient(t, x, 'alice');
  t.ok(await waitFor(knows(y, 'alice')), 'Y knows alice from X\'s genuine roster');
  const { signRoster } = await import('../../src/signaling/mesh-records.js');
  const genuine = signRoster(x.identity, Date.now() + 10_000_000, Date.now() + 30_000, ['alice', 'mallory']);
  const inject = (obj: unknown) => x.sendOnChannel(y.id, 4, Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)));
  const dropped = () => y.signaling!.stats().dropped;
  inject({ t: 'roster', r: { ...genuine, ids: ['alice', 'mallory', 'eve'] } });
  t.ok(await waitFor(() => (dropped().roster_invalid ?? 0) === 1), 'a roster whose ids were changed after signing is invalid');
  inject({ t: 'roster', r: { ...genuine, home: z.identity.idHex } });
  inject({ t: 'roster', r: { ...genuine, exp: Date.now() + 10 * 60 * 60_000 } });
  t.ok(await waitFor(() => (dropped().roster_invalid ?? 0) === 3), 'a roster claiming another home, or expiring too late, is invalid');
  t.notOk(y.signaling!.discover().includes('eve') || y.signaling!.discover().includes('mallory'), 'no forged id is listed');
  inject(JSON.stringify({ t: 'roster', r: genuine }).slice(0, 500));
  inject('{"t":"batch","lens":[5,5]}\n{"t":');
  inject({ t: 'keyres', rid: 'nope', id: 'bob' });
  inject({ t: 'whatever' });
  t.ok(await waitFor(() => (dropped().bad_json ?? 0) >= 1 && (dropped().bad_batch ?? 0) === 1 && (dropped().unexpected_keyres ?? 0) === 1 && (dropped().unknown_type ?? 0) === 1),
    'truncated JSON, a bad batch, an unexpected key response and an unknown type are each counted');
  const b = inbox(bob);
  const alice2 = await startClient(t, x, 'alice2');
  t.ok(await waitFor(knows(y, 'alice2')), 'Y learns alice2');
  await alice2.sendMessage('bob', 'still working');
  t.ok(await waitFor(() => b.length === 1), 'the mesh still carries messages');
});

test('many key requests and a 1 MiB message cross the mesh concurrently', async (t) => {
  const [x, , y] = await mesh(t);
  const ids = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
  const remotes = await Promise.all(ids.map((id) => startClient(t, y, id)));
  const asker = await startClient(t, x, 'asker');
  t.ok(await waitFor(() => ids.every((id) => x.signaling!.discover().includes(id))), 'X knows every remote client');
  const keys = await Promise.all([...ids, ...ids].map((id) => asker.requestPublicKey(id)));
  t.ok(keys.every((k, i) => Buffer.from(k).equals(Buffer.from(remotes[i % ids.length].config.publicKey))), '12 concurrent remote key requests each get the right key');
  const got = inbox(remotes[0]);
  const big = 'y'.repeat(1024 * 1024 + 7);
  await Promise.all([asker.sendMessage('r0', big), asker.sendMessage('r0', 'small after big')]);
  t.ok(await waitFor(() => got.length === 2, 20_000), 'both arrive');
  t.ok(got[0]?.message === big, 'the 1 MiB message is intact');
  t.equal(got[1]?.message, 'small after big', 'in order');
});

test('a remote target its home no longer has is reported as PEER_NOT_FOUND', async (t) => {
  const [x, , y] = await mesh(t);
  await startClient(t, y, 'bob');
  const alice = await startClient(t, x, 'alice');
  t.ok(await waitFor(knows(x, 'bob')), 'X knows bob');
  const { signRoster } = await import('../../src/signaling/mesh-records.js');
  // Y's own (genuinely signed) roster names a client that is not connected there.
  y.sendOnChannel(x.id, 4, Buffer.from(JSON.stringify({ t: 'roster', r: signRoster(y.identity, Date.now() + 1e9, Date.now() + 30_000, ['bob', 'ghost']) })));
  t.ok(await waitFor(knows(x, 'ghost')), 'X lists ghost');
  await alice.requestPublicKey('ghost').then(() => t.fail('got a key'), (e) => t.equal(e.code, 'ERR_PEER_NOT_FOUND', 'key request: ERR_PEER_NOT_FOUND from the home node'));
  const err = nextError(alice);
  await alice.sendToServerAndWait({ type: 'message', payload: { targetId: 'ghost', message: { algorithm: 'ml-kem-aes' } } }, 'none', { timeout: 300 }).catch(() => undefined);
  const e = await err;
  t.equal(e.type, 'PEER_NOT_FOUND', 'message: the home node\'s answer reaches the sender as PEER_NOT_FOUND');
});
