import test from 'tape';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { startMesh, startNode, waitFor, urlOf, FAST } from '../helpers/testnet.js';
import { startClient, makeClient, inbox, rawSocket } from '../helpers/messaging.js';
import { MessagingPeer as StockPeer } from '../helpers/demos-im/messaging-peer.js';
import { stockKemPublicKey } from '../helpers/demos-im/unified-crypto-shim.js';
import { generateKeyPair, type PeerRelay } from '../../src/index.js';
import { registrationMessage } from '../../src/signaling/mesh-records.js';
import type { MessagingError } from '../../src/messaging/inbound.js';

const FAST_SIGNALING = { rosterDelayMs: 20, movingWaitMs: 4000 };

async function mesh(t: test.Test, extra: Record<string, unknown> = {}): Promise<PeerRelay[]> {
  const nodes = await startMesh(t, 3, { signaling: { ...FAST_SIGNALING, ...extra } });
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length >= 2), 15_000), 'the 3 nodes are linked to each other');
  return nodes;
}

const knows = (node: PeerRelay, id: string) => () => node.signaling!.discover().includes(id);
const destroy = (n: PeerRelay) => new Promise<void>((r) => n.destroy(() => r()));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** The same client (keys and signing seed) as `peer`, on another server. */
function sameClient(t: test.Test, node: PeerRelay, peer: { config: { clientId: string; publicKey: Uint8Array; secretKey?: Uint8Array; signingSeed?: Uint8Array } }) {
  return makeClient(t, node, peer.config.clientId, { publicKey: peer.config.publicKey, secretKey: peer.config.secretKey, signingSeed: peer.config.signingSeed });
}

test('a client that registers on another node with the same signing key takes its id over at once; the old home drops its copy', async (t) => {
  const [x, y, z] = await mesh(t);
  const seed = new Uint8Array(32).fill(7);
  const first = await startClient(t, x, 'alice', { signingSeed: seed });
  const bob = await startClient(t, z, 'bob');
  t.ok(await waitFor(knows(y, 'alice')) && await waitFor(knows(z, 'alice')), 'Y and Z know alice at X');
  const errors: MessagingError[] = [];
  first.onError((e) => errors.push(e));
  const moved = sameClient(t, y, first);
  await moved.connect();
  t.pass('the registration on Y is accepted while X still lists alice');
  t.ok(await waitFor(() => !x.signaling!.clients().some((c) => c.clientId === 'alice')), 'X drops its copy of alice');
  t.ok(await waitFor(() => errors.some((e) => e.type === 'TAKEN_OVER')), 'the old connection hears TAKEN_OVER');
  t.ok(await waitFor(() => !first.isConnected), 'and stays disconnected (it does not reconnect and take the id back)');
  t.ok(await waitFor(() => z.signaling!.homeOf('alice') === y.identity.idHex), 'Z now routes alice to Y');
  const got = inbox(moved);
  await bob.sendMessage('alice', 'to the new home');
  t.ok(await waitFor(() => got.some((m) => m.message === 'to the new home')), 'a message from Z reaches alice on Y');
  t.equal(moved.isConnected, true, 'the new connection is still registered');
});

test('a stranger with another signing key cannot take a live name, and is counted', async (t) => {
  const [x, y] = await mesh(t);
  const alice = await startClient(t, x, 'alice');
  t.ok(await waitFor(knows(y, 'alice')), 'Y knows alice');
  const stranger = makeClient(t, y, 'alice');
  await stranger.connect().then(() => t.fail('the stranger got the name'), (e) => t.equal(e.code, 'ERR_CLIENT_ID_TAKEN', 'refused with ERR_CLIENT_ID_TAKEN'));
  t.equal(y.signaling!.stats().dropped.takeover_refused, 1, 'Y counts one refused takeover');
  t.ok(x.signaling!.clients().some((c) => c.clientId === 'alice') && alice.isConnected, 'alice keeps her name on X');
  // A second connection on the same node with another key: refused too.
  const local = makeClient(t, x, 'alice');
  await local.connect().then(() => t.fail('accepted'), (e) => t.equal(e.code, 'ERR_CLIENT_ID_TAKEN', 'on the same node too'));
});

