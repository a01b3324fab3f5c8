import test from 'tape';
import { WebSocket } from 'ws';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';
import { startClient, inbox } from '../helpers/messaging.js';
import { parseClientFrame, parseDeliveredFrame, deliveredFrame, RecordMessage, KIND_BATCH, KIND_SINGLE } from '../../src/signaling/im-binary.js';
import { BINARY_BATCH, encodeBatch, ITEM_HEAD, BATCH_HEAD, parseBatch, type OutItem } from '../../src/signaling/mesh-binary.js';
import { Channel, type PeerRelay, type PeerRelayOptions } from '../../src/index.js';

const SIGNALING = Channel.SIGNALING;
const enc = new TextEncoder();

/** Two signaling nodes on ws loopback, linked directly. */
async function pair(t: test.Test, xOpts: PeerRelayOptions = {}, yOpts: PeerRelayOptions = {}): Promise<[PeerRelay, PeerRelay]> {
  const x = await startNode(t, { port: 0, ...FAST, ...xOpts });
  const y = await startNode(t, { port: 0, bootstrap: [urlOf(x)], ...FAST, ...yOpts });
  t.ok(await waitFor(() => x.peers.length === 1 && y.peers.length === 1), 'the two nodes are linked');
  return [x, y];
}

/** Every SIGNALING payload `node` sends (copied), by its first byte: binary batch or text. `hold`: binary batches are kept back. */
function spyMesh(t: test.Test, node: PeerRelay, hold = false): { binary: Uint8Array[]; text: string[]; send: (to: Uint8Array, p: Uint8Array) => boolean } {
  const binary: Uint8Array[] = [];
  const text: string[] = [];
  const original = node.sendOnChannel;
  const send = (to: Uint8Array, p: Uint8Array) => original.call(node, to, SIGNALING, p);
  node.sendOnChannel = function (id: Uint8Array, channel: number, payload: Uint8Array) {
    if (channel === SIGNALING) {
      if (payload[0] === BINARY_BATCH) {
        binary.push(Uint8Array.from(payload));
        if (hold) return true;
      } else text.push(Buffer.from(payload).toString());
    }
    return original.call(this, id, channel, payload);
  };
  t.teardown(() => { node.sendOnChannel = original; });
  return { binary, text, send };
}

/** Records the binary frames clients send (client -> node) and nodes write (node -> client). */
function spyFrames(t: test.Test): { fromClients: Uint8Array[]; toClients: Uint8Array[] } {
  const fromClients: Uint8Array[] = [];
  const toClients: Uint8Array[] = [];
  const proto = WebSocket.prototype as unknown as { send: (...a: unknown[]) => void };
  const original = proto.send;
  proto.send = function (this: WebSocket & { _isServer?: boolean }, data: unknown, ...rest: unknown[]) {
    // (A node writes binary frames with { binary: true }; the client's frames are binary by their type.)
    if (data instanceof Uint8Array && (!this._isServer || (rest[0] as { binary?: boolean } | undefined)?.binary)) (this._isServer ? toClients : fromClients).push(Uint8Array.from(data));
    return original.call(this, data, ...rest);
  };
  t.teardown(() => { proto.send = original; });
  return { fromClients, toClients };
}

const items = (node: PeerRelay) => node.signaling!.stats();

