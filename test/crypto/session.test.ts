import test from 'tape';
import { Identity } from '../../src/crypto/identity.js';
import { createInit, respond, complete, Session, RESP_LENGTH } from '../../src/crypto/session.js';
import { nobleAead, nativeAead, type Aead } from '../../src/crypto/aead.js';
import { randomBytes } from '../../src/util/bytes.js';

const backends: Aead[] = [nobleAead, ...(nativeAead ? [nativeAead] : [])];

test('a handshake gives both ends matching keys, in both directions', (t) => {
  const a = Identity.generate();
  const b = Identity.generate();
  const pending = createInit(a, b.toPublic());
  const r = respond(b, a.id, pending.init)!;
  t.ok(r, 'B accepts the INIT');
  const sa = complete(a, pending, r.resp)!;
  t.ok(sa, 'A completes with the RESP');
  const m1 = sa.seal(b.id, a.id, new TextEncoder().encode('a to b'));
  const o1 = r.session.open(b.id, a.id, m1);
  t.ok(o1.ok && new TextDecoder().decode(o1.plaintext) === 'a to b', 'B opens what A sealed');
  t.ok(r.session.confirmed, 'B counts A as confirmed once A\'s message authenticated');
  const m2 = r.session.seal(a.id, b.id, new TextEncoder().encode('b to a'));
  const o2 = sa.open(a.id, b.id, m2);
  t.ok(o2.ok && new TextDecoder().decode(o2.plaintext) === 'b to a', 'A opens what B sealed');
  t.end();
});

test('an INIT whose keys do not match the sender id, or a wrong RESP, is refused', (t) => {
  const a = Identity.generate();
  const b = Identity.generate();
  const pending = createInit(a, b.toPublic());
  t.equal(respond(b, randomBytes(20), pending.init), null, 'INIT from a different id');
  t.equal(respond(b, a.id, pending.init.subarray(0, 100)), null, 'truncated INIT');
  t.equal(complete(a, pending, randomBytes(RESP_LENGTH)), null, 'RESP for another sid');
  t.end();
});

test('the initiator erases its ephemeral secret after the handshake (forward secrecy)', (t) => {
  const a = Identity.generate();
  const b = Identity.generate();
  const pending = createInit(a, b.toPublic());
  const secret = pending.ephemeral!.secretKey;
  const r = respond(b, a.id, pending.init)!;
  complete(a, pending, r.resp);
  t.equal(pending.ephemeral, null, 'the ephemeral key pair is dropped');
  t.ok(secret.every((x) => x === 0), 'and its secret bytes are zeroed');
  t.end();
});

for (const aead of backends) {
  test(`sealed DATA rejects tampering, truncation, replay and the wrong to/from (${aead.backend})`, (t) => {
    const key = randomBytes(32);
    const mk = () => new Session({ localSid: randomBytes(8), remoteSid: randomBytes(8), remote: Identity.generate().toPublic(), sendKey: key.slice(), recvKey: key.slice(), initiator: true, aead });
    const tx = mk();
    const rx = mk();
    const to = randomBytes(20);
    const from = randomBytes(20);
    const body = tx.seal(to, from, new Uint8Array([1, 2, 3]));
    const tampered = body.slice(); tampered[20] ^= 1;
    t.deepEqual(rx.open(to, from, tampered), { ok: false, reason: 'decrypt' }, 'tampered');
    t.deepEqual(rx.open(to, from, body.subarray(0, 20)), { ok: false, reason: 'malformed' }, 'truncated');
    t.deepEqual(rx.open(randomBytes(20), from, body), { ok: false, reason: 'decrypt' }, 'another destination');
    t.deepEqual(rx.open(to, randomBytes(20), body), { ok: false, reason: 'decrypt' }, 'another sender');
    t.ok(rx.open(to, from, body).ok, 'the original opens');
    t.deepEqual(rx.open(to, from, body), { ok: false, reason: 'replay' }, 'a replay is refused');
    t.end();
  });

  test(`sealInto writes the same bytes as seal (${aead.backend})`, (t) => {
    const key = randomBytes(32);
    const sid = randomBytes(8);
    const mk = () => new Session({ localSid: sid, remoteSid: sid, remote: Identity.generate().toPublic(), sendKey: key.slice(), recvKey: key.slice(), initiator: true, aead });
    const to = randomBytes(20);
    const from = randomBytes(20);
    const payload = randomBytes(1000);
    const viaSeal = mk().seal(to, from, new Uint8Array([7, ...payload]));
    const frame = new Uint8Array(52 + viaSeal.length);
    frame.set(to, 12);
    frame.set(from, 32);
    mk().sealInto(frame, 52, 7, payload);
    t.deepEqual(Buffer.from(frame.subarray(52)), Buffer.from(viaSeal), 'identical DATA bodies');
    t.end();
  });
}

test('noble and native AES-GCM produce the same ciphertext and open each other\'s', (t) => {
  if (!nativeAead) { t.skip('no native backend here'); t.end(); return; }
  for (const size of [0, 1, 15, 16, 1000, 70_000]) {
    const key = randomBytes(32), nonce = randomBytes(12), aad = randomBytes(56), pt = randomBytes(size);
    const a = nobleAead.seal(key, nonce, pt, aad);
    const b = nativeAead.seal(key, nonce, pt, aad);
    t.deepEqual(Buffer.from(a), Buffer.from(b), `same output for ${size} bytes`);
    t.deepEqual(Buffer.from(nativeAead.open(key, nonce, a, aad)!), Buffer.from(pt), 'native opens noble');
    t.deepEqual(Buffer.from(nobleAead.open(key, nonce, b, aad)!), Buffer.from(pt), 'noble opens native');
  }
  t.end();
});

test('identities export and load with the same id, and refuse a corrupt file', (t) => {
  const id = Identity.generate();
  const json = JSON.parse(JSON.stringify(id.toJSON()));
  const back = Identity.fromJSON(json);
  t.equal(back.idHex, id.idHex, 'same id after a round trip');
  t.throws(() => Identity.fromJSON({ ...json, id: '00'.repeat(20) }), /corrupt/, 'an id that does not match the keys');
  t.throws(() => Identity.fromJSON({ type: 'other' } as never), /not a relaymesh identity/, 'not an identity');
  t.end();
});
