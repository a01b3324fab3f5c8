import test from 'tape';
import { OutgoingRecords } from '../../src/messaging/outgoing.js';
import { splitBatch } from '../../src/signaling/im-binary.js';
import type { SecureSessions } from '../../src/messaging/secure-envelope.js';
import { MESSAGING_LIMITS } from '../../src/util/limits.js';

/** A host whose "seal" keeps the plaintext of each record (the framing and crypto are tested elsewhere). */
function host(opts: { binary?: () => boolean } = {}) {
  const records: { batch: boolean; texts: string[] }[] = [];
  const json: string[] = [];
  const secure = {
    ready: () => true,
    reset: () => undefined,
    sealRecord: (_to: string, parts: Uint8Array[], batch: boolean) => {
      const pt = parts[0];
      const texts = batch ? splitBatch(pt)!.map((b) => Buffer.from(b).toString('utf8')) : [Buffer.from(pt).toString('utf8')];
      records.push({ batch, texts });
    },
  } as unknown as SecureSessions;
  const out = new OutgoingRecords({
    secure,
    binary: opts.binary ?? (() => true),
    sendJson: (_to, _pk, pt) => { json.push(Buffer.from(pt).toString('utf8')); },
    writeFrame: (build) => { build('m1'); },
    failed: () => { throw new Error('nothing fails here'); },
  });
  return { out, records, json };
}

const turn = () => new Promise((r) => setImmediate(r));

test('a record that cannot take the next message leaves at once; the rest leave at the check phase, all in order', async (t) => {
  const { out, records } = host();
  const size = Math.floor(MESSAGING_LIMITS.maxBatchBytes / 2) - 100; // two fit one record, a third does not
  const texts = Array.from({ length: 5 }, (_, i) => `${i}`.padEnd(size, String.fromCharCode(97 + i)));
  for (const s of texts) out.add('bob', new Uint8Array(0), s);
  t.deepEqual(records.map((r) => r.texts.length), [2, 2], 'two full records were sealed while the messages were being sent');
  await turn();
  t.deepEqual(records.map((r) => [r.batch, r.texts.length]), [[true, 2], [true, 2], [false, 1]], 'the last one alone, as a single record, at the check phase');
  t.deepEqual(records.flatMap((r) => r.texts), texts, 'every message, intact and in order');
});

test('messages encoded for a record go the JSON way, in order, if the connection stopped taking binary frames before the check phase', async (t) => {
  let binary = true;
  const { out, records, json } = host({ binary: () => binary });
  out.add('bob', new Uint8Array(0), 'one');
  out.add('bob', new Uint8Array(0), 'two');
  binary = false;
  out.add('bob', new Uint8Array(0), 'three');
  await turn();
  t.equal(records.length, 0, 'no record sealed');
  t.deepEqual(json, ['one', 'two', 'three'], 'each as its own envelope, in the order sent');
});

test('a message longer than a record goes alone, after the ones before it', async (t) => {
  const { out, records } = host();
  const long = 'x'.repeat(MESSAGING_LIMITS.maxBatchBytes + 10);
  out.add('bob', new Uint8Array(0), 'a');
  out.add('bob', new Uint8Array(0), long);
  out.add('bob', new Uint8Array(0), 'b');
  await turn();
  t.deepEqual(records.map((r) => r.texts.map((s) => s.length)), [[1], [long.length], [1]], 'a, then the long one alone, then b');
});
