/**
 * js-libp2p 3 in the B -> A -> C shape: what a user would pick instead of
 * relaymesh. A is a circuit relay v2 server listening on a WebSocket on
 * loopback; B and C have no listener of their own. C reserves a slot on A and
 * B dials C's `/p2p-circuit` address, so B's connection to C is noise + yamux
 * inside a relayed stream inside A's noise + yamux connections. Messages are
 * length-prefixed (u32 big-endian) frames on one yamux stream: a kind byte
 * (0 bytes, 1 JSON) then the payload.
 *
 * Set-up (printed by the benches through LIBP2P_CONFIG): @libp2p/websockets,
 * @chainsafe/libp2p-noise, @chainsafe/libp2p-yamux (defaults), @libp2p/identify,
 * @libp2p/circuit-relay-v2 with the default per-reservation limits off (no
 * data or duration cap, so the relayed connection is not "limited").
 *
 * Node 20 lacks two things libp2p 3 expects: `Promise.withResolvers` (Node 22)
 * and a global `WebSocket` (the dialer uses it; Node 22 has one). Both are
 * filled in here, for this bench only: the `ws` client and a small polyfill.
 */
import { WebSocket as WsWebSocket } from 'ws';
import type { End, RelayShape } from './relay-shape.js';

export const LIBP2P_PROTOCOL = '/relaymesh-bench/1.0.0';

/** The set-up the benches print beside the figures. */
export const LIBP2P_CONFIG = 'js-libp2p 3 (websockets, noise, yamux defaults, identify; circuit relay v2 server, '
  + 'applyDefaultLimit false, maxReservations 1024, 64 hop/stop streams); B -> relay -> C on one stream of u32-length-prefixed messages';

function polyfill(): void {
  const P = Promise as unknown as { withResolvers?: unknown };
  if (typeof P.withResolvers !== 'function') {
    Object.defineProperty(Promise, 'withResolvers', {
      configurable: true, writable: true,
      value: function withResolvers<T>() {
        let resolve!: (v: T | PromiseLike<T>) => void;
        let reject!: (e?: unknown) => void;
        const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
        return { promise, resolve, reject };
      },
    });
  }
  const g = globalThis as unknown as { WebSocket?: unknown };
  if (typeof g.WebSocket !== 'function') g.WebSocket = WsWebSocket;
}

/**
 * Imported by name at run time, so a checkout whose node_modules predates
 * these devDependencies still compiles (the bench then skips js-libp2p).
 */
const importByName = (name: string): Promise<Record<string, unknown>> => import(name);

/** True when the libp2p packages are installed (they are devDependencies). */
export async function libp2pAvailable(): Promise<boolean> {
  try {
    await importByName('libp2p');
    return true;
  } catch {
    return false;
  }
}

type Libp2pNode = {
  peerId: { toString(): string };
  getMultiaddrs(): { toString(): string }[];
  handle(protocol: string, handler: (stream: Stream) => void, opts?: object): Promise<void>;
  dialProtocol(ma: unknown, protocol: string, opts?: object): Promise<Stream>;
  addEventListener(e: string, fn: () => void): void;
  removeEventListener(e: string, fn: () => void): void;
  stop(): Promise<void>;
};
interface Stream {
  send(data: Uint8Array): boolean;
  addEventListener(e: 'message', fn: (evt: { data: Uint8Array | { subarray(): Uint8Array } }) => void): void;
  abort(err: Error): void;
}

interface Modules {
  createLibp2p: (o: object) => Promise<Libp2pNode>;
  webSockets: (o?: object) => unknown;
  noise: () => unknown;
  yamux: () => unknown;
  identify: () => unknown;
  circuitRelayServer: (o?: object) => unknown;
  circuitRelayTransport: (o?: object) => unknown;
  multiaddr: (s: string) => unknown;
}

let modules: Modules | null = null;

async function load(): Promise<Modules> {
  if (modules) return modules;
  polyfill();
  const [l, w, n, y, i, r, m] = await Promise.all([
    'libp2p', '@libp2p/websockets', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux',
    '@libp2p/identify', '@libp2p/circuit-relay-v2', '@multiformats/multiaddr',
  ].map(importByName));
  modules = {
    createLibp2p: l.createLibp2p as never, webSockets: w.webSockets as never, noise: n.noise as never, yamux: y.yamux as never,
    identify: i.identify as never, circuitRelayServer: r.circuitRelayServer as never, circuitRelayTransport: r.circuitRelayTransport as never,
    multiaddr: m.multiaddr as never,
  };
  return modules;
}

