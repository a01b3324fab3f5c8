import test from 'tape';
import { startNode, urlOf, FAST } from '../helpers/testnet.js';
import { rawSocket } from '../helpers/messaging.js';
import { imRegisterFrame } from '../helpers/im-register.js';
import { ACK_BATCH } from '../../src/signaling/types.js';
import { BINARY_FRAMES, KIND_BATCH, KIND_SINGLE, RecordMessage, clientFrame, deliveredFrame, parseDeliveredFrame } from '../../src/signaling/im-binary.js';

type Raw = Awaited<ReturnType<typeof rawSocket>>;

async function registered(t: test.Test, url: string, clientId: string, capabilities?: string[]): Promise<{ s: Raw; answer: any }> {
  const s = await rawSocket(t, url);
  const frame = imRegisterFrame(clientId) as { payload: Record<string, unknown> };
  if (capabilities) frame.payload.capabilities = capabilities;
  s.send({ ...frame, id: 'reg' });
  const answer = await s.next();
  if (answer.type !== 'register' || answer.id !== 'reg') throw new Error(`registration of ${clientId} failed: ${JSON.stringify(answer)}`);
  return { s, answer };
}

/** A record: sid (16 bytes of `sidByte`), seq, then `sealed` bytes (not real ciphertext: the node does not open it). */
function record(sidByte: number, seq: number, sealed: Uint8Array): Uint8Array {
  const r = new Uint8Array(24 + sealed.length);
  r.fill(sidByte, 0, 16);
  new DataView(r.buffer).setUint32(20, seq);
  r.set(sealed, 24);
  return r;
}

function frameOf(kind: number, id: string, to: string, rec: Uint8Array): Uint8Array {
  const { frame, offset } = clientFrame(kind, id, to, rec.length);
  frame.set(rec, offset);
  return frame;
}

test('a client that does not register relaymesh-bin-v1 sees no change: plain register answer, binary frames refused', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const { s, answer } = await registered(t, urlOf(node), 'pub');
  t.deepEqual(answer.payload, { success: true, clientId: 'pub' }, 'the register answer has nothing new');
  s.ws.send(frameOf(KIND_SINGLE, 'm1', 'pub', record(1, 1, new Uint8Array(20))), { binary: true });
  const e = await s.next();
  t.deepEqual([e.type, e.payload.errorType, e.payload.details], ['error', 'INVALID_MESSAGE', 'frames must be JSON text'], 'a binary frame is refused as before');
});

test('a node tells a relaymesh-bin-v1 client it takes binary frames and forwards its record to a reader unchanged', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const bob = await registered(t, urlOf(node), 'bob', [BINARY_FRAMES]);
  const alice = await registered(t, urlOf(node), 'alice', [BINARY_FRAMES, ACK_BATCH]);
  t.deepEqual(alice.answer.payload.capabilities, [BINARY_FRAMES], 'the register answer lists the capability');
  const rec = record(7, 5, Uint8Array.from({ length: 40 }, (_, i) => i));
  alice.s.ws.send(frameOf(KIND_BATCH, 'm9', 'bob', rec), { binary: true });
  t.deepEqual(await alice.s.next(), { type: 'message_ack', id: 'm9', payload: { targetId: 'bob', ids: ['m9'] } }, 'acknowledged with its id');
  const got = await bob.s.next();
  const f = parseDeliveredFrame(new Uint8Array(got.binary));
  t.equal(f?.kind, KIND_BATCH, 'bob gets a binary batch frame');
  t.equal(f?.from, 'alice', 'from alice');
  t.deepEqual([...(f?.record ?? [])], [...rec], 'the record byte for byte');
});

test('a single record to a client without the capability arrives as the relaymesh-im-v1 JSON envelope; a batch is refused', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const old = await registered(t, urlOf(node), 'old', ['relaymesh-im-v1']);
  const alice = await registered(t, urlOf(node), 'alice', [BINARY_FRAMES]);
  const sealed = Uint8Array.from({ length: 33 }, (_, i) => 255 - i);
  alice.s.ws.send(frameOf(KIND_SINGLE, 'm1', 'old', record(9, 3, sealed)), { binary: true });
  t.deepEqual(await alice.s.next(), { type: 'message_ack', id: 'm1', payload: { targetId: 'old' } }, 'the single record is acknowledged');
  const got = await old.s.next();
  t.deepEqual(got, {
    type: 'message',
    payload: {
      message: { algorithm: 'relaymesh-im-v1', sid: Buffer.alloc(16, 9).toString('base64'), seq: 3, serializedEncryptedData: Buffer.from(sealed).toString('base64') },
      fromId: 'alice',
    },
  }, 'the JSON envelope: the same sid, seq and sealed bytes');
  alice.s.ws.send(frameOf(KIND_BATCH, 'm2', 'old', record(9, 4, sealed)), { binary: true });
  const e = await alice.s.next();
  t.deepEqual([e.type, e.id, e.payload.errorType], ['error', 'm2', 'INVALID_MESSAGE'], `the batch is refused with its id: ${e.payload.details}`);
});

