/**
 * IPv4-shaped aliases and the alias resolver every node runs, without a
 * network: alias arithmetic, the resolver wire format, pinning on collision,
 * answers (NODES and OWNER), and what a lookup believes.
 */
import test from 'tape';
import fc from 'fast-check';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { aliasNumber, aliasOf, aliasTarget, idMatchesAlias, inPrefix, ipv4ToNumber, parsePrefix } from '../../src/alias/alias.js';
import { Resolver, type ResolverHost } from '../../src/alias/resolver.js';
import { decodeResolver, encodeFind, encodeNodes, encodeOwner, MAX_NODES } from '../../src/alias/wire.js';
import { Identity } from '../../src/crypto/identity.js';
import { compareDistance } from '../../src/routing/routing-table.js';
import { equalBytes, randomBytes, toHex } from '../../src/util/bytes.js';

const P8 = parsePrefix('10.0.0.0/8');

function idWith(...head: number[]): Uint8Array {
  const id = randomBytes(20);
  id.set(head);
  return id;
}

test('an alias is the prefix followed by the id\'s top bits', (t) => {
  const id = idWith(0xab, 0xcd, 0xef, 0x12);
  t.equal(aliasOf(id, P8), '10.171.205.239', '10.0.0.0/8 takes 24 bits');
  t.equal(aliasOf(id, parsePrefix('172.16.0.0/16')), '172.16.171.205', '172.16.0.0/16 takes 16 bits');
  t.equal(aliasOf(id, parsePrefix('0.0.0.0/0')), '171.205.239.18', '/0 takes 32 bits');
  t.equal(aliasOf(id, parsePrefix('100.64.0.0/10')), '100.106.243.123', '100.64.0.0/10 takes 22 bits');
  t.end();
});

test('parsePrefix rejects what is not a prefix of at most 24 bits', (t) => {
  for (const bad of ['10.0.0.0/25', '10.0.0.0', '300.0.0.0/8', 'ten/8', '']) {
    t.throws(() => parsePrefix(bad), RangeError, `"${bad}" is refused`);
  }
  t.equal(parsePrefix('10.1.2.3/8').network, ipv4ToNumber('10.0.0.0'), 'host bits of the network are cleared');
  t.end();
});

test('an alias names the region of the id space its id lies in (property)', (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 24 }), (id, len) => {
    const prefix = parsePrefix(`${len === 0 ? '0.0.0.0' : '10.0.0.0'}/${len}`);
    const alias = aliasNumber(id, prefix);
    const target = aliasTarget(alias, prefix);
    if (!inPrefix(alias, prefix) || !idMatchesAlias(id, alias, prefix)) return false;
    // Any id that does not match the alias is farther from the target than the one that does.
    const other = id.slice();
    other[0] ^= 0x80;
    return !idMatchesAlias(other, alias, prefix) && compareDistance(target, id, other) < 0;
  }), { numRuns: 500 });
  t.pass('500 random ids and prefixes');
  t.end();
});

test('resolver messages round-trip and malformed ones decode to null', (t) => {
  const target = aliasTarget(aliasNumber(idWith(1, 2, 3), P8), P8);
  const find = decodeResolver(encodeFind({ reqId: 77, bits: 24, target, wantsOwner: false }));
  t.ok(find && find.type === 1 && find.m.reqId === 77 && find.m.bits === 24 && equalBytes(find.m.target, target) && !find.m.wantsOwner, 'FIND (version 1, 14 bytes) round-trips');
  const find2 = encodeFind({ reqId: 78, bits: 24, target, wantsOwner: true });
  const f2 = decodeResolver(find2);
  t.equal(find2.length, 15, 'a version 2 FIND is 15 bytes');
  t.ok(f2 && f2.type === 1 && f2.m.reqId === 78 && f2.m.wantsOwner, 'and round-trips with its flag');
  const keys = randomBytes(3136);
  const owner = decodeResolver(encodeOwner(79, keys));
  t.ok(owner && owner.type === 3 && owner.m.reqId === 79 && equalBytes(owner.m.keys, keys), 'OWNER round-trips');
  t.equal(decodeResolver(encodeOwner(80, keys).subarray(0, 100)), null, 'a short OWNER is null');
  const ids = Array.from({ length: 10 }, () => randomBytes(20));
  const nodes = decodeResolver(encodeNodes(9, ids));
  t.ok(nodes && nodes.type === 2 && nodes.m.ids.length === MAX_NODES, 'NODES carries at most 8 ids');
  t.ok(nodes && nodes.type === 2 && nodes.m.ids.every((id, i) => equalBytes(id, ids[i])), 'in order');
  const bad = [new Uint8Array(4), new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 1, 33, 0, 0, 0, 0]),
    new Uint8Array([0, 0, 0, 0, 2, 0, 0, 0, 1, 2, ...new Uint8Array(20)]), new Uint8Array([0, 0, 0, 0, 5, 0, 0, 0, 1, 0])];
  t.ok(bad.every((b) => decodeResolver(b) === null), 'short, 33-bit, wrong count and unknown type are null');
  t.end();
});

