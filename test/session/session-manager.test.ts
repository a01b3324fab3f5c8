import test from 'tape';
import { SessionManager, type SessionManagerOptions } from '../../src/session/session-manager.js';
import type { RouteResult } from '../../src/routing/router.js';
import { Identity } from '../../src/crypto/identity.js';
import { equalBytes, key53, toHex } from '../../src/util/bytes.js';
import type { RelayError } from '../../src/util/errors.js';
import type { DropReason } from '../../src/util/drop-reasons.js';
import { HEADER_LENGTH, MsgType, OFF_FROM, OFF_MSG_ID, encodeEnvelope, envelope } from '../../src/wire/envelope.js';

// Three identities for the whole file: key generation is the slow part.
const ALICE = Identity.generate();
const BOB = Identity.generate();
const CAROL = Identity.generate();

interface Failure { to: string; code: string; count: number }

/**
 * One end: a SessionManager whose `route` records every frame and, while
 * `wire` is on, hands it to the manager it is addressed to on the next
 * macrotask (a routed network, minus the routing).
 */
class End {
  readonly sent: Uint8Array[] = [];
  readonly delivered: { from: string; plaintext: Uint8Array }[] = [];
  readonly failures: Failure[] = [];
  /** Message keys the manager said are settled (reported undeliverable after they left). */
  readonly settled: number[] = [];
  readonly drops: DropReason[] = [];
  result: RouteResult = 'sent';
  wire = true;
  /** Message types this end sends that are recorded but not handed over (to hand them over by hand). */
  readonly hold = new Set<number>();
  /** Called on each delivery, after it is recorded (an application answering at once). */
  onDeliver: ((from: string, plaintext: Uint8Array) => void) | null = null;
  readonly manager: SessionManager;
  #waiters: (() => void)[] = [];

  constructor(readonly identity: Identity, readonly peers: Map<string, End>, o: Partial<SessionManagerOptions> = {}) {
    peers.set(identity.idHex, this);
    this.manager = new SessionManager({
      identity,
      route: (f) => this.#route(f),
      deliver: (from, plaintext, start, end) => {
        this.delivered.push({ from: toHex(from), plaintext: plaintext.slice(start, end) });
        this.onDeliver?.(toHex(from), plaintext.slice(start, end));
        this.#wake();
      },
      fail: (to, err, count) => { this.failures.push({ to: toHex(to), code: err.code, count }); this.#wake(); },
      settled: (msgKey) => { this.settled.push(msgKey); },
      countDrop: (r) => { this.drops.push(r); this.#wake(); },
      hasLinks: () => true,
      ttl: 32,
      handshakeTimeoutMs: 10_000,
      maxQueuePerPeer: 4,
      maxQueueTotal: 8,
      queueTimeoutMs: 60_000,
      maxSessions: 16,
      maxKeys: 16,
      sessionIdleMs: 600_000,
      maxHandshakesPerSecond: 20,
      maxBatchBytes: 16384,
      ...o,
    });
  }

  #route(f: Uint8Array): RouteResult {
    this.sent.push(f.slice());
    if (this.result !== 'sent') return this.result;
    const to = this.peers.get(toHex(envelope.to(f)));
    if (this.wire && to && !this.hold.has(envelope.type(f))) {
      const copy = f.slice();
      setImmediate(() => { if (to.wire) to.manager.handle(copy); });
    }
    return 'sent';
  }

  #wake(): void { for (const w of this.#waiters.splice(0)) w(); }

  /** Resolves once `cond` holds (checked whenever this end delivers, fails or drops). */
  until(cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => (cond() ? resolve() : this.#waiters.push(check));
      this.#waiters.push(check);
    });
  }

  sentOf(type: number): Uint8Array[] { return this.sent.filter((f) => envelope.type(f) === type); }
}

const text = (s: string) => new TextEncoder().encode(s);
const read = (p: Uint8Array) => ({ channel: p[0], text: new TextDecoder().decode(p.subarray(1)) });

function pair(t: test.Test, o: Partial<SessionManagerOptions> = {}) {
  const peers = new Map<string, End>();
  const a = new End(ALICE, peers, o);
  const b = new End(BOB, peers, o);
  t.teardown(() => { a.manager.destroy(); b.manager.destroy(); });
  return { a, b, peers };
}

