import test from 'tape';
import { PeerKeys } from '../../src/session/peer-keys.js';
import { DSA_PUBLIC_KEY_LENGTH, Identity, PublicIdentity } from '../../src/crypto/identity.js';
import { cpuQueue, CpuPriority } from '../../src/util/cpu-queue.js';
import { setTraceHook } from '../../src/util/trace.js';

const ALICE = Identity.generate();
/** A new PublicIdentity object for `id`'s keys each call (fromKeys would give the one interned). */
const publicOf = (id: Identity): PublicIdentity => {
  const k = id.publicKeys();
  return new PublicIdentity(k.subarray(0, DSA_PUBLIC_KEY_LENGTH), k.subarray(DSA_PUBLIC_KEY_LENGTH));
};

/** Resolves after work made ahead that was asked for before this call has run (timers, then the CPU queue, in order). */
const afterAhead = () => new Promise<void>((r) => setTimeout(() => cpuQueue.run(CpuPriority.AHEAD, r), 0));

/** Static-key encapsulations counted so far by the running encapsulations() call. */
let counted = 0;
const countedSoFar = () => counted;
/** Counts static-key encapsulations while `f` runs. */
async function encapsulations(f: () => Promise<void> | void): Promise<number> {
  counted = 0;
  setTraceHook((step) => { if (step.startsWith('ML-KEM encaps, static key')) counted++; });
  try { await f(); } finally { setTraceHook(null); }
  return counted;
}

test('keys learned again for the same id keep the object held first', (t) => {
  const keys = new PeerKeys(16);
  const first = publicOf(ALICE);
  keys.learn(first);
  const second = publicOf(ALICE);
  t.notEqual(second, first, 'two objects, the same keys');
  keys.learn(second);
  t.equal(keys.get(ALICE.idHex), first);
  t.equal(keys.get(Identity.generate().idHex), undefined, 'an id never learned has none');
  t.end();
});

test('learn with ahead makes one encapsulation later, off the call, and the next handshake uses it', async (t) => {
  const keys = new PeerKeys(16);
  const remote = publicOf(ALICE);
  let during = -1;
  const made = await encapsulations(async () => {
    keys.learn(remote, true);
    during = countedSoFar();
    await afterAhead();
  });
  t.equal(during, 0, 'nothing on the caller\'s path');
  t.equal(made, 1, 'one encapsulation made ahead');
  t.equal(await encapsulations(() => { remote.takeEncapsulation(); }), 0, 'the handshake takes the one made ahead');
  t.equal(await encapsulations(() => { remote.takeEncapsulation(); }), 1, 'used once: the next is fresh');
});

test('learn without ahead, or after stop(), makes no encapsulation', async (t) => {
  const keys = new PeerKeys(16);
  t.equal(await encapsulations(async () => { keys.learn(publicOf(ALICE)); await afterAhead(); }), 0, 'not asked for');
  const stopped = new PeerKeys(16);
  stopped.learn(publicOf(ALICE), true);
  stopped.stop();
  t.equal(await encapsulations(afterAhead), 0, 'stopped before it ran');
  t.ok(stopped.get(ALICE.idHex), 'the keys stay readable');
});

test('the number of keys held is bounded by maxKeys', (t) => {
  const keys = new PeerKeys(4);
  const ids = Array.from({ length: 12 }, () => Identity.generate());
  for (const id of ids) keys.learn(publicOf(id));
  const held = ids.filter((id) => keys.get(id.idHex) !== undefined).length;
  t.ok(held >= 2 && held <= 4, `${held} of 12 held`);
  t.ok(keys.get(ids[11].idHex), 'the most recently learned is held');
  t.end();
});
