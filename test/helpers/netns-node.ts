/**
 * A relaymesh process for the network-namespace test, run with
 * `ip netns exec NS node dist/test/helpers/netns-node.js ROLE ...`.
 *   hub HOST PORT          a node listening on HOST:PORT; prints {"hub": id, "url": url}
 *   pair BOOTSTRAP_URL     two port-less nodes B and C bootstrapped off the hub; B sends to C;
 *                          prints {"delivered": bool, "relayedBy": ..., "from": ...}
 * It exits when stdin closes (the test ends it), so nothing outlives the test.
 */
import { PeerRelay } from '../../src/index.js';

const [role, a, b] = process.argv.slice(2);
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const nodes: PeerRelay[] = [];
process.stdin.on('end', () => { for (const n of nodes) n.destroy(); });
process.stdin.resume();

if (role === 'hub') {
  const hub = new PeerRelay({ host: a, port: Number(b) });
  nodes.push(hub);
  hub.once('listening', () => out({ hub: hub.identity.idHex, url: hub.url }));
  hub.on('error', (err) => out({ error: err.message }));
  setInterval(() => out({ relayed: hub.stats().relayed, links: hub.peers.length }), 500).unref();
} else if (role === 'pair') {
  const B = new PeerRelay({ bootstrap: [a], targetLinks: 1, maxLinks: 1 });
  const C = new PeerRelay({ bootstrap: [a], targetLinks: 1, maxLinks: 1 });
  nodes.push(B, C);
  let linked = 0;
  const onPeer = () => { if (++linked === 2) B.send(C.id, { across: 'namespaces' }); };
  B.once('peer', onPeer);
  C.once('peer', onPeer);
  C.on('message', (data, from) => out({ delivered: true, data, fromB: Buffer.from(from).equals(Buffer.from(B.id)), linksB: B.linkInfo().map((l) => l.remoteAddress) }));
  B.on('undeliverable', (err) => out({ delivered: false, code: err.code }));
}
