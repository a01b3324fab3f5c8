/**
 * The send path of one socket: resolves the destination (a connected peer,
 * an id, or an alias being looked up), checks the size, hands the datagram to
 * the mux, and reports failures the way dgram does (through the callback
 * only). Datagrams waiting for bind or an alias lookup are counted against the
 * socket's send buffer size.
 */
import debugFactory from 'debug';
import type { RelayError } from '../src/util/errors.js';
import type { Addressing } from './addressing.js';
import type { Mux } from './mux.js';
import { MAX_DATAGRAM } from './wire.js';
import type { SendCallback } from './send-args.js';
import * as E from './errors.js';

const debug = debugFactory('relaymesh:socket');

/** What the send path needs of its socket. */
export interface SenderHost {
  /** Bound: datagrams go now; otherwise they wait in the bind queue. */
  readonly bound: boolean;
  readonly closed: boolean;
  /** The connected peer, when connected. */
  readonly remote: { id: Uint8Array; port: number } | null;
  /** The socket's own port (the datagram's source port). */
  readonly port: number;
  /** Runs `fn` once bound, or `fail` with the bind's error code if bind fails; false when the bind queue is full. */
  enqueue(fn: () => void, fail: (code: string) => void): boolean;
  emitError(err: Error): void;
}

type Address = string | Uint8Array | undefined;

export class Sender {
  /** The send buffer size (setSendBufferSize): bytes that may wait. */
  bufferSize: number;
  readonly #host: SenderHost;
  readonly #mux: Mux;
  readonly #addr: Addressing;
  readonly #maxMessageSize: number;
  #queuedCount = 0;
  #queuedBytes = 0;

  constructor(host: SenderHost, mux: Mux, addr: Addressing, maxMessageSize: number, bufferSize: number) {
    this.#host = host;
    this.#mux = mux;
    this.#addr = addr;
    this.#maxMessageSize = maxMessageSize;
    this.bufferSize = bufferSize;
  }

  /** Bytes of datagrams waiting for bind or alias resolution. */
  get queuedBytes(): number { return this.#queuedBytes; }
  /** Datagrams waiting for bind or alias resolution. */
  get queuedCount(): number { return this.#queuedCount; }

  send(list: Uint8Array[], port: number, address: Address, callback: SendCallback | undefined): void {
    const host = this.#host;
    const total = list.reduce((n, b) => n + b.length, 0);
    if (!host.bound) {
      if (!this.#hold(total)) return this.#failed(callback, 'ENOBUFS', address, port);
      const go = () => { this.#release(total); this.send(list, port, address, callback); };
      const fail = (code: string) => { this.#release(total); this.#failed(callback, code, address, port); };
      if (!host.enqueue(go, fail)) {
        this.#release(total);
        this.#failed(callback, 'ENOBUFS', address, port);
      }
      return;
    }
    const remote = host.remote;
    if (remote) return this.#send(remote.id, list, total, remote.port, undefined, callback);
    const r = this.#addr.resolve(address);
    if ('id' in r) return this.#send(r.id, list, total, port, address, callback);
    if ('error' in r) {
      if (r.error === 'ENOTFOUND') {
        const ex = E.notFound(String(address));
        queueMicrotask(() => (callback ? callback(ex) : host.emitError(ex)));
      } else this.#failed(callback, r.error, address, port);
      return;
    }
    if (!this.#hold(total)) return this.#failed(callback, 'ENOBUFS', address, port);
    r.pending.then((id) => {
      this.#release(total);
      if (host.closed) return;
      if (id) return this.#send(id, list, total, port, address, callback);
      // Dropped before it left: the callback says so (never success), as a send
      // to a host no route reaches: EHOSTUNREACH.
      this.#mux.node.countDrop('dgram_unresolved');
      debug('no node answers for %s; datagram dropped', address);
      this.#failed(callback, 'EHOSTUNREACH', address, port);
    });
  }

  #send(to: Uint8Array, list: Uint8Array[], total: number, port: number, address: Address, callback?: SendCallback): void {
    if (this.#host.closed) return;
    if (total > MAX_DATAGRAM || total + 4 > this.#maxMessageSize) return this.#failed(callback, 'EMSGSIZE', address, port);
    try {
      // Dropped before it left (a congested link refused it before sealing): the callback says so.
      // A datagram waiting for a session has not left yet: its callback waits too (mux.ts).
      const left = callback && ((code: string | null) => {
        if (code) this.#failed(callback, code, address, port);
        else queueMicrotask(() => callback(null, total));
      });
      if (!this.#mux.send(to, port, this.#host.port, list, total, left)) return this.#failed(callback, 'ENOBUFS', address, port);
    } catch (err) {
      const code = (err as RelayError).code;
      debug('send failed: %s', (err as Error).message);
      return this.#failed(callback, code === 'ERR_QUEUE_FULL' ? 'ENOBUFS' : code === 'ERR_FRAME_TOO_LARGE' ? 'EMSGSIZE' : 'EBADF', address, port);
    }
  }

  /** dgram reports send failures through the callback only, never 'error'. */
  #failed(callback: SendCallback | undefined, code: string, address: Address, port: number): void {
    if (!callback) return;
    const shown = typeof address === 'string' ? address : address ? this.#addr.nameOf(address) : undefined;
    const ex = E.systemError(code, 'send', shown, port);
    queueMicrotask(() => callback(ex));
  }

  #hold(bytes: number): boolean {
    if (this.#queuedBytes + bytes > this.bufferSize && this.#queuedCount > 0) return false;
    this.#queuedBytes += bytes;
    this.#queuedCount++;
    return true;
  }

  #release(bytes: number): void {
    this.#queuedBytes -= bytes;
    this.#queuedCount--;
  }
}
