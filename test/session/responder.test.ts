/**
 * The answering side of session set-up (src/session/responder.ts) with the
 * real parts it shares with the SessionManager (keys held, session table,
 * sent INITs, CPU-queue work, spare key pair) and a host that records what it
 * routes: KEY_REQUEST is answered with an INIT (once, resent on a retry),
 * HANDSHAKE_INIT with a RESP (once, the same again on a retry), at most
 * maxHandshakesPerSecond per sender.
 */
import test, { type Test } from 'tape';
import { Responder, type SentInit } from '../../src/session/responder.js';
import { PeerKeys } from '../../src/session/peer-keys.js';
import { SessionTable } from '../../src/session/session-table.js';
import { SpareEphemeral } from '../../src/session/spare-ephemeral.js';
import type { Pending } from '../../src/session/pending.js';
import { BoundedMap } from '../../src/util/bounded-map.js';
import { cpuQueue, CpuPriority } from '../../src/util/cpu-queue.js';
import type { DropReason } from '../../src/util/drop-reasons.js';
import { Identity } from '../../src/crypto/identity.js';
import { createInit, complete, SID_LENGTH } from '../../src/crypto/session.js';
import { defaultAead } from '../../src/crypto/aead.js';
import { MsgType } from '../../src/wire/envelope.js';
import { equalBytes, toHex } from '../../src/util/bytes.js';

const BOB = Identity.generate();
const ALICE = Identity.generate();

function bob(t: Test, maxHandshakesPerSecond = 20) {
  const routed: { type: number; to: string; body: Uint8Array }[] = [];
  const drops: DropReason[] = [];
  const sessions = new SessionTable(16);
  const inits = new BoundedMap<string, SentInit>(16);
  const spare = new SpareEphemeral();
  const keys = new PeerKeys(16);
  t.teardown(() => { spare.stop(); keys.stop(); });
  const r = new Responder({
    identity: BOB, aead: defaultAead, keys, sessions, inits, working: new Set(), spare,
    route: (type, to, body) => { routed.push({ type, to: toHex(to), body: body.slice() }); },
    pending: (): Pending | undefined => undefined,
    flush: () => { throw new Error('nothing pending'); },
    countDrop: (reason) => drops.push(reason),
    destroyed: () => false,
    maxSessions: 16, maxKeys: 16, maxHandshakesPerSecond,
  });
  return { r, routed, drops, sessions, inits, keys };
}

/** Resolves once the CPU queue has run what was queued before (session work goes before this). */
const afterQueue = () => new Promise<void>((r) => cpuQueue.run(CpuPriority.AHEAD, r));

test('an INIT is answered with a RESP that completes the session; a retried INIT gets the same RESP and no second session', async (t) => {
  const b = bob(t);
  const init = createInit(ALICE, BOB.toPublic());
  b.r.onInit(ALICE.id, init.init, true);
  await afterQueue();
  b.r.onInit(ALICE.id, init.init, true);
  await afterQueue();
  t.deepEqual(b.routed.map((m) => m.type), [MsgType.HANDSHAKE_RESP, MsgType.HANDSHAKE_RESP], 'two RESPs');
  t.ok(equalBytes(b.routed[1].body, b.routed[0].body), 'the same one');
  t.equal(b.sessions.size, 1, 'one session');
  t.ok(b.sessions.current(ALICE.idHex)?.peerBatches, 'it opens batch records (the INIT said so)');
  const alices = complete(ALICE, init, b.routed[0].body, defaultAead);
  t.ok(alices, 'the RESP completes Alice\'s side');
  t.ok(b.keys.get(ALICE.idHex), 'Alice\'s keys (from her INIT) are held');
});

test('INITs from one sender past maxHandshakesPerSecond are dropped and counted as handshake_rate', async (t) => {
  const b = bob(t, 2);
  for (let i = 0; i < 4; i++) b.r.onInit(ALICE.id, createInit(ALICE, BOB.toPublic()).init, true);
  await afterQueue();
  t.equal(b.routed.filter((m) => m.type === MsgType.HANDSHAKE_RESP).length, 2, 'two answered');
  t.deepEqual(b.drops, ['handshake_rate', 'handshake_rate']);
});

test('a key request carrying the asker\'s keys is answered with one INIT, sent again on a retry; one without keys gets KEY_RESPONSE', async (t) => {
  const b = bob(t);
  b.r.onKeyRequest(ALICE.id, ALICE.publicKeys());
  await afterQueue();
  t.deepEqual(b.routed.map((m) => m.type), [MsgType.HANDSHAKE_INIT], 'one INIT');
  const first = b.routed[0].body;
  const sidHex = toHex(first.subarray(0, SID_LENGTH));
  t.ok(b.inits.get(sidHex), 'kept among the INITs sent');
  t.ok(b.keys.get(ALICE.idHex), 'the asker\'s keys (checked against its id) are held');
  b.r.onKeyRequest(ALICE.id, ALICE.publicKeys());
  await afterQueue();
  t.deepEqual(b.routed.map((m) => m.type), [MsgType.HANDSHAKE_INIT, MsgType.HANDSHAKE_INIT], 'a retried request gets an INIT again...');
  t.ok(equalBytes(b.routed[1].body, first), '...the same one, not a second handshake');
  b.r.onKeyRequest(ALICE.id, new Uint8Array(0));
  const last = b.routed[b.routed.length - 1];
  t.equal(last.type, MsgType.KEY_RESPONSE, 'a request without keys gets KEY_RESPONSE');
  t.ok(equalBytes(last.body, BOB.publicKeys()), 'with Bob\'s keys');
});

test('after completed(), a new key request makes a new INIT', async (t) => {
  const b = bob(t);
  b.r.onKeyRequest(ALICE.id, ALICE.publicKeys());
  await afterQueue();
  const sidHex = toHex(b.routed[0].body.subarray(0, SID_LENGTH));
  b.r.completed(ALICE.idHex, sidHex);
  b.inits.delete(sidHex); // as the manager does once the RESP is opened
  b.r.onKeyRequest(ALICE.id, ALICE.publicKeys());
  await afterQueue();
  t.equal(b.routed.length, 2, 'a second INIT');
  t.notEqual(toHex(b.routed[1].body.subarray(0, SID_LENGTH)), sidHex, 'with a new sid');
});