/** Two ends with a session from a to b. */
async function linked(t: test.Test, o: Partial<SessionManagerOptions> = {}) {
  const ends = pair(t, o);
  ends.a.manager.send(BOB.id, 1, text('hello'));
  await ends.b.until(() => ends.b.delivered.length === 1);
  return ends;
}

test('a first send fetches keys, runs the handshake and delivers the sealed message', async (t) => {
  const { a, b } = pair(t);
  a.manager.send(BOB.id, 7, text('hi bob'));
  t.equal(a.manager.queued, 1, 'queued until a session exists');
  t.equal(envelope.type(a.sent[0]), MsgType.KEY_REQUEST, 'the keys are asked for first');
  t.ok(equalBytes(envelope.body(a.sent[0]), ALICE.publicKeys()), "the request carries Alice's keys");
  await b.until(() => b.delivered.length === 1);
  t.equal(b.delivered[0].from, ALICE.idHex, 'delivered as from Alice');
  t.deepEqual(read(b.delivered[0].plaintext), { channel: 7, text: 'hi bob' }, 'channel and payload');
  t.deepEqual(b.sent.map((f) => envelope.type(f)), [MsgType.HANDSHAKE_INIT], 'Bob answered the key request with an INIT (his keys in it)');
  t.deepEqual(a.sent.map((f) => envelope.type(f)), [MsgType.KEY_REQUEST, MsgType.HANDSHAKE_RESP, MsgType.DATA],
    'Alice answered it with RESP and the message at once: three one-way trips in all');
  t.equal(a.sentOf(MsgType.DATA).length, 1, 'one DATA');
  const data = a.sentOf(MsgType.DATA)[0];
  t.equal(new TextDecoder().decode(envelope.body(data)).includes('hi bob'), false, 'the payload is not in clear on the wire');
  t.ok(a.manager.hasSession(BOB.id) && b.manager.hasSession(ALICE.id), 'both ends hold the session');
  t.equal(a.manager.queued, 0);
  t.ok(a.manager.keysOf(BOB.id), 'Alice keeps Bob\'s keys');
  t.deepEqual(a.failures, [], 'nothing failed');
  t.end();
});

test('with a session, a send goes out at once, and the responder can answer on it', async (t) => {
  const { a, b } = await linked(t);
  const before = a.sent.length;
  a.manager.send(BOB.id, 2, text('second'));
  t.equal(a.sent.length, before + 1, 'routed synchronously');
  t.equal(envelope.type(a.sent[a.sent.length - 1]), MsgType.DATA);
  b.manager.send(ALICE.id, 3, text('reply'));
  await a.until(() => a.delivered.length === 1);
  t.deepEqual(read(a.delivered[0].plaintext), { channel: 3, text: 'reply' });
  await b.until(() => b.delivered.length === 2);
  t.deepEqual(read(b.delivered[1].plaintext), { channel: 2, text: 'second' });
  t.end();
});

test('messages queued before the session are delivered in order once it exists', async (t) => {
  const { a, b } = pair(t);
  for (const m of ['one', 'two', 'three']) a.manager.send(BOB.id, 1, text(m));
  t.equal(a.manager.queued, 3);
  await b.until(() => b.delivered.length === 3);
  t.deepEqual(b.delivered.map((d) => read(d.plaintext).text), ['one', 'two', 'three']);
  t.equal(a.manager.queued, 0);
  t.end();
});

test('a queued payload is copied: the caller may reuse its buffer', async (t) => {
  const { a, b } = pair(t);
  const buf = text('original');
  a.manager.send(BOB.id, 1, buf);
  buf.fill(0x21);
  await b.until(() => b.delivered.length === 1);
  t.equal(read(b.delivered[0].plaintext).text, 'original');
  t.end();
});

