import test from 'tape';
import type { PeerRelay } from '../src/index.js';
import { startNode, urlOf, waitFor, nextMessage, FAST } from './helpers/testnet.js';
import { loopbackWrtc, type LoopbackWrtc } from './helpers/webrtc-loopback.js';

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
  t.equal(linkKind(b, c), 'webrtc', 'B and C form a WebRTC link');
  return { a, b, c, cw };
}

function nextDisconnect(node: PeerRelay, other: PeerRelay): Promise<{ code: string | null }> {
  return new Promise((resolve) => {
    const on = (id: Uint8Array, err: { code?: string } | null) => {
      if (hex(id) !== hex(other.id)) return;
      node.off('disconnect', on);
      resolve({ code: err?.code ?? null });
    };
    node.on('disconnect', on);
  });
}

async function reconnects(t: test.Test, b: PeerRelay, c: PeerRelay): Promise<void> {
  const peer = new Promise<void>((resolve) => b.on('peer', (id) => { if (hex(id) === hex(c.id)) resolve(); }));
  await b.connect(c.id);
  await peer;
  t.equal(linkKind(b, c), 'webrtc', "a new WebRTC link forms and 'peer' fires again");
  const got = nextMessage(c, (d) => d === 'again');
  b.send(c.id, 'again');
  t.equal((await got).data, 'again', 'messages flow over it');
}

test('a WebRTC link torn down abruptly is noticed, removed and formed again', async (t) => {
  const { b, c, cw } = await trio(t);
  const bGone = nextDisconnect(b, c);
  const cGone = nextDisconnect(c, b);
  // Close C's peer connections under the link: no CLOSE frame is sent.
  for (const pc of cw.pcs) pc.close();
  await Promise.all([bGone, cGone]);
  t.pass("'disconnect' fires on both ends");
  t.equal(linkKind(b, c), '', 'B removed the link from its table');
  t.equal(linkKind(c, b), '', 'C removed the link from its table');
  await reconnects(t, b, c);
});

test('a WebRTC link that stops answering is closed as dead and formed again', async (t) => {
  const { b, c, cw } = await trio(t);
  const bGone = nextDisconnect(b, c);
  // C's data channels swallow everything C sends: B hears nothing more.
  for (const ch of cw.channels) ch.send = () => {};
  const { code } = await bGone;
  t.equal(code, 'ERR_LINK_DEAD', "B reports 'disconnect' with ERR_LINK_DEAD");
  t.equal(linkKind(b, c), '', 'B removed the link from its table');
  t.ok(await waitFor(() => linkKind(c, b) === ''), 'C removes it too');
  await reconnects(t, b, c);
});
