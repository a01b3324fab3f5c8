/**
 * Bounded signaling connections (issue 16): caps node-wide and per address
 * (refused before the upgrade), a time limit and a node-wide byte budget for
 * frames that never complete, and the smaller frame limit of the Connector
 * and protoo dialects.
 */
import test from 'tape';
import WebSocket from 'ws';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';

/** Opens a WebSocket; resolves to it once open, or to the HTTP status it was refused with. */
function dial(t: test.Test, url: string): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    t.teardown(() => ws.terminate());
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.once('error', (err) => { if (ws.readyState !== WebSocket.CLOSED) reject(err); });
  });
}

const closed = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));

/** Writes a masked text frame header announcing `length` payload bytes, then `sent` of them, on the raw socket. */
function startFrame(ws: WebSocket, length: number, sent: number): void {
  const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.alloc(sent, 0x20 ^ 1);
  (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.concat([header, mask, body]));
}

test('connections past maxConnectionsPerAddress are refused with 429 before the upgrade; a freed slot is reused', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { maxConnectionsPerAddress: 3 } });
  const open: WebSocket[] = [];
  for (let i = 0; i < 3; i++) open.push((await dial(t, urlOf(node))) as WebSocket);
  t.ok(open.every((ws) => ws instanceof WebSocket), 'three connections from 127.0.0.1 open');
  t.equal(await dial(t, `${urlOf(node)}/connector`), 429, 'a fourth (any dialect) is refused with HTTP 429');
  const gone = closed(open[0]);
  open[0].close();
  await gone;
  const again = await dial(t, urlOf(node));
  t.ok(again instanceof WebSocket, 'after one closes, a new connection is accepted');
});

test('connections past maxConnections are refused with 503', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { maxConnections: 2 } });
  t.ok((await dial(t, urlOf(node))) instanceof WebSocket, 'first');
  t.ok((await dial(t, `${urlOf(node)}/p2p`)) instanceof WebSocket, 'second');
  t.equal(await dial(t, urlOf(node)), 503, 'the third is refused with HTTP 503');
  t.equal(node.signaling!.stats().connections, 2, 'stats() counts two connections');
});

test('a frame that never completes is closed after frameTimeoutMs (1008); a complete frame is served', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { frameTimeoutMs: 300 } });
  const stalled = (await dial(t, urlOf(node))) as WebSocket;
  const code = closed(stalled);
  startFrame(stalled, 60_000, 10);
  t.equal(await code, 1008, 'the connection holding an unfinished frame is closed with 1008');
  const ok = (await dial(t, urlOf(node))) as WebSocket;
  const answer = new Promise<any>((r) => ok.once('message', (d) => r(JSON.parse(String(d)))));
  ok.send(JSON.stringify({ type: 'discover', payload: {} }));
  t.equal((await answer).type, 'discover', 'a connection sending whole frames is answered');
});

test('unfinished frames past maxPartialFrameBytes close the connection that adds them (1009); the others stay', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { maxPartialFrameBytes: 100_000 } });
  const a = (await dial(t, urlOf(node))) as WebSocket;
  const b = (await dial(t, urlOf(node))) as WebSocket;
  startFrame(a, 60_000, 10);
  t.ok(await waitFor(() => node.signaling!.stats().partialFrameBytes === 60_000), 'the server counts a\'s announced 60,000 bytes');
  const bClosed = closed(b);
  startFrame(b, 60_000, 10);
  t.equal(await bClosed, 1009, 'the connection taking the node past the budget is closed with 1009');
  t.equal(a.readyState, WebSocket.OPEN, 'the first one stays open');
  t.ok(await waitFor(() => node.signaling!.stats().partialFrameBytes === 60_000), 'b\'s bytes are released');
});

test('Connector and protoo frames are limited to maxSignalFrameBytes (1009); IM keeps maxFrameBytes', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST, signaling: { maxSignalFrameBytes: 4096, maxFrameBytes: 65_536 } });
  const c = (await dial(t, `${urlOf(node)}/connector`)) as WebSocket;
  const cClosed = closed(c);
  c.send(JSON.stringify({ event: 'Message', to: 'x', data: 'y'.repeat(5000) }));
  t.equal(await cClosed, 1009, 'a 5 KB Connector frame closes the socket with 1009');
  const im = (await dial(t, urlOf(node))) as WebSocket;
  const answer = new Promise<any>((r) => im.once('message', (d) => r(JSON.parse(String(d)))));
  im.send(JSON.stringify({ type: 'discover', payload: { pad: 'z'.repeat(20_000) } }));
  t.equal((await answer).type, 'discover', 'a 20 KB IM frame is served');
});