test('malformed binary frames and unknown targets are answered with an error, and the connection stays usable', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const alice = await registered(t, urlOf(node), 'alice', [BINARY_FRAMES]);
  for (const bad of [Uint8Array.of(9, 0, 0, 0), Uint8Array.of(KIND_SINGLE, 200, 1, 2), frameOf(KIND_SINGLE, 'm1', 'x', new Uint8Array(10))]) {
    alice.s.ws.send(bad, { binary: true });
    const e = await alice.s.next();
    t.deepEqual([e.type, e.payload.errorType], ['error', 'INVALID_MESSAGE'], `refused: ${e.payload.details}`);
  }
  alice.s.ws.send(frameOf(KIND_SINGLE, 'm2', 'nobody', record(1, 1, new Uint8Array(16))), { binary: true });
  const nf = await alice.s.next();
  t.deepEqual([nf.type, nf.id, nf.payload.errorType], ['error', 'm2', 'PEER_NOT_FOUND'], 'an unknown target: PEER_NOT_FOUND with the id');
  alice.s.send({ type: 'discover', id: 'd1', payload: {} });
  t.equal((await alice.s.next()).id, 'd1', 'still answered');
});

/** True if `a` lies inside the memory of `b`. */
const inside = (a: Uint8Array, b: Uint8Array) => a.buffer === b.buffer && a.byteOffset >= b.byteOffset && a.byteOffset + a.length <= b.byteOffset + b.length;

test('a record is delivered with its header written in front of it when that fits, else copied; a frame once written is not changed', (t) => {
  const rec = record(3, 8, Uint8Array.from({ length: 50 }, (_, i) => i * 3));
  const wire = frameOf(KIND_BATCH, 'm12', 'bob', rec); // 4 + 3 + 3 bytes of header before the record
  const offset = wire.length - rec.length;
  const m = new RecordMessage(KIND_BATCH, wire.subarray(offset), offset);
  const first = m.frameFor('al'); // 3 + 2 bytes: fits
  t.ok(inside(first, wire), 'the first frame is the received buffer (no copy)');
  t.deepEqual([...first], [...deliveredFrame(KIND_BATCH, 'al', rec)], 'and reads as the delivered frame');
  const second = m.frameFor('al');
  t.notOk(inside(second, wire), 'a second frame is a copy');
  t.deepEqual([...first], [...deliveredFrame(KIND_BATCH, 'al', rec)], 'the first one is unchanged by it');
  const tight = new RecordMessage(KIND_BATCH, wire.subarray(offset), offset);
  const long = tight.frameFor('a-sender-with-a-longer-id');
  t.notOk(inside(long, wire), 'a header longer than the room is a copy');
  t.deepEqual([...long], [...deliveredFrame(KIND_BATCH, 'a-sender-with-a-longer-id', rec)], 'with the right bytes');
  t.deepEqual([...wire.subarray(offset)], [...rec], 'the record itself is never written');
  t.end();
});

test('records from senders with short and long ids reach a reader intact through one node', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const bob = await registered(t, urlOf(node), 'bob', [BINARY_FRAMES]);
  const short = await registered(t, urlOf(node), 'a', [BINARY_FRAMES, ACK_BATCH]);
  const longId = `alice-${'x'.repeat(80)}`;
  const long = await registered(t, urlOf(node), longId, [BINARY_FRAMES, ACK_BATCH]);
  for (const [s, from, sid] of [[short, 'a', 1], [long, longId, 2]] as const) {
    const rec = record(sid, 1, Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + sid) & 0xff));
    s.s.ws.send(frameOf(KIND_SINGLE, 'm1', 'bob', rec), { binary: true });
    t.equal((await s.s.next()).type, 'message_ack', `${from.slice(0, 8)}: acknowledged`);
    const f = parseDeliveredFrame(new Uint8Array((await bob.s.next()).binary));
    t.deepEqual([f?.kind, f?.from], [KIND_SINGLE, from], `${from.slice(0, 8)}: bob gets a single record from it`);
    t.deepEqual([...(f?.record ?? [])], [...rec], `${from.slice(0, 8)}: the record byte for byte`);
  }
});
