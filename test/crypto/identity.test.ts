import test from 'tape';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Identity, PublicIdentity, internedIdentities } from '../../src/crypto/identity.js';

test('keys of one identity received twice in a process are one object: no second copy, same bytes', (t) => {
  const owner = Identity.generate();
  // Two holders get the keys from two different frames (two copies of the bytes on the wire).
  const a = PublicIdentity.fromKeys(owner.publicKeys(), owner.id);
  const b = PublicIdentity.fromKeys(owner.publicKeys(), owner.id);
  const c = PublicIdentity.fromKeys(owner.publicKeys()); // no expected id (signaling records)
  t.ok(a, 'checked against the id');
  t.equal(b, a, 'the second holder gets the first one\'s object');
  t.equal(c, a, 'so does one that parses keys without an expected id');
  t.equal(a!.dsaPublicKey.buffer, b!.dsaPublicKey.buffer, 'one buffer of key bytes');
  t.deepEqual([...a!.publicKeys()], [...owner.publicKeys()]);
  t.end();
});

test('interning never lets wrong keys through: other keys under a held id are refused, a wrong length too', (t) => {
  const owner = Identity.generate();
  const other = Identity.generate();
  const held = PublicIdentity.fromKeys(owner.publicKeys(), owner.id);
  t.ok(held);
  t.equal(PublicIdentity.fromKeys(other.publicKeys(), owner.id), null, "another identity's keys claiming the held id");
  const flipped = owner.publicKeys();
  flipped[100] ^= 1;
  t.equal(PublicIdentity.fromKeys(flipped, owner.id), null, 'the held keys with one bit flipped');
  t.equal(PublicIdentity.fromKeys(owner.publicKeys().subarray(1), owner.id), null, 'one byte short');
  t.equal(PublicIdentity.fromKeys(owner.publicKeys(), owner.id), held, 'the right keys still give the held object');
  t.end();
});

test('the table holds identities weakly: once no holder has one, it is gone from the table', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const collect = async () => {
    // A WeakRef read in this turn keeps its target until the turn ends: collect in later turns.
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
  };
  await collect(); // what earlier tests left
  const owners = Array.from({ length: 20 }, () => Identity.generate());
  const before = internedIdentities();
  let held: (PublicIdentity | null)[] = owners.map((o) => PublicIdentity.fromKeys(o.publicKeys(), o.id));
  t.equal(internedIdentities(), before + 20, '20 held');
  held = [];
  await collect();
  t.equal(held.length, 0);
  t.equal(internedIdentities(), before, 'none left once their holders let go');
  // A later holder gets a fresh, checked object.
  const again = PublicIdentity.fromKeys(owners[0].publicKeys(), owners[0].id);
  t.ok(again && again.idHex === owners[0].idHex);
  t.end();
});
