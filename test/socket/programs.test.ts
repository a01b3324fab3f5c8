/**
 * Real UDP programs from npm, unchanged, over PeerRelay.Socket in IPv4-alias
 * mode: the server on C's socket, the client on B's, and between them a hub A
 * that hosts no socket (a bootstrap node never loads socket/), so every
 * datagram is relayed and every alias is resolved through a node without one.
 *   - CoAP: `coap` (node-coap) client and server: confirmable requests,
 *     block-wise transfers both ways (Block1 upload, Block2 download), and a
 *     retransmitted confirmable request answered from the server's
 *     duplicate cache (which node-coap uses only for `instanceof dgram.Socket`);
 *   - DNS: `dns-socket` as client and as responder;
 *   - OSC: `osc` (osc.js) messages with binary blobs, which it reads
 *     through `msg.buffer`.
 */
import test, { type Test } from 'tape';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import type { PeerRelay } from '../../src/index.js';
import { createSocket, type Socket } from '../../socket/index.js';
import { toHex } from '../../src/util/bytes.js';
import { FAST, startNode, urlOf, waitFor } from '../helpers/testnet.js';

const require = createRequire(import.meta.url);
// The programs ship CommonJS; the interfaces below are the parts these tests use.
const coap = require('coap') as {
  createServer(listener?: (req: CoapIn, res: CoapOut) => void): CoapServer;
  request(params: object): CoapReq;
  Agent: new (opts: { socket: Socket }) => { close(cb?: () => void): void };
};
const coapPacket = require('coap-packet') as { generate(p: object): Buffer; parse(b: Buffer): { messageId: number; token: Buffer; code: string; ack: boolean; payload: Buffer } };
const DNS = require('dns-socket') as (opts: { socket: Socket; timeout?: number; retries?: number }) => DnsSocket;
const osc = require('osc') as { UDPPort: new (opts: { socket: Socket; remoteAddress?: string; remotePort?: number; metadata?: boolean }) => OscPort };

interface CoapIn { url: string; method: string; payload: Buffer; rsinfo: { address: string; port: number } }
interface CoapOut { code: string; end(payload?: Buffer | string): void }
interface CoapServer { listen(sock: Socket, cb?: () => void): void; close(cb?: () => void): void; on(ev: string, fn: (...a: any[]) => void): void }
interface CoapReq { setOption(name: string, value: Buffer): void; on(ev: string, fn: (...a: any[]) => void): void; end(payload?: Buffer): void }
interface CoapRes { code: string; payload: Buffer; rsinfo: { address: string; port: number } }
interface DnsSocket {
  query(q: object, port: number, host: string, cb: (err: Error | null, res: { answers: { name: string; type: string; data: string }[]; rcode?: string }) => void): number;
  response(query: object, response: object, port: number, host: string): void;
  on(ev: 'query', fn: (query: { questions: { name: string; type: string }[] }, port: number, host: string) => void): void;
  destroy(cb?: () => void): void;
}
interface OscPort { open(): void; on(ev: string, fn: (...a: any[]) => void): void; send(packet: object, address?: string, port?: number): void; close(): void }

/** Hub A (no socket), leaves B and C linked only to it, a udp4 socket on each leaf. */
async function viaPlainHub(t: Test, serverPort: number): Promise<{ hub: PeerRelay; client: Socket; server: Socket }> {
  const hub = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { bootstrap: [urlOf(hub)], ...FAST, targetLinks: 1 });
  const c = await startNode(t, { bootstrap: [urlOf(hub)], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => b.peers.length === 1 && c.peers.length === 1), 'both leaves link to the hub');
  t.notOk(b.peers.some((p) => toHex(p) === toHex(c.id)), 'the leaves are not linked: everything goes through the hub');
  const client = createSocket({ type: 'udp4', peer: b });
  const server = createSocket({ type: 'udp4', peer: c });
  t.teardown(() => Promise.all([client, server].map((s) => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } }))).then(() => undefined));
  await Promise.all([new Promise<void>((r) => client.bind(0, () => r())), new Promise<void>((r) => server.bind(serverPort, () => r()))]);
  return { hub, client, server };
}

function plainHubChecks(t: Test, hub: PeerRelay): void {
  t.equal(hub.stats().dropped.unknown_channel, undefined, 'the hub dropped nothing as unknown_channel');
  t.equal(hub.stats().dropped.dgram_unbound_port, undefined, 'and received no datagram itself');
  t.ok(hub.stats().relayed > 0, 'the hub relayed the traffic');
}

