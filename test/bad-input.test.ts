/**
 * Bad input from a peer: malformed frames, unknown types, a wrong version,
 * oversized frames, text frames, invalid UTF-8, floods. Each is dropped (or the
 * link closed) and counted; the process never throws, and the node keeps
 * relaying for everyone else.
 */
import test, { type Test } from 'tape';
import WebSocket from 'ws';
import { Identity } from '../src/index.js';
import { Link } from '../src/link/link.js';
import { dialWebSocket } from '../src/transport/websocket.js';
import { FAST, nextMessage, startNode, urlOf, waitFor } from './helpers/testnet.js';
import { CloseReason, FrameType, MESH_SUBPROTOCOL, decodeClose, encodeHello, PROTOCOL_VERSION } from '../src/wire/frames.js';
import { encodeEnvelope, MsgType } from '../src/wire/envelope.js';
import { randomBytes } from '../src/util/bytes.js';
import type { PeerRelay } from '../src/index.js';

/** An authenticated link from a hand-driven peer, to send raw frames after the handshake. */
async function rawLink(t: Test, url: string): Promise<Link> {
  const conn = await dialWebSocket(url, { maxPayload: 64 << 20, timeoutMs: 5000 });
  const link = new Link(conn, {
    identity: Identity.generate(), initiator: true, flags: 0, url: '', handshakeTimeoutMs: 5000,
    pingIntervalMs: 60_000, deadAfterMs: 120_000, maxBuffered: 64 << 20, countDrop: () => {},
  });
  t.teardown(() => link.close());
  await new Promise<void>((resolve, reject) => { link.once('open', resolve); link.once('close', () => reject(new Error('closed'))); });
  return link;
}

/** A relay A with B and C behind it, to show honest traffic still flows. */
async function trio(t: Test): Promise<{ a: PeerRelay; b: PeerRelay; c: PeerRelay }> {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST, maxLinks: 1 });
  const c = await startNode(t, { bootstrap: [urlOf(a)], ...FAST, maxLinks: 1 });
  t.ok(await waitFor(() => b.peers.length === 1 && c.peers.length === 1), 'B and C are linked through A');
  return { a, b, c };
}

async function stillRelays(t: Test, b: PeerRelay, c: PeerRelay, tag: string) {
  const got = nextMessage(c, (d) => d === tag);
  b.send(c.id, tag);
  t.equal((await got).data, tag, `A still relays B -> C (${tag})`);
}

test('malformed and unknown frames are dropped and counted; relaying goes on', async (t) => {
  const { a, b, c } = await trio(t);
  const link = await rawLink(t, urlOf(a));
  const send = (f: Uint8Array) => link.connection.send(f);
  send(new Uint8Array([0x7f, 1, 2, 3]));                         // unknown frame type
  send(new Uint8Array([FrameType.ROUTE, 1, 2]));                  // truncated routed header
  send(new Uint8Array([FrameType.NODES, 200]));                   // NODES claiming 200 entries
  send(new Uint8Array([FrameType.FIND_NODE, 1]));                 // short FIND_NODE
  send(new Uint8Array([FrameType.HELLO, 1]));                     // handshake frame after the handshake
  send(encodeEnvelope(0x77 as never, randomBytes(20), randomBytes(20), new Uint8Array(4)));  // unknown routed type, to nobody
  send(encodeEnvelope(MsgType.DATA, a.id, randomBytes(20), new Uint8Array(3)));             // DATA too short for a session header
  send(encodeEnvelope(MsgType.HANDSHAKE_INIT, a.id, randomBytes(20), randomBytes(100)));    // garbage INIT
  await waitFor(() => Object.keys(a.stats().dropped).length >= 4);
  const d = a.stats().dropped;
  t.ok((d.unknown_type ?? 0) >= 1, `unknown frame type counted (${d.unknown_type})`);
  t.ok((d.malformed ?? 0) >= 3, `malformed frames counted (${d.malformed})`);
  t.ok((d.unexpected_handshake ?? 0) >= 1, 'a late handshake frame is counted');
  t.ok((d.bad_handshake ?? 0) >= 1, 'a garbage INIT is counted');
  await stillRelays(t, b, c, 'after-garbage');
});

test('a text frame on a mesh link is dropped and counted', async (t) => {
  const { a, b, c } = await trio(t);
  const ws = new WebSocket(urlOf(a), MESH_SUBPROTOCOL);
  t.teardown(() => ws.terminate());
  await new Promise((r) => ws.once('open', r));
  ws.send('{"type":"hello"}');
  t.ok(await waitFor(() => (a.stats().dropped.invalid_frame ?? 0) >= 1), 'counted as invalid_frame');
  await stillRelays(t, b, c, 'after-text');
});

test('a HELLO with an unknown protocol version is refused with BAD_VERSION', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const ws = new WebSocket(urlOf(a), MESH_SUBPROTOCOL);
  t.teardown(() => ws.terminate());
  const frames: Uint8Array[] = [];
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  await new Promise((r) => ws.once('open', r));
  const id = Identity.generate();
  const hello = encodeHello({ version: PROTOCOL_VERSION, flags: 0, nonce: randomBytes(32), id: id.id, publicKeys: id.publicKeys(), url: '' });
  hello[1] = 99;
  ws.send(hello);
  t.ok(await waitFor(() => frames.some((f) => f[0] === FrameType.CLOSE)), 'A answers with CLOSE');
  const close = decodeClose(frames.find((f) => f[0] === FrameType.CLOSE)!);
  t.equal(close?.reason, CloseReason.BAD_VERSION, 'reason BAD_VERSION');
  t.match(close?.message ?? '', /version 99/, 'the message names the version');
  t.equal(a.stats().dropped.bad_version, 1, 'counted');
});