test('queues are bounded per destination and in total (ERR_QUEUE_FULL); destroy reports what waited', (t) => {
  const peers = new Map<string, End>();
  const a = new End(ALICE, peers, { maxQueuePerPeer: 2, maxQueueTotal: 3 });
  a.wire = false; // no answer ever comes
  a.manager.send(BOB.id, 1, text('1'));
  a.manager.send(BOB.id, 1, text('2'));
  try { a.manager.send(BOB.id, 1, text('3')); t.fail('a third message for Bob is refused'); } catch (e) {
    t.equal((e as RelayError).code, 'ERR_QUEUE_FULL', 'the per-destination bound');
  }
  a.manager.send(CAROL.id, 1, text('c1'));
  try { a.manager.send(CAROL.id, 1, text('c2')); t.fail('a fourth message in total is refused'); } catch (e) {
    t.equal((e as RelayError).code, 'ERR_QUEUE_FULL', 'the total bound');
  }
  t.equal(a.manager.queued, 3, 'refused messages are not queued');
  a.manager.destroy();
  t.deepEqual(a.failures.sort((x, y) => y.count - x.count), [
    { to: BOB.idHex, code: 'ERR_DESTROYED', count: 2 },
    { to: CAROL.idHex, code: 'ERR_DESTROYED', count: 1 },
  ], 'destroy fails every queued message once, per destination');
  t.equal(a.manager.queued, 0);
  try { a.manager.send(BOB.id, 1, text('late')); t.fail('send after destroy throws'); } catch (e) {
    t.equal((e as RelayError).code, 'ERR_DESTROYED', 'send after destroy fails with ERR_DESTROYED');
  }
  t.end();
});

test('a replayed DATA frame is dropped and counted as a replay', async (t) => {
  const { a, b } = await linked(t);
  const data = a.sentOf(MsgType.DATA)[0];
  b.manager.handle(data.slice());
  t.deepEqual(b.drops.filter((r) => r === 'replay'), ['replay']);
  t.equal(b.delivered.length, 1, 'not delivered again');
  t.end();
});

test('DATA on a session whose peer is not the sender is dropped as forged', async (t) => {
  const { a, b } = await linked(t);
  a.manager.send(BOB.id, 1, text('second'));
  const forged = a.sent[a.sent.length - 1].slice();
  forged.set(CAROL.id, OFF_FROM);
  b.manager.handle(forged);
  t.ok(b.drops.includes('forged_sender'), 'counted as forged_sender');
  t.equal(b.delivered.length, 1, 'not delivered');
  t.end();
});

test('tampered, unknown-session, short and unknown-type frames are dropped with their reason', async (t) => {
  const { a, b } = await linked(t);
  a.manager.send(BOB.id, 1, text('second'));
  const tampered = a.sent[a.sent.length - 1].slice();
  tampered[tampered.length - 1] ^= 1;
  b.manager.handle(tampered);
  t.ok(b.drops.includes('decrypt_failed'), 'a flipped tag bit: decrypt_failed');
  const before = b.sent.length;
  b.manager.handle(encodeEnvelope(MsgType.DATA, BOB.id, CAROL.id, new Uint8Array(64).fill(9)));
  t.ok(b.drops.includes('unknown_session'), 'a session id Bob never made: unknown_session');
  t.equal(envelope.type(b.sent[before]), MsgType.SESSION_UNKNOWN, 'answered with SESSION_UNKNOWN');
  t.ok(equalBytes(envelope.to(b.sent[before]), CAROL.id), 'to the sender');
  b.manager.handle(encodeEnvelope(MsgType.DATA, BOB.id, ALICE.id, new Uint8Array(3)));
  t.ok(b.drops.includes('malformed'), 'a body shorter than a session id: malformed');
  b.manager.handle(encodeEnvelope(MsgType.LOOKUP, BOB.id, ALICE.id, new Uint8Array(0)));
  t.ok(b.drops.includes('unknown_type'), 'a type sessions do not handle: unknown_type');
  t.equal(b.delivered.length, 1, 'none of them delivered');
  t.end();
});

test('keys that do not hash to the claimed id are refused as bad_keys', (t) => {
  const { a } = pair(t);
  a.wire = false;
  a.manager.send(BOB.id, 1, text('x'));
  a.manager.handle(encodeEnvelope(MsgType.KEY_RESPONSE, ALICE.id, BOB.id, CAROL.publicKeys()));
  t.deepEqual(a.drops, ['bad_keys']);
  t.equal(a.manager.keysOf(BOB.id), undefined, 'the keys are not kept');
  t.equal(a.sentOf(MsgType.HANDSHAKE_INIT).length, 0, 'no handshake with them');
  t.end();
});

