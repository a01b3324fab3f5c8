/** MemoryConnection / Connection: frames in order, early frames kept, one sink in place of listeners. */
import test from 'tape';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { Connection, ConnectionSink } from '../../src/transport/connection.js';

function sink(log: string[]): ConnectionSink {
  return {
    onTransportMessage: (f) => log.push(`message ${f[0]}`),
    onTransportInvalid: (r) => log.push(`invalid ${r}`),
    onTransportClose: () => log.push('close'),
    onTransportError: (e) => log.push(`error ${e.message}`),
  };
}

async function pair(): Promise<{ a: Connection; b: Connection }> {
  const net = new MemoryNetwork();
  let b!: Connection;
  net.listen('b', (conn) => { b = conn; });
  const a = await net.dial('mem://b', 'mem://a');
  return { a, b };
}

const turn = () => new Promise((r) => setImmediate(r));

test('frames sent before the other end has a receiver are kept, then handed to its sink first and in order', async (t) => {
  const { a, b } = await pair();
  for (let i = 1; i <= 3; i++) a.send(Uint8Array.of(i));
  await turn();
  await turn();
  const log: string[] = [];
  b.attach(sink(log));
  a.send(Uint8Array.of(4));
  await turn();
  await turn();
  t.deepEqual(log, ['message 1', 'message 2', 'message 3', 'message 4'], 'the early frames, then the later one');
  t.end();
});

test('a sent frame is a copy: the sender may reuse its buffer', async (t) => {
  const { a, b } = await pair();
  const log: string[] = [];
  b.attach(sink(log));
  const buf = Uint8Array.of(9);
  a.send(buf);
  buf[0] = 1;
  await turn();
  t.deepEqual(log, ['message 9']);
  t.end();
});

test("the sink hears every event; listeners added with on() hear them too, after it; an 'error' with a sink does not throw", async (t) => {
  const { a, b } = await pair();
  const log: string[] = [];
  b.attach(sink(log));
  b.on('message', (f) => log.push(`listener ${f[0]}`));
  b.on('close', () => log.push('listener close'));
  a.send(Uint8Array.of(5));
  await turn();
  b.emit('invalid', 'text frame');
  t.doesNotThrow(() => b.emit('error', new Error('reset')), 'handled by the sink');
  a.close();
  await turn();
  await turn();
  t.deepEqual(log, ['message 5', 'listener 5', 'invalid text frame', 'error reset', 'close', 'listener close']);
  t.notOk(b.open, 'closing one end closes the other');
  t.end();
});

test('with no sink, a message listener receives the early frames (as before sinks)', async (t) => {
  const { a, b } = await pair();
  a.send(Uint8Array.of(1));
  await turn();
  const got: number[] = [];
  b.on('message', (f) => got.push(f[0]));
  a.send(Uint8Array.of(2));
  await turn();
  await turn();
  t.deepEqual(got, [1, 2]);
  t.end();
});
