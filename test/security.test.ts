/**
 * An instrumented relay on the path tries to read, modify, replay, reroute,
 * forge the sender, and substitute keys; a node lies about its id. Each attempt
 * fails visibly (a counter or an error event) while honest traffic still flows.
 * B and C each hold one link (to A), so everything between them crosses A.
 */
import test, { type Test } from 'tape';
import WebSocket from 'ws';
import { PeerRelay, MemoryNetwork, Identity } from '../src/index.js';
import { FAST, nextMessage, startNode, urlOf, waitFor, sleep } from './helpers/testnet.js';
import { envelope, MsgType, OFF_FROM, OFF_MSG_ID, OFF_TO } from '../src/wire/envelope.js';
import { encodeHello, encodeProof, decodeClose, FrameType, CloseReason, PROTOCOL_VERSION, MESH_SUBPROTOCOL } from '../src/wire/frames.js';
import { randomBytes } from '../src/util/bytes.js';
import { INIT_LENGTH } from '../src/crypto/session.js';
import { PUBLIC_KEYS_LENGTH } from '../src/crypto/identity.js';

type Intercept = NonNullable<MemoryNetwork['intercept']>;

async function pathThroughA(t: Test, extra = 0) {
  const net = new MemoryNetwork();
  const mk = (opts: object) => {
    const n = new PeerRelay({ memory: net, ...FAST, sessionTimeoutMs: 3000, ...opts });
    t.teardown(() => new Promise<void>((r) => n.destroy(() => r())));
    return n;
  };
  const a = mk({});
  const aUrl = `mem://${a.identity.idHex}`;
  const b = mk({ bootstrap: [aUrl], maxLinks: 1 });
  const c = mk({ bootstrap: [aUrl], maxLinks: 1 });
  const others = Array.from({ length: extra }, () => mk({ bootstrap: [aUrl], maxLinks: 1 }));
  const all = [b, c, ...others];
  t.ok(await waitFor(() => all.every((n) => n.peers.length === 1) && a.peers.length === all.length), 'B, C (and others) link only to A');
  const urlOf = (n: PeerRelay) => `mem://${n.identity.idHex}`;
  const setIntercept = (fn: Intercept | null) => { net.intercept = fn; };
  return { net, a, b, c, others, urlOf, setIntercept };
}

const isData = (f: Uint8Array) => f[0] === FrameType.ROUTE && envelope.type(f) === MsgType.DATA;
const contains = (hay: Uint8Array, needle: Uint8Array) => Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1;

test('a relay on the path sees no plaintext', async (t) => {
  const { a, b, c, urlOf, setIntercept } = await pathThroughA(t);
  const seen: Uint8Array[] = [];
  setIntercept((f, from) => { if (from === urlOf(a)) seen.push(f); return f; });
  const secret = 'TOP-SECRET-PAYLOAD-8d1f';
  const got = nextMessage(c);
  b.send(c.id, { secret });
  t.deepEqual((await got).data, { secret }, 'C receives the message');
  t.ok(seen.some(isData), 'A relayed DATA frames');
  t.notOk(seen.some((f) => contains(f, Buffer.from(secret))), 'no frame A sent contains the plaintext');
});

test('a relay that modifies a sealed message gets it dropped and counted', async (t) => {
  const { a, b, c, urlOf, setIntercept } = await pathThroughA(t);
  b.send(c.id, 'warm-up');
  await nextMessage(c);
  let tampered = 0;
  setIntercept((f, from) => {
    if (from === urlOf(a) && isData(f) && tampered === 0) { tampered++; f[f.length - 1] ^= 1; }
    return f;
  });
  const received: unknown[] = [];
  c.on('message', (d) => received.push(d));
  b.send(c.id, 'tampered');
  b.send(c.id, 'honest');
  t.ok(await waitFor(() => received.includes('honest')), 'honest traffic still flows');
  t.equal(tampered, 1, 'one frame was modified');
  t.notOk(received.includes('tampered'), 'the modified message is not delivered');
  t.equal(c.stats().dropped.decrypt_failed, 1, 'and is counted as decrypt_failed');
});

test('a relay that replays a sealed message gets the copy dropped and counted', async (t) => {
  const { a, b, c, urlOf, setIntercept } = await pathThroughA(t);
  b.send(c.id, 'warm-up');
  await nextMessage(c);
  setIntercept((f, from) => {
    if (from !== urlOf(a) || !isData(f)) return f;
    const copy = f.slice();
    copy.set(randomBytes(8), OFF_MSG_ID); // a fresh message id, so only the session's replay window can catch it
    return [f, copy];
  });
  const received: unknown[] = [];
  c.on('message', (d) => received.push(d));
  b.send(c.id, 'once');
  b.send(c.id, 'after');
  t.ok(await waitFor(() => received.includes('after')), 'honest traffic still flows');
  await sleep(100);
  t.equal(received.filter((d) => d === 'once').length, 1, 'the message is delivered exactly once');
  t.ok((c.stats().dropped.replay ?? 0) >= 2, 'the replayed copies are counted');
});