test('a HELLO with an invalid UTF-8 url is refused as malformed', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const ws = new WebSocket(urlOf(a), MESH_SUBPROTOCOL);
  t.teardown(() => ws.terminate());
  await new Promise((r) => ws.once('open', r));
  const id = Identity.generate();
  const hello = encodeHello({ version: PROTOCOL_VERSION, flags: 0, nonce: randomBytes(32), id: id.id, publicKeys: id.publicKeys(), url: 'ab' });
  hello[hello.length - 1] = 0xff; // not UTF-8
  ws.send(hello);
  const closed = await new Promise<boolean>((r) => { ws.once('close', () => r(true)); setTimeout(() => r(false), 5000); });
  t.ok(closed, 'A closes the connection');
  t.ok((a.stats().dropped.malformed ?? 0) >= 1, 'counted as malformed');
});

test('a frame over the size limit closes that link only', async (t) => {
  const { a, b, c } = await trio(t);
  const link = await rawLink(t, urlOf(a));
  const closed = new Promise<void>((r) => link.once('close', () => r()));
  link.connection.send(new Uint8Array(a.limits.maxMessageSize + 64 * 1024));
  await closed;
  t.pass('the oversized sender\'s link is closed');
  t.equal(b.peers.length, 1, 'other links stay up');
  await stillRelays(t, b, c, 'after-oversize');
});

test('send refuses a message over maxMessageSize with ERR_FRAME_TOO_LARGE', async (t) => {
  const a = await startNode(t, { maxMessageSize: 1000 });
  t.throws(() => a.send(randomBytes(20), new Uint8Array(1001)), /exceeds maxMessageSize/, 'throws');
  try { a.send(randomBytes(20), new Uint8Array(1001)); } catch (err) { t.equal((err as { code: string }).code, 'ERR_FRAME_TOO_LARGE'); }
});

test('a flood of garbage from one peer does not stop relaying for others', async (t) => {
  const { a, b, c } = await trio(t);
  const link = await rawLink(t, urlOf(a));
  for (let i = 0; i < 2000; i++) {
    link.connection.send(i % 2 ? randomBytes(1 + (i % 300)) : encodeEnvelope(MsgType.DATA, randomBytes(20), randomBytes(20), randomBytes(64)));
  }
  await stillRelays(t, b, c, 'during-flood');
  t.ok(Object.values(a.stats().dropped).reduce((x, y) => x + y, 0) > 0, 'the garbage was counted');
});

test('random bytes never make the node throw (fuzz)', async (t) => {
  const { a, b, c } = await trio(t);
  const link = await rawLink(t, urlOf(a));
  const types = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10];
  for (let i = 0; i < 3000; i++) {
    const f = randomBytes(1 + Math.floor(Math.random() * 120));
    f[0] = types[i % types.length];
    if (f[0] === FrameType.CLOSE) continue; // would close the fuzzing link itself
    link.connection.send(f);
  }
  await stillRelays(t, b, c, 'after-fuzz');
  t.equal(a.stats().dropped.handler_error ?? 0, 0, 'no handler threw');
});

test('a sender replaying handshakes is rate-limited and counted', async (t) => {
  const { a, b, c } = await trio(t);
  const link = await rawLink(t, urlOf(a));
  const mallory = Identity.generate();
  const { createInit } = await import('../src/crypto/session.js');
  for (let i = 0; i < 40; i++) {
    const init = createInit(mallory, a.identity.toPublic());
    link.connection.send(encodeEnvelope(MsgType.HANDSHAKE_INIT, a.id, mallory.id, init.init));
  }
  t.ok(await waitFor(() => (a.stats().dropped.handshake_rate ?? 0) >= 40 - a.limits.maxHandshakesPerSecond), 'handshakes past the per-sender rate are dropped and counted');
  await stillRelays(t, b, c, 'after-handshake-flood');
});

test('a congested link drops frames and reports the sender\'s messages as ERR_QUEUE_FULL', async (t) => {
  // B's link to A is dialed by hand, so the test holds its connection.
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { ...FAST, maxLinks: 1 });
  const c = await startNode(t, { bootstrap: [urlOf(a)], ...FAST, maxLinks: 1 });
  const conn = await dialWebSocket(urlOf(a), { maxPayload: 64 << 20, timeoutMs: 5000 });
  await b.links.adopt(conn, true, a.id);
  t.ok(await waitFor(() => b.peers.length === 1 && c.peers.length === 1), 'B and C are linked through A');
  await stillRelays(t, b, c, 'before-congestion');
  Object.defineProperty(conn, 'bufferedAmount', { get: () => b.limits.maxLinkBuffer + 1, configurable: true });
  const failed = new Promise<{ code: string }>((r) => b.once('undeliverable', (err) => r(err)));
  b.send(c.id, 'into a full buffer');
  t.equal((await failed).code, 'ERR_QUEUE_FULL', 'the sender is told');
  t.ok((b.stats().dropped.congested ?? 0) >= 1, 'the drop is counted');
  delete (conn as { bufferedAmount?: number }).bufferedAmount;
  await stillRelays(t, b, c, 'after-congestion');
});
