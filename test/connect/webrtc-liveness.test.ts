import test from 'tape';
import type { PeerRelay } from '../../src/index.js';
import { startNode, urlOf, waitFor, nextMessage, FAST } from '../helpers/testnet.js';
import { loopbackWrtc, type LoopbackWrtc } from '../helpers/webrtc-loopback.js';

const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');
const linkKind = (node: PeerRelay, other: PeerRelay) => node.linkInfo().find((l) => l.id === hex(other.id))?.kind ?? '';

/** A (WebSocket hub), B and C (WebRTC only, linked to each other by connect()). */
async function trio(t: test.Test): Promise<{ a: PeerRelay; b: PeerRelay; c: PeerRelay; cw: LoopbackWrtc }> {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { wrtc: loopbackWrtc(), bootstrap: [urlOf(a)], ...FAST, targetLinks: 1 });
  const cw = loopbackWrtc();
  const c = await startNode(t, { wrtc: cw, bootstrap: [urlOf(a)], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => b.peers.length > 0 && c.peers.length > 0), 'B and C link to A');
  await b.connect(c.id);
  // connect() resolves when B's end is open; C's end opens a moment later.
  t.ok(await waitFor(() => linkKind(b, c) === 'webrtc' && linkKind(c, b) === 'webrtc'), 'B and C form a WebRTC link');
  return { a, b, c, cw };
}

/** The next 'disconnect' on `node` for `other`, or code 'none' after 15 s. */
function nextDisconnect(t: test.Test, node: PeerRelay, other: PeerRelay): Promise<{ code: string | null; kind: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { node.off('disconnect', on); resolve({ code: 'none', kind: linkKind(node, other) }); }, 15_000);
    t.teardown(() => clearTimeout(timer));
    function on(id: Uint8Array, err: { code?: string } | null) {
      if (hex(id) !== hex(other.id)) return;
      clearTimeout(timer);
      node.off('disconnect', on);
      // What the table holds for `other` when 'disconnect' fires.
      resolve({ code: err?.code ?? null, kind: linkKind(node, other) });
    }
    node.on('disconnect', on);
  });
}

/** Counts 'peer' events on `node` for `other` from now on. */
function peerEvents(node: PeerRelay, other: PeerRelay): () => number {
  let n = 0;
  node.on('peer', (id) => { if (hex(id) === hex(other.id)) n++; });
  return () => n;
}

/** connect() forms the link again (discovery may already have). */
async function reconnects(t: test.Test, b: PeerRelay, c: PeerRelay, peers: () => number): Promise<void> {
  await b.connect(c.id);
  t.ok(await waitFor(() => peers() > 0 && linkKind(b, c) === 'webrtc'), "a new WebRTC link forms and 'peer' fires again");
  const got = nextMessage(c, (d) => d === 'again');
  b.send(c.id, 'again');
  t.equal((await got).data, 'again', 'messages flow over it');
}

test('a WebRTC link torn down abruptly is noticed, removed and formed again', async (t) => {
  const { b, c, cw } = await trio(t);
  const peers = peerEvents(b, c);
  const bGone = nextDisconnect(t, b, c);
  const cGone = nextDisconnect(t, c, b);
  // Close C's data channels and then its peer connections under the link: no CLOSE frame is sent. (A data
  // channel closed after its peer connection can crash @roamhq/wrtc: node-webrtc issue 360.)
  // The peer connections close only once every channel has: ch.close() returns before the native side has
  // closed it, and a peer connection closed in that gap crashed the process (SIGSEGV) now and then under load.
  const open = cw.channels.filter((ch) => ch.readyState === 'open');
  for (const ch of cw.channels) ch.close();
  t.ok(await waitFor(() => open.every((ch) => ch.readyState === 'closed'), 10_000), "C's open data channels are closed");
  for (const pc of cw.pcs) pc.close();
  const [bc, cb] = await Promise.all([bGone, cGone]);
  t.ok(bc.code !== 'none' && cb.code !== 'none', "'disconnect' fires on both ends");
  t.equal(bc.kind, '', 'B removed the link from its table');
  t.equal(cb.kind, '', 'C removed the link from its table');
  await reconnects(t, b, c, peers);
});

test('a WebRTC link that stops answering is closed as dead and formed again', async (t) => {
  const { b, c, cw } = await trio(t);
  const peers = peerEvents(b, c);
  const bGone = nextDisconnect(t, b, c);
  // C's data channels swallow everything C sends: B hears nothing more.
  for (const ch of cw.channels) ch.send = () => {};
  const { code, kind } = await bGone;
  t.equal(code, 'ERR_LINK_DEAD', "B reports 'disconnect' with ERR_LINK_DEAD");
  t.equal(kind, '', 'B removed the link from its table');
  t.ok(await waitFor(() => linkKind(c, b) === '' || peers() > 0), 'C removes it too (or it has been formed again already)');
  await reconnects(t, b, c, peers);
});