test('a replayed registration (an older fresh proof) is refused and counted; a forged takeover notice is dropped and counted', async (t) => {
  const [x, y] = await mesh(t);
  const seed = new Uint8Array(32).fill(9);
  const dsa = ml_dsa65.keygen(seed);
  const { publicKey } = generateKeyPair();
  // A registration recorded a minute ago, replayed now (after alice registered).
  const oldTs = Date.now() - 60_000;
  const replay = {
    type: 'register', id: 'r1',
    payload: {
      clientId: 'alice', publicKey: Array.from(publicKey),
      verification: { algorithm: 'ml-dsa', serializedSignedData: b64(ml_dsa65.sign(publicKey, dsa.secretKey)), serializedPublicKey: b64(dsa.publicKey), serializedMessage: b64(publicKey) },
      fresh: { ts: oldTs, sig: b64(ml_dsa65.sign(registrationMessage('alice', oldTs), dsa.secretKey)) },
    },
  };
  const alice = await startClient(t, x, 'alice', { signingSeed: seed, publicKey });
  t.ok(await waitFor(knows(y, 'alice')), 'Y knows alice');
  const raw = await rawSocket(t, urlOf(y));
  raw.send(replay);
  const answer = await raw.next();
  t.equal(answer.payload?.errorType, 'CLIENT_ID_TAKEN', 'the replay is refused');
  t.equal(y.signaling!.stats().dropped.replayed_registration, 1, 'and counted as replayed_registration');
  t.ok(alice.isConnected && x.signaling!.clients().some((c) => c.clientId === 'alice'), 'alice keeps her registration');
  // Y claims to X that alice registered there, with a stranger's proof.
  const other = ml_dsa65.keygen(new Uint8Array(32).fill(1));
  const forged = { t: 'takeover', id: 'alice', proof: { sk: b64(other.publicKey), sig: b64(ml_dsa65.sign(publicKey, other.secretKey)), msg: b64(publicKey) } };
  y.sendOnChannel(x.id, 4, Buffer.from(JSON.stringify(forged)));
  // And replays the genuine (static) proof without a newer fresh one.
  y.sendOnChannel(x.id, 4, Buffer.from(JSON.stringify({ ...forged, proof: replay.payload.verification && { sk: b64(dsa.publicKey), sig: replay.payload.verification.serializedSignedData, msg: b64(publicKey) } })));
  t.ok(await waitFor(() => (x.signaling!.stats().dropped.forged_takeover ?? 0) === 2), 'X counts both notices as forged_takeover');
  t.ok(alice.isConnected && x.signaling!.clients().some((c) => c.clientId === 'alice'), 'alice is still registered on X');
});

function legacyRegister(clientId: string, publicKey: Uint8Array) {
  return { type: 'register', payload: { clientId, publicKey: Array.from(publicKey) } };
}

test('an unsigned legacy registration is refused while a live home holds the name, and accepted once that home is found dead', async (t) => {
  const [x, y] = await mesh(t, { allowUnverified: true });
  const { publicKey } = generateKeyPair();
  const carol = await rawSocket(t, urlOf(x));
  carol.send(legacyRegister('carol', publicKey));
  t.equal((await carol.next()).payload?.success, true, 'carol registers unsigned on X');
  t.ok(await waitFor(knows(y, 'carol')), 'Y knows carol');
  const again = await rawSocket(t, urlOf(y));
  again.send(legacyRegister('carol', publicKey));
  t.equal((await again.next()).payload?.errorType, 'CLIENT_ID_TAKEN', 'the same unsigned registration on Y is refused while X answers');
  await destroy(x);
  again.send(legacyRegister('carol', publicKey));
  const answer = await again.next(15_000);
  t.equal(answer.payload?.success, true, 'accepted on Y once X is found dead');
  t.ok(y.signaling!.clients().some((c) => c.clientId === 'carol'), 'Y holds carol');
});

