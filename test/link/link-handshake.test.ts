/** The link handshake's counters: what each handshake came to, and the KEM work it spent. */
import test from 'tape';
import { Link, linkHandshakes, type LinkOptions } from '../../src/link/link.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { Identity } from '../../src/crypto/identity.js';
import { CloseReason } from '../../src/wire/frames.js';

const opts = (identity: Identity, initiator: boolean, extra: Partial<LinkOptions> = {}): LinkOptions => ({
  identity, initiator, flags: 0, url: '', handshakeTimeoutMs: 5000, pingIntervalMs: 60_000, deadAfterMs: 120_000,
  maxBuffered: 1 << 20, countDrop: () => {}, ...extra,
});

const settled = (l: Link) => new Promise<void>((r) => {
  if (l.isOpen || l.isClosed) return r();
  l.once('open', () => r());
  l.once('close', () => r());
});

async function pair(extraB: Partial<LinkOptions> = {}): Promise<{ a: Link; b: Link }> {
  const net = new MemoryNetwork();
  const ia = Identity.generate(), ib = Identity.generate();
  let b!: Link;
  net.listen('b', (conn) => { b = new Link(conn, opts(ib, false, extraB)); });
  const a = new Link(await net.dial('mem://b', 'mem://a'), opts(ia, true));
  await settled(a);
  await new Promise((r) => setImmediate(r));
  await settled(b);
  return { a, b };
}

const snapshot = () => ({ ...linkHandshakes.counts, closedEarly: { ...linkHandshakes.counts.closedEarly } });

test('an opened link counts two handshakes started and opened, one Encaps and one Decaps at each end', async (t) => {
  const before = snapshot();
  const { a, b } = await pair();
  t.ok(a.isOpen && b.isOpen, 'both ends open');
  const c = linkHandshakes.counts;
  t.equal(c.started - before.started, 2, 'two handshakes started (one per end)');
  t.equal(c.opened - before.opened, 2, 'two opened');
  t.equal(c.encaps - before.encaps, 2, 'two Encaps');
  t.equal(c.decaps - before.decaps, 2, 'two Decaps');
  t.equal(c.kemLost - before.kemLost, 0, 'no KEM work lost');
  t.equal(linkHandshakes.inProgress, 0, 'none in progress any more');
  a.close(CloseReason.TOO_MANY_LINKS);
  await new Promise((r) => setTimeout(r, 30));
  t.equal((c.closedEarly.TOO_MANY_LINKS ?? 0) - (before.closedEarly.TOO_MANY_LINKS ?? 0), 2, 'closed right after opening: counted early at both ends');
});

test('a link refused before KEM (a duplicate) counts as refused and spends no KEM work at that end', async (t) => {
  const before = snapshot();
  const { a, b } = await pair({ beforeKem: () => false });
  t.ok(a.isClosed && b.isClosed, 'both ends closed');
  const c = linkHandshakes.counts;
  t.equal(c.started - before.started, 2, 'two handshakes started');
  t.equal(c.opened - before.opened, 0, 'none opened');
  t.equal(c.refused - before.refused, 1, 'the refusing end counts a refusal');
  t.equal(c.failed - before.failed, 1, 'the other end a failure (the remote closed it)');
  t.ok(c.encaps - before.encaps <= 1, 'the refusing end made no Encaps (the other end at most one)');
  t.equal(c.kemLost - before.kemLost, c.encaps - before.encaps, 'whatever KEM work was done is counted as lost');
  t.equal(linkHandshakes.inProgress, 0, 'none in progress any more');
});