test('MessagingPeers on two nodes: 16 KiB and batch records cross the mesh as binary batches, byte-identical', async (t) => {
  const [x, y] = await pair(t);
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(() => x.signaling!.discover().includes('bob') && y.signaling!.discover().includes('alice')), 'rosters spread');
  const b = inbox(bob);
  const a = inbox(alice);
  const mesh = spyMesh(t, x);
  await alice.sendMessage('bob', 'start'); // the session's first message: the JSON envelope, a JSON item
  t.ok(await waitFor(() => b.length === 1), 'the session starts');
  const frames = spyFrames(t);
  const big = `${'x'.repeat(16 * 1024 - 5)}é#end`;
  await alice.sendMessage('bob', big);
  t.ok(await waitFor(() => b.length === 2), 'the 16 KiB message arrives');
  const burst = Array.from({ length: 40 }, (_, i) => `b${i} ${'ü'.repeat(i * 10)}`);
  await Promise.all(burst.map((s) => alice.sendMessage('bob', s)));
  t.ok(await waitFor(() => b.length === 42), 'the 40 messages of one turn arrive');
  t.equal(b[1].message, big, '16 KiB intact');
  t.deepEqual(b.slice(2).map((r) => r.message), burst, 'the burst in order, intact');
  t.ok(b.every((r) => r.info.authenticated), 'all authenticated');
  const sentRecords = frames.fromClients.map((f) => parseClientFrame(f)).filter((f) => f !== null).map((f) => f!);
  const gotRecords = frames.toClients.map((f) => parseDeliveredFrame(f)).filter((f) => f !== null).map((f) => f!);
  t.ok(sentRecords.some((f) => f.kind === KIND_SINGLE) && sentRecords.some((f) => f.kind === KIND_BATCH), 'alice sent a single record and a batch record');
  t.deepEqual(gotRecords.map((f) => [f.kind, f.from, Buffer.from(f.record).toString('hex')]),
    sentRecords.map((f) => [f.kind, 'alice', Buffer.from(f.record).toString('hex')]), 'bob got every record byte-identical, in order');
  t.ok(mesh.binary.length >= 2, `x sent ${mesh.binary.length} binary batches`);
  t.notOk(mesh.text.some((s) => s.includes('"t":"msg"') || s.startsWith('{"t":"batch"')), 'and no client message as text');
  t.equal(items(y).meshItemsIn.text, 0, 'y took no text item');
  t.equal(items(y).meshItemsIn.binary, 1 + sentRecords.length, 'y took every message as a binary item (the first one as JSON)');
  t.equal(items(x).meshItemsOut.binary, 1 + sentRecords.length, 'x counts them sent binary');
  await bob.sendMessage('alice', `${'r'.repeat(16 * 1024)}`);
  t.ok(await waitFor(() => a.length === 1), 'and back the other way');
  t.equal(a[0].message.length, 16 * 1024, 'intact');
  t.equal(items(x).meshItemsIn.text, 0, 'x took no text item either');
  t.deepEqual(items(y).dropped, {}, 'nothing dropped');
});

test('several records and a JSON message in one binary batch reach their reader in order, byte-identical', async (t) => {
  const [x, y] = await pair(t);
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(() => x.signaling!.discover().includes('bob')), 'x knows bob');
  const b = inbox(bob);
  const mesh = spyMesh(t, x, true); // x's binary batches are held back here
  await alice.sendMessage('bob', 'first, the JSON envelope');
  const held = () => mesh.binary.reduce((n, p) => n + ((p[1] << 8) | p[2]), 0);
  await alice.sendMessage('bob', 's'.repeat(16 * 1024));
  t.ok(await waitFor(() => held() === 2), 'the 16 KiB one held (its own record)');
  await Promise.all(['c1', 'c2', 'c3'].map((s) => alice.sendMessage('bob', s)));
  t.ok(await waitFor(() => held() === 3), 'binary batches of three items held');
  t.equal(b.length, 0, 'none delivered yet');
  // The held batches' items as one batch.
  const out: OutItem[] = [];
  for (const batch of mesh.binary) {
    const parsed = parseBatch(batch, 256, 1 << 20);
    if (typeof parsed === 'string') { t.fail(parsed); return; }
    for (const it of parsed) {
      const body = batch.subarray(it.bodyAt, it.bodyEnd);
      out.push({ kind: it.kind, to: it.to, from: it.from, body, toBytes: enc.encode(it.to).length, fromBytes: enc.encode(it.from).length, bodyBytes: body.length });
    }
  }
  t.deepEqual(out.map((i) => i.kind), [0, KIND_SINGLE, KIND_BATCH], 'a JSON item, a single record, a batch record');
  const size = BATCH_HEAD + out.reduce((n, i) => n + ITEM_HEAD + i.toBytes + i.fromBytes + i.bodyBytes, 0);
  const frames = spyFrames(t);
  mesh.send(y.id, encodeBatch(out, size, null));
  t.ok(await waitFor(() => b.length === 5), 'all five messages arrive');
  t.deepEqual(b.map((r) => r.message), ['first, the JSON envelope', 's'.repeat(16 * 1024), 'c1', 'c2', 'c3'], 'in order, intact');
  const delivered = frames.toClients.map((f) => parseDeliveredFrame(f)!);
  t.deepEqual(delivered.map((f) => Buffer.from(f.record).toString('hex')), out.slice(1).map((i) => Buffer.from(i.body as Uint8Array).toString('hex')), 'the two records reach bob byte-identical');
  t.equal(items(y).meshItemsIn.binary, 3, 'y took three binary items');
});

