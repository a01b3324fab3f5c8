/**
 * The relay A of the B -> A -> C shape in a process of its own, so its CPU can
 * be measured apart from the ends: `node relay-child.js raw|relaymesh`. It
 * sends `{ url }` over IPC once listening, and answers `'cpu'` with
 * `{ cpu: process.cpuUsage() }`; it exits when the parent disconnects.
 */
import { WebSocketServer } from 'ws';
import { PeerRelay } from '../../src/index.js';
import { forwardBetweenEnds } from './relay-raw-ws.js';

const kind = process.argv[2];
const send = (m: object) => process.send?.(m);

process.on('message', (m) => { if (m === 'cpu') send({ cpu: process.cpuUsage() }); });
process.on('disconnect', () => process.exit(0));

if (kind === 'raw') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  forwardBetweenEnds(wss);
  wss.on('listening', () => send({ url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}` }));
} else if (kind === 'relaymesh') {
  const a = new PeerRelay({ port: 0, host: '127.0.0.1' });
  a.on('listening', () => send({ url: a.url }));
} else {
  console.error(`relay-child: unknown kind ${kind}`);
  process.exit(2);
}
