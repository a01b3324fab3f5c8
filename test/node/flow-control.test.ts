/**
 * Flow control (issue 13): send() says when to wait, every message is
 * delivered or reported, relays share a link fairly between origins.
 * Nodes A (with a port), B, C and D (without: everything crosses A) over
 * real WebSockets on loopback, 1 KiB binary messages. Nothing here asserts
 * on timing: counts, codes and events, with bounded waits that fail loudly.
 */
import test from 'tape';
import type { PeerRelay, PeerRelayOptions } from '../../src/index.js';
import type { RelayError } from '../../src/util/errors.js';
import { Worker } from 'node:worker_threads';
import { Identity } from '../../src/index.js';
import { Link } from '../../src/link/link.js';
import { dialWebSocket } from '../../src/transport/websocket.js';
import { CongestionKind, encodeCongestion, encodeEnvelope, MsgType } from '../../src/wire/envelope.js';
import { randomBytes } from '../../src/util/bytes.js';
import { startNode, urlOf, waitFor, sleep } from '../helpers/testnet.js';
import { flowPayload, type FlowCounts, type FromReceiver, type ToReceiver } from '../../bench/lib/flow-receiver.js';

/** A relay with small queues, so that A itself must drop (and report). */
const RELAY: PeerRelayOptions = { maxFlowBuffer: 256 * 1024, flowMark: 64 * 1024, maxLinkBuffer: 512 * 1024 };
/** Leaves whose own queues hold a whole blast: what is lost is lost at the relay. */
const BIG: PeerRelayOptions = { maxFlowBuffer: 64 * 1024 * 1024, maxLinkBuffer: 64 * 1024 * 1024 };
const RECEIVER = new URL('../../bench/lib/flow-receiver.js', import.meta.url);

interface Star { a: PeerRelay; b: PeerRelay; d: PeerRelay; c: Receiver }

/** C: a node on its own thread (its own event loop), so it can be slow or stall while A and B run. */
class Receiver {
  readonly id: Buffer;
  readonly #w: Worker;
  private constructor(w: Worker, id: string) { this.#w = w; this.id = Buffer.from(id, 'hex'); }

  static async start(url: string, opts: { stallMs?: number; spinUs?: number } = {}): Promise<Receiver> {
    const w = new Worker(RECEIVER, { workerData: { flowReceiver: true, url, ...opts } });
    const m = await new Promise<FromReceiver>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    if (m.t !== 'ready') throw new Error('receiver did not start');
    return new Receiver(w, m.id);
  }

  counts(): Promise<FlowCounts> {
    return new Promise((resolve) => {
      const on = (m: FromReceiver) => { if (m.t === 'counts') { this.#w.off('message', on); resolve(m.counts); } };
      this.#w.on('message', on);
      this.#w.postMessage({ t: 'counts' } satisfies ToReceiver);
    });
  }

  /** Messages of `tag` from `from` received so far. */
  async got(from: PeerRelay, tag: number): Promise<number> {
    return (await this.counts()).got[from.identity.idHex]?.[tag] ?? 0;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#w.on('message', (m: FromReceiver) => { if (m.t === 'stopped') resolve(); });
      this.#w.on('exit', () => resolve());
      this.#w.postMessage({ t: 'stop' } satisfies ToReceiver);
    });
  }
}

/** A with a port; B, D here and C on its own thread, linked to A only; sessions B->C and D->C set up. */
async function star(t: test.Test, aOpts: PeerRelayOptions = {}, leafOpts: PeerRelayOptions = {}, cOpts: { stallMs?: number } = {}): Promise<Star> {
  const a = await startNode(t, { port: 0, ...aOpts });
  const opts = { bootstrap: [urlOf(a)], targetLinks: 1, ...leafOpts };
  const c = await Receiver.start(urlOf(a), cOpts);
  t.teardown(() => c.stop());
  const [b, d] = await Promise.all([startNode(t, opts), startNode(t, opts)]);
  t.ok(await waitFor(() => [b, d].every((n) => n.peers.length === 1) && a.peers.length === 3), 'B, C and D link to A');
  for (const from of [b, d]) {
    from.send(c.id, flowPayload(0, 9));
    if (!(await waitUntil(async () => (await c.got(from, 9)) === 1, 10_000))) throw new Error('no session to C');
  }
  return { a, b, c, d };
}

async function waitUntil(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return cond();
}

function drained(node: PeerRelay, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { node.off('drain', on); resolve(false); }, ms);
    function on() { clearTimeout(timer); resolve(true); }
    node.once('drain', on);
  });
}

