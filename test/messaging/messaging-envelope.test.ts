import test from 'tape';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { SecureSessions, type SecureEnvelope } from '../../src/messaging/secure-envelope.js';
import { openMlKemAes, sealMlKemAes } from '../../src/messaging/ml-kem-aes.js';
import { generateKeyPair } from '../../src/index.js';
import { unifiedCrypto, stockKemPublicKey } from '../helpers/demos-im/unified-crypto-shim.js';
import { serializeUint8Array, deserializeUint8Array } from '../helpers/demos-im/uint8-serialize.js';
import { startNode, waitFor, FAST } from '../helpers/testnet.js';
import { startClient, nextError, inbox } from '../helpers/messaging.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function party(id: string) {
  const kem = generateKeyPair();
  const dsa = ml_dsa65.keygen(new Uint8Array(32).fill(id.charCodeAt(0)));
  const s = new SecureSessions(id, { dsaSecretKey: dsa.secretKey, kemPublicKey: kem.publicKey, kemSecretKey: kem.secretKey }, { maxInbound: 8, maxSeenSids: 64 });
  return { id, kem, dsa, s };
}

test('ml-kem-aes envelopes interoperate with the published client\'s crypto both ways', async (t) => {
  const bob = generateKeyPair();
  const byStock = await unifiedCrypto.encrypt('ml-kem-aes', text('from stock'), bob.publicKey);
  const env = { algorithm: 'ml-kem-aes', serializedCipherText: serializeUint8Array(byStock.cipherText), serializedEncryptedData: serializeUint8Array(byStock.encryptedData) };
  t.equal(str(openMlKemAes(env, bob.secretKey)!), 'from stock', 'relaymesh opens what the published client seals');
  const ours = sealMlKemAes(text('from relaymesh'), stockKemPublicKey);
  const opened = await unifiedCrypto.decrypt({ algorithm: 'ml-kem-aes', cipherText: deserializeUint8Array(ours.serializedCipherText), encryptedData: deserializeUint8Array(ours.serializedEncryptedData) });
  t.equal(Buffer.from(opened).toString(), 'from relaymesh', 'the published client opens what relaymesh seals');
  const tampered = { ...env, serializedEncryptedData: serializeUint8Array(byStock.encryptedData.map((b: number, i: number) => (i === 20 ? b ^ 1 : b))) };
  t.equal(openMlKemAes(tampered, bob.secretKey), null, 'a flipped bit fails (null, no throw)');
  t.equal(openMlKemAes({ ...env, serializedCipherText: 'AAAA' }, bob.secretKey), null, 'a truncated KEM ciphertext fails');
  t.equal(openMlKemAes({ algorithm: 'ml-kem-aes' }, bob.secretKey), null, 'missing fields fail');
});

test('relaymesh-im-v1 authenticates the sender and refuses replays and tampering', async (t) => {
  const a = party('alice');
  const b = party('bob');
  const keyOf = async (id: string) => (id === 'alice' ? a.dsa.publicKey : b.dsa.publicKey);
  const e0 = a.s.seal('bob', b.kem.publicKey, text('one'));
  const e1 = a.s.seal('bob', b.kem.publicKey, text('two'));
  t.ok(e0.serializedSignature && !e1.serializedSignature, 'only the first message carries the signed session start');
  t.equal(str(await b.s.open('alice', e0, keyOf)), 'one', 'first opens');
  t.equal(str(await b.s.open('alice', e1, keyOf)), 'two', 'second opens');
  await b.s.open('alice', e1, keyOf).then(() => t.fail('replay accepted'), (e) => t.equal(e.code, 'ERR_REPLAY', 'a replayed message: ERR_REPLAY'));
  const e2 = a.s.seal('bob', b.kem.publicKey, text('three'));
  const flipped: SecureEnvelope = { ...e2, serializedEncryptedData: Buffer.from(Buffer.from(e2.serializedEncryptedData, 'base64').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64') };
  await b.s.open('alice', flipped, keyOf).then(() => t.fail('tampered accepted'), (e) => t.equal(e.code, 'ERR_DECRYPT_FAILED', 'tampered: ERR_DECRYPT_FAILED'));
  await b.s.open('mallory', e2, keyOf).then(() => t.fail('relabelled accepted'), (e) => t.equal(e.code, 'ERR_DECRYPT_FAILED', 'claimed by another sender: unknown session'));
  t.equal(str(await b.s.open('alice', e2, keyOf)), 'three', 'the genuine one still opens');
  // A fresh receiver state (bob restarted) must not accept the recorded session start twice.
  const c = party('carol');
  const s0 = a.s.seal('carol', c.kem.publicKey, text('hi carol'));
  t.equal(str(await c.s.open('alice', s0, keyOf)), 'hi carol', 'carol opens');
  const forged = { ...s0, serializedSignature: Buffer.alloc(3309).toString('base64'), sid: Buffer.alloc(16, 9).toString('base64') };
  await c.s.open('alice', forged, keyOf).then(() => t.fail('forged accepted'), (e) => t.equal(e.code, 'ERR_INVALID_PROOF', 'a bad signature: ERR_INVALID_PROOF'));
  await c.s.open('alice', s0, async () => b.dsa.publicKey).then(() => t.fail('accepted'), (e) => t.equal(e.code, 'ERR_REPLAY', 'a seen session id: ERR_REPLAY'));
  const other = party('dave');
  await other.s.open('alice', s0, keyOf).then(() => t.fail('accepted'), (e) => t.equal(e.code, 'ERR_INVALID_PROOF', 'a session start for someone else fails'));
});

test('a key change after the reservation is refused by the pin; forgetPeerKeys accepts it', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { idReserveMs: 1 } });
  const alice = await startClient(t, node, 'alice');
  const bob1 = await startClient(t, node, 'bob');
  const b1 = inbox(bob1);
  await alice.sendMessage('bob', 'hi');
  t.ok(await waitFor(() => b1.length === 1), 'first bob gets it');
  bob1.disconnect();
  t.ok(await waitFor(() => !node.signaling!.discover().includes('bob')), 'bob left');
  const bob2 = await startClient(t, node, 'bob');
  const b2 = inbox(bob2);
  const err = nextError(alice);
  await alice.sendMessage('bob', 'again').then(() => t.fail('sent to a changed key'), (e) => t.equal(e.code, 'ERR_KEY_CHANGED', 'sendMessage rejects ERR_KEY_CHANGED'));
  t.equal((await err).type, 'KEY_CHANGED', 'onError KEY_CHANGED');
  alice.forgetPeerKeys('bob');
  await alice.sendMessage('bob', 'accepted');
  t.ok(await waitFor(() => b2.length === 1), 'after forgetPeerKeys the new bob gets messages');
  t.equal(b2[0]?.message, 'accepted', 'content');
});
