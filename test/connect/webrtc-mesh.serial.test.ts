import test from 'tape';
import type { PeerRelay } from '../../src/index.js';
import { startNode, urlOf, waitFor, allPairsReach, FAST } from '../helpers/testnet.js';
import { loopbackWrtc } from '../helpers/webrtc-loopback.js';

test('a mixed mesh of 4 WebSocket nodes and 6 WebRTC-only nodes: everyone reaches everyone', async (t) => {
  const servers: PeerRelay[] = [];
  for (let i = 0; i < 4; i++) {
    servers.push(await startNode(t, { port: 0, bootstrap: i === 0 ? [] : [urlOf(servers[i - 1])], ...FAST }));
  }
  const browsers: PeerRelay[] = [];
  for (let i = 0; i < 6; i++) {
    browsers.push(await startNode(t, { wrtc: loopbackWrtc(), bootstrap: [urlOf(servers[i % servers.length])], ...FAST }));
  }
  const nodes = [...servers, ...browsers];
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length > 0), 20_000), 'every node has a link');
  const webrtcLinked = (n: PeerRelay) => n.linkInfo().some((l) => l.kind === 'webrtc');
  t.ok(await waitFor(() => browsers.every(webrtcLinked), 30_000), 'every WebRTC-only node forms WebRTC links by itself');
  const missing = await allPairsReach(nodes, 30_000);
  t.deepEqual(missing, [], 'all 90 ordered pairs delivered');
});