type FakeHost = ResolverHost & { sent: [Uint8Array, Uint8Array][]; counts: Record<string, number> };

/** A node's side of the resolver: `known` are its links and contacts, `keys` the checked keys it holds. */
function fakeHost(self: Uint8Array, known: Uint8Array[] = [], keys = new Map<string, Uint8Array>(), ownKeys: Uint8Array = new Uint8Array(3136)): FakeHost {
  const counts: Record<string, number> = {};
  const sent: [Uint8Array, Uint8Array][] = [];
  return {
    id: self,
    publicKeys: () => ownKeys,
    closestKnown: (target, n) => [...known].sort((a, b) => compareDistance(target, a, b)).slice(0, n),
    keysOf: (id) => keys.get(toHex(id)),
    send: (to, b) => { sent.push([to, b]); return true; },
    count: (r) => { counts[r] = (counts[r] ?? 0) + 1; },
    sent, counts,
  };
}

test('the first id learned for an alias keeps it; a colliding id is counted', (t) => {
  const host = fakeHost(idWith(0x55));
  const r = new Resolver(host);
  r.addPrefix(P8);
  const first = idWith(0xab, 0xcd, 0xef);
  const second = idWith(0xab, 0xcd, 0xef);
  r.learn(first);
  r.learn(second);
  const alias = aliasNumber(first, P8);
  t.ok(equalBytes(r.cached(alias, P8)!, first), 'the alias stays with the first id');
  t.equal(host.counts.dgram_alias_collision, 1, 'the collision is counted');
  r.destroy();
  t.end();
});

test('an id evicted from the known ids gives up its alias, which the next id in its region then takes', (t) => {
  const host = fakeHost(idWith(0x55));
  const r = new Resolver(host, { maxKnownIds: 8 });
  r.addPrefix(P8);
  const first = idWith(0xab, 0xcd, 0xef);
  r.learn(first);
  const alias = aliasNumber(first, P8);
  t.ok(equalBytes(r.cached(alias, P8)!, first));
  for (let i = 0; i < 8; i++) r.learn(idWith(0x01, i)); // two generations of 4: `first` is evicted
  t.equal(r.cached(alias, P8), undefined, 'evicted: the alias is free');
  const next = idWith(0xab, 0xcd, 0xef);
  r.learn(next);
  t.ok(equalBytes(r.cached(alias, P8)!, next), 'and the next id in the region owns it');
  t.equal(host.counts.dgram_alias_collision, undefined, 'no collision counted');
  r.destroy();
  t.end();
});

test('known ids cost their bytes and their hex key, no array each: 4,000 ids add under 160 bytes each', (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const all = randomBytes(20 * 8000);
  const ids = Array.from({ length: 8000 }, (_, k) => all.subarray(20 * k, 20 * (k + 1)));
  const fill = (r: Resolver, from: number) => { for (let k = from; k < from + 4000; k++) r.learn(ids[k]); };
  const warm = new Resolver(fakeHost(idWith(0x55)));
  fill(warm, 0); // compiles the code first; kept alive until the end, so its memory is in both readings
  const used = () => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const before = used();
  const r = new Resolver(fakeHost(idWith(0x55)));
  fill(r, 4000);
  const grown = used() - before;
  warm.destroy();
  t.ok(grown < 4000 * 160, `${(grown / 4000).toFixed(0)} bytes per known id`);
  // Still answered from: the closest known id to a target is found.
  r.onFind({ reqId: 1, bits: 24, target: ids[4321], wantsOwner: false }, idWith(0x99));
  r.destroy();
  t.end();
});