/** Splits a byte stream into u32-length-prefixed frames. */
export class LengthPrefixed {
  #buf: Uint8Array = new Uint8Array(0);
  readonly #onFrame: (frame: Uint8Array) => void;
  constructor(onFrame: (frame: Uint8Array) => void) { this.#onFrame = onFrame; }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.#buf.length) {
      buf = new Uint8Array(this.#buf.length + chunk.length);
      buf.set(this.#buf, 0);
      buf.set(chunk, this.#buf.length);
    }
    let o = 0;
    while (buf.length - o >= 4) {
      const len = ((buf[o] << 24) >>> 0) + (buf[o + 1] << 16) + (buf[o + 2] << 8) + buf[o + 3];
      if (buf.length - o - 4 < len) break;
      this.#onFrame(buf.subarray(o + 4, o + 4 + len));
      o += 4 + len;
    }
    this.#buf = o === buf.length ? new Uint8Array(0) : buf.slice(o);
  }
}

export function frame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  const len = payload.length + 1;
  out[0] = len >>> 24; out[1] = (len >>> 16) & 255; out[2] = (len >>> 8) & 255; out[3] = len & 255;
  out[4] = kind;
  out.set(payload, 5);
  return out;
}

function onFrames(stream: Stream, fn: (f: Uint8Array) => void): void {
  const lp = new LengthPrefixed(fn);
  stream.addEventListener('message', (evt) => {
    const d = evt.data;
    lp.push(d instanceof Uint8Array ? d : d.subarray());
  });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The three nodes, C reserved on A, B linked to A; nothing dialed between B and C yet. */
export interface Libp2pTrio {
  a: Libp2pNode; b: Libp2pNode; c: Libp2pNode;
  /** C's address through the relay. */
  circuit: unknown;
  /** B opens a stream to C through A: a new relayed connection (noise, yamux) and the protocol select. */
  dial(): Promise<Stream>;
  /** Called with each (kind, payload) C receives on the bench protocol, and the stream it came on. */
  onC: (kind: number, payload: Uint8Array, stream: Stream) => void;
  close(): Promise<void>;
}

export async function startLibp2pTrio(): Promise<Libp2pTrio> {
  const m = await load();
  const base = () => ({
    connectionEncrypters: [m.noise()],
    streamMuxers: [m.yamux()],
  });
  const nodes: Libp2pNode[] = [];
  const closeAll = async () => { await Promise.all(nodes.map((n) => n.stop().catch(() => {}))); };
  try {
    const a = await m.createLibp2p({
      ...base(),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
      transports: [m.webSockets()],
      services: {
        identify: m.identify(),
        relay: m.circuitRelayServer({
          reservations: { applyDefaultLimit: false, maxReservations: 1024 },
          maxInboundHopStreams: 64, maxOutboundStopStreams: 64,
        }),
      },
    });
    nodes.push(a);
    const relayAddr = a.getMultiaddrs().map(String).find((s) => s.includes('/ws/'))!;
    const c = await m.createLibp2p({
      ...base(),
      addresses: { listen: [`${relayAddr}/p2p-circuit`] },
      transports: [m.webSockets(), m.circuitRelayTransport()],
      services: { identify: m.identify() },
    });
    nodes.push(c);
    const b = await m.createLibp2p({
      ...base(),
      transports: [m.webSockets(), m.circuitRelayTransport()],
      services: { identify: m.identify() },
    });
    nodes.push(b);
    // C's reservation on A: wait until C advertises its circuit address.
    const circuitOf = () => c.getMultiaddrs().map(String).find((s) => s.includes('/p2p-circuit'));
    const deadline = Date.now() + 10_000;
    while (!circuitOf()) {
      if (Date.now() > deadline) throw new Error('libp2p: no relay reservation for C in 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    // B is linked to the relay before anything is timed, as relaymesh's B is linked to A.
    await (b as unknown as { dial(ma: unknown): Promise<unknown> }).dial(m.multiaddr(relayAddr));
    const circuit = m.multiaddr(circuitOf()!);
    const trio: Libp2pTrio = {
      a, b, c, circuit,
      dial: () => b.dialProtocol(circuit, LIBP2P_PROTOCOL),
      onC: () => {},
      close: closeAll,
    };
    await c.handle(LIBP2P_PROTOCOL, (stream) => onFrames(stream, (f) => trio.onC(f[0], f.subarray(1), stream)));
    return trio;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export async function startLibp2p(): Promise<RelayShape> {
  const trio = await startLibp2pTrio();
  try {
    const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
    const decode = (kind: number, p: Uint8Array): unknown => (kind === 1 ? JSON.parse(dec.decode(p)) : p);
    let cStream: Stream | null = null;
    const cReady = new Promise<void>((resolve) => {
      trio.onC = (kind, p, stream) => {
        if (!cStream) { cStream = stream; resolve(); return; } // the opening frame
        handlers.C(decode(kind, p));
      };
    });
    const bStream = await trio.dial();
    onFrames(bStream, (f) => handlers.B(decode(f[0], f.subarray(1))));
    bStream.send(frame(2, new Uint8Array(0)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([cReady, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('libp2p: C saw no stream in 10 s')), 10_000); })]);
    clearTimeout(timer);
    const encode = (payload: Uint8Array | object) => (payload instanceof Uint8Array ? frame(0, payload) : frame(1, enc.encode(JSON.stringify(payload))));
    return {
      name: 'js-libp2p',
      send: (from, payload) => { (from === 'B' ? bStream : cStream!).send(encode(payload)); },
      onReceive: (at, cb) => { handlers[at] = cb; },
      close: trio.close,
    };
  } catch (err) {
    await trio.close();
    throw err;
  }
}