test('a handshake answer nobody asked for is dropped as unsolicited', async (t) => {
  const { a, b } = await linked(t);
  const resp = a.sentOf(MsgType.HANDSHAKE_RESP)[0];
  const before = b.drops.length;
  const sessions = b.manager.sessionCount;
  b.manager.handle(resp.slice()); // the same answer again, as to a retried INIT
  t.deepEqual(b.drops.slice(before), [], 'a repeat of the answer to a completed handshake is ignored');
  t.equal(b.manager.sessionCount, sessions, 'and makes no session');
  const stray = resp.slice();
  stray[HEADER_LENGTH] ^= 0xff; // a sid Bob never sent an INIT with
  b.manager.handle(stray);
  t.deepEqual(b.drops.slice(before), ['unsolicited_handshake'], 'an answer to no INIT of ours is dropped');
  t.end();
});

test('an UNREACHABLE for a DATA message reports it failed once', async (t) => {
  const { a } = await linked(t);
  const data = a.sentOf(MsgType.DATA)[0];
  const err = { code: 'ERR_NO_ROUTE' } as RelayError;
  a.manager.unreachable(key53(data, OFF_MSG_ID), BOB.id, err);
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_NO_ROUTE', count: 1 }]);
  a.manager.unreachable(key53(data, OFF_MSG_ID), BOB.id, err);
  t.equal(a.failures.length, 1, 'a second report for the same message is ignored');
  t.end();
});

test('an UNREACHABLE for a handshake message fails nothing at once; the handshake gives up with its error', async (t) => {
  const { a } = pair(t, { handshakeTimeoutMs: 300 });
  a.wire = false; // Bob never answers
  a.manager.send(BOB.id, 1, text('x'));
  a.manager.send(BOB.id, 1, text('y'));
  const request = a.sentOf(MsgType.KEY_REQUEST)[0];
  const err = { code: 'ERR_HOP_LIMIT' } as RelayError;
  a.manager.unreachable(key53(request, OFF_MSG_ID), BOB.id, err);
  t.deepEqual(a.failures, [], 'no failure reported for a handshake message');
  t.equal(a.manager.queued, 2, 'the messages still wait');
  await a.until(() => a.failures.length > 0);
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_HOP_LIMIT', count: 2 }], 'at the deadline, both fail once with the reported error');
  t.equal(a.manager.queued, 0);
  t.end();
});

test('with no answer and no report, the handshake fails with ERR_HANDSHAKE_TIMEOUT', async (t) => {
  const { a } = pair(t, { handshakeTimeoutMs: 300 });
  a.wire = false;
  a.manager.send(BOB.id, 1, text('x'));
  await a.until(() => a.failures.length > 0);
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_HANDSHAKE_TIMEOUT', count: 1 }]);
  t.ok(a.sentOf(MsgType.KEY_REQUEST).length >= 1, 'the keys were asked for');
  t.end();
});

test("a 'congested' route reports the message as ERR_QUEUE_FULL, 'no_links' as ERR_NO_ROUTE", async (t) => {
  const { a } = await linked(t);
  a.result = 'congested';
  a.manager.send(BOB.id, 1, text('x'));
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_QUEUE_FULL', count: 1 }]);
  a.result = 'no_links';
  a.manager.send(BOB.id, 1, text('y'));
  t.deepEqual(a.failures[1], { to: BOB.idHex, code: 'ERR_NO_ROUTE', count: 1 });
  const refused = a.sent[a.sent.length - 1];
  a.manager.unreachable(key53(refused, OFF_MSG_ID), BOB.id, { code: 'ERR_NO_ROUTE' } as RelayError);
  t.equal(a.failures.length, 2, 'a message reported at send time is not reported again');
  t.end();
});

test('a handshake paused while the node has no links starts when kick() says a link opened', async (t) => {
  let links = false;
  const { a, b } = pair(t, { hasLinks: () => links });
  a.manager.send(BOB.id, 1, text('later'));
  t.equal(a.sent.length, 0, 'nothing is routed without links');
  links = true;
  a.manager.kick();
  t.equal(envelope.type(a.sent[0]), MsgType.KEY_REQUEST, 'the key request goes on kick()');
  await b.until(() => b.delivered.length === 1);
  t.equal(read(b.delivered[0].plaintext).text, 'later');
  t.end();
});