test('the resolver answers FIND with the closest ids it knows, never the asker', (t) => {
  const self = idWith(0x00);
  const peers = [idWith(0x10), idWith(0x80), idWith(0xf0)];
  const host = fakeHost(self, peers);
  const r = new Resolver(host);
  for (let i = 0; i < 20; i++) r.learn(randomBytes(20));
  const target = aliasTarget(aliasNumber(peers[1], P8), P8);
  const asker = idWith(0x81);
  r.onFind({ reqId: 5, bits: 24, target, wantsOwner: false }, asker);
  t.equal(host.sent.length, 1, 'one answer');
  const [to, bytes] = host.sent[0];
  t.ok(equalBytes(to, asker), 'to the asker');
  const ans = decodeResolver(bytes);
  t.ok(ans && ans.type === 2 && ans.m.reqId === 5, 'a NODES answer with the request id');
  const ids = ans && ans.type === 2 ? ans.m.ids : [];
  t.equal(ids.length, MAX_NODES, '8 ids');
  t.ok(equalBytes(ids[0], peers[1]), 'the id the alias names comes first');
  t.notOk(ids.some((id) => equalBytes(id, asker)), 'the asker is not in it');
  r.destroy();
  t.end();
});

test('the resolver drops answers it did not ask for and FINDs past its rate', (t) => {
  const host = fakeHost(idWith(0x00));
  const r = new Resolver(host, { maxAnswersPerSecond: 3 });
  r.onNodes({ reqId: 1, ids: [randomBytes(20)] }, randomBytes(20));
  t.equal(host.counts.dgram_unexpected_answer, 1, 'an unsolicited NODES is counted');
  for (let i = 0; i < 5; i++) r.onFind({ reqId: i, bits: 24, target: new Uint8Array(20), wantsOwner: false }, randomBytes(20));
  t.equal(host.sent.length, 3, 'three answers in the second');
  t.equal(host.counts.dgram_find_rate, 2, 'the other two are counted');
  r.destroy();
  t.end();
});

test('a lookup confirms an alias only when the named node answers for itself', async (t) => {
  const self = idWith(0x00);
  const target = idWith(0xab, 0xcd, 0xef);
  const liar = idWith(0x40);
  const host = fakeHost(self, [liar]);
  const r = new Resolver(host, { queryTimeoutMs: 200 });
  const alias = aliasNumber(target, P8);
  const p = r.resolve(alias, P8);
  await new Promise((res) => setTimeout(res, 10));
  // The liar names a made-up id with the right top bits; that id never answers.
  const q = decodeResolver(host.sent[0][1]);
  t.ok(q && q.type === 1, 'the lookup asks the linked node');
  if (q && q.type === 1) r.onNodes({ reqId: q.m.reqId, ids: [target] }, liar);
  t.equal(r.cached(alias, P8), undefined, 'a named id is not taken on another\'s word');
  t.equal(await p, null, 'the lookup ends without an owner when the named id stays silent');
  t.ok(host.sent.some(([to]) => toHex(to) === toHex(target)), 'it asked the named id itself');
  r.destroy();
});

/** An identity whose id starts with `head` bits... found by trying: only 4 bits, so a few tries. */
function identityInRegion(nibble: number): Identity {
  for (;;) {
    const id = Identity.generate();
    if (id.id[0] >>> 4 === nibble) return id;
  }
}