test('a node with meshBinary off gets and sends only the text form, and its messages still arrive both ways', async (t) => {
  const [x, y] = await pair(t, { signaling: { meshBinary: false } });
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(() => x.signaling!.discover().includes('bob') && y.signaling!.discover().includes('alice')), 'rosters spread');
  const toOld = spyMesh(t, y);
  const a = inbox(alice);
  const b = inbox(bob);
  await alice.sendMessage('bob', 'start');
  await bob.sendMessage('alice', 'start');
  t.ok(await waitFor(() => a.length === 1 && b.length === 1), 'sessions start');
  const big = 'q'.repeat(16 * 1024);
  await bob.sendMessage('alice', big);
  t.ok(await waitFor(() => a.length === 2), 'the 16 KiB one arrives');
  await Promise.all(['1', '2', '3'].map((s) => bob.sendMessage('alice', s)));
  await alice.sendMessage('bob', big);
  t.ok(await waitFor(() => a.length === 5 && b.length === 2), 'all arrive');
  t.deepEqual(a.map((r) => r.message), ['start', big, '1', '2', '3'], 'alice (on the node without it) got them intact, in order');
  t.equal(b[1].message, big, 'bob got the 16 KiB one');
  t.equal(toOld.binary.length, 0, 'y sent the node without the capability no binary batch');
  t.ok(toOld.text.some((s) => s.includes('"k":1')) && toOld.text.some((s) => s.includes('"k":2')), 'records went as base64 text items');
  t.deepEqual([items(x).meshItemsIn.binary, items(y).meshItemsIn.binary, items(x).meshItemsOut.binary, items(y).meshItemsOut.binary], [0, 0, 0, 0], 'no binary item either way');
  t.ok(items(x).meshItemsIn.text >= 3 && items(y).meshItemsIn.text >= 2, 'text items both ways');
  t.notOk(toOld.text.some((s) => s.includes('mesh-bin-v1') && s.includes('"t":"caps"')), 'y did not answer an ask x never made');
});

test('a node that says hello without the capability (an older node) gets text until it announces it', async (t) => {
  const [x, y] = await pair(t);
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(() => y.signaling!.discover().includes('alice')), 'y knows alice');
  const a = inbox(alice);
  const fromY = spyMesh(t, y);
  await bob.sendMessage('alice', 'binary');
  t.ok(await waitFor(() => a.length === 1), 'arrives');
  t.equal(fromY.binary.length, 1, 'as a binary batch');
  // x speaks as an older node: a hello without caps.
  x.sendOnChannel(y.id, SIGNALING, enc.encode('{"t":"hello"}'));
  t.ok(await waitFor(() => fromY.text.some((s) => s.startsWith('{"t":"roster"'))), 'y greets the hello with its roster');
  await bob.sendMessage('alice', 'text now');
  t.ok(await waitFor(() => a.length === 2), 'arrives');
  t.equal(fromY.binary.length, 1, 'no new binary batch');
  t.ok(fromY.text.some((s) => s.includes('"t":"msg"')), 'as text');
  t.ok(fromY.text.some((s) => s.startsWith('{"t":"roster"') && s.includes('mesh-bin-v1')), 'y\'s roster still says what y reads');
  // It announces the capability and asks: y answers with its own.
  x.sendOnChannel(y.id, SIGNALING, enc.encode('{"t":"caps","caps":["mesh-bin-v1"],"ask":1}'));
  t.ok(await waitFor(() => fromY.text.some((s) => s.startsWith('{"t":"caps"') && s.includes('mesh-bin-v1'))), 'y answers the ask with its caps');
  await bob.sendMessage('alice', 'binary again');
  t.ok(await waitFor(() => a.length === 3), 'arrives');
  t.equal(fromY.binary.length, 2, 'as a binary batch again');
  t.deepEqual(a.map((r) => r.message), ['binary', 'text now', 'binary again'], 'all three intact');
});