test('a DATA frame carries the DATA overhead on top of channel and payload', async (t) => {
  const { a } = await linked(t);
  const body = envelope.body(a.sentOf(MsgType.DATA)[0]);
  t.equal(a.sentOf(MsgType.DATA)[0].length - HEADER_LENGTH, body.length);
  t.equal(body.length, 8 + 8 + 16 + 1 + 'hello'.length, 'sid, counter, tag, channel byte, payload');
  t.end();
});

// ---- batch records (PROTOCOL.md §5.2)

const bodyLength = (f: Uint8Array) => envelope.body(f).length;
const plainDataLength = (payload: number) => 8 + 8 + 16 + 1 + payload;

test('messages to one destination sent in one turn after the first are sealed as one batch record and delivered each, in order', async (t) => {
  const { a, b } = await linked(t);
  const before = a.sentOf(MsgType.DATA).length;
  const words = ['one', 'two', 'three', 'four', 'five'];
  words.forEach((w, i) => a.manager.send(BOB.id, 10 + i, text(w)));
  t.equal(a.sentOf(MsgType.DATA).length, before + 1, 'the first goes at once');
  await Promise.resolve();
  const data = a.sentOf(MsgType.DATA).slice(before);
  t.equal(data.length, 2, 'the other four follow at the end of the turn as one DATA');
  t.equal(bodyLength(data[0]), plainDataLength(3), 'the first is a plain DATA');
  t.equal(bodyLength(data[1]), 8 + 8 + 16 + 1 + (3 + 3) + (3 + 5) + (3 + 4) + (3 + 4), 'the record: sid, counter, tag, batch byte, then length and channel per message');
  await b.until(() => b.delivered.length === 6);
  t.deepEqual(b.delivered.slice(1).map((d) => read(d.plaintext)), words.map((w, i) => ({ channel: 10 + i, text: w })), 'each message with its channel, in order');
  t.deepEqual(b.drops, [], 'nothing dropped');
  t.end();
});

test('a lone message per turn is a plain DATA, never a record', async (t) => {
  const { a, b } = await linked(t);
  for (const w of ['x', 'yy', 'zzz']) {
    a.manager.send(BOB.id, 1, text(w));
    await new Promise((r) => setImmediate(r));
  }
  const data = a.sentOf(MsgType.DATA).slice(1);
  t.deepEqual(data.map(bodyLength), [plainDataLength(1), plainDataLength(2), plainDataLength(3)], 'one seal per message, the unbatched format');
  await b.until(() => b.delivered.length === 4);
  t.deepEqual(b.delivered.slice(1).map((d) => read(d.plaintext).text), ['x', 'yy', 'zzz']);
  t.end();
});

test('a replayed batch record is refused and delivers nothing again', async (t) => {
  const { a, b } = await linked(t);
  for (const w of ['p', 'q', 'r']) a.manager.send(BOB.id, 1, text(w));
  await b.until(() => b.delivered.length === 4);
  const record = a.sentOf(MsgType.DATA).at(-1)!;
  t.equal(bodyLength(record), 8 + 8 + 16 + 1 + 2 * 4, 'the last DATA is the record of two');
  b.manager.handle(record.slice());
  t.deepEqual(b.drops, ['replay'], 'counted once as a replay');
  t.equal(b.delivered.length, 4, 'none of its messages delivered twice');
  t.end();
});

test('a tampered batch record is refused whole', async (t) => {
  const { a, b } = await linked(t);
  b.wire = false;
  for (const w of ['p', 'q', 'r']) a.manager.send(BOB.id, 1, text(w));
  await Promise.resolve();
  const record = a.sentOf(MsgType.DATA).at(-1)!.slice();
  record[HEADER_LENGTH + 16 + 3] ^= 0x40; // a ciphertext byte inside the second entry
  b.manager.handle(record);
  t.deepEqual(b.drops, ['decrypt_failed'], 'authentication fails');
  t.equal(b.delivered.length, 1, 'no message of it delivered');
  t.end();
});

