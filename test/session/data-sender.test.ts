import test from 'tape';
import { DataSender } from '../../src/session/data-sender.js';
import { readBatch, BATCH_CHANNEL } from '../../src/session/batch.js';
import { Identity } from '../../src/crypto/identity.js';
import { createInit, respond, complete, SID_LENGTH, type Session } from '../../src/crypto/session.js';
import { equalBytes } from '../../src/util/bytes.js';
import { envelope } from '../../src/wire/envelope.js';
import type { RelayError } from '../../src/util/errors.js';

const ALICE = Identity.generate();
const BOB = Identity.generate();

/** A real handshake from Alice to Bob: Alice's end and Bob's end of one session. */
function handshake(): { mine: Session; theirs: Session } {
  const pending = createInit(ALICE, BOB.toPublic());
  const r = respond(BOB, ALICE.id, pending.init)!;
  const mine = complete(ALICE, pending, r.resp)!;
  mine.peerBatches = true;
  return { mine, theirs: r.session };
}

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Alice's DataSender toward Bob, whose current session the test sets (as the
 * session table does when a handshake completes); resend goes the way
 * SessionManager.send does: on the current session.
 */
function sender() {
  const frames: Uint8Array[] = [];
  const failures: { code: string; count: number }[] = [];
  const o = { current: undefined as Session | undefined };
  const ds: DataSender = new DataSender({
    id: ALICE.id, ttl: 32, maxBatchBytes: 16384,
    route: (f) => { frames.push(f.slice()); return 'sent'; },
    fail: (_to, err: RelayError, count) => { failures.push({ code: err.code, count }); },
    current: () => o.current,
    resend: (to, channel, payload) => ds.send(BOB.idHex, to, o.current!, channel, payload),
    destroyed: () => false,
  });
  return { ds, frames, failures, o };
}

/** What Bob reads from Alice's frames, opened on whichever of his sessions each names, in order. */
function readAll(frames: Uint8Array[], bobs: Session[]): string[] {
  const out: string[] = [];
  for (const f of frames) {
    const body = envelope.body(f);
    const s = bobs.find((b) => equalBytes(b.localSid, body.subarray(0, SID_LENGTH)));
    if (!s) { out.push('<no session>'); continue; }
    const r = s.open(envelope.to(f), envelope.from(f), body);
    if (!r.ok) { out.push(`<${r.reason}>`); continue; }
    const entries = r.plaintext[0] === BATCH_CHANNEL ? readBatch(r.plaintext)! : [r.plaintext];
    for (const e of entries) out.push(new TextDecoder().decode(e.subarray(1)));
  }
  return out;
}

test('a record gathered on a session replaced within the turn is sent on the new one, and a message after the change keeps its place behind it', async (t) => {
  const s1 = handshake();
  const s2 = handshake();
  const { ds, frames, failures, o } = sender();
  o.current = s1.mine;
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text('one')); // goes at once
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text('two')); // gathered for the turn's end...
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text('three'));
  // ...but a second session with Bob becomes current in the same turn (both ends set one up at once),
  // and something is sent on it before the turn ends.
  o.current = s2.mine;
  ds.send(BOB.idHex, BOB.id, s2.mine, 1, text('four'));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(readAll(frames, [s1.theirs, s2.theirs]), ['one', 'two', 'three', 'four'], 'every message reaches Bob, in order');
  t.deepEqual(failures, [], 'none reported failed (none was lost)');
  t.end();
});

test('a record that fills up after its session was replaced is resent, and the message that did not fit follows it', async (t) => {
  const s1 = handshake();
  const s2 = handshake();
  const { ds, frames, failures, o } = sender();
  o.current = s1.mine;
  const big = 'x'.repeat(6000);
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text('one'));
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text(`a${big}`));
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text(`b${big}`));
  o.current = s2.mine; // replaced within the turn; the next message for s1 does not fit the record
  ds.send(BOB.idHex, BOB.id, s1.mine, 1, text(`c${big}`));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(readAll(frames, [s1.theirs, s2.theirs]).map((m) => m.slice(0, 3)), ['one', `a${big}`, `b${big}`, `c${big}`].map((m) => m.slice(0, 3)), 'every message reaches Bob, in order');
  t.deepEqual(failures, [], 'none reported failed');
  t.end();
});
