/**
 * The in-memory transport across threads: a MemoryNetwork per thread (worker
 * or main), joined to the other threads' networks by one MessagePort per pair
 * of threads. A `mem://NAME` that listens in another thread is dialed over
 * that port; every connection between two threads is multiplexed on it, in
 * order, one binary batch per turn (the frames are copied into the batch, and
 * the batch's buffer is transferred, not cloned).
 *
 * Which thread listens on a name is announced to every attached network as
 * it changes (listen, unlisten); a dial to a name not yet announced fails as
 * a dial to nobody does. When a port closes (the other thread ended or
 * detached), every connection over it closes on both sides and its names are
 * forgotten.
 */
import { Connection } from './connection.js';
import { MemoryNetwork, type MemoryAcceptor } from './memory.js';

/** What a MessagePort offers (node:worker_threads or the browser's); structural, so no Node import. */
export interface ThreadPort {
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void;
  /** 'message' (the event's `data`) and 'close'. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addEventListener(type: 'message' | 'close', fn: (ev: any) => void): void;
  close(): void;
  /** Node's MessagePort: keep the thread alive only while connections use the port. */
  ref?(): void;
  unref?(): void;
  start?(): void;
}

const OP_OPEN = 1, OP_OK = 2, OP_REFUSE = 3, OP_DATA = 4, OP_CLOSE = 5, OP_LISTEN = 6, OP_UNLISTEN = 7;
/** Bytes before each op's payload: op (1), connection id (4), payload length (4). */
const HEAD = 9;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** One end of a connection between two threads. */
export class ThreadConnection extends Connection {
  readonly kind = 'memory' as const;
  readonly remoteAddress: string;
  /** The node this end belongs to (its mem:// URL), for interceptors. */
  readonly localAddress: string;
  #closed = false;
  readonly #peer: Peer;
  /** The connection's number on its port, with the side bit (1: this end dialed). */
  readonly #cid: number;

  constructor(peer: Peer, cid: number, localAddress: string, remoteAddress: string) {
    super();
    this.#peer = peer;
    this.#cid = cid;
    this.localAddress = localAddress;
    this.remoteAddress = remoteAddress;
  }

