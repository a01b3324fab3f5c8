/** ThreadNetwork: the in-memory transport between threads, over real MessagePorts and a real worker thread. */
import test from 'tape';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ThreadNetwork } from '../../src/transport/thread-network.js';
import type { Connection } from '../../src/transport/connection.js';

/** Two networks joined as two threads would be (a real MessageChannel between them). */
function joined(): { a: ThreadNetwork; b: ThreadNetwork; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const a = new ThreadNetwork();
  const b = new ThreadNetwork();
  a.attach(port1);
  b.attach(port2);
  return { a, b, close: () => { a.detachAll(); b.detachAll(); } };
}

const turns = (n = 5) => new Promise<void>((r) => { let k = 0; const next = () => (++k >= n ? r() : setImmediate(next)); setImmediate(next); });
const closed = (c: Connection) => new Promise<void>((r) => c.once('close', () => r()));
/** Resolves once `n` frames arrived on `c`, or rejects after `ms` naming how many did. */
function collect(c: Connection, n: number, ms = 10_000): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${n} frames arrived`)), ms);
    c.on('message', (f) => { got.push(f); if (got.length === n) { clearTimeout(timer); resolve(got); } });
  });
}
const frame = (i: number) => { const f = new Uint8Array(1 + (i * 37) % 3000); f.fill(i & 0xff); f[0] = i & 0xff; return f; };

test('frames cross between two threads\' networks in order and intact, both ways', async (t) => {
  const { a, b, close } = joined();
  let accepted: Connection | null = null;
  const gotB = new Promise<Connection>((r) => b.listen('b', (c) => { accepted = c; r(c); }));
  await turns();
  const conn = await a.dial('mem://b', 'mem://a');
  const there = await gotB;
  t.equal(there.remoteAddress, 'mem://a', 'the accepting end knows the dialer\'s address');
  t.equal(conn.remoteAddress, 'mem://b', 'the dialing end knows the listener\'s address');
  const inB = collect(there, 1000);
  for (let i = 0; i < 1000; i++) conn.send(frame(i));
  const rb = await inB;
  t.ok(rb.every((f, i) => f.length === frame(i).length && f[0] === (i & 0xff) && f[f.length - 1] === frame(i)[f.length - 1]), '1,000 frames of 1-3,000 bytes arrive in the order sent, intact');
  const inA = collect(conn, 300);
  for (let i = 0; i < 300; i++) there.send(frame(i));
  const ra = await inA;
  t.ok(ra.every((f, i) => f.length === frame(i).length && f[0] === (i & 0xff)), 'and 300 the other way');
  t.ok(accepted !== null, 'accepted once');
  close();
});

test('a frame is copied when sent: changing the sender\'s buffer afterwards does not change what arrives', async (t) => {
  const { a, b, close } = joined();
  const gotB = new Promise<Connection>((r) => b.listen('b', r));
  await turns();
  const conn = await a.dial('mem://b', 'mem://a');
  const there = await gotB;
  const got = collect(there, 1);
  const f = new Uint8Array([1, 2, 3]);
  conn.send(f);
  f[0] = 9;
  t.deepEqual([...(await got)[0]], [1, 2, 3], 'the bytes as they were at send()');
  close();
});

test('closing either end closes the other; frames sent after a close are dropped', async (t) => {
  const { a, b, close } = joined();
  const accepted: Connection[] = [];
  b.listen('b', (c) => accepted.push(c));
  await turns();
  const c1 = await a.dial('mem://b', 'mem://a');
  await turns();
  const far1 = accepted[0];
  const far1Closed = closed(far1);
  c1.close();
  await far1Closed;
  t.ok(!c1.open && !far1.open, 'the dialer closed: the accepting end closed too');
  const c2 = await a.dial('mem://b', 'mem://a');
  await turns();
  const far2 = accepted[1];
  const c2Closed = closed(c2);
  let late = 0;
  c2.on('message', () => late++);
  far2.close();
  far2.send(new Uint8Array([1]));
  await c2Closed;
  await turns();
  t.ok(!c2.open, 'the acceptor closed: the dialing end closed too');
  t.equal(late, 0, 'a frame sent after the close does not arrive');
  close();
});

test('a dial to a name no thread listens on fails, also after the listener left', async (t) => {
  const { a, b, close } = joined();
  const err = await a.dial('mem://nobody', 'mem://a').then(() => null, (e: Error) => e);
  t.ok(err && /nothing listens/.test(err.message), `nobody: ${err?.message}`);
  b.listen('b', () => {});
  await turns();
  const ok = await a.dial('mem://b', 'mem://a').then((c) => c, () => null);
  t.ok(ok?.open, 'a name announced by the other thread is dialed there');
  b.unlisten('b');
  await turns();
  const gone = await a.dial('mem://b', 'mem://a').then(() => null, (e: Error) => e);
  t.ok(gone && /nothing listens/.test(gone.message), `after unlisten: ${gone?.message}`);
  close();
});

test('the interceptor of the sending thread sees frames to another thread, with both addresses', async (t) => {
  const { a, b, close } = joined();
  const seen: string[] = [];
  a.intercept = (f, from, to) => { seen.push(`${from}>${to}:${f[0]}`); return f[0] === 7 ? null : f; };
  const gotB = new Promise<Connection>((r) => b.listen('b', r));
  await turns();
  const conn = await a.dial('mem://b', 'mem://a');
  const there = await gotB;
  const got = collect(there, 1);
  conn.send(new Uint8Array([7]));
  conn.send(new Uint8Array([8]));
  t.deepEqual([...(await got)[0]], [8], 'a frame the interceptor drops does not arrive; the next does');
  t.deepEqual(seen, ['mem://a>mem://b:7', 'mem://a>mem://b:8'], 'both frames seen with from and to');
  close();
});

test('a worker thread ending closes its connections on this side, and its names can no longer be dialed; nothing crashes', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const here = new ThreadNetwork();
  here.attach(port1);
  const src = new URL('../../src/transport/thread-network.js', import.meta.url).href;
  // The worker listens on mem://w and echoes every frame.
  const worker = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.src).then(({ ThreadNetwork }) => {
      const net = new ThreadNetwork();
      net.attach(workerData.port);
      net.listen('w', (c) => c.on('message', (f) => c.send(f)));
      parentPort.postMessage('listening');
    });
  `, { eval: true, workerData: { src, port: port2 }, transferList: [port2] });
  await new Promise<void>((r) => worker.once('message', () => r()));
  t.ok(await here.whenKnown('mem://w', 10_000), 'the worker\'s listener is announced here');
  const conn = await here.dial('mem://w', 'mem://main');
  const echo = collect(conn, 1);
  conn.send(new Uint8Array([42]));
  t.deepEqual([...(await echo)[0]], [42], 'a frame goes to the worker and its echo comes back');
  const wasClosed = closed(conn);
  await worker.terminate();
  await wasClosed;
  t.ok(!conn.open, 'the connection closed when the worker ended');
  conn.send(new Uint8Array([1]));
  const err = await here.dial('mem://w', 'mem://main').then(() => null, (e: Error) => e);
  t.ok(err && /nothing listens/.test(err.message), `its name can no longer be dialed (${err?.message})`);
});
