import test from 'tape';
import type { PeerRelay } from '../../src/index.js';
import { guardWrtc, type WrtcLike } from '../../src/transport/wrtc-guard.js';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';
import { loopbackWrtc } from '../helpers/webrtc-loopback.js';

/**
 * The native description getters of @roamhq/wrtc, whose reads race WebRTC's signaling thread (a SIGSEGV in
 * SdpSerialize now and then: src/transport/wrtc-guard.ts). The crash itself is too rare to test for (1 run in
 * 60 of the mixed-mesh test here); these tests show that nothing reads the getters any more.
 */
const NATIVE_GETTERS = new Set(['localDescription', 'remoteDescription', 'currentLocalDescription',
  'pendingLocalDescription', 'currentRemoteDescription', 'pendingRemoteDescription']);

/** Loopback wrtc whose peer connections count reads of the native description getters. */
function countingWrtc(): { wrtc: WrtcLike; reads: () => number } {
  const base = loopbackWrtc();
  const Base = base.RTCPeerConnection as new (c?: unknown) => object;
  let reads = 0;
  const RTCPeerConnection = function CountingPeerConnection(config?: unknown) {
    return new Proxy(new Base(config), {
      get(target, key) {
        if (typeof key === 'string' && NATIVE_GETTERS.has(key)) reads++;
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
      set(target, key, value) { return Reflect.set(target, key, value); },
    });
  };
  return { wrtc: { ...base, RTCPeerConnection: RTCPeerConnection as unknown as WrtcLike['RTCPeerConnection'] }, reads: () => reads };
}

test('a guarded peer connection answers localDescription and remoteDescription from what was set, never reading the native getters', async (t) => {
  const counting = countingWrtc();
  const g = guardWrtc(counting.wrtc);
  t.equal(guardWrtc(counting.wrtc), g, 'one guarded implementation per wrtc');
  t.equal(guardWrtc(g), g, 'guarding twice wraps once');
  const a = new g.RTCPeerConnection({ iceServers: [] }) as any;
  const b = new g.RTCPeerConnection({ iceServers: [] }) as any;
  // Handlers set through the guard are the peer connection's own: its events find them.
  let candidates = 0;
  a.onicecandidate = (e: any) => { if (e.candidate) { candidates++; b.addIceCandidate(e.candidate).catch(() => {}); } };
  b.onicecandidate = (e: any) => { if (e.candidate) a.addIceCandidate(e.candidate).catch(() => {}); };
  const ch = a.createDataChannel('x');
  let received: any = null;
  b.ondatachannel = (e: any) => { received = e.channel; };
  t.equal(a.localDescription, null, 'no local description before one is set');
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  t.deepEqual(a.localDescription, { type: 'offer', sdp: offer.sdp }, 'localDescription is the offer set');
  await b.setRemoteDescription(offer);
  t.equal(b.remoteDescription?.type, 'offer', 'remoteDescription is the offer received');
  const answer = await b.createAnswer();
  await b.setLocalDescription(answer);
  await a.setRemoteDescription(answer);
  t.deepEqual(a.remoteDescription, { type: 'answer', sdp: answer.sdp }, "the answer is the offerer's remoteDescription");
  t.ok(await waitFor(() => ch.readyState === 'open' && received?.readyState === 'open', 10_000), 'the data channel opens');
  t.ok(candidates > 0, 'ICE candidates were delivered through the guarded handlers');
  t.equal(counting.reads(), 0, 'the native description getters were never read');
  ch.close();
  t.ok(await waitFor(() => ch.readyState === 'closed', 10_000), 'the channel closes before its peer connections');
  a.close();
  b.close();
});

test('WebRTC links formed by the connector never read the native session descriptions', async (t) => {
  const hub = await startNode(t, { port: 0, ...FAST });
  const bw = countingWrtc();
  const cw = countingWrtc();
  const b = await startNode(t, { wrtc: bw.wrtc, bootstrap: [urlOf(hub)], ...FAST, targetLinks: 1 });
  const c = await startNode(t, { wrtc: cw.wrtc, bootstrap: [urlOf(hub)], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => b.peers.length > 0 && c.peers.length > 0), 'B and C link to the hub');
  await b.connect(c.id);
  const kind = (n: PeerRelay, o: PeerRelay) => n.linkInfo().find((l) => l.id === Buffer.from(o.id).toString('hex'))?.kind;
  t.ok(await waitFor(() => kind(b, c) === 'webrtc' && kind(c, b) === 'webrtc'), 'B and C form a WebRTC link');
  t.equal(bw.reads() + cw.reads(), 0, "neither side's simple-peer read a native description getter");
});