test('an UNREACHABLE for a batch record reports each of its messages undeliverable', async (t) => {
  const { a } = await linked(t);
  for (const w of ['1', '2', '3', '4']) a.manager.send(BOB.id, 1, text(w));
  await Promise.resolve();
  const [lone, record] = a.sentOf(MsgType.DATA).slice(-2);
  const err = { code: 'ERR_NO_ROUTE' } as RelayError;
  a.manager.unreachable(key53(record, OFF_MSG_ID), BOB.id, err);
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_NO_ROUTE', count: 3 }], 'three messages in the record, three failures');
  a.manager.unreachable(key53(lone, OFF_MSG_ID), BOB.id, err);
  t.deepEqual(a.failures[1], { to: BOB.idHex, code: 'ERR_NO_ROUTE', count: 1 }, 'the lone one: one');
  a.manager.unreachable(key53(record, OFF_MSG_ID), BOB.id, err);
  t.equal(a.failures.length, 2, 'a second report for the record is ignored');
  t.end();
});

test("a batch record the route refuses ('congested') reports each message as ERR_QUEUE_FULL", async (t) => {
  const { a } = await linked(t);
  for (const w of ['1', '2', '3']) a.manager.send(BOB.id, 1, text(w));
  a.result = 'congested';
  await Promise.resolve();
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_QUEUE_FULL', count: 2 }], 'the two in the record');
  t.end();
});

test('records stay within maxBatchBytes; a message too large for one goes alone, in order', async (t) => {
  const { a, b } = await linked(t, { maxBatchBytes: 64 });
  const sizes = [5, 20, 20, 20, 20, 200, 7, 7];
  sizes.forEach((n, i) => a.manager.send(BOB.id, 1, new Uint8Array(n).fill(i)));
  await b.until(() => b.delivered.length === 1 + sizes.length);
  t.deepEqual(b.delivered.slice(1).map((d) => [d.plaintext.length - 1, d.plaintext[1]]), sizes.map((n, i) => [n, i]), 'every message once, in order');
  const bodies = a.sentOf(MsgType.DATA).slice(1).map((f) => bodyLength(f) - 32);
  t.ok(bodies.every((n) => n <= 64 || n === 201), `no record over 64 plaintext bytes (${bodies.join(', ')})`);
  t.ok(bodies.length < sizes.length, 'some were batched');
  t.end();
});

test('a peer whose handshake does not say it opens batch records (an older node) gets one DATA per message', async (t) => {
  const peers = new Map<string, End>();
  const a = new End(ALICE, peers);
  const old = new End(BOB, peers);
  t.teardown(() => { a.manager.destroy(); old.manager.destroy(); });
  // An older node sends its envelope flags as 0: clear them on everything Bob sends.
  const handle = a.manager.handle.bind(a.manager);
  a.manager.handle = (f: Uint8Array) => { f[3] = 0; handle(f); };
  a.manager.send(BOB.id, 1, text('hello'));
  await old.until(() => old.delivered.length === 1);
  for (const w of ['a', 'b', 'c']) a.manager.send(BOB.id, 1, text(w));
  await old.until(() => old.delivered.length === 4);
  t.deepEqual(a.sentOf(MsgType.DATA).slice(1).map(bodyLength), [1, 1, 1].map(plainDataLength), 'three plain DATA');
  t.deepEqual(old.delivered.map((d) => read(d.plaintext).text), ['hello', 'a', 'b', 'c']);
  t.ok((a.sentOf(MsgType.HANDSHAKE_RESP)[0][3] & 1) === 1, 'this node still says it opens them');
  t.end();
});

// ---- the key fetch overlapped with the handshake (PROTOCOL.md §5.1)

test('a key request without keys (an older node) is answered with KEY_RESPONSE, and the initiator runs the handshake', async (t) => {
  const { a, b } = pair(t);
  b.manager.handle(encodeEnvelope(MsgType.KEY_REQUEST, BOB.id, ALICE.id, new Uint8Array(0)));
  t.deepEqual(b.sent.map((f) => envelope.type(f)), [MsgType.KEY_RESPONSE], 'keys, no INIT');
  t.ok(equalBytes(envelope.body(b.sent[0]), BOB.publicKeys()));
  // Alice as an older node would: learn the keys, then INIT.
  a.manager.send(BOB.id, 1, text('x'));
  await b.until(() => b.delivered.length === 1);
  t.equal(read(b.delivered[0].plaintext).text, 'x');
  t.end();
});