function coapRequest(agent: object, params: object, setup: (req: CoapReq) => void, body?: Buffer): Promise<CoapRes> {
  return new Promise((resolve, reject) => {
    const req = coap.request({ agent, ...params });
    setup(req);
    req.on('response', resolve);
    req.on('error', reject);
    req.on('timeout', reject);
    req.end(body);
  });
}

test('coap runs unchanged through a hub with no socket: confirmable requests, Block1 upload, Block2 download', async (t) => {
  const { hub, client, server } = await viaPlainHub(t, 5683);
  const big = crypto.randomBytes(5000);
  const uploads: Buffer[] = [];
  const srv = coap.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/hello') return res.end(`hello ${req.rsinfo.address}`);
    if (req.method === 'GET' && req.url === '/big') return res.end(big);
    if (req.method === 'PUT' && req.url === '/upload') {
      uploads.push(req.payload);
      res.code = '2.04';
      return res.end(crypto.createHash('sha256').update(req.payload).digest('hex'));
    }
    res.code = '4.04';
    res.end();
  });
  srv.on('error', (err: Error) => t.fail(`server error: ${err.message}`));
  await new Promise<void>((r) => srv.listen(server, () => r()));
  const agent = new coap.Agent({ socket: client });
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const host = server.address().address;

  const hello = await coapRequest(agent, { host, port: 5683, pathname: '/hello', confirmable: true }, () => {});
  t.equal(hello.code, '2.05', 'a confirmable GET gets 2.05 Content');
  t.equal(hello.payload.toString(), `hello ${client.address().address}`, 'the server saw the client\'s alias as its address');

  const payload = crypto.randomBytes(3000);
  const put = await coapRequest(agent, { host, port: 5683, pathname: '/upload', method: 'PUT', confirmable: true },
    (req) => req.setOption('Block1', Buffer.of(0x2)), payload); // 64-byte blocks: 47 exchanges
  t.equal(put.code, '2.04', 'the Block1 upload is answered 2.04 Changed');
  t.equal(uploads.length, 1, 'the handler ran once, for the whole upload');
  t.ok(uploads[0]?.equals(payload), 'with every byte of the upload, in order');
  t.equal(put.payload.toString(), crypto.createHash('sha256').update(payload).digest('hex'), 'the answer carries its digest');

  const got = await coapRequest(agent, { host, port: 5683, pathname: '/big', confirmable: true },
    (req) => req.setOption('Block2', Buffer.of(0x2)));
  t.equal(got.code, '2.05', 'the Block2 download is answered 2.05');
  t.ok(got.payload.equals(big), 'all 5000 bytes arrive, reassembled from 64-byte blocks');
  plainHubChecks(t, hub);
});

test('coap answers a retransmitted confirmable request from its duplicate cache: the handler runs once (instanceof dgram.Socket)', async (t) => {
  const { hub, client, server } = await viaPlainHub(t, 5683);
  let handled = 0;
  const srv = coap.createServer((_req, res) => { handled++; res.end(`answer ${handled}`); });
  await new Promise<void>((r) => srv.listen(server, () => r()));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  // A CoAP client whose ACK was lost sends the same CON again: same message id, same token.
  const request = coapPacket.generate({ confirmable: true, messageId: 0x1234, token: Buffer.from('cafe', 'hex'), code: 'GET', options: [{ name: 'Uri-Path', value: Buffer.from('once') }] });
  const replies: ReturnType<typeof coapPacket.parse>[] = [];
  const twoReplies = new Promise<void>((resolve) => client.on('message', (m) => { replies.push(coapPacket.parse(m)); if (replies.length === 2) resolve(); }));
  const { address, port } = server.address();
  client.send(request, port, address);
  await waitFor(() => replies.length === 1, 10_000);
  client.send(request, port, address); // the retransmission
  await twoReplies;
  t.equal(handled, 1, 'the request handler ran once');
  t.deepEqual(replies.map((r) => r.messageId), [0x1234, 0x1234], 'both copies are acknowledged with the request\'s message id');
  t.ok(replies.every((r) => r.ack && r.code === '2.05'), 'as piggybacked 2.05 ACKs');
  t.deepEqual(replies.map((r) => r.payload.toString()), ['answer 1', 'answer 1'], 'the second is the cached answer, not a second run');
  plainHubChecks(t, hub);
});

