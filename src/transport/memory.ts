/**
 * In-memory transport for fast unit tests and large simulations: connections
 * between nodes of one process, addressed as `mem://NAME`. Delivery is
 * asynchronous and ordered, like a real socket.
 */
import { Connection } from './connection.js';

export class MemoryConnection extends Connection {
  readonly kind = 'memory' as const;
  readonly remoteAddress: string;
  other: MemoryConnection | null = null;
  network: MemoryNetwork | null = null;
  /** The node this end belongs to (its mem:// URL), for interceptors. */
  localAddress = '';
  #closed = false;
  /** Frames for the next turn; made when the first one comes (an idle connection holds none). */
  #queue: Uint8Array[] | null = null;

  constructor(remoteAddress: string) {
    super();
    this.remoteAddress = remoteAddress;
  }

  get open(): boolean { return !this.#closed; }
  get bufferedAmount(): number { return 0; }

  send(frame: Uint8Array): void {
    if (this.#closed || !this.other) return;
    const intercept = this.network?.intercept;
    if (!intercept) { this.other.#deliver(frame.slice()); return; }
    const out = intercept(frame.slice(), this.localAddress, this.other.localAddress);
    for (const f of out === null ? [] : Array.isArray(out) ? out : [out]) this.other.#deliver(f);
  }

  #deliver(frame: Uint8Array): void {
    if (this.#queue) { this.#queue.push(frame); return; }
    this.#queue = [frame];
    setImmediate(() => {
      const q = this.#queue!;
      this.#queue = null;
      for (const f of q) if (!this.#closed) this.receive(f);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const other = this.other;
    setImmediate(() => {
      this.emit('close');
      other?.close();
    });
  }
}

export type MemoryAcceptor = (conn: Connection) => void;

/** A registry of in-memory listeners; one per simulated network. */
export class MemoryNetwork {
  readonly #listeners = new Map<string, MemoryAcceptor>();
  /**
   * Test instrumentation: sees every frame from `from` (a mem:// URL, or
   * 'mem://dialer' for a dialer without a listener) to `to`, and returns the
   * frames to deliver instead (none, the same, altered, or several).
   */
  intercept: ((frame: Uint8Array, from: string, to: string) => Uint8Array | Uint8Array[] | null) | null = null;

  listen(name: string, accept: MemoryAcceptor): string {
    if (this.#listeners.has(name)) throw new Error(`mem://${name} is taken`);
    this.#listeners.set(name, accept);
    return `mem://${name}`;
  }

  unlisten(name: string): void { this.#listeners.delete(name); }

  /** The acceptor listening on `name` in this network (not another thread's), if any. */
  protected acceptor(name: string): MemoryAcceptor | undefined { return this.#listeners.get(name); }

  dial(url: string, from = 'mem://dialer'): Promise<Connection> {
    const name = url.replace(/^mem:\/\//, '');
    const accept = this.#listeners.get(name);
    if (!accept) return Promise.reject(new Error(`nothing listens on ${url}`));
    const a = new MemoryConnection(url);
    const b = new MemoryConnection(from);
    a.other = b;
    b.other = a;
    a.network = b.network = this;
    a.localAddress = from;
    b.localAddress = url;
    return new Promise((resolve) => setImmediate(() => { accept(b); resolve(a); }));
  }
}
