/**
 * IPv4-shaped aliases and their resolver, without a network: alias
 * arithmetic, the resolver wire format, pinning on collision, answers.
 */
import test from 'tape';
import fc from 'fast-check';
import { aliasNumber, aliasOf, aliasTarget, idMatchesAlias, inPrefix, ipv4ToNumber, parsePrefix } from '../../socket/alias.js';
import { Resolver, type ResolverHost } from '../../socket/resolver.js';
import { decodeResolver, encodeFind, encodeNodes, MAX_NODES } from '../../socket/wire.js';
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
  const find = decodeResolver(encodeFind({ reqId: 77, bits: 24, target }));
  t.ok(find && find.type === 1 && find.m.reqId === 77 && find.m.bits === 24 && equalBytes(find.m.target, target), 'FIND round-trips');
  const ids = Array.from({ length: 10 }, () => randomBytes(20));
  const nodes = decodeResolver(encodeNodes(9, ids));
  t.ok(nodes && nodes.type === 2 && nodes.m.ids.length === MAX_NODES, 'NODES carries at most 8 ids');
  t.ok(nodes && nodes.type === 2 && nodes.m.ids.every((id, i) => equalBytes(id, ids[i])), 'in order');
  const bad = [new Uint8Array(4), new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 1, 33, 0, 0, 0, 0]),
    new Uint8Array([0, 0, 0, 0, 2, 0, 0, 0, 1, 2, ...new Uint8Array(20)]), new Uint8Array([0, 0, 0, 0, 5, 0, 0, 0, 1, 0])];
  t.ok(bad.every((b) => decodeResolver(b) === null), 'short, 33-bit, wrong count and unknown type are null');
  t.end();
});

function fakeHost(self: Uint8Array, peers: Uint8Array[] = []): ResolverHost & { sent: [Uint8Array, Uint8Array][]; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const sent: [Uint8Array, Uint8Array][] = [];
  return { id: self, peers: () => peers, send: (to, b) => { sent.push([to, b]); return true; }, count: (r) => { counts[r] = (counts[r] ?? 0) + 1; }, sent, counts };
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

test('the resolver answers FIND with the closest ids it knows, never the asker', (t) => {
  const self = idWith(0x00);
  const peers = [idWith(0x10), idWith(0x80), idWith(0xf0)];
  const host = fakeHost(self, peers);
  const r = new Resolver(host);
  for (let i = 0; i < 20; i++) r.learn(randomBytes(20));
  const target = aliasTarget(aliasNumber(peers[1], P8), P8);
  const asker = idWith(0x81);
  r.onFind({ reqId: 5, bits: 24, target }, asker);
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
  for (let i = 0; i < 5; i++) r.onFind({ reqId: i, bits: 24, target: new Uint8Array(20) }, randomBytes(20));
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