test('a relay that reroutes or forges the sender of a sealed message gets it dropped', async (t) => {
  const { a, b, c, others, urlOf, setIntercept } = await pathThroughA(t, 1);
  const d = others[0];
  b.send(c.id, 'warm-up');
  await nextMessage(c);
  d.send(c.id, 'warm-up-d');
  await nextMessage(c);
  let mode: 'forge' | 'reroute' | null = 'forge';
  setIntercept((f, from, to) => {
    if (from !== urlOf(a) || !isData(f) || !mode) return f;
    if (mode === 'forge' && to === urlOf(c) && Buffer.from(envelope.from(f)).equals(Buffer.from(b.id))) {
      f.set(d.id, OFF_FROM); // claim the message came from D
      mode = null;
    }
    return f;
  });
  const received: { d: unknown; from: string }[] = [];
  c.on('message', (data, from) => received.push({ d: data, from: Buffer.from(from).toString('hex') }));
  b.send(c.id, 'forged');
  await sleep(0);
  b.send(c.id, 'honest-1');
  t.ok(await waitFor(() => received.some((r) => r.d === 'honest-1')), 'honest traffic flows after a forgery attempt');
  t.notOk(received.some((r) => r.d === 'forged'), 'the forged message is not delivered (from B nor from D)');
  t.ok((c.stats().dropped.forged_sender ?? 0) + (c.stats().dropped.decrypt_failed ?? 0) >= 1, 'the forgery is counted');

  // Reroute: a message B sealed for C is readdressed to D on its way into A.
  mode = 'reroute';
  setIntercept((f, from) => {
    if (mode === 'reroute' && from === urlOf(b) && isData(f) && Buffer.from(envelope.to(f)).equals(Buffer.from(c.id))) {
      f.set(d.id, OFF_TO);
      mode = null;
    }
    return f;
  });
  const dGot: unknown[] = [];
  d.on('message', (x) => dGot.push(x));
  b.send(c.id, 'rerouted');
  await sleep(0); // a turn of its own: messages of one turn may share a sealed record (and its fate)
  b.send(c.id, 'honest-2');
  t.ok(await waitFor(() => received.some((r) => r.d === 'honest-2')), 'honest traffic flows after a reroute attempt');
  await sleep(100);
  t.notOk(dGot.includes('rerouted'), 'D cannot open a message sealed for C');
  t.ok((d.stats().dropped.unknown_session ?? 0) + (d.stats().dropped.forged_sender ?? 0) >= 1, 'D counts the rerouted frame');
});

test('substituted public keys are detected and the send fails with ERR_BAD_KEYS', async (t) => {
  const { a, b, c, urlOf, setIntercept } = await pathThroughA(t);
  const mallory = Identity.generate();
  setIntercept((f, from, to) => {
    if (from === urlOf(a) && to === urlOf(b) && f[0] === FrameType.ROUTE && envelope.type(f) === MsgType.KEY_RESPONSE) {
      const out = f.slice();
      out.set(mallory.publicKeys(), 52);
      return out;
    }
    // C answers B's key request with its INIT, which carries its keys (PROTOCOL.md §5.1): substituted there too.
    if (from === urlOf(a) && to === urlOf(b) && f[0] === FrameType.ROUTE && envelope.type(f) === MsgType.HANDSHAKE_INIT) {
      const out = f.slice();
      out.set(mallory.publicKeys(), 52 + INIT_LENGTH - PUBLIC_KEYS_LENGTH);
      return out;
    }
    return f;
  });
  const failed = new Promise<{ code: string }>((resolve) => b.once('undeliverable', (err) => resolve(err)));
  b.send(c.id, 'to C, with keys from Mallory');
  const err = await failed;
  t.equal(err.code, 'ERR_BAD_KEYS', 'the sender is told the keys did not match the id');
  t.ok((b.stats().dropped.bad_keys ?? 0) >= 1, 'the substitution is counted');
  setIntercept(null);
  const got = nextMessage(c);
  b.send(c.id, 'honest');
  t.equal((await got).data, 'honest', 'with honest relays the message goes through');
});

async function rawMeshClient(t: Test, url: string) {
  const ws = new WebSocket(url, MESH_SUBPROTOCOL);
  t.teardown(() => ws.terminate());
  const frames: Uint8Array[] = [];
  let closed = false;
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  ws.on('close', () => { closed = true; });
  await new Promise((r) => ws.once('open', r));
  return { ws, frames, isClosed: () => closed };
}

test('a node that claims another node\'s id cannot prove it and is refused', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const victim = Identity.generate();
  const { ws, frames, isClosed } = await rawMeshClient(t, urlOf(a));
  // Mallory announces the victim's id and (public) keys...
  ws.send(encodeHello({ version: PROTOCOL_VERSION, flags: 0, nonce: randomBytes(32), id: victim.id, publicKeys: victim.publicKeys(), url: '' }));
  t.ok(await waitFor(() => frames.some((f) => f[0] === FrameType.CHALLENGE)), 'A challenges the claimed id');
  // ...but cannot decapsulate the challenge, so her proof is a guess.
  ws.send(encodeProof(randomBytes(32)));
  t.ok(await waitFor(() => isClosed()), 'A closes the connection');
  const close = frames.map((f) => (f[0] === FrameType.CLOSE ? decodeClose(f) : null)).find(Boolean);
  t.equal(close?.reason, CloseReason.AUTH_FAILED, 'with reason AUTH_FAILED');
  t.equal(a.stats().dropped.auth_failed, 1, 'and counts it');
  t.equal(a.peers.length, 0, 'the victim\'s id never enters the table');
});

test('a HELLO whose keys do not hash to its id is refused', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const x = Identity.generate();
  const y = Identity.generate();
  const { ws, frames, isClosed } = await rawMeshClient(t, urlOf(a));
  ws.send(encodeHello({ version: PROTOCOL_VERSION, flags: 0, nonce: randomBytes(32), id: x.id, publicKeys: y.publicKeys(), url: '' }));
  t.ok(await waitFor(() => isClosed()), 'A closes the connection');
  t.notOk(frames.some((f) => f[0] === FrameType.CHALLENGE), 'without challenging');
  const close = frames.map((f) => (f[0] === FrameType.CLOSE ? decodeClose(f) : null)).find(Boolean);
  t.equal(close?.reason, CloseReason.AUTH_FAILED, 'with reason AUTH_FAILED');
});
