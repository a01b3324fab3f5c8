/**
 * Proof with a real UDP program: bittorrent-dht from npm, unchanged, runs on
 * six mesh nodes over PeerRelay.Socket in IPv4-alias mode (the DHT stores
 * compact IPv4 node and peer info, so hex ids would not survive).
 */
import test, { type Test } from 'tape';
import crypto from 'node:crypto';
import { createSocket, type Socket } from '../../socket/index.js';
import type { PeerRelay } from '../../src/index.js';
import { FAST, startNode, urlOf, waitFor } from '../helpers/testnet.js';

// No type declarations ship with bittorrent-dht; the interface below is the part this test uses.
const { default: DHT } = await import('bittorrent-dht' as string) as { default: new (opts: object) => Dht };
const N = 6;
const DHT_PORT = 6881;

interface Dht {
  on(ev: string, fn: (...a: any[]) => void): void;
  once(ev: string, fn: (...a: any[]) => void): void;
  listen(port: number, cb: () => void): void;
  address(): { address: string; port: number };
  announce(infoHash: Buffer, port: number, cb: (err: Error | null) => void): void;
  lookup(infoHash: Buffer, cb: (err: Error | null, n: number) => void): void;
  put(opts: { v: Buffer }, cb: (err: Error | null, hash: Buffer, n: number) => void): void;
  get(hash: Buffer, cb: (err: Error | null, res: { v: Buffer } | null) => void): void;
  destroy(cb?: () => void): void;
  nodes: { count(): number };
}

async function startDhtMesh(t: Test): Promise<{ nodes: PeerRelay[]; sockets: Socket[]; dhts: Dht[] }> {
  const dhts: Dht[] = [];
  // Teardowns run first-registered first: the DHTs close their sockets before the nodes go.
  t.teardown(() => Promise.all(dhts.map((d) => new Promise<void>((r) => d.destroy(() => r())))).then(() => undefined));
  const nodes: PeerRelay[] = [];
  // Node 0 is a hub with a port; the others link only to it, so every DHT message between them is
  // relayed, and each learns the others' aliases by lookup through the mesh, not from a link.
  nodes.push(await startNode(t, { port: 0, ...FAST }));
  for (let i = 1; i < N; i++) nodes.push(await startNode(t, { bootstrap: [urlOf(nodes[0])], ...FAST, targetLinks: 1 }));
  await waitFor(() => nodes[0].peers.length === N - 1 && nodes.every((n) => n.peers.length > 0), 15_000);
  const sockets = nodes.map((peer) => createSocket({ type: 'udp4', peer }));
  for (let i = 0; i < N; i++) {
    // Each DHT bootstraps off the ones started before it, by IPv4 alias and port, as over UDP.
    const bootstrap = dhts.map((d) => `${d.address().address}:${d.address().port}`);
    const dht = new DHT({ socket: sockets[i], bootstrap: i === 0 ? false : bootstrap, timeout: 4000 });
    dht.on('error', (err) => t.fail(`dht ${i} error: ${err.message}`));
    await new Promise<void>((r) => dht.listen(DHT_PORT, () => r()));
    dhts.push(dht);
  }
  await Promise.all(dhts.slice(1).map((d) => new Promise<void>((r) => (d as unknown as { ready: boolean }).ready ? r() : d.once('ready', () => r()))));
  return { nodes, sockets, dhts };
}

test('bittorrent-dht runs unchanged on six mesh nodes, relayed through a hub: bootstrap, announce/lookup, BEP 44 put/get', async (t) => {
  const { nodes, sockets, dhts } = await startDhtMesh(t);
  const aliases = sockets.map((s) => s.address().address);
  t.ok(aliases.every((a) => /^10\.\d+\.\d+\.\d+$/.test(a)), 'every DHT listens on an IPv4 alias in 10.0.0.0/8');
  t.ok(nodes.slice(1).every((n) => n.peers.length === 1), 'the leaves link only to the hub');
  t.ok(await waitFor(() => dhts.every((d) => d.nodes.count() >= 2), 15_000), 'every DHT knows at least two others after bootstrapping');

  // dhts[1] announces; dhts[4] finds it with lookup.
  const infoHash = crypto.randomBytes(20);
  const announced = await new Promise<Error | null>((r) => dhts[1].announce(infoHash, 7000, r));
  t.equal(announced, null, 'announce succeeds');
  const found: { host: string; port: number }[] = [];
  dhts[4].on('peer', (peer: { host: string; port: number }, hash: Buffer) => { if (hash.equals(infoHash)) found.push(peer); });
  const looked = await new Promise<Error | null>((r) => dhts[4].lookup(infoHash, (err) => r(err)));
  t.equal(looked, null, 'lookup completes');
  t.ok(found.some((p) => p.host === aliases[1] && p.port === 7000), 'lookup finds the announcing node at its alias and port');

  // BEP 44 immutable item: put on dhts[2], get on dhts[5].
  const value = Buffer.from(`relaymesh ${crypto.randomBytes(8).toString('hex')}`);
  const [perr, hash] = await new Promise<[Error | null, Buffer]>((r) => dhts[2].put({ v: value }, (err, h) => r([err, h])));
  t.equal(perr, null, 'put succeeds');
  t.ok(hash.equals(crypto.createHash('sha1').update(Buffer.concat([Buffer.from(`${value.length}:`), value])).digest()), 'the key is the SHA-1 of the bencoded value');
  const [gerr, res] = await new Promise<[Error | null, { v: Buffer } | null]>((r) => dhts[5].get(hash, (err, got) => r([err, got])));
  t.equal(gerr, null, 'get succeeds');
  t.ok(res && Buffer.from(res.v).equals(value), 'get returns the value put on another node');
  t.ok(nodes[0].stats().relayed > 0, 'the hub relayed datagrams between leaves');
});