test('the record of a home that died goes within about 10 s on the nodes that knew it', async (t) => {
  const [x, y, z] = await mesh(t);
  await startClient(t, x, 'alice');
  t.ok(await waitFor(knows(y, 'alice')) && await waitFor(knows(z, 'alice')), 'Y and Z list alice at X');
  await destroy(x);
  t.ok(await waitFor(() => !y.signaling!.discover().includes('alice') && !z.signaling!.discover().includes('alice'), 10_000), 'neither lists alice 10 s later (the roster itself lives 60 s)');
  t.notOk(y.signaling!.knownHomes().includes(x.identity.idHex), 'Y holds no roster of X any more');
});

test('a node restarted with a new identity on the same port: its client registers again at once and is reachable', async (t) => {
  const y = await startNode(t, { port: 0, ...FAST, signaling: FAST_SIGNALING });
  const x = await startNode(null, { port: 0, bootstrap: [urlOf(y)], ...FAST, signaling: FAST_SIGNALING });
  const port = x.address()!.port;
  t.ok(await waitFor(() => x.peers.length === 1 && y.peers.length === 1), 'X and Y are linked');
  const alice = await startClient(t, x, 'alice', { reconnect: { baseDelayMs: 100 } });
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(knows(y, 'alice')), 'Y lists alice at X');
  const errors: MessagingError[] = [];
  alice.onError((e) => errors.push(e));
  const oldId = x.identity.idHex;
  await destroy(x);
  const x2 = await startNode(t, { port, bootstrap: [urlOf(y)], ...FAST, signaling: FAST_SIGNALING });
  t.notEqual(x2.identity.idHex, oldId, 'the restarted node has a new identity');
  t.ok(await waitFor(() => x2.signaling!.clients().some((c) => c.clientId === 'alice'), 20_000), 'alice registers again on the restarted node');
  t.deepEqual(errors.filter((e) => e.type === 'REGISTRATION_FAILED'), [], 'without a refused registration');
  t.ok(await waitFor(() => y.signaling!.homeOf('alice') === x2.identity.idHex), 'Y routes alice to the new node');
  const got = inbox(alice);
  await bob.sendMessage('alice', 'welcome back');
  t.ok(await waitFor(() => got.some((m) => m.message === 'welcome back')), 'bob reaches alice');
});

test('the published client still registers, is refused a taken name, and takes over nothing', async (t) => {
  const [x, y] = await mesh(t);
  const s = new (StockPeer as any)({ serverUrl: urlOf(x), clientId: 'stocky', publicKey: stockKemPublicKey });
  t.teardown(() => s.disconnect());
  await s.connect();
  t.ok(x.signaling!.clients().some((c) => c.clientId === 'stocky'), 'the published client registers');
  t.ok(await waitFor(knows(y, 'stocky')), 'Y knows it');
  const other = makeClient(t, y, 'stocky');
  await other.connect().then(() => t.fail('taken'), (e) => t.equal(e.code, 'ERR_CLIENT_ID_TAKEN', 'another key cannot take its name'));
});

test('a roster listing more ids than maxClients is refused before its signature is checked, and counted', async (t) => {
  const [x, y] = await mesh(t, { maxClients: 5 });
  const { signRoster } = await import('../../src/signaling/mesh-records.js');
  const big = signRoster(x.identity, Date.now() + 1e9, Date.now() + 30_000, ['a', 'b', 'c', 'd', 'e', 'f']);
  x.sendOnChannel(y.id, 4, Buffer.from(JSON.stringify({ t: 'roster', r: { ...big, sig: 'not even base64' } })));
  t.ok(await waitFor(() => (y.signaling!.stats().dropped.roster_oversized ?? 0) === 1), 'Y counts roster_oversized');
  t.notOk(y.signaling!.discover().includes('f'), 'none of its ids is listed');
});