test('a key request whose keys do not hash to its sender gets KEY_RESPONSE, no INIT, and the keys are not kept', (t) => {
  const { b } = pair(t);
  b.wire = false;
  b.manager.handle(encodeEnvelope(MsgType.KEY_REQUEST, BOB.id, ALICE.id, CAROL.publicKeys()));
  t.deepEqual(b.sent.map((f) => envelope.type(f)), [MsgType.KEY_RESPONSE]);
  t.equal(b.manager.keysOf(ALICE.id), undefined);
  t.end();
});

test('a retried key request gets the same INIT again, not a second handshake', (t) => {
  const { b } = pair(t);
  b.wire = false;
  const req = encodeEnvelope(MsgType.KEY_REQUEST, BOB.id, ALICE.id, ALICE.publicKeys());
  b.manager.handle(req);
  b.manager.handle(encodeEnvelope(MsgType.KEY_REQUEST, BOB.id, ALICE.id, ALICE.publicKeys()));
  const inits = b.sentOf(MsgType.HANDSHAKE_INIT);
  t.equal(inits.length, 2, 'answered twice');
  t.ok(equalBytes(envelope.body(inits[0]), envelope.body(inits[1])), 'with the same INIT');
  t.end();
});

test('DATA that overtakes the RESP it follows is held and delivered once the RESP arrives', async (t) => {
  const { a, b } = pair(t);
  a.hold.add(MsgType.HANDSHAKE_RESP).add(MsgType.DATA); // handed over by hand, out of order
  a.manager.send(BOB.id, 1, text('first'));
  for (let i = 0; i < 1000 && a.sentOf(MsgType.DATA).length === 0; i++) await new Promise((r) => setImmediate(r));
  t.equal(a.sentOf(MsgType.DATA).length, 1, 'Alice sent RESP and DATA');
  const resp = a.sentOf(MsgType.HANDSHAKE_RESP)[0];
  const data = a.sentOf(MsgType.DATA)[0];
  b.manager.handle(data.slice());
  t.equal(b.delivered.length, 0, 'not deliverable before the RESP');
  t.deepEqual(b.drops, [], 'held, not dropped');
  t.equal(b.sentOf(MsgType.SESSION_UNKNOWN).length, 0, 'and not answered with SESSION_UNKNOWN');
  b.manager.handle(resp.slice());
  t.deepEqual(b.delivered.map((d) => read(d.plaintext).text), ['first'], 'delivered after the RESP');
  t.end();
});