test('a blast that waits for drain delivers every message', async (t) => {
  const { b, c } = await star(t);
  const n = 20_000;
  const undeliverable: RelayError[] = [];
  b.on('undeliverable', (err) => undeliverable.push(err));
  let falses = 0;
  let drains = 0;
  let queuedAtFalse = 0;
  for (let i = 0; i < n; i++) {
    if (!b.send(c.id, flowPayload(i, 0))) {
      falses++;
      queuedAtFalse = Math.max(queuedAtFalse, b.sendQueue().bytes);
      if (!(await drained(b, 30_000))) { t.fail(`no 'drain' within 30 s after send() returned false (message ${i})`); return; }
      drains++;
    }
  }
  t.ok(falses > 0, `send() returned false (${falses} times), so the signal was exercised`);
  t.equal(drains, falses, "every false was followed by one 'drain'");
  t.ok(queuedAtFalse > 0, `sendQueue() counted the bytes that made send() false (up to ${queuedAtFalse})`);
  t.ok(await waitUntil(async () => (await c.got(b, 0)) + undeliverable.length >= n, 60_000), 'every message delivered or reported');
  t.equal(await c.got(b, 0), n, `C received all ${n}`);
  t.equal((await c.counts()).corrupt, 0, 'every payload intact');
  t.deepEqual(undeliverable.map((e) => e.code), [], 'nothing reported undeliverable');
});