/** One item's bytes: kind, lengths, ids, body. */
function item(kind: number, to: string, from: string, body: Uint8Array, bodyLen = body.length): Uint8Array {
  const t = enc.encode(to);
  const f = enc.encode(from);
  const out = new Uint8Array(ITEM_HEAD + t.length + f.length + body.length);
  out.set([kind, t.length >> 8, t.length & 255, f.length >> 8, f.length & 255, bodyLen >>> 24, (bodyLen >>> 16) & 255, (bodyLen >>> 8) & 255, bodyLen & 255]);
  out.set(t, ITEM_HEAD);
  out.set(f, ITEM_HEAD + t.length);
  out.set(body, ITEM_HEAD + t.length + f.length);
  return out;
}
function batch(count: number, ...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat([Buffer.from([BINARY_BATCH, count >> 8, count & 255]), ...parts]);
}

test('malformed, truncated and oversized binary batches are dropped whole and counted; the node keeps working', async (t) => {
  const small = { signaling: { maxMeshBatchBytes: 4096 } };
  const [x, y] = await pair(t, small, small);
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  // Both ways: the batches below name alice as their sender at x, and alice sends to bob at the end. (It waited for
  // y knowing alice only; under load x had not yet learned of bob when alice sent: PEER_NOT_FOUND.)
  t.ok(await waitFor(() => y.signaling!.discover().includes('alice') && x.signaling!.discover().includes('bob')), 'y knows alice and x knows bob');
  const b = inbox(bob);
  const rec = new Uint8Array(60).fill(7);
  const json = enc.encode('{"algorithm":"x"}');
  const good = item(0, 'bob', 'alice', json);
  const inject = (p: Uint8Array) => x.sendOnChannel(y.id, SIGNALING, p);
  const dropped = () => y.signaling!.stats().dropped;
  inject(Uint8Array.from([BINARY_BATCH])); // only the marker
  inject(batch(1, good).subarray(0, 20)); // truncated inside the item
  inject(batch(2, good)); // count says two, one is there
  inject(batch(1, item(1, 'bob', 'alice', rec, 100_000))); // body length past the end
  inject(batch(1, good, Uint8Array.from([1, 2, 3]))); // bytes after the last item
  inject(batch(1, item(9, 'bob', 'alice', rec))); // unknown kind
  inject(batch(1, item(1, 'bob', 'alice', rec.subarray(0, 39)))); // a record under 40 bytes
  inject(batch(1, item(0, 'bob', '', json))); // empty sender id
  inject(batch(1, item(1, 'bob', 'alice', rec), good)); // count 1, but two items
  inject(batch(1, item(0, 'bo', 'alice', json).fill(0xc3, ITEM_HEAD, ITEM_HEAD + 2))); // an id that is not UTF-8
  inject(batch(0)); // no item
  t.ok(await waitFor(() => (dropped().bad_binary_batch ?? 0) === 11), '11 malformed batches counted bad_binary_batch');
  inject(batch(257, ...Array.from({ length: 257 }, () => good))); // more than maxMeshBatchItems
  inject(batch(2, item(1, 'bob', 'alice', new Uint8Array(3000)), item(1, 'bob', 'alice', new Uint8Array(3000)))); // over maxMeshBatchBytes in two items
  t.ok(await waitFor(() => (dropped().binary_batch_oversized ?? 0) === 2), 'too many items and too many bytes: binary_batch_oversized');
  t.equal(b.length, 0, 'bob got nothing from any of them');
  t.equal(items(y).meshItemsIn.binary, 0, 'no item was taken');
  // One message alone may be longer than maxMeshBatchBytes (a sender sends it alone): a real one crosses.
  await alice.sendMessage('bob', 'start');
  await alice.sendMessage('bob', 'z'.repeat(8000)); // goes alone: x flushes 'start' first
  await Promise.all(['after 1', 'after 2'].map((s) => alice.sendMessage('bob', s)));
  t.ok(await waitFor(() => b.length === 4), 'the node still carries messages, a long one included');
  t.deepEqual(b.map((r) => r.message), ['start', 'z'.repeat(8000), 'after 1', 'after 2'], 'intact, in order');
  t.ok(items(y).meshItemsIn.binary >= 2, 'as binary items');
  t.equal(dropped().bad_binary_batch, 11, 'no more drops');
});