test('under load the first message of a turn joins the record too; after a quiet turn it goes at once again', async (t) => {
  const { a, b } = await linked(t);
  const turn = async (words: string[]) => {
    const before = a.sentOf(MsgType.DATA).length;
    for (const w of words) a.manager.send(BOB.id, 1, text(w));
    const atOnce = a.sentOf(MsgType.DATA).length - before;
    await new Promise((r) => setImmediate(r));
    return { atOnce, frames: a.sentOf(MsgType.DATA).slice(before).map(bodyLength) };
  };
  t.deepEqual(await turn(['a', 'b', 'c']), { atOnce: 1, frames: [plainDataLength(1), 8 + 8 + 16 + 1 + 2 * 4] }, 'first turn: one at once, then a record of two');
  t.deepEqual(await turn(['d', 'e', 'f']), { atOnce: 0, frames: [8 + 8 + 16 + 1 + 3 * 4] }, 'the next busy turn: one record of three');
  t.deepEqual(await turn(['g']), { atOnce: 0, frames: [plainDataLength(1)] }, 'a turn of one after a busy one: a plain DATA at the turn end');
  t.deepEqual(await turn(['h', 'i']), { atOnce: 1, frames: [plainDataLength(1), plainDataLength(1)] }, 'after a quiet turn the first goes at once again');
  await b.until(() => b.delivered.length === 10);
  t.deepEqual(b.delivered.slice(1).map((d) => read(d.plaintext).text), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'], 'all in order');
  t.end();
});

test('DATA to a peer that lost its sessions (restarted) is reported ERR_SESSION_LOST, and the next message makes a new session', async (t) => {
  const { a, b, peers } = await linked(t);
  // Bob restarts: same identity, no sessions. Alice still holds hers.
  b.manager.destroy();
  const b2 = new End(BOB, peers);
  t.teardown(() => b2.manager.destroy());
  a.manager.send(BOB.id, 1, text('lost'));
  await a.until(() => a.failures.length === 1);
  t.ok(b2.drops.includes('unknown_session'), 'the restarted end had no such session');
  t.deepEqual(a.failures, [{ to: BOB.idHex, code: 'ERR_SESSION_LOST', count: 1 }], 'the sender is told, for that one message');
  const lost = a.sentOf(MsgType.DATA).at(-1)!;
  t.deepEqual(a.settled, [key53(lost, OFF_MSG_ID)], 'and that message is settled: the router retransmits it no more');
  t.equal(b2.delivered.length, 0, 'nothing was delivered');
  a.manager.send(BOB.id, 1, text('again'));
  await b2.until(() => b2.delivered.length === 1);
  t.deepEqual(read(b2.delivered[0].plaintext), { channel: 1, text: 'again' }, 'the next one goes on a new session');
  t.equal(a.failures.length, 1, 'and nothing more is reported');
  t.end();
});

test('a SESSION_UNKNOWN naming a message this node did not send there reports nothing', async (t) => {
  const { a, b } = await linked(t);
  const data = a.sentOf(MsgType.DATA)[0];
  const sid = data.subarray(HEADER_LENGTH, HEADER_LENGTH + 8);
  const forged = new Uint8Array(16);
  forged.set(sid);
  forged.fill(7, 8); // a message id Alice never sent
  a.manager.handle(encodeEnvelope(MsgType.SESSION_UNKNOWN, ALICE.id, BOB.id, forged, 32));
  const named = new Uint8Array(16);
  named.set(sid);
  named.set(data.subarray(OFF_MSG_ID, OFF_MSG_ID + 8), 8);
  a.manager.handle(encodeEnvelope(MsgType.SESSION_UNKNOWN, ALICE.id, CAROL.id, named, 32)); // from another node
  await new Promise((r) => setImmediate(r));
  t.deepEqual(a.failures, [], 'no message is reported');
  t.equal(b.delivered.length, 1);
  t.end();
});

test('both ends set up a session at once and one answers at once on the second: everything it queued before arrives, in order', async (t) => {
  const { a, b } = pair(t);
  // Bob's INIT, his RESP to Alice's INIT and his first DATA reach Alice together (as one socket read would).
  b.hold.add(MsgType.HANDSHAKE_INIT).add(MsgType.HANDSHAKE_RESP).add(MsgType.DATA);
  ['one', 'two', 'three'].forEach((w) => a.manager.send(BOB.id, 1, text(w)));
  b.manager.send(ALICE.id, 1, text('hello'));
  for (let i = 0; i < 1000 && (b.sentOf(MsgType.HANDSHAKE_RESP).length === 0 || b.sentOf(MsgType.DATA).length === 0); i++) {
    await new Promise((r) => setImmediate(r));
  }
  t.equal(b.sentOf(MsgType.HANDSHAKE_INIT).length, 1, "Bob sent his own INIT");
  t.equal(b.sentOf(MsgType.HANDSHAKE_RESP).length, 1, "and answered Alice's");
  t.equal(b.sentOf(MsgType.DATA).length, 1, 'and sent his message on the session that made');
  a.onDeliver = (_from, pt) => { if (read(pt).text === 'hello') a.manager.send(BOB.id, 1, text('reply')); };
  for (const f of [...b.sentOf(MsgType.HANDSHAKE_INIT), ...b.sentOf(MsgType.HANDSHAKE_RESP), ...b.sentOf(MsgType.DATA)]) a.manager.handle(f.slice());
  await a.until(() => a.delivered.length === 1);
  // The answer is sent last (everything before it, or the loss of it, is on the wire first).
  await b.until(() => b.delivered.some((d) => read(d.plaintext).text === 'reply'));
  t.deepEqual(b.delivered.map((d) => read(d.plaintext).text), ['one', 'two', 'three', 'reply'], "all Alice's messages reach Bob, in order");
  t.deepEqual(b.drops, [], 'nothing dropped');
  t.deepEqual(a.failures, [], 'nothing reported failed');
  t.end();
});
