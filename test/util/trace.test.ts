import test from 'tape';
import { kemReady, useKemBackend } from '../../src/crypto/kem.js';
import { setTraceHook, timed, trace } from '../../src/util/trace.js';
import { Identity } from '../../src/crypto/identity.js';
import { createInit, respond, complete, generateEphemeral } from '../../src/crypto/session.js';

test('the trace hook sees nothing unless installed, and timed() returns what it runs', (t) => {
  const seen: string[] = [];
  t.equal(timed('x', () => 42), 42, 'no hook: the value');
  trace('step', new Uint8Array(20));
  setTraceHook((step, node, ms) => seen.push(`${step}|${node ? 'node' : 'crypto'}|${ms === undefined ? 'point' : 'timed'}`));
  try {
    t.equal(timed('op', () => 'v'), 'v');
    trace('KEY_REQUEST', new Uint8Array(20), ' sent');
    t.throws(() => timed('fails', () => { throw new Error('boom'); }), /boom/, 'an error passes through');
  } finally {
    setTraceHook(null);
  }
  trace('after', new Uint8Array(20));
  t.deepEqual(seen, ['op|crypto|timed', 'KEY_REQUEST sent|node|point', 'fails|crypto|timed'], 'each step once, the failing one timed too');
  t.end();
});

test('a handshake between keys just learned does exactly the KEM floor: 3 encapsulations and 3 decapsulations', (t) => {
  const a = Identity.generate();
  const b = Identity.generate();
  const eph = generateEphemeral(); // made ahead of time, off the path
  // A node expands its own KEM key once, at its first link handshake (a step of its own in traces, below).
  a.prepared();
  b.prepared();
  const ops: string[] = [];
  setTraceHook((step, _node, ms) => { if (ms !== undefined && step.startsWith('ML-')) ops.push(step); });
  try {
    const pending = createInit(a, b.toPublic(), eph);
    const r = respond(b, a.id, pending.init);
    t.ok(r, 'responded');
    t.ok(complete(a, pending, r!.resp), 'completed');
  } finally {
    setTraceHook(null);
  }
  t.equal(ops.filter((s) => s.includes('encaps')).length, 3, 'three encapsulations');
  t.equal(ops.filter((s) => s.includes('decaps')).length, 3, 'three decapsulations');
  t.equal(ops.filter((s) => s.includes('ML-DSA')).length, 0, 'no signature made or checked');
  t.equal(ops.length, 6, `nothing else: ${ops.join(', ')}`);
  t.end();
});

/** The timed steps of two decapsulations with a fresh identity's own key. */
function stepsOfTwoDecapsulations(): string[] {
  const c = Identity.generate();
  const { cipherText } = c.toPublic().encapsulate();
  const ops: string[] = [];
  setTraceHook((step, _node, ms) => { if (ms !== undefined) ops.push(step); });
  try {
    c.decapsulate(cipherText);
    c.decapsulate(cipherText);
  } finally {
    setTraceHook(null);
  }
  return ops;
}

test("with noble, an identity's own KEM key is expanded once, as a step of its own, at its first decapsulation", (t) => {
  useKemBackend('noble');
  t.teardown(() => useKemBackend(null));
  const ops = stepsOfTwoDecapsulations();
  t.deepEqual(ops, ['ML-KEM key expansion (prepare)', 'ML-KEM decaps, own static key', 'ML-KEM decaps, own static key'], ops.join(', '));
  t.end();
});

test('with liboqs, there is no expansion step: each decapsulation is the one step', async (t) => {
  t.equal(await kemReady(), 'liboqs', 'liboqs loaded');
  const ops = stepsOfTwoDecapsulations();
  t.deepEqual(ops, ['ML-KEM decaps, own static key', 'ML-KEM decaps, own static key'], ops.join(', '));
});