  get open(): boolean { return !this.#closed; }
  get bufferedAmount(): number { return 0; }

  send(frame: Uint8Array): void {
    if (this.#closed) return;
    const intercept = this.#peer.net.intercept;
    if (!intercept) { this.#peer.push(OP_DATA, this.#cid, frame); return; }
    const out = intercept(frame.slice(), this.localAddress, this.remoteAddress);
    for (const f of out === null ? [] : Array.isArray(out) ? out : [out]) this.#peer.push(OP_DATA, this.#cid, f);
  }

  close(): void { this.#end(true); }

  /** @internal A frame from the other thread. */
  deliver(frame: Uint8Array): void { if (!this.#closed) this.receive(frame); }

  /** @internal Closes this end; tells the other end unless it is the one that closed. */
  end(tell: boolean): void { this.#end(tell); }

  #end(tell: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#peer.forget(this.#cid);
    if (tell) this.#peer.push(OP_CLOSE, this.#cid);
    setImmediate(() => this.emit('close'));
  }
}

/** The port to one other thread, and the connections over it. */
class Peer {
  readonly net: ThreadNetwork;
  readonly #port: ThreadPort;
  /** Connections by their number as this side writes it (side bit set for those this side dialed). */
  readonly #conns = new Map<number, ThreadConnection>();
  readonly #dialing = new Map<number, { resolve: (c: Connection) => void; reject: (e: Error) => void; conn: ThreadConnection }>();
  #nextCid = 0;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #scheduled = false;
  #closed = false;

  constructor(net: ThreadNetwork, port: ThreadPort) {
    this.net = net;
    this.#port = port;
    port.addEventListener('message', (ev) => this.#onBatch(ev.data));
    port.addEventListener('close', () => this.detach());
    port.start?.();
    this.refresh();
  }

  get closed(): boolean { return this.#closed; }

  dial(name: string, from: string): Promise<Connection> {
    if (this.#closed) return Promise.reject(new Error(`nothing listens on mem://${name}`));
    const cid = ((this.#nextCid++ & 0x3fffffff) << 1) | 1;
    const conn = new ThreadConnection(this, cid, from, `mem://${name}`);
    this.#conns.set(cid, conn);
    this.refresh();
    return new Promise((resolve, reject) => {
      this.#dialing.set(cid, { resolve, reject, conn });
      this.push(OP_OPEN, cid, utf8.encode(`${name}\n${from}`));
    });
  }

  /** Queues one op for the other thread; the batch leaves at the end of this turn. */
  push(op: number, cid: number, payload?: Uint8Array): void {
    if (this.#closed) return;
    const len = payload?.length ?? 0;
    const b = new Uint8Array(HEAD + len);
    const v = new DataView(b.buffer);
    b[0] = op;
    v.setUint32(1, cid >>> 0);
    v.setUint32(5, len);
    if (payload) b.set(payload, HEAD);
    this.#out.push(b);
    this.#outBytes += b.length;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  forget(cid: number): void {
    this.#conns.delete(cid);
    this.refresh();
  }

  /** The port is gone: every connection over it closes, its names are forgotten. */
  detach(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out = [];
    for (const d of this.#dialing.values()) d.reject(new Error(`mem:// thread ended`));
    this.#dialing.clear();
    for (const c of [...this.#conns.values()]) c.end(false);
    this.#conns.clear();
    this.net.forgetPeer(this);
    try { this.#port.close(); } catch { /* already closed */ }
  }

  /** Holds the thread open while a name listens or a connection uses the port, as a server or a socket does. */
  refresh(): void {
    if (this.#closed) return;
    if (this.#conns.size > 0 || this.net.listening > 0) this.#port.ref?.(); else this.#port.unref?.();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#out.length === 0) return;
    const batch = new Uint8Array(this.#outBytes);
    let at = 0;
    for (const b of this.#out) { batch.set(b, at); at += b.length; }
    this.#out = [];
    this.#outBytes = 0;
    this.#port.postMessage(batch, [batch.buffer]);
  }

  #onBatch(data: unknown): void {
    if (this.#closed || !(data instanceof Uint8Array)) return;
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let at = 0;
    while (at + HEAD <= data.length) {
      const op = data[at];
      const cid = v.getUint32(at + 1);
      const len = v.getUint32(at + 5);
      if (at + HEAD + len > data.length) break;
      const payload = data.subarray(at + HEAD, at + HEAD + len);
      at += HEAD + len;
      this.#op(op, cid, payload);
    }
  }

  #op(op: number, cid: number, payload: Uint8Array): void {
    // The other side writes its own side bit: flip it to find the connection as this side numbers it.
    const mine = cid ^ 1;
    switch (op) {
      case OP_DATA: this.#conns.get(mine)?.deliver(payload.slice()); return;
      case OP_CLOSE: this.#conns.get(mine)?.end(false); return;
      case OP_OK: {
        const d = this.#dialing.get(mine);
        if (!d) return;
        this.#dialing.delete(mine);
        d.resolve(d.conn);
        return;
      }
      case OP_REFUSE: {
        const d = this.#dialing.get(mine);
        if (!d) return;
        this.#dialing.delete(mine);
        this.#conns.delete(mine);
        this.refresh();
        d.reject(new Error(`nothing listens on ${d.conn.remoteAddress}`));
        return;
      }
      case OP_OPEN: {
        const [name, from] = fromUtf8.decode(payload).split('\n');
        const accept = this.net.localAcceptor(name);
        if (!accept) { this.push(OP_REFUSE, mine); return; }
        const conn = new ThreadConnection(this, mine, `mem://${name}`, from);
        this.#conns.set(mine, conn);
        this.refresh();
        this.push(OP_OK, mine);
        setImmediate(() => accept(conn));
        return;
      }
      case OP_LISTEN: this.net.learn(fromUtf8.decode(payload), this); return;
      case OP_UNLISTEN: this.net.unlearn(fromUtf8.decode(payload), this); return;
    }
  }
}

export class ThreadNetwork extends MemoryNetwork {
  readonly #peers = new Set<Peer>();
  /** Names listening in other threads, and the port to each. */
  readonly #remote = new Map<string, Peer>();
  readonly #local = new Set<string>();
  /** Callers waiting for a name to be announced. */
  readonly #waiting = new Map<string, (() => void)[]>();

  /** Joins the network of the thread at the other end of `port` (call it on both ends). */
  attach(port: ThreadPort): void {
    const peer = new Peer(this, port);
    this.#peers.add(peer);
    for (const name of this.#local) peer.push(OP_LISTEN, 0, utf8.encode(name));
  }

  /** Leaves every other thread's network: their connections close on both sides. */
  detachAll(): void {
    for (const p of [...this.#peers]) p.detach();
  }

  override listen(name: string, accept: MemoryAcceptor): string {
    const url = super.listen(name, accept);
    this.#local.add(name);
    for (const p of this.#peers) { p.push(OP_LISTEN, 0, utf8.encode(name)); p.refresh(); }
    this.#announced(name);
    return url;
  }

  override unlisten(name: string): void {
    super.unlisten(name);
    if (!this.#local.delete(name)) return;
    for (const p of this.#peers) { p.push(OP_UNLISTEN, 0, utf8.encode(name)); p.refresh(); }
  }

  override dial(url: string, from = 'mem://dialer'): Promise<Connection> {
    const name = url.replace(/^mem:\/\//, '');
    const peer = this.#local.has(name) ? undefined : this.#remote.get(name);
    return peer ? peer.dial(name, from) : super.dial(url, from);
  }

  /** Names listening in this thread. */
  get listening(): number { return this.#local.size; }

  /** Whether `mem://NAME` listens in this thread or one attached. */
  knows(url: string): boolean {
    const name = url.replace(/^mem:\/\//, '');
    return this.#local.has(name) || this.#remote.has(name);
  }

  /**
   * Resolves true once `url` listens here or its thread's announcement has
   * arrived (a name listened on in another thread is dialable from here one
   * port trip later), or false after `timeoutMs`.
   */
  whenKnown(url: string, timeoutMs: number): Promise<boolean> {
    if (this.knows(url)) return Promise.resolve(true);
    const name = url.replace(/^mem:\/\//, '');
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); resolve(true); };
      const timer = setTimeout(() => {
        const list = this.#waiting.get(name);
        const i = list?.indexOf(done) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
        if (list?.length === 0) this.#waiting.delete(name);
        resolve(false);
      }, timeoutMs);
      const list = this.#waiting.get(name) ?? [];
      list.push(done);
      this.#waiting.set(name, list);
    });
  }

  /** @internal */
  localAcceptor(name: string): MemoryAcceptor | undefined { return this.acceptor(name); }
  /** @internal */
  learn(name: string, peer: Peer): void {
    this.#remote.set(name, peer);
    this.#announced(name);
  }

  #announced(name: string): void {
    const list = this.#waiting.get(name);
    if (!list) return;
    this.#waiting.delete(name);
    for (const done of list) done();
  }
  /** @internal */
  unlearn(name: string, peer: Peer): void { if (this.#remote.get(name) === peer) this.#remote.delete(name); }
  /** @internal */
  forgetPeer(peer: Peer): void {
    this.#peers.delete(peer);
    for (const [name, p] of this.#remote) if (p === peer) this.#remote.delete(name);
  }
}
