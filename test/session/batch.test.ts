import test from 'tape';
import { BatchWriter, BATCH_CHANNEL, readBatch } from '../../src/session/batch.js';

const bytes = (...b: number[]) => new Uint8Array(b);

test('a batch record written by BatchWriter reads back as each channel || payload, in order', (t) => {
  const w = new BatchWriter(64);
  w.add(1, bytes(9, 8));
  w.add(7, bytes());
  w.add(0, bytes(5));
  t.equal(w.count, 3);
  const rec = w.record();
  t.deepEqual([...rec], [BATCH_CHANNEL, 0, 3, 1, 9, 8, 0, 1, 7, 0, 2, 0, 5], 'batch byte, then u16 length of channel + payload, channel, payload');
  t.deepEqual(readBatch(rec)!.map((e) => [...e]), [[1, 9, 8], [7], [0, 5]]);
  t.deepEqual([...w.entries()].map(([c, p]) => [c, [...p]]), [[1, [9, 8]], [7, []], [0, [5]]]);
  w.reset();
  t.equal(w.count, 0, 'reset empties it');
  t.end();
});

test('BatchWriter.fits keeps a record within its capacity', (t) => {
  const w = new BatchWriter(10);
  t.ok(w.fits(6), '1 + 3 + 6 = 10 fits');
  t.notOk(w.fits(7), '11 does not');
  w.add(1, new Uint8Array(2));
  t.ok(w.fits(1), '6 + 3 + 1 = 10 fits');
  t.notOk(w.fits(2), '11 does not');
  t.end();
});

test('readBatch refuses overruns, empty entries, nested batches and trailing bytes', (t) => {
  t.equal(readBatch(bytes(BATCH_CHANNEL, 0, 5, 1, 2)), null, 'an entry longer than the record');
  t.equal(readBatch(bytes(BATCH_CHANNEL, 0, 0, 0, 1, 1)), null, 'an entry of length 0 (no channel byte)');
  t.equal(readBatch(bytes(BATCH_CHANNEL, 0, 2, BATCH_CHANNEL, 1)), null, 'an entry that is itself a batch');
  t.equal(readBatch(bytes(BATCH_CHANNEL, 0, 1, 3, 0)), null, 'one trailing byte');
  t.equal(readBatch(bytes(BATCH_CHANNEL)), null, 'no entry at all');
  t.equal(readBatch(bytes(1, 0, 1, 3)), null, 'not a batch record');
  t.deepEqual(readBatch(bytes(BATCH_CHANNEL, 0, 1, 3))!.map((e) => [...e]), [[3]], 'one entry of one channel byte');
  t.end();
});
