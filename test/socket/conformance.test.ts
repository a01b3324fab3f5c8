/**
 * The same cases run against node:dgram on 127.0.0.1 and against
 * PeerRelay.Socket (two nodes linked over WebSocket on loopback), side by side:
 * each case is written once against the dgram interface.
 */
import test, { type Test } from 'tape';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { createSocket, Socket } from '../../socket/index.js';
import { FAST, startNode, urlOf, waitFor } from '../helpers/testnet.js';

type Sock = dgram.Socket;
interface Impl {
  name: string;
  /** Makes two sockets that can reach each other (on two hosts, for the mesh). */
  pair(t: Test): Promise<[Sock, Sock]>;
}

function closeQuietly(s: Sock): Promise<void> {
  return new Promise((resolve) => {
    try { s.close(() => resolve()); } catch { resolve(); }
  });
}

const impls: Impl[] = [
  {
    name: 'node:dgram',
    async pair(t) {
      const socks = [dgram.createSocket('udp4'), dgram.createSocket('udp4')] as [Sock, Sock];
      for (const s of socks) t.teardown(() => closeQuietly(s));
      return socks;
    },
  },
  {
    name: 'PeerRelay.Socket',
    async pair(t) {
      const a = await startNode(t, { port: 0, ...FAST });
      const b = await startNode(t, { bootstrap: [urlOf(a)], ...FAST });
      await waitFor(() => a.peers.length > 0 && b.peers.length > 0);
      const socks = [createSocket({ type: 'udp4', peer: a }), createSocket({ type: 'udp4', peer: b })] as unknown as [Sock, Sock];
      for (const s of socks) t.teardown(() => closeQuietly(s));
      return socks;
    },
  },
];

/** Binds on loopback (dgram) or on the node (mesh; loopback names the node itself). */
function bound(s: Sock, port = 0): Promise<Sock> {
  return new Promise((resolve) => s.bind(port, '127.0.0.1', () => resolve(s)));
}

function nextMessage(s: Sock, ms = 10_000): Promise<[Buffer, dgram.RemoteInfo]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram in time')), ms);
    s.once('message', (m, r) => { clearTimeout(timer); resolve([m, r]); });
  });
}

function throwsCode(t: Test, fn: () => unknown, code: string, name: string | null, msg: string): void {
  try {
    fn();
    t.fail(`${msg}: did not throw`);
  } catch (err) {
    t.equal((err as { code?: string }).code, code, `${msg}: ${code}`);
    if (name) t.equal((err as Error).name, name, `${msg}: a ${name}`);
  }
}

function sendP(s: Sock, ...args: unknown[]): Promise<[Error | null, number | undefined]> {
  return new Promise((resolve) => (s.send as (...a: unknown[]) => void)(...args, (err: Error | null, n?: number) => resolve([err, n])));
}