test('a record from a binary batch gets its delivered frame header written in place, in its item header', (t) => {
  const records = [new Uint8Array(40).fill(1), new Uint8Array(100).fill(2)];
  const out: OutItem[] = records.map((r, i) => ({ kind: KIND_SINGLE, to: `to${i}`, from: i ? 'a-much-longer-sender-id-é' : 's', body: r, toBytes: 3, fromBytes: enc.encode(i ? 'a-much-longer-sender-id-é' : 's').length, bodyBytes: r.length }));
  const size = BATCH_HEAD + out.reduce((n, i) => n + ITEM_HEAD + i.toBytes + i.fromBytes + i.bodyBytes, 0);
  const payload = encodeBatch(out, size, null);
  const parsed = parseBatch(payload, 256, 1 << 20);
  if (typeof parsed === 'string') { t.fail(parsed); t.end(); return; }
  t.deepEqual(parsed.map((p) => [p.to, p.from]), out.map((o) => [o.to, o.from]), 'ids read back');
  for (const [i, p] of parsed.entries()) {
    const m = new RecordMessage(p.kind, payload.subarray(p.bodyAt, p.bodyEnd), p.room);
    const frame = m.frameFor(p.from);
    t.equal(frame.buffer, payload.buffer, `item ${i}: the frame is a view of the batch (no copy)`);
    t.deepEqual([...frame], [...deliveredFrame(p.kind, p.from, records[i])], `item ${i}: the frame is the delivered frame of the record`);
  }
  t.end();
});

test('two nodes linked only through a third learn each other\'s capability from a roster\'s ask and send binary batches', async (t) => {
  const z = await startNode(t, { port: 0, ...FAST });
  const x = await startNode(t, { port: 0, bootstrap: [urlOf(z)], maxLinks: 1, ...FAST });
  const y = await startNode(t, { port: 0, bootstrap: [urlOf(z)], maxLinks: 1, ...FAST });
  t.ok(await waitFor(() => x.peers.length === 1 && y.peers.length === 1 && z.peers.length === 2), 'x and y are each linked to z only');
  const alice = await startClient(t, x, 'alice');
  const bob = await startClient(t, y, 'bob');
  t.ok(await waitFor(() => x.signaling!.discover().includes('bob')), 'x knows bob (y\'s roster, forwarded by z)');
  const fromY = spyMesh(t, y);
  const fromX = spyMesh(t, x);
  const b = inbox(bob);
  const sent: string[] = [];
  // x's roster to y (sent before its first key request or message to y) asks; y's caps answer makes x send binary
  // batches (messages that leave before the answer is back go as text).
  for (let i = 0; i < 10 && items(y).meshItemsIn.binary === 0; i++) {
    sent.push(`m${i} ${'x'.repeat(16 * 1024)}`);
    await alice.sendMessage('bob', sent[i]);
    t.ok(await waitFor(() => b.length === i + 1), `message ${i} arrives`);
  }
  t.ok(fromX.text.some((s) => s.startsWith('{"t":"roster"') && s.includes('"ask":1')), 'x\'s roster to y asked what y reads');
  t.ok(fromY.text.some((s) => s.startsWith('{"t":"caps"') && s.includes('mesh-bin-v1')), 'y answered with its caps');
  t.ok(items(y).meshItemsIn.binary >= 1, `messages went as binary batches (the first one after ${sent.length} sent)`);
  t.deepEqual(b.map((r) => r.message), sent, 'all intact, in order');
});
