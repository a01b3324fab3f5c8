/**
 * PeerRelay.Socket: node:dgram's Socket over the mesh. Datagrams travel sealed
 * end to end on the DGRAM channel; ports demultiplex them on the destination
 * node (mux.ts); addresses are node ids or IPv4-shaped aliases (addressing.ts).
 * Argument handling, state machine and error codes follow Node 20's
 * lib/dgram.js so programs written for UDP behave the same.
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { equalBytes, toBuffer } from '../src/util/bytes.js';
import type { MeshNode } from '../src/node/mesh-node.js';
import type { RelayError } from '../src/util/errors.js';
import { Addressing, type AddressMode } from './addressing.js';
import { Mux, type PortOwner } from './mux.js';
import { MAX_DATAGRAM } from './wire.js';
import { normalizeSend, validatePort, validateString, type SendCallback } from './send-args.js';
import * as E from './errors.js';
import { parseSocketOptions, type SocketOptions, type SocketType } from './options.js';

const debug = debugFactory('relaymesh:socket');

export type { SocketOptions, SocketType };
/** What send() takes: bytes, a string, or an array of them (sent as one datagram). */
export type SendMessage = string | ArrayBufferView | readonly (string | ArrayBufferView)[];
export interface RemoteInfo { address: string; family: string; port: number; size: number }
export interface AddressInfo { address: string; family: string; port: number }

export interface SocketEvents {
  message: [msg: Buffer, rinfo: RemoteInfo];
  listening: [];
  connect: [];
  close: [];
  error: [err: Error];
}

type BindState = 'unbound' | 'binding' | 'bound';
const DEFAULT_BUFFER_SIZE = 212992;
/** Most operations waiting for bind (dgram's queue); more fail with ENOBUFS. */
const MAX_BIND_QUEUE = 1024;

export class Socket extends EventEmitter<SocketEvents> implements PortOwner {
  /** The underlying node (a PeerRelay). */
  readonly peer: MeshNode;
  readonly type: SocketType;
  readonly #mux: Mux;
  readonly #addr: Addressing;
  readonly #owned: boolean;
  #bindState: BindState = 'unbound';
  #connectState: 'disconnected' | 'connecting' | 'connected' = 'disconnected';
  #remote: { id: Uint8Array; port: number } | null = null;
  #port = 0;
  #closed = false;
  #queue: (() => void)[] | undefined;
  #queuedCount = 0;
  #queuedBytes = 0;
  #recvBufferSize: number;
  #sendBufferSize: number;
  readonly #onNodeError = (err: Error) => this.emit('error', err);

  /**
   * Makes the node of a socket given no `peer`. The facade's PeerRelay.Socket
   * makes a PeerRelay; this base class has no node of its own to make.
   */
  protected static createPeer(_opts: Record<string, unknown>): MeshNode {
    throw new TypeError('opts.peer is required (or use PeerRelay.Socket, which makes its own node)');
  }