test('a version 2 FIND gets OWNER with the keys of the node in the alias\'s region; a version 1 FIND still gets NODES', (t) => {
  const P4 = parsePrefix('240.0.0.0/4'); // 28 bits of id; the test region is the top 4 bits only
  const owner = identityInRegion(0xa);
  const others = [idWith(0x10), idWith(0x50), idWith(0xf0)];
  const keys = new Map([[owner.idHex, owner.publicKeys()]]);
  const host = fakeHost(idWith(0x00), [...others, owner.id], keys);
  const r = new Resolver(host);
  const target = aliasTarget(aliasNumber(owner.id, P4), P4);
  r.onFind({ reqId: 1, bits: 4, target, wantsOwner: true }, randomBytes(20));
  const a = decodeResolver(host.sent[0][1]);
  t.ok(a && a.type === 3 && a.m.reqId === 1 && equalBytes(a.m.keys, owner.publicKeys()), 'OWNER with the owner\'s keys');
  r.onFind({ reqId: 2, bits: 4, target, wantsOwner: false }, randomBytes(20));
  const b = decodeResolver(host.sent[1][1]);
  t.ok(b && b.type === 2 && equalBytes(b.m.ids[0], owner.id), 'version 1: NODES, the owner first');
  const noKeys = fakeHost(idWith(0x00), [...others, owner.id]);
  const r2 = new Resolver(noKeys);
  r2.onFind({ reqId: 3, bits: 4, target, wantsOwner: true }, randomBytes(20));
  const c = decodeResolver(noKeys.sent[0][1]);
  t.ok(c && c.type === 2 && equalBytes(c.m.ids[0], owner.id), 'without the owner\'s keys: NODES, the owner first');
  const self = identityInRegion(0xa);
  const selfHost = fakeHost(self.id, others, new Map(), self.publicKeys());
  const r3 = new Resolver(selfHost);
  r3.onFind({ reqId: 4, bits: 4, target: aliasTarget(aliasNumber(self.id, P4), P4), wantsOwner: true }, randomBytes(20));
  const d = decodeResolver(selfHost.sent[0][1]);
  t.ok(d && d.type === 3 && equalBytes(d.m.keys, self.publicKeys()), 'the owner answers with its own keys');
  r.destroy(); r2.destroy(); r3.destroy();
  t.end();
});

async function answerFirstFind(host: FakeHost, answer: (reqId: number) => Uint8Array, from: Uint8Array, r: Resolver): Promise<void> {
  await new Promise((res) => setTimeout(res, 10));
  const q = decodeResolver(host.sent[0][1]);
  if (!q || q.type !== 1) throw new Error('no FIND was sent');
  const msg = decodeResolver(answer(q.m.reqId))!;
  if (msg.type === 2) r.onNodes(msg.m, from);
  else if (msg.type === 3) r.onOwner(msg.m, from);
}

test('a lookup believes an OWNER answer whose keys hash to an id inside the alias, from a node other than the owner', async (t) => {
  const P4 = parsePrefix('240.0.0.0/4');
  const owner = identityInRegion(0x3);
  const hub = idWith(0xc0);
  const host = fakeHost(idWith(0x80), [hub]);
  const r = new Resolver(host, { queryTimeoutMs: 500 });
  const alias = aliasNumber(owner.id, P4);
  const p = r.resolve(alias, P4);
  await answerFirstFind(host, (reqId) => encodeOwner(reqId, owner.publicKeys()), hub, r);
  const got = await p;
  t.ok(got && equalBytes(got, owner.id), 'the lookup resolves to the id the keys hash to');
  t.ok(equalBytes(r.cached(alias, P4)!, owner.id), 'and caches it');
  t.equal(host.sent.length, 1, 'one question: the hub knew the owner');
  const q = decodeResolver(host.sent[0][1]);
  t.ok(q && q.type === 1 && q.m.wantsOwner, 'the question was a version 2 FIND');
  r.destroy();
});

test('a lying OWNER answer (keys of a node outside the alias) is not believed, and counted', async (t) => {
  const P4 = parsePrefix('240.0.0.0/4');
  const liar = identityInRegion(0x5);
  const target = idWith(0x3a);
  const host = fakeHost(idWith(0x80), [liar.id]);
  const r = new Resolver(host, { queryTimeoutMs: 300 });
  const alias = aliasNumber(target, P4);
  const p = r.resolve(alias, P4);
  await answerFirstFind(host, (reqId) => encodeOwner(reqId, liar.publicKeys()), liar.id, r);
  t.equal(await p, null, 'the lookup does not resolve to the liar');
  t.equal(r.cached(alias, P4), undefined, 'nothing is cached for the alias');
  t.equal(host.counts.dgram_bad_owner, 1, 'the lie is counted as dgram_bad_owner');
  r.destroy();
});
