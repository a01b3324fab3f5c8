import test from 'tape';
import fc from 'fast-check';
import {
  CloseReason, FrameType, MAX_NODES_PER_FRAME, MAX_URL_LENGTH, NONCE_LENGTH, PROOF_LENGTH, PROTOCOL_VERSION,
  decodeChallenge, decodeNeighbours, encodeNeighbours, MAX_NEIGHBOUR_HEADS, decodeClose, decodeFindNode, decodeHello, decodeNodes, decodePing, decodeProof, decodeUtf8, nodeAt, nodesEntries, nodeUrlAt,
  encodeChallenge, encodeClose, encodeFindNode, encodeHello, encodeNodes, encodePing, encodeProof, type Hello, type NodeInfo,
} from '../../src/wire/frames.js';
import { ID_LENGTH, KEM_CIPHERTEXT_LENGTH, PUBLIC_KEYS_LENGTH } from '../../src/crypto/identity.js';
import { textEncoder } from '../../src/util/bytes.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const utf8Length = (s: string) => textEncoder.encode(s).length;
/** A url (any Unicode) that fits the one-byte length field. */
const url = fc.string({ unit: 'grapheme', maxLength: 80 }).filter((s) => utf8Length(s) <= MAX_URL_LENGTH);
const nodeInfo: fc.Arbitrary<NodeInfo> = fc.record({ id: bytes(ID_LENGTH), flags: fc.integer({ min: 0, max: 255 }), url });
const hello: fc.Arbitrary<Hello> = fc.record({
  version: fc.constant(PROTOCOL_VERSION),
  flags: fc.integer({ min: 0, max: 255 }),
  nonce: bytes(NONCE_LENGTH),
  id: bytes(ID_LENGTH),
  publicKeys: bytes(PUBLIC_KEYS_LENGTH),
  url,
});

/** Every proper prefix of `f` (all of them for short frames, a sample for long ones). */
function prefixes(f: Uint8Array): Uint8Array[] {
  const cuts = f.length <= 64 ? [...Array(f.length).keys()] : [0, 1, 2, 3, 4, 20, 50, f.length >> 1, f.length - 2, f.length - 1];
  return cuts.map((n) => f.subarray(0, n));
}
const withExtra = (f: Uint8Array) => { const g = new Uint8Array(f.length + 1); g.set(f); return g; };

/** Every decoder, for the property that none throws on any input. */
const DECODERS: [string, (f: Uint8Array) => unknown][] = [
  ['decodeHello', decodeHello], ['decodeChallenge', decodeChallenge], ['decodeProof', decodeProof],
  ['decodePing', decodePing], ['decodeFindNode', decodeFindNode], ['decodeNodes', decodeNodes],
  ['decodeClose', decodeClose], ['decodeUtf8', decodeUtf8],
];

test('HELLO round-trips (property)', (t) => {
  fc.assert(fc.property(hello, (h) => {
    const f = encodeHello(h);
    if (f[0] !== FrameType.HELLO) return false;
    const d = decodeHello(f);
    return d !== null && d.version === h.version && d.flags === h.flags && d.url === h.url
      && Buffer.from(d.nonce).equals(h.nonce) && Buffer.from(d.id).equals(h.id) && Buffer.from(d.publicKeys).equals(h.publicKeys);
  }), { numRuns: 50 });
  t.pass('decodeHello(encodeHello(h)) equals h');
  t.end();
});

test('a HELLO encoded from the two key parts is byte for byte the one from the joined keys; wrong key lengths throw', (t) => {
  const h = fc.sample(hello, 1)[0];
  const parts = [h.publicKeys.slice(0, 1952), h.publicKeys.slice(1952)] as const;
  t.ok(Buffer.from(encodeHello({ ...h, publicKeys: parts })).equals(encodeHello(h)), 'same bytes');
  t.throws(() => encodeHello({ ...h, publicKeys: [parts[0], parts[1].subarray(1)] }), RangeError, 'a part one byte short');
  t.throws(() => encodeHello({ ...h, publicKeys: h.publicKeys.subarray(1) }), RangeError, 'joined keys one byte short');
  t.end();
});