  constructor(opts: SocketOptions | SocketType = {}, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    const o = parseSocketOptions(opts);
    this.type = o.type;
    this.#owned = !o.peer;
    this.peer = o.peer ?? (new.target as typeof Socket).createPeer(o.nodeOptions);
    if (this.peer.destroyed) throw new TypeError('opts.peer is destroyed');
    this.#mux = Mux.for(this.peer);
    this.#addr = new Addressing(o.addressMode, o.prefix, this.peer.id, this.#mux.resolver);
    this.#recvBufferSize = o.recvBufferSize || DEFAULT_BUFFER_SIZE;
    this.#sendBufferSize = o.sendBufferSize || DEFAULT_BUFFER_SIZE;
    if (this.#owned) this.peer.on('error', this.#onNodeError);
    if (typeof listener === 'function') this.on('message', listener);
    if (o.signal) {
      const onAbort = () => { if (!this.#closed) this.close(); };
      if (o.signal.aborted) queueMicrotask(onAbort);
      else o.signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** The address mode: 'id' or 'ipv4'. */
  get addressMode(): AddressMode { return this.#addr.mode; }

  // ------------------------------------------------------------------ binding

  bind(port?: number | { port?: number; address?: string; exclusive?: boolean; fd?: number } | (() => void) | null,
    address?: string | (() => void), _callback?: () => void): this {
    this.#healthCheck();
    if (this.#bindState !== 'unbound') throw E.alreadyBound();
    let p: unknown = port;
    let a: unknown;
    if (p !== null && typeof p === 'object') {
      a = (p as { address?: string }).address || '';
      p = (p as { port?: number }).port;
    } else {
      a = typeof address === 'function' ? '' : address;
    }
    if (typeof p === 'function') p = 0;
    const bindPort = p === undefined || p === null ? 0 : validatePort(p, 'options.port', true);
    if (a != null && typeof a !== 'string') throw E.invalidArgType('address', 'of type string', a);
    this.#bindState = 'binding';
    const cb = arguments.length ? arguments[arguments.length - 1] : undefined;
    if (typeof cb === 'function') {
      const onListening = () => { this.off('error', onError); cb.call(this); };
      const onError = () => { this.off('listening', onListening); };
      this.once('listening', onListening);
      this.once('error', onError);
    }
    queueMicrotask(() => this.#doBind(bindPort, (a as string | undefined) || ''));
    return this;
  }

  #doBind(port: number, address: string): void {
    if (this.#closed) return;
    const fail = (code: string) => {
      this.#bindState = 'unbound';
      this.#failQueue();
      this.emit('error', E.systemError(code, 'bind', address || this.#addr.selfName, port));
    };
    if (this.#mux.closed) return fail('EBADF');
    if (address && !this.#addr.isSelf(address)) return fail('EADDRNOTAVAIL');
    const bound = this.#mux.bind(port, this);
    if (bound === null) return fail('EADDRINUSE');
    this.#port = bound;
    this.#bindState = 'bound';
    debug('bound port %d on %s', bound, this.#addr.selfName);
    this.emit('listening');
    this.#drainQueue();
  }

  #enqueue(fn: () => void): boolean {
    this.#queue ??= [];
    if (this.#queue.length >= MAX_BIND_QUEUE) return false;
    this.#queue.push(fn);
    return true;
  }

  #drainQueue(): void {
    const q = this.#queue;
    this.#queue = undefined;
    for (const fn of q ?? []) fn();
  }

  #failQueue(): void {
    this.#queue = undefined;
  }

  address(): AddressInfo {
    this.#healthCheck();
    if (this.#bindState !== 'bound') throw E.systemError('EBADF', 'getsockname');
    return { address: this.#addr.selfName, family: this.#addr.family, port: this.#port };
  }

  // --------------------------------------------------------------- connecting

  connect(port: number, address?: string | (() => void), callback?: (err?: Error) => void): void {
    const p = validatePort(port, 'Port', false);
    if (typeof address === 'function') { callback = address; address = ''; } else if (address === undefined) address = '';
    validateString(address, 'address');
    this.#healthCheck();
    if (this.#connectState !== 'disconnected') throw E.isConnected();
    this.#connectState = 'connecting';
    if (this.#bindState === 'unbound') this.bind({ port: 0, exclusive: true });
    const run = () => this.#connect(p, address as string, callback);
    if (this.#bindState !== 'bound') this.#enqueue(run);
    else run();
  }

  #connect(port: number, address: string, callback?: (err?: Error) => void): void {
    if (callback) this.once('connect', callback);
    const done = (id: Uint8Array | null, code?: string) => {
      if (this.#closed) return;
      if (!id) {
        this.#connectState = 'disconnected';
        const ex = code === 'ENOTFOUND' ? E.notFound(address) : E.systemError(code ?? 'EHOSTUNREACH', 'connect', address, port);
        queueMicrotask(() => {
          if (callback) { this.off('connect', callback); callback(ex); } else this.emit('error', ex);
        });
        return;
      }
      this.#remote = { id, port };
      this.#connectState = 'connected';
      queueMicrotask(() => this.emit('connect'));
    };
    const r = this.#addr.resolve(address);
    if ('id' in r) done(r.id);
    else if ('error' in r) done(null, r.error);
    else r.pending.then((id) => done(id, 'EHOSTUNREACH'));
  }

  disconnect(): void {
    this.#healthCheck();
    if (this.#connectState !== 'connected') throw E.notConnected();
    this.#connectState = 'disconnected';
    this.#remote = null;
  }

  remoteAddress(): AddressInfo {
    this.#healthCheck();
    if (this.#connectState !== 'connected' || !this.#remote) throw E.notConnected();
    return { address: this.#addr.nameOf(this.#remote.id), family: this.#addr.family, port: this.#remote.port };
  }

  // ------------------------------------------------------------------ sending

  /**
   * send(msg[, offset, length][, port][, address][, callback]) exactly as
   * dgram: msg is a Buffer, TypedArray, DataView, string or an array of them;
   * offset/length cut a slice; connected sockets take no port or address.
   */
  send(msg: SendMessage, port?: number | SendCallback, address?: string | Uint8Array | SendCallback, callback?: SendCallback): void;
  send(msg: SendMessage, offset: number, length: number, port?: number | SendCallback, address?: string | Uint8Array | SendCallback, callback?: SendCallback): void;
  send(...args: unknown[]): void {
    const connected = this.#connectState === 'connected';
    const s = normalizeSend(args, connected);
    this.#healthCheck();
    if (this.#bindState === 'unbound') this.bind({ port: 0, exclusive: true });
    this.#sendList(s.list, s.port, s.address, s.callback);
  }

  /** dgram's legacy sendto(): every argument required. */
  sendto(buffer: SendMessage, offset: number, length: number, port: number, address: string, callback?: SendCallback): void {
    for (const [v, name] of [[offset, 'offset'], [length, 'length'], [port, 'port']] as const) {
      if (typeof v !== 'number') throw E.invalidArgType(name, 'of type number', v);
    }
    validateString(address, 'address');
    this.send(buffer, offset, length, port, address, callback);
  }

  #sendList(list: Uint8Array[], port: number, address: string | Uint8Array | undefined, callback: SendCallback | undefined): void {
    const total = list.reduce((n, b) => n + b.length, 0);
    if (this.#bindState !== 'bound') {
      if (!this.#hold(total) || !this.#enqueue(() => { this.#release(total); this.#sendList(list, port, address, callback); })) {
        this.#release(total);
        this.#sendFailed(callback, 'ENOBUFS', address, port);
      }
      return;
    }
    if (this.#connectState === 'connected' && this.#remote) return this.#doSend(this.#remote.id, list, total, this.#remote.port, undefined, callback);
    const r = this.#addr.resolve(address);
    if ('id' in r) return this.#doSend(r.id, list, total, port, address, callback);
    if ('error' in r) {
      if (r.error === 'ENOTFOUND') {
        const ex = E.notFound(String(address));
        queueMicrotask(() => (callback ? callback(ex) : this.emit('error', ex)));
      } else this.#sendFailed(callback, r.error, address, port);
      return;
    }
    if (!this.#hold(total)) return this.#sendFailed(callback, 'ENOBUFS', address, port);
    r.pending.then((id) => {
      this.#release(total);
      if (this.#closed) return;
      if (id) return this.#doSend(id, list, total, port, address, callback);
      // Like UDP to an address where no host answers: lost, not an error.
      this.#mux.node.countDrop('dgram_unresolved');
      debug('no node answers for %s; datagram dropped', address);
      if (callback) queueMicrotask(() => callback(null, total));
    });
  }

  #doSend(to: Uint8Array, list: Uint8Array[], total: number, port: number, address: string | Uint8Array | undefined, callback?: SendCallback): void {
    if (this.#closed) return;
    if (total > MAX_DATAGRAM || total + 4 > this.peer.limits.maxMessageSize) return this.#sendFailed(callback, 'EMSGSIZE', address, port);
    try {
      this.#mux.send(to, port, this.#port, list, total);
    } catch (err) {
      const code = (err as RelayError).code;
      debug('send failed: %s', (err as Error).message);
      return this.#sendFailed(callback, code === 'ERR_QUEUE_FULL' ? 'ENOBUFS' : code === 'ERR_FRAME_TOO_LARGE' ? 'EMSGSIZE' : 'EBADF', address, port);
    }
    if (callback) queueMicrotask(() => callback(null, total));
  }

  /** dgram reports send failures through the callback only, never 'error'. */
  #sendFailed(callback: SendCallback | undefined, code: string, address: string | Uint8Array | undefined, port: number): void {
    if (!callback) return;
    const shown = typeof address === 'string' ? address : address ? this.#addr.nameOf(address) : undefined;
    const ex = E.systemError(code, 'send', shown, port);
    queueMicrotask(() => callback(ex));
  }

  #hold(bytes: number): boolean {
    if (this.#queuedBytes + bytes > this.#sendBufferSize && this.#queuedCount > 0) return false;
    this.#queuedBytes += bytes;
    this.#queuedCount++;
    return true;
  }

  #release(bytes: number): void {
    this.#queuedBytes -= bytes;
    this.#queuedCount--;
  }

  // ---------------------------------------------------------------- receiving

  /** @internal from the mux: a datagram for this socket's port. */
  onDatagram(data: Uint8Array, from: Uint8Array, srcPort: number): void {
    if (this.#closed) return;
    const r = this.#remote;
    if (this.#connectState === 'connected' && r && (r.port !== srcPort || !equalBytes(r.id, from))) {
      this.#mux.node.countDrop('dgram_not_from_connected_peer');
      return;
    }
    // The plaintext is this datagram's own fresh buffer (decrypted per message): a view, no copy.
    const msg = toBuffer(data) as Buffer;
    this.emit('message', msg, { address: this.#addr.nameOf(from), family: this.#addr.family, port: srcPort, size: msg.length });
  }

  /** @internal from the mux: the node closed. */
  onNodeClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = undefined;
    this.peer.off('error', this.#onNodeError);
    queueMicrotask(() => this.emit('close'));
  }

  // ------------------------------------------------------------------ closing

  close(callback?: () => void): this {
    if (typeof callback === 'function') this.on('close', callback);
    if (this.#queue !== undefined && !this.#closed) {
      this.#queue.push(() => this.close());
      return this;
    }
    this.#healthCheck();
    this.#closed = true;
    this.#queue = undefined;
    if (this.#bindState === 'bound') this.#mux.release(this.#port, this);
    this.peer.off('error', this.#onNodeError);
    if (this.#owned && !this.peer.destroyed) this.peer.destroy(() => this.emit('close'));
    else queueMicrotask(() => this.emit('close'));
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }

  // ------------------------------------------- accepted, documented, no effect

  ref(): this { return this; }
  unref(): this { return this; }

  setRecvBufferSize(size: number): void { this.#recvBufferSize = this.#bufferSize(size, 'uv_recv_buffer_size'); }
  setSendBufferSize(size: number): void { this.#sendBufferSize = this.#bufferSize(size, 'uv_send_buffer_size'); }
  getRecvBufferSize(): number { this.#bufferSize(0, 'uv_recv_buffer_size'); return this.#recvBufferSize; }
  getSendBufferSize(): number { this.#bufferSize(0, 'uv_send_buffer_size'); return this.#sendBufferSize; }
  /** Bytes of datagrams waiting for bind or alias resolution. */
  getSendQueueSize(): number { this.#healthCheck(); return this.#queuedBytes; }
  /** Datagrams waiting for bind or alias resolution. */
  getSendQueueCount(): number { this.#healthCheck(); return this.#queuedCount; }

  setBroadcast(_flag: boolean): void { this.#boundCheck('setBroadcast'); }
  setTTL(ttl: number): number { return this.#ttl(ttl, 'setTTL', 1); }
  setMulticastTTL(ttl: number): number { return this.#ttl(ttl, 'setMulticastTTL', 0); }
  setMulticastLoopback<T>(flag: T): T { this.#boundCheck('setMulticastLoopback'); return flag; }
  setMulticastInterface(interfaceAddress: string): void {
    this.#healthCheck();
    validateString(interfaceAddress, 'interfaceAddress');
    this.#boundCheck('setMulticastInterface');
  }
  addMembership(multicastAddress: string, _interfaceAddress?: string): void { this.#membership(multicastAddress); }
  dropMembership(multicastAddress: string, _interfaceAddress?: string): void { this.#membership(multicastAddress); }
  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, _interfaceAddress?: string): void {
    this.#healthCheck();
    validateString(sourceAddress, 'sourceAddress');
    validateString(groupAddress, 'groupAddress');
  }
  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.addSourceSpecificMembership(sourceAddress, groupAddress, interfaceAddress);
  }

  #membership(multicastAddress: string): void {
    this.#healthCheck();
    if (!multicastAddress) throw E.missingArgs('multicastAddress');
  }

  #ttl(ttl: number, syscall: string, min: number): number {
    if (typeof ttl !== 'number') throw E.invalidArgType('ttl', 'of type number', ttl);
    this.#boundCheck(syscall);
    if (!Number.isInteger(ttl) || ttl < min || ttl > 255) throw E.systemError('EINVAL', syscall);
    return ttl;
  }

  #bufferSize(size: number, syscall: string): number {
    if (size >>> 0 !== size) throw E.badBufferSize();
    if (this.#closed || this.#bindState !== 'bound') throw E.bufferSizeUnbound(syscall);
    return size;
  }

  #boundCheck(syscall: string): void {
    this.#healthCheck();
    if (this.#bindState !== 'bound') throw E.systemError('EBADF', syscall);
  }

  #healthCheck(): void {
    if (this.#closed) throw E.notRunning();
  }
}
