/**
 * A node keeps the public keys of its first targetLinks links only (PROTOCOL.md
 * §5.1): a session to any other neighbour fetches them with KEY_REQUEST, and
 * keys fetched that way are checked against the id like any others.
 */
import test, { type Test } from 'tape';
import { PeerRelay, MemoryNetwork, Identity } from '../../src/index.js';
import { FAST, nextMessage, waitFor } from '../helpers/testnet.js';
import { envelope, MsgType } from '../../src/wire/envelope.js';
import { FrameType } from '../../src/wire/frames.js';
import { INIT_LENGTH } from '../../src/crypto/session.js';
import { PUBLIC_KEYS_LENGTH } from '../../src/crypto/identity.js';

/** H keeps keys for one link (targetLinks 1): X links first, then Y. */
async function hubWithTwoLinks(t: Test) {
  const net = new MemoryNetwork();
  const mk = (opts: object) => {
    const n = new PeerRelay({ memory: net, ...FAST, sessionTimeoutMs: 3000, ...opts });
    t.teardown(() => new Promise<void>((r) => n.destroy(() => r())));
    return n;
  };
  const h = mk({ targetLinks: 1 });
  const url = (n: PeerRelay) => `mem://${n.identity.idHex}`;
  const x = mk({ bootstrap: [url(h)], maxLinks: 1 });
  t.ok(await waitFor(() => h.peers.length === 1), 'X is H\'s first link');
  const y = mk({ bootstrap: [url(h)], maxLinks: 1 });
  t.ok(await waitFor(() => h.peers.length === 2 && y.peers.length === 1), 'Y is its second');
  /** Session frames H sends, by destination. */
  const sent: { to: string; type: number }[] = [];
  net.intercept = (f, from, to) => {
    if (from === url(h) && f[0] === FrameType.ROUTE) sent.push({ to, type: envelope.type(f) });
    return f;
  };
  return { net, h, x, y, url, sent };
}

test('a session to a neighbour whose keys were not kept fetches them with KEY_REQUEST and delivers', async (t) => {
  const { h, x, y, url, sent } = await hubWithTwoLinks(t);
  const toX = nextMessage(x);
  h.send(x.id, 'to X');
  t.equal((await toX).data, 'to X', 'X (keys kept) gets its message');
  const toY = nextMessage(y);
  h.send(y.id, 'to Y');
  t.equal((await toY).data, 'to Y', 'Y (keys dropped) gets its message');
  const kinds = (to: string) => sent.filter((s) => s.to === to).map((s) => s.type);
  t.notOk(kinds(url(x)).includes(MsgType.KEY_REQUEST), 'to X: no key request (its HELLO keys were kept)');
  t.ok(kinds(url(x)).includes(MsgType.HANDSHAKE_INIT), 'to X: an INIT at once');
  t.ok(kinds(url(y)).includes(MsgType.KEY_REQUEST), 'to Y: the keys are fetched first');
});

test('keys fetched for a neighbour whose HELLO keys were not kept are checked against its id', async (t) => {
  const { net, h, y, url } = await hubWithTwoLinks(t);
  const mallory = Identity.generate();
  // Y answers H's key request with its INIT (or KEY_RESPONSE); the keys in it are swapped on the link.
  net.intercept = (f, from, to) => {
    if (from !== url(y) || to !== url(h) || f[0] !== FrameType.ROUTE) return f;
    const type = envelope.type(f);
    if (type === MsgType.KEY_RESPONSE) { const out = f.slice(); out.set(mallory.publicKeys(), 52); return out; }
    if (type === MsgType.HANDSHAKE_INIT) { const out = f.slice(); out.set(mallory.publicKeys(), 52 + INIT_LENGTH - PUBLIC_KEYS_LENGTH); return out; }
    return f;
  };
  const failed = new Promise<{ code: string }>((resolve) => h.once('undeliverable', (err) => resolve(err)));
  const got: unknown[] = [];
  y.on('message', (d) => got.push(d));
  h.send(y.id, 'with keys from Mallory');
  t.equal((await failed).code, 'ERR_BAD_KEYS', 'the send fails: the keys do not hash to Y\'s id');
  t.ok((h.stats().dropped.bad_keys ?? 0) >= 1, 'the substitution is counted');
  t.deepEqual(got, [], 'nothing reached Y under keys it does not hold');
});

test('no encapsulation is made ahead for a new link while the process is busy forming links; one is when it is not', async (t) => {
  const { linkHandshakes } = await import('../../src/link/link.js');
  const { setTraceHook } = await import('../../src/util/trace.js');
  const { cpuQueue } = await import('../../src/util/cpu-queue.js');
  const net = new MemoryNetwork();
  const mk = (opts: object) => {
    const n = new PeerRelay({ memory: net, ...FAST, ...opts });
    t.teardown(() => new Promise<void>((r) => n.destroy(() => r())));
    return n;
  };
  let encaps = 0;
  setTraceHook((step, _node, ms) => { if (ms !== undefined && step.startsWith('ML-KEM encaps')) encaps++; });
  t.teardown(() => setTraceHook(null));
  const linkEncaps = () => linkHandshakes.counts.encaps;
  // Busy: as if 1,000 link handshakes of other nodes of this process were under way.
  const base = { encaps, link: linkEncaps() };
  linkHandshakes.inProgress += 1000;
  const a = mk({});
  const b = mk({ bootstrap: [`mem://${a.identity.idHex}`] });
  t.ok(await waitFor(() => a.peers.length === 1 && b.peers.length === 1), 'linked while busy');
  linkHandshakes.inProgress -= 1000;
  const busyLink = linkEncaps() - base.link;
  // Not busy: a second pair links; each end makes one encapsulation ahead (its first link).
  const c = mk({});
  const d = mk({ bootstrap: [`mem://${c.identity.idHex}`] });
  t.ok(await waitFor(() => c.peers.length === 1 && d.peers.length === 1), 'linked while idle');
  const idleLink = linkEncaps() - base.link - busyLink;
  t.ok(await waitFor(() => encaps - base.encaps - busyLink - idleLink >= 2), 'the idle pair made its two encapsulations ahead');
  // Work made ahead is queued on a timer after the link opens: let every queued job run.
  await new Promise((r) => setTimeout(r, 20));
  t.ok(await waitFor(() => cpuQueue.waiting === 0), 'the CPU queue is empty');
  t.equal(encaps - base.encaps - busyLink - idleLink, 2, 'and the busy pair none: every other encapsulation was a link handshake\'s');
});