test('a truncated, lengthened or mistyped HELLO decodes to null; another version is returned for the caller to refuse', (t) => {
  const f = fc.sample(hello, 1)[0];
  const frame = encodeHello({ ...f, url: 'ws://127.0.0.1:1234' });
  for (const p of prefixes(frame)) t.equal(decodeHello(p), null, `a ${p.length}-byte prefix is null`);
  t.equal(decodeHello(withExtra(frame)), null, 'one byte too many');
  const typed = frame.slice(); typed[0] = FrameType.PROOF;
  t.equal(decodeHello(typed), null, 'another frame type');
  const v2 = frame.slice(); v2[1] = PROTOCOL_VERSION + 1;
  t.equal(decodeHello(v2)?.version, PROTOCOL_VERSION + 1, 'the version is reported as sent');
  t.equal(decodeHello(v2.subarray(0, 2))?.version, PROTOCOL_VERSION + 1, 'even from two bytes');
  const badUtf8 = encodeHello({ ...f, url: 'ab' });
  badUtf8[badUtf8.length - 1] = 0xff;
  t.equal(decodeHello(badUtf8), null, 'a url that is not UTF-8');
  t.throws(() => encodeHello({ ...f, url: 'x'.repeat(MAX_URL_LENGTH + 1) }), RangeError, 'an own url past 255 bytes is a caller error');
  t.end();
});

test('CHALLENGE and PROOF round-trip and refuse any other length or type', (t) => {
  fc.assert(fc.property(bytes(KEM_CIPHERTEXT_LENGTH), (ct) => Buffer.from(decodeChallenge(encodeChallenge(ct))!).equals(ct)), { numRuns: 30 });
  fc.assert(fc.property(bytes(PROOF_LENGTH), (mac) => Buffer.from(decodeProof(encodeProof(mac))!).equals(mac)));
  const ch = encodeChallenge(new Uint8Array(KEM_CIPHERTEXT_LENGTH));
  const pr = encodeProof(new Uint8Array(PROOF_LENGTH));
  for (const p of prefixes(ch)) t.equal(decodeChallenge(p), null, `CHALLENGE prefix of ${p.length}`);
  for (const p of prefixes(pr)) t.equal(decodeProof(p), null, `PROOF prefix of ${p.length}`);
  t.equal(decodeChallenge(withExtra(ch)), null, 'CHALLENGE one byte long');
  t.equal(decodeProof(withExtra(pr)), null, 'PROOF one byte long');
  t.equal(decodeChallenge(Uint8Array.of(FrameType.PROOF, ...ch.subarray(1))), null, 'CHALLENGE with another type');
  t.equal(decodeProof(Uint8Array.of(FrameType.CHALLENGE, ...pr.subarray(1))), null, 'PROOF with another type');
  t.end();
});

test('PING/PONG and FIND_NODE round-trip and refuse any other length', (t) => {
  fc.assert(fc.property(bytes(8), fc.constantFrom(FrameType.PING, FrameType.PONG), (token, type) => {
    const f = encodePing(type, token);
    return f[0] === type && Buffer.from(decodePing(f)!).equals(token);
  }));
  fc.assert(fc.property(bytes(ID_LENGTH), (target) => {
    const f = encodeFindNode(target);
    return f[0] === FrameType.FIND_NODE && Buffer.from(decodeFindNode(f)!).equals(target);
  }));
  const ping = encodePing(FrameType.PING, new Uint8Array(8));
  const find = encodeFindNode(new Uint8Array(ID_LENGTH));
  for (const p of prefixes(ping)) t.equal(decodePing(p), null, `PING prefix of ${p.length}`);
  for (const p of prefixes(find)) t.equal(decodeFindNode(p), null, `FIND_NODE prefix of ${p.length}`);
  t.equal(decodePing(withExtra(ping)), null);
  t.equal(decodeFindNode(withExtra(find)), null);
  t.end();
});

