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
  #closed = false;
  #queue: Uint8Array[] = [];
  #scheduled = false;

  constructor(remoteAddress: string) {
    super();
    this.remoteAddress = remoteAddress;
  }

  get open(): boolean { return !this.#closed; }
  get bufferedAmount(): number { return 0; }

  send(frame: Uint8Array): void {
    if (this.#closed || !this.other) return;
    this.other.#deliver(frame.slice());
  }

  #deliver(frame: Uint8Array): void {
    this.#queue.push(frame);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const q = this.#queue;
      this.#queue = [];
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

export type MemoryAcceptor = (conn: MemoryConnection) => void;

/** A registry of in-memory listeners; one per simulated network. */
export class MemoryNetwork {
  readonly #listeners = new Map<string, MemoryAcceptor>();

  listen(name: string, accept: MemoryAcceptor): string {
    if (this.#listeners.has(name)) throw new Error(`mem://${name} is taken`);
    this.#listeners.set(name, accept);
    return `mem://${name}`;
  }

  unlisten(name: string): void { this.#listeners.delete(name); }

  dial(url: string): Promise<MemoryConnection> {
    const name = url.replace(/^mem:\/\//, '');
    const accept = this.#listeners.get(name);
    if (!accept) return Promise.reject(new Error(`nothing listens on ${url}`));
    const a = new MemoryConnection(url);
    const b = new MemoryConnection('mem://dialer');
    a.other = b;
    b.other = a;
    return new Promise((resolve) => setImmediate(() => { accept(b); resolve(a); }));
  }
}