test('a blast that ignores send() accounts for every message: delivered + undeliverable = sent', async (t) => {
  // C reads nothing for 2 s after the first message of the blast: A's queue toward it must overflow.
  const { a, b, c } = await star(t, RELAY, BIG, { stallMs: 2000 });
  const n = 30_000;
  const codes = new Map<string, number>();
  b.on('undeliverable', (err) => codes.set(err.code, (codes.get(err.code) ?? 0) + 1));
  let sent = 0;
  let falses = 0;
  for (let i = 0; i < n; i++) {
    if (!b.send(c.id, flowPayload(i, 0))) falses++;
    sent++;
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const undelivered = () => [...codes.values()].reduce((x, y) => x + y, 0);
  const accounted = await waitUntil(async () => (await c.got(b, 0)) + undelivered() >= sent, 60_000);
  await sleep(500); // anything late (a duplicate, a second report) would show now
  const delivered = await c.got(b, 0);
  t.ok(accounted, 'every message delivered or reported within 60 s');
  t.equal(delivered + undelivered(), sent, `delivered ${delivered} + undeliverable ${undelivered()} = sent ${sent} (${JSON.stringify(Object.fromEntries(codes))})`);
  t.ok(falses > 0, `send() said to wait (${falses} times)`);
  t.ok((codes.get('ERR_CONGESTED') ?? 0) > 0, 'the relay dropped some and told the origin (ERR_CONGESTED)');
  t.ok((a.stats().flow?.reportsSent ?? 0) > 0 && (b.stats().flow?.reportsReceived ?? 0) > 0, 'CONGESTION reports were sent by A and received by B');
  t.equal(b.stats().dropped.unsolicited_report ?? 0, 0, 'every report named a message B sent');
  t.equal((await c.counts()).corrupt, 0, 'every delivered payload intact');
});

test('a light flow through a flooded relay loses nothing', async (t) => {
  const { a, b, c, d } = await star(t, RELAY, BIG, { stallMs: 1000 });
  const bLost: string[] = [];
  const dLost: string[] = [];
  b.on('undeliverable', (err) => bLost.push(err.code));
  d.on('undeliverable', (err) => dLost.push(err.code));
  let flooding = true;
  let bSent = 0;
  const flood = (async () => {
    while (flooding && bSent < 40_000) {
      for (let i = 0; i < 500; i++) { b.send(c.id, flowPayload(bSent++, 0)); }
      await new Promise((r) => setImmediate(r));
    }
  })();
  const light = 100;
  for (let i = 0; i < light; i++) {
    d.send(c.id, flowPayload(i, 1));
    await sleep(10);
  }
  flooding = false;
  await flood;
  t.ok(await waitUntil(async () => (await c.got(d, 1)) + dLost.length >= light, 30_000), 'the light flow is delivered or reported');
  t.equal(await c.got(d, 1), light, `C received all ${light} of D's messages`);
  t.deepEqual(dLost, [], 'none of D\'s messages was reported undeliverable');
  t.ok(await waitUntil(async () => (await c.got(b, 0)) + bLost.length >= bSent, 60_000), 'the flood is accounted for too');
  t.ok(bLost.filter((c) => c === 'ERR_CONGESTED').length > 0, `the relay was flooded: it dropped from B's flow (${bLost.length} of ${bSent} reported)`);
  t.equal(a.stats().dropped.unsolicited_report ?? 0, 0, 'no stray reports');
});

test('messages queued while a session is set up count toward the signal; drain follows once it opens', async (t) => {
  const a = await startNode(t, { port: 0 });
  const [b, c] = await Promise.all([startNode(t, { bootstrap: [urlOf(a)], targetLinks: 1 }), startNode(t, { bootstrap: [urlOf(a)], targetLinks: 1 })]);
  t.ok(await waitFor(() => b.peers.length === 1 && c.peers.length === 1), 'B and C link to A');
  let got = 0;
  c.on('message', (m) => { if (Buffer.isBuffer(m) && m.length === 2048) got++; });
  const big = Buffer.alloc(2048, 7);
  let firstFalse = -1;
  let queuedAtFalse = -1;
  for (let i = 0; i < 600; i++) {
    if (!b.send(c.id, big) && firstFalse < 0) { firstFalse = i; queuedAtFalse = b.stats().queued; }
  }
  const queued = (firstFalse + 1) * 2048;
  const hwm = b.limits.sendHighWaterMark;
  // Queued for the session: the payloads; the link's transport may hold a few handshake bytes too.
  t.ok(queued <= hwm && queued > hwm - 16 * 1024, `send() returned false once about sendHighWaterMark was queued (${queued} bytes of ${hwm})`);
  t.equal(queuedAtFalse, firstFalse + 1, 'all of them waiting for the session (none sent yet)');
  t.ok(await drained(b, 20_000), "'drain' came once the session opened and the queue was sent");
  t.ok(await waitFor(() => got === 600, 20_000), `all 600 delivered (${got})`);
});

test('a forged congestion report (a message id the origin never sent) is ignored and counted', async (t) => {
  const a = await startNode(t, { port: 0 });
  const [b, c] = await Promise.all([startNode(t, { bootstrap: [urlOf(a)], targetLinks: 1 }), startNode(t, { bootstrap: [urlOf(a)], targetLinks: 1 })]);
  t.ok(await waitFor(() => b.peers.length === 1 && c.peers.length === 1), 'B and C link to A');
  const warm = new Promise((r) => c.once('message', r));
  b.send(c.id, 'warm');
  await warm;
  // An authenticated node linked to A, off the path B -> A -> C, claims B's messages to C are congested.
  const conn = await dialWebSocket(urlOf(a), { maxPayload: 64 << 20, timeoutMs: 5000 });
  const link = new Link(conn, {
    identity: Identity.generate(), initiator: true, flags: 0, url: '', handshakeTimeoutMs: 5000,
    pingIntervalMs: 60_000, deadAfterMs: 120_000, maxBuffered: 64 << 20, countDrop: () => {},
  });
  t.teardown(() => link.close());
  await new Promise<void>((resolve, reject) => { link.once('open', resolve); link.once('close', () => reject(new Error('closed'))); });
  const entry = new Uint8Array(28);
  entry.set(randomBytes(8), 0);
  entry.set(c.id, 8);
  for (const kind of [CongestionKind.STOP, CongestionKind.DROPPED]) {
    link.send(encodeEnvelope(MsgType.CONGESTION, b.id, randomBytes(20), encodeCongestion(kind, [entry]), 32));
  }
  link.send(encodeEnvelope(MsgType.CONGESTION, b.id, randomBytes(20), new Uint8Array([9, 1]), 32)); // malformed
  t.ok(await waitFor(() => (b.stats().dropped.unsolicited_report ?? 0) >= 2), 'both forged entries were counted as unsolicited_report');
  t.ok(await waitFor(() => (b.stats().dropped.malformed ?? 0) >= 1), 'the malformed report was counted');
  const lost: string[] = [];
  b.on('undeliverable', (e) => lost.push(e.code));
  t.equal(b.send(c.id, 'still flowing'), true, 'send() to C is not held by the forged STOP');
  t.deepEqual(lost, [], 'no message was reported undeliverable by the forged DROPPED');
});