test('NODES round-trips up to MAX_NODES_PER_FRAME entries (property)', (t) => {
  fc.assert(fc.property(fc.array(nodeInfo, { maxLength: MAX_NODES_PER_FRAME }), (nodes) => {
    const d = decodeNodes(encodeNodes(nodes));
    return d !== null && d.length === nodes.length && d.every((n, i) =>
      Buffer.from(n.id).equals(nodes[i].id) && n.flags === nodes[i].flags && n.url === nodes[i].url);
  }), { numRuns: 100 });
  t.pass('decodeNodes(encodeNodes(nodes)) equals nodes');
  const many = Array.from({ length: MAX_NODES_PER_FRAME + 5 }, (_, i) => ({ id: new Uint8Array(ID_LENGTH).fill(i), flags: i, url: '' }));
  t.equal(decodeNodes(encodeNodes(many))?.length, MAX_NODES_PER_FRAME, 'encodeNodes sends at most MAX_NODES_PER_FRAME');
  t.end();
});

test('encodeNodes refuses a url past its 255-byte length byte with a RangeError, and takes one of exactly 255', (t) => {
  const id = new Uint8Array(ID_LENGTH).fill(7);
  const fits = 'ws://' + 'a'.repeat(MAX_URL_LENGTH - 5);
  t.equal(decodeNodes(encodeNodes([{ id, flags: 2, url: fits }]))?.[0].url, fits, 'a 255-byte url round-trips');
  // 256 bytes would wrap its length byte to 0 and shift every later field.
  const err = (() => { try { encodeNodes([{ id, flags: 2, url: 'ws://a' }, { id, flags: 2, url: fits + 'a' }]); } catch (e) { return e as Error; } return null; })();
  t.ok(err instanceof RangeError, 'a 256-byte url is a caller error (RangeError)');
  t.match(err?.message ?? '', /^nodes\[1\]\.url /, 'naming the parameter');
  t.throws(() => encodeNodes([{ id, flags: 2, url: 'ws://' + '\u00e9'.repeat(126) }]), RangeError, 'the length counts UTF-8 bytes, not characters (257 bytes)');
  t.end();
});

test('a truncated, lengthened or over-full NODES decodes to null', (t) => {
  const f = encodeNodes([{ id: new Uint8Array(ID_LENGTH).fill(1), flags: 2, url: 'ws://a' }, { id: new Uint8Array(ID_LENGTH).fill(2), flags: 1, url: '' }]);
  for (const p of prefixes(f)) t.equal(decodeNodes(p), null, `a ${p.length}-byte prefix`);
  t.equal(decodeNodes(withExtra(f)), null, 'a trailing byte');
  t.equal(decodeNodes(Uint8Array.of(FrameType.NODES, MAX_NODES_PER_FRAME + 1)), null, 'a count past the limit');
  const badUtf8 = f.slice();
  badUtf8[2 + ID_LENGTH + 2] = 0xff; // first byte of the first url
  t.equal(decodeNodes(badUtf8), null, 'a url that is not UTF-8');
  t.deepEqual(decodeNodes(Uint8Array.of(FrameType.NODES, 0)), [], 'an empty list is valid');
  t.end();
});

test('nodesEntries reads a NODES frame in place and nodeAt copies an entry out, ASCII or not', (t) => {
  const nodes = [
    { id: new Uint8Array(ID_LENGTH).fill(1), flags: 2, url: 'ws://127.0.0.1:9000' },
    { id: new Uint8Array(ID_LENGTH).fill(2), flags: 1, url: 'ws://h\u00e9llo.example/\u2713' },
    { id: new Uint8Array(ID_LENGTH).fill(3), flags: 0, url: '' },
  ];
  const f = encodeNodes(nodes);
  const at = nodesEntries(f);
  t.equal(at?.length, 3, 'one offset per entry');
  const out = at!.map((o) => nodeAt(f, o));
  t.deepEqual(out.map((n) => n.url), nodes.map((n) => n.url), 'urls decoded, the non-ASCII one by the UTF-8 decoder');
  t.deepEqual(at!.map((o) => nodeUrlAt(f, o)), nodes.map((n) => n.url), 'nodeUrlAt reads the same url');
  f.fill(0xaa, 2, 2 + ID_LENGTH);
  t.deepEqual([...out[0].id], [...nodes[0].id], 'the copied id does not share the frame\'s memory');
  const bad = encodeNodes(nodes);
  bad[nodesEntries(bad)![1] + ID_LENGTH + 2] = 0xff; // the first byte of the non-ASCII url
  t.equal(nodesEntries(bad), null, 'a url that is not UTF-8 makes the whole frame malformed');
  t.end();
});

