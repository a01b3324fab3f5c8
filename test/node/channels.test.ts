import test from 'tape';
import { Channels, checkChannel } from '../../src/node/channels.js';
import type { DropReason } from '../../src/util/drop-reasons.js';

const FROM = new Uint8Array(20).fill(7);

test('a plaintext goes to its channel\'s handler as the payload after the channel byte', (t) => {
  const drops: DropReason[] = [];
  const c = new Channels((r) => drops.push(r));
  const got: string[] = [];
  c.register(3, (payload, from) => got.push(`${Buffer.from(payload).toString()}:${from[0]}`));
  const pt = new Uint8Array([9, 3, 104, 105, 9]);
  c.deliver(FROM, pt, 1, 4);
  t.deepEqual(got, ['hi:7'], 'pt[start+1..end) handed over');
  t.equal(c.delivered, 1);
  t.deepEqual(drops, []);
  t.end();
});

test('an empty plaintext and an unknown channel are counted drops', (t) => {
  const drops: DropReason[] = [];
  const c = new Channels((r) => drops.push(r));
  c.deliver(FROM, new Uint8Array(0));
  c.deliver(FROM, new Uint8Array([5, 1]));
  c.register(5, () => {});
  c.unregister(5);
  c.deliver(FROM, new Uint8Array([5, 1]));
  t.deepEqual(drops, ['malformed', 'unknown_channel', 'unknown_channel']);
  t.equal(c.delivered, 0);
  t.end();
});

test('channels outside 0..254 and a second handler are refused', (t) => {
  const c = new Channels(() => {});
  t.throws(() => c.register(255, () => {}), RangeError, '255 marks batch records');
  t.throws(() => c.register(-1, () => {}), RangeError);
  t.throws(() => checkChannel(1.5), RangeError);
  c.register(0, () => {});
  t.throws(() => c.register(0, () => {}), /already has a handler/);
  t.end();
});

test('a throwing handler does not stop the next delivery; its error is rethrown apart', async (t) => {
  const c = new Channels(() => {});
  let calls = 0;
  c.register(1, () => { calls++; throw new Error('app bug'); });
  const seen: Error[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const catcher = (err: Error) => { seen.push(err); };
  process.on('uncaughtException', catcher);
  t.teardown(() => {
    process.off('uncaughtException', catcher);
    for (const l of listeners) process.on('uncaughtException', l);
  });
  c.deliver(FROM, new Uint8Array([1]));
  c.deliver(FROM, new Uint8Array([1]));
  t.equal(calls, 2, 'both delivered');
  await new Promise((r) => setTimeout(r, 0));
  t.deepEqual(seen.map((e) => e.message), ['app bug', 'app bug'], 'each error thrown outside deliver()');
});
