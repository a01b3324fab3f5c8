/**
 * A datagram to an IPv4 alias crosses a chain of six nodes: the alias is
 * resolved by a lookup through the mesh, and greedy routing gets past the
 * chain's dead ends by backtracking.
 */
import test from 'tape';
import type { PeerRelay } from '../../src/index.js';
import { createSocket } from '../../socket/index.js';
import { FAST, startNode, urlOf, waitFor } from '../helpers/testnet.js';

test('a datagram to an alias crosses a chain of six nodes', async (t) => {
  const nodes: PeerRelay[] = [];
  for (let i = 0; i < 6; i++) {
    // The ends keep one link and the middle ones two, so the nodes stay a chain.
    nodes.push(await startNode(t, { port: 0, bootstrap: i ? [urlOf(nodes[i - 1])] : [], ...FAST, maxLinks: i === 0 || i === 5 ? 1 : 2, targetLinks: 1 }));
    if (i) await waitFor(() => nodes[i].peers.length === 1 && nodes[i - 1].peers.length === (i - 1 === 0 ? 1 : 2));
  }
  t.ok(nodes.every((n, i) => n.peers.length === (i === 0 || i === 5 ? 1 : 2)), 'the nodes form a chain');
  // Every node runs the program (as in a DHT), so every node answers alias lookups for itself.
  const sockets = nodes.map((peer) => createSocket({ type: 'udp4', peer }));
  t.teardown(() => { for (const s of sockets) { try { s.close(); } catch { /* closed with its node, as dgram's would be */ } } });
  for (const [i, s] of sockets.entries()) await new Promise<void>((r) => s.bind(7000 + (i === 0 ? 1 : 0), () => r()));
  const [first, last] = [sockets[0], sockets[5]];
  const got = new Promise<{ msg: string; from: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram within 15 s')), 15_000);
    last.once('message', (msg, rinfo) => { clearTimeout(timer); resolve({ msg: msg.toString(), from: rinfo.address, port: rinfo.port }); });
  });
  first.send('hello, end of the chain', 7000, last.address().address);
  const { msg, from, port } = await got;
  t.equal(msg, 'hello, end of the chain', 'the datagram arrives');
  t.equal(from, first.address().address, 'rinfo names the first node by its alias');
  t.equal(port, 7001, 'and its port');
});