test('CLOSE round-trips its reason and a message of up to 123 bytes; a short frame is null', (t) => {
  const message = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => utf8Length(s) <= 123);
  fc.assert(fc.property(fc.constantFrom(...Object.values(CloseReason)), message, (reason, m) => {
    const d = decodeClose(encodeClose(reason, m));
    return d !== null && d.reason === reason && d.message === m;
  }));
  t.equal(decodeClose(encodeClose(CloseReason.NORMAL, 'x'.repeat(500)))?.message.length, 123, 'a long message is cut to 123 bytes');
  t.equal(decodeClose(Uint8Array.of(FrameType.CLOSE)), null, 'no reason byte');
  t.equal(decodeClose(new Uint8Array(0)), null);
  t.deepEqual(decodeClose(Uint8Array.of(FrameType.CLOSE, 3, 0xff, 0xfe)), { reason: 3, message: '' }, 'a message that is not UTF-8 is dropped, the reason kept');
  t.end();
});

test('decodeUtf8 returns null for bytes that are not UTF-8', (t) => {
  t.equal(decodeUtf8(textEncoder.encode('héllo ✓')), 'héllo ✓');
  t.equal(decodeUtf8(Uint8Array.of(0xc3)), null, 'a cut sequence');
  t.equal(decodeUtf8(Uint8Array.of(0xed, 0xa0, 0x80)), null, 'a surrogate');
  t.end();
});

test('no frame decoder throws on any input (property)', (t) => {
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.constantFrom(...Object.values(FrameType)), fc.uint8Array({ maxLength: 300 })).map(([type, rest]) => Uint8Array.of(type, ...rest)),
    fc.uint8Array({ minLength: 3100, maxLength: 3300 }).map((b) => { b[0] = FrameType.HELLO; b[1] = PROTOCOL_VERSION; return b; }),
  );
  for (const [name, decode] of DECODERS) {
    fc.assert(fc.property(input, (f) => { decode(f); return true; }), { numRuns: 300 });
    t.pass(`${name} never throws`);
  }
  t.end();
});

test('NEIGHBOURS round-trips any list of 32-bit heads up to the cap', (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: MAX_NEIGHBOUR_HEADS }), (heads) => {
    const f = encodeNeighbours(heads);
    return f[0] === FrameType.NEIGHBOURS && f.length === 1 + 4 * heads.length && JSON.stringify([...decodeNeighbours(f)!]) === JSON.stringify(heads);
  }));
  const long = encodeNeighbours(new Array(MAX_NEIGHBOUR_HEADS + 10).fill(7));
  t.equal(decodeNeighbours(long)!.length, MAX_NEIGHBOUR_HEADS, 'a longer list is cut at the cap');
  t.end();
});

test('NEIGHBOURS frames of a wrong length or type decode to null', (t) => {
  const ok = encodeNeighbours([1, 2]);
  t.equal(decodeNeighbours(ok.subarray(0, 8)), null, 'not 1 + 4n bytes');
  const tooMany = new Uint8Array(1 + 4 * (MAX_NEIGHBOUR_HEADS + 1));
  tooMany[0] = FrameType.NEIGHBOURS;
  t.equal(decodeNeighbours(tooMany), null, 'more heads than the cap');
  t.equal(decodeNeighbours(Uint8Array.of(FrameType.NODES, 0, 0, 0, 0)), null, 'another type');
  t.same([...decodeNeighbours(Uint8Array.of(FrameType.NEIGHBOURS))!], [], 'an empty list is valid');
  t.end();
});