for (const impl of impls) {
  const it = (name: string, fn: (t: Test) => Promise<void>) => test(`${impl.name}: ${name}`, fn);

  it('every received message is a Buffer with memory of its own (byteOffset 0, buffer.byteLength === length)', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    const sizes = [0, 1, 5, 1200, 9000];
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve) => b.on('message', (m) => { got.push(m); if (got.length === sizes.length) resolve(); }));
    // Sent one at a time, so they arrive in order on both transports.
    for (const n of sizes) {
      const next = new Promise<void>((r) => b.once('message', () => r()));
      a.send(Buffer.alloc(n, n & 255), b.address().port, b.address().address);
      await next;
    }
    await all;
    t.deepEqual(got.map((m) => m.length), sizes, 'every size arrives');
    t.ok(got.every((m) => Buffer.isBuffer(m)), 'each is a Buffer');
    t.deepEqual(got.map((m) => m.byteOffset), sizes.map(() => 0), 'each starts at byteOffset 0');
    t.deepEqual(got.map((m) => m.buffer.byteLength), sizes, 'each one\'s ArrayBuffer is exactly the message');
    t.ok(got.every((m, i) => m.every((x) => x === (sizes[i] & 255))), 'with the bytes sent');
  });

  it('send(buf, offset, length, port, address, cb) sends exactly that slice', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    const got = nextMessage(b);
    const [err, n] = await sendP(a, Buffer.from('xxhelloyy'), 2, 5, b.address().port, b.address().address);
    t.equal(err, null, 'no error');
    t.equal(n, 5, 'callback reports 5 bytes');
    const [msg] = await got;
    t.equal(msg.toString(), 'hello', 'the receiver gets "hello"');
  });

  it('send of an array of buffers and strings delivers one datagram of them all', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    const got = nextMessage(b);
    const [err, n] = await sendP(a, ['ab', Buffer.from('cd'), new Uint8Array([101])], b.address().port, b.address().address);
    t.equal(err, null, 'no error');
    t.equal(n, 5, 'callback reports 5 bytes');
    t.equal((await got)[0].toString(), 'abcde', 'one datagram "abcde"');
  });

  it('rinfo names the sender\'s address and port', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    const got = nextMessage(b);
    a.send('who', b.address().port, b.address().address);
    const [msg, rinfo] = await got;
    t.equal(rinfo.address, a.address().address, 'address is the sender\'s');
    t.equal(rinfo.port, a.address().port, 'port is the sender\'s');
    t.equal(rinfo.family, 'IPv4', 'family IPv4');
    t.equal(rinfo.size, msg.length, 'size is the datagram length');
  });

  it('a reply to rinfo reaches the sender', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    b.on('message', (m, r) => b.send(Buffer.concat([Buffer.from('re:'), m]), r.port, r.address));
    const got = nextMessage(a);
    a.send('ping', b.address().port, b.address().address);
    t.equal((await got)[0].toString(), 're:ping', 'the reply arrives');
  });

  it('the first send binds implicitly and emits listening', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(b);
    let listening = 0;
    a.on('listening', () => listening++);
    throwsCode(t, () => a.address(), 'EBADF', null, 'address() before bind');
    const got = nextMessage(b);
    const [err] = await sendP(a, 'x', b.address().port, b.address().address);
    t.equal(err, null, 'no error');
    t.equal(listening, 1, 'listening emitted once');
    t.ok(a.address().port > 0, 'a port was picked');
    t.equal((await got)[1].port, a.address().port, 'the datagram comes from that port');
  });

  it('send without an address reaches a socket on the own host', async (t) => {
    const [a] = await impl.pair(t);
    await bound(a);
    const got = nextMessage(a);
    a.send('self', a.address().port);
    t.equal((await got)[0].toString(), 'self', 'the socket receives its own datagram');
  });

  it('bind takes an options object and calls back on listening', async (t) => {
    const [a] = await impl.pair(t);
    await new Promise<void>((resolve) => a.bind({ port: 0, address: '127.0.0.1' }, () => resolve()));
    t.ok(a.address().port > 0, 'bound to a port');
    throwsCode(t, () => a.bind(0), 'ERR_SOCKET_ALREADY_BOUND', 'Error', 'a second bind');
  });

  it('misuse of send throws dgram\'s codes', async (t) => {
    const [a] = await impl.pair(t);
    await bound(a);
    throwsCode(t, () => a.send('x', 0, '127.0.0.1'), 'ERR_SOCKET_BAD_PORT', 'RangeError', 'port 0');
    throwsCode(t, () => a.send('x', 70000, '127.0.0.1'), 'ERR_SOCKET_BAD_PORT', 'RangeError', 'port 70000');
    throwsCode(t, () => (a.send as (...x: unknown[]) => void)(123, 1234, '127.0.0.1'), 'ERR_INVALID_ARG_TYPE', 'TypeError', 'a number as message');
    throwsCode(t, () => a.send(Buffer.alloc(4), 5, 1, 1234, '127.0.0.1'), 'ERR_BUFFER_OUT_OF_BOUNDS', 'RangeError', 'offset past the end');
    throwsCode(t, () => a.send(Buffer.alloc(4), 2, 3, 1234, '127.0.0.1'), 'ERR_BUFFER_OUT_OF_BOUNDS', 'RangeError', 'length past the end');
    throwsCode(t, () => (a.send as (...x: unknown[]) => void)('x', 1234, 5), 'ERR_INVALID_ARG_TYPE', 'TypeError', 'a number as address');
    throwsCode(t, () => a.connect(0), 'ERR_SOCKET_BAD_PORT', 'RangeError', 'connect to port 0');
  });

  it('a datagram over 65507 bytes fails with EMSGSIZE through the callback; 65507 bytes arrive', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    let errors = 0;
    a.on('error', () => errors++);
    a.send(Buffer.alloc(65508), b.address().port, b.address().address);
    const [err, n] = await sendP(a, Buffer.alloc(65508), b.address().port, b.address().address);
    t.equal((err as { code?: string })?.code, 'EMSGSIZE', 'EMSGSIZE');
    t.equal((err as { syscall?: string })?.syscall, 'send', 'syscall send');
    t.equal(n, undefined, 'no byte count');
    const got = nextMessage(b);
    const [err2, n2] = await sendP(a, Buffer.alloc(65507, 7), b.address().port, b.address().address);
    t.equal(err2, null, 'the largest datagram is accepted');
    t.equal(n2, 65507, 'all its bytes');
    const [msg] = await got;
    t.equal(msg.length, 65507, 'it arrives whole');
    t.equal(errors, 0, 'the send without callback emitted no error');
  });

  it('after close, calls fail with ERR_SOCKET_DGRAM_NOT_RUNNING', async (t) => {
    const [a] = await impl.pair(t);
    await bound(a);
    let closed = false;
    await new Promise<void>((resolve) => a.close(() => { closed = true; resolve(); }));
    t.ok(closed, 'close(cb) calls back');
    throwsCode(t, () => a.send('x', 1234, '127.0.0.1'), 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Error', 'send after close');
    throwsCode(t, () => a.close(), 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Error', 'a second close');
    throwsCode(t, () => a.address(), 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Error', 'address after close');
    throwsCode(t, () => a.bind(0), 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Error', 'bind after close');
    t.equal(a.ref(), a, 'ref() still returns the socket');
  });

  it('a connected socket sends without port or address and reports its peer', async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    throwsCode(t, () => a.remoteAddress(), 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Error', 'remoteAddress before connect');
    throwsCode(t, () => a.disconnect(), 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Error', 'disconnect before connect');
    await new Promise<void>((resolve) => a.connect(b.address().port, b.address().address, () => resolve()));
    t.deepEqual(a.remoteAddress(), { address: b.address().address, family: 'IPv4', port: b.address().port }, 'remoteAddress is the peer');
    throwsCode(t, () => a.connect(b.address().port, b.address().address), 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Error', 'connect again');
    throwsCode(t, () => a.send(Buffer.from('x'), 0, 1, 1234, '127.0.0.1'), 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Error', 'send with a port and an address');
    const got = nextMessage(b);
    const [err, n] = await sendP(a, Buffer.from('..conn..'), 2, 4);
    t.equal(err, null, 'no error');
    t.equal(n, 4, '4 bytes');
    t.equal((await got)[0].toString(), 'conn', 'the peer gets the slice');
    a.disconnect();
    throwsCode(t, () => a.remoteAddress(), 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Error', 'remoteAddress after disconnect');
  });

  it('a connected socket receives only from its peer', async (t) => {
    const [a, b] = await impl.pair(t);
    const other = impl.name === 'node:dgram' ? dgram.createSocket('udp4')
      : createSocket({ type: 'udp4', peer: (b as unknown as { peer: never }).peer }) as unknown as Sock;
    t.teardown(() => closeQuietly(other));
    await bound(a); await bound(b); await bound(other);
    await new Promise<void>((resolve) => a.connect(b.address().port, b.address().address, () => resolve()));
    const from: number[] = [];
    a.on('message', (_m, r) => from.push(r.port));
    for (let i = 0; i < 2; i++) {
      other.send('intruder', a.address().port, a.address().address);
      b.send('peer', a.address().port, a.address().address);
    }
    t.ok(await waitFor(() => from.length >= 2), 'both datagrams from the peer arrive');
    t.deepEqual(from, [b.address().port, b.address().port], 'none from the other socket');
  });

  it('options without meaning are accepted once bound and validated as dgram does', async (t) => {
    const [a] = await impl.pair(t);
    throwsCode(t, () => a.setTTL(5), 'EBADF', null, 'setTTL before bind');
    throwsCode(t, () => a.getRecvBufferSize(), 'ERR_SOCKET_BUFFER_SIZE', null, 'getRecvBufferSize before bind');
    await bound(a);
    t.equal(a.setTTL(64), 64, 'setTTL returns the ttl');
    t.equal(a.setMulticastTTL(3), 3, 'setMulticastTTL returns the ttl');
    t.equal(a.setMulticastLoopback(true), true, 'setMulticastLoopback returns its flag');
    t.doesNotThrow(() => a.setBroadcast(true), 'setBroadcast');
    t.doesNotThrow(() => { a.addMembership('224.0.0.114'); a.dropMembership('224.0.0.114'); }, 'add/dropMembership');
    throwsCode(t, () => (a.addMembership as () => void)(), 'ERR_MISSING_ARGS', 'TypeError', 'addMembership without address');
    throwsCode(t, () => a.setTTL('a' as never), 'ERR_INVALID_ARG_TYPE', 'TypeError', 'setTTL of a string');
    throwsCode(t, () => a.setTTL(0), 'EINVAL', null, 'setTTL(0)');
    throwsCode(t, () => a.setRecvBufferSize(-1), 'ERR_SOCKET_BAD_BUFFER_SIZE', 'TypeError', 'a negative buffer size');
    t.ok(a.getRecvBufferSize() > 0 && a.getSendBufferSize() > 0, 'buffer sizes are positive');
    t.equal(a.getSendQueueCount(), 0, 'nothing queued');
    t.equal(a.getSendQueueSize(), 0, 'no bytes queued');
    t.equal(a.unref(), a, 'unref returns the socket');
    t.equal(a.ref(), a, 'ref returns the socket');
  });

  it('an aborted signal closes the socket', async (t) => {
    const ac = new AbortController();
    const s = impl.name === 'node:dgram' ? dgram.createSocket({ type: 'udp4', signal: ac.signal })
      : createSocket({ type: 'udp4', signal: ac.signal, peer: await startNode(t, FAST) }) as unknown as Sock;
    t.teardown(() => closeQuietly(s));
    const closed = new Promise<void>((resolve) => s.once('close', resolve));
    ac.abort();
    await closed;
    throwsCode(t, () => s.send('x', 1, '127.0.0.1'), 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Error', 'send after abort');
  });
}

test('createSocket rejects an unknown type as dgram does', (t) => {
  throwsCode(t, () => dgram.createSocket('udp5' as never), 'ERR_SOCKET_BAD_TYPE', 'TypeError', 'node:dgram');
  throwsCode(t, () => createSocket('udp5' as never), 'ERR_SOCKET_BAD_TYPE', 'TypeError', 'PeerRelay.Socket');
  t.end();
});

test('send throws the same codes as node:dgram for any mix of arguments (property)', async (t) => {
  const node = await startNode(t, FAST);
  const ours = createSocket({ type: 'udp4', peer: node }) as unknown as Sock;
  const theirs = dgram.createSocket('udp4');
  const sink = dgram.createSocket('udp4');
  for (const s of [ours, theirs, sink]) t.teardown(() => closeQuietly(s));
  await bound(ours); await bound(theirs); await bound(sink);
  for (const s of [ours, theirs]) s.on('error', () => undefined);
  const port = sink.address().port;
  const arg = fc.constantFrom<unknown>(
    Buffer.from('abcdef'), 'text', new Uint8Array(3), ['a', Buffer.from('b')], [1], 123, null, undefined,
    0, 1, 2, 6, 7, -1, 70000, port, String(port), ' ', '127.0.0.1', 'localhost', () => undefined, {},
  );
  const codeOf = (s: Sock, args: unknown[]) => {
    try {
      (s.send as (...a: unknown[]) => void)(...args);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).name;
    }
  };
  const mismatches: string[] = [];
  const outcomes = new Set<string>();
  fc.assert(fc.property(fc.array(arg, { minLength: 1, maxLength: 6 }), (args) => {
    const a = codeOf(theirs, args);
    const b = codeOf(ours, args);
    outcomes.add(a);
    if (a !== b && mismatches.length < 5) mismatches.push(`${args.map((x) => typeof x === 'function' ? 'fn' : JSON.stringify(x)).join(', ')}: dgram ${a}, ours ${b}`);
    return true;
  }), { numRuns: 400 });
  t.deepEqual(mismatches, [], '400 random argument lists: the same outcome (no throw, or the same code)');
  t.ok(outcomes.has('ok') && outcomes.has('ERR_SOCKET_BAD_PORT') && outcomes.has('ERR_INVALID_ARG_TYPE'), `the lists reach several outcomes (${[...outcomes].join(', ')})`);
});

test('PeerRelay.Socket defines every member of dgram.Socket itself, before dgram\'s prototype in its chain', (t) => {
  // PeerRelay.Socket's methods live on its prototype chain (the facade subclasses socket/socket.ts's Socket);
  // dgram's prototype comes after them (for instanceof), so anything found only there would run dgram's code.
  const ours = new Set<string | symbol>();
  for (let p: object | null = Socket.prototype; p && p !== dgram.Socket.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Reflect.ownKeys(p)) ours.add(k);
  }
  const missing = Reflect.ownKeys(dgram.Socket.prototype).filter((k) => k !== 'constructor' && !ours.has(k)).map(String);
  t.deepEqual(missing, [], 'no dgram member (public, legacy underscore, Symbol.asyncDispose) falls through to dgram');
  t.equal(typeof (Socket.prototype as unknown as Record<symbol, unknown>)[Symbol.asyncDispose], 'function', 'Symbol.asyncDispose too');
  t.end();
});

test('a PeerRelay.Socket is instanceof dgram.Socket and EventEmitter, without a UDP handle', async (t) => {
  const node = await startNode(t, FAST);
  const s = createSocket({ type: 'udp4', peer: node });
  t.teardown(() => closeQuietly(s as unknown as Sock));
  t.ok(s instanceof dgram.Socket, 'instanceof dgram.Socket');
  t.ok(s instanceof EventEmitter, 'instanceof EventEmitter');
  t.ok(s instanceof Socket, 'instanceof its own class');
  const legacy = s as unknown as { _handle: unknown; _bindState: number; _receiving: boolean };
  t.equal(legacy._handle, null, 'no UDP handle (dgram\'s _handle getter would throw on this object)');
  t.equal(legacy._bindState, 0, 'unbound');
  await new Promise<void>((r) => s.bind(0, () => r()));
  t.equal(legacy._bindState, 2, 'bound, as dgram\'s BIND_STATE_BOUND');
  t.equal(legacy._receiving, true, 'receiving once bound');
});

for (const impl of impls) {
  test(`${impl.name}: sendto requires every argument and sends the slice`, async (t) => {
    const [a, b] = await impl.pair(t);
    await bound(a); await bound(b);
    const sendto = (a as unknown as { sendto: (...x: unknown[]) => void }).sendto.bind(a);
    throwsCode(t, () => sendto(Buffer.from('x'), 0, 1, b.address().port), 'ERR_INVALID_ARG_TYPE', 'TypeError', 'without an address');
    throwsCode(t, () => sendto(Buffer.from('x'), '0', 1, b.address().port, '127.0.0.1'), 'ERR_INVALID_ARG_TYPE', 'TypeError', 'a string offset');
    const got = nextMessage(b);
    sendto(Buffer.from('__to__'), 2, 2, b.address().port, b.address().address);
    t.equal((await got)[0].toString(), 'to', 'the slice arrives');
  });
}