test('dns-socket runs unchanged through a hub with no socket: queries answered by a dns-socket responder', async (t) => {
  const { hub, client, server } = await viaPlainHub(t, 53);
  const responder = DNS({ socket: server });
  const resolverSock = DNS({ socket: client, timeout: 5000, retries: 0 });
  // The nodes' teardown (registered first, run first) has closed the sockets already; destroy()
  // then throws ERR_SOCKET_DGRAM_NOT_RUNNING from socket.close(), as over dgram.
  t.teardown(() => { for (const d of [resolverSock, responder]) { try { d.destroy(); } catch { /* closed */ } } });
  const zone: Record<string, string> = { 'relay.example': '192.0.2.7', 'mesh.example': '198.51.100.9' };
  const seen: string[] = [];
  responder.on('query', (query, port, host) => {
    const q = query.questions[0];
    seen.push(`${q.name} from ${host}`);
    const data = zone[q.name];
    responder.response(query, data
      ? { answers: [{ type: 'A', class: 'IN', name: q.name, ttl: 60, data }] }
      : { flags: 3, answers: [] }, port, host); // rcode 3: NXDOMAIN
  });
  const ask = (name: string) => new Promise<{ err: Error | null; res: any }>((resolve) =>
    resolverSock.query({ questions: [{ type: 'A', name }] }, 53, server.address().address, (err, res) => resolve({ err, res })));
  const [a, b, none] = await Promise.all([ask('relay.example'), ask('mesh.example'), ask('missing.example')]);
  t.equal(a.err, null, 'the first query is answered');
  t.deepEqual(a.res.answers.map((x: { name: string; data: string }) => [x.name, x.data]), [['relay.example', '192.0.2.7']], 'with its A record');
  t.deepEqual(b.res.answers.map((x: { name: string; data: string }) => [x.name, x.data]), [['mesh.example', '198.51.100.9']], 'three in flight at once: each matched to its own id');
  t.equal(none.res.rcode, 'NXDOMAIN', 'a missing name: NXDOMAIN');
  t.deepEqual(seen.sort(), ['mesh.example', 'missing.example', 'relay.example'].map((n) => `${n} from ${client.address().address}`), 'the responder saw each query once, from the client\'s alias');
  plainHubChecks(t, hub);
});

test('osc (osc.js) runs unchanged through a hub with no socket: blobs, numbers and strings arrive intact', async (t) => {
  const { hub, client, server } = await viaPlainHub(t, 57121);
  const sender = new osc.UDPPort({ socket: client, remoteAddress: server.address().address, remotePort: 57121, metadata: true });
  const receiver = new osc.UDPPort({ socket: server, metadata: true });
  // Given a socket, a UDPPort is open and listening as soon as it is made (its 'ready' fires in the constructor).
  const blobs = [crypto.randomBytes(1), crypto.randomBytes(61), crypto.randomBytes(1000), Buffer.from([0, 255, 0, 255, 1, 2, 3])];
  const got: { address: string; args: { type: string; value: unknown }[] }[] = [];
  const all = new Promise<void>((resolve) => receiver.on('message', (m: typeof got[number]) => { got.push(m); if (got.length === blobs.length) resolve(); }));
  receiver.on('error', (err: Error) => t.fail(`osc error: ${err.message}`));
  for (const [i, blob] of blobs.entries()) {
    sender.send({ address: `/blob/${i}`, args: [{ type: 'b', value: blob }, { type: 'i', value: -i - 1 }, { type: 'f', value: 0.5 }, { type: 's', value: `n${i}` }] });
  }
  await all;
  got.sort((x, y) => x.address.localeCompare(y.address));
  t.deepEqual(got.map((m) => m.address), blobs.map((_, i) => `/blob/${i}`), 'every message arrives at its address');
  for (const [i, m] of got.entries()) {
    const blob = m.args[0].value as Uint8Array;
    t.ok(m.args[0].type === 'b' && Buffer.from(blob).equals(blobs[i]), `blob ${i} (${blobs[i].length} bytes) arrives byte for byte`);
    t.deepEqual(m.args.slice(1).map((a) => a.value), [-i - 1, 0.5, `n${i}`], `message ${i}'s int, float and string follow it intact`);
  }
  plainHubChecks(t, hub);
});
