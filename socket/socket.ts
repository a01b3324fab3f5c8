/**
 * PeerRelay.Socket: node:dgram's Socket over the mesh. Datagrams travel sealed
 * end to end on the DGRAM channel; ports demultiplex them on the destination
 * node (mux.ts); addresses are node ids or IPv4-shaped aliases (addressing.ts).
 * Argument handling, state machine and error codes follow Node 20's
 * lib/dgram.js so programs written for UDP behave the same.
 */
import { EventEmitter } from 'events';
import debugFactory from 'debug';
import { equalBytes } from '../src/util/bytes.js';
import { SOCKET_LIMITS } from '../src/util/limits.js';
import type { MeshNode } from '../src/node/mesh-node.js';
import { Addressing, type AddressMode } from './addressing.js';
import { Mux, type PortOwner } from './mux.js';
import { Sender } from './sender.js';
import { normalizeBind, normalizeSend, validatePort, validateString, type BindOptions, type SendCallback } from './send-args.js';
import * as E from './errors.js';
import { dgramSocketPrototype } from './dgram-base.js';
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

/** A copy of `data` in memory of its own, as node:dgram delivers each message. */
function ownBuffer(data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafeSlow(data.length);
  b.set(data);
  return b;
}

type BindState = 'unbound' | 'binding' | 'bound';
interface QueuedOp { run: () => void; fail?: (code: string) => void }
/** Most operations waiting for bind (dgram's queue); more fail with ENOBUFS. */
const MAX_BIND_QUEUE = SOCKET_LIMITS.maxBindQueue;

export class Socket extends EventEmitter<SocketEvents> implements PortOwner {
  /** The underlying node (a PeerRelay). */
  readonly peer: MeshNode;
  readonly type: SocketType;
  readonly #mux: Mux;
  readonly #addr: Addressing;
  readonly #sender: Sender;
  readonly #owned: boolean;
  #bindState: BindState = 'unbound';
  #connectState: 'disconnected' | 'connecting' | 'connected' = 'disconnected';
  #remote: { id: Uint8Array; port: number } | null = null;
  #port = 0;
  #closed = false;
  /** Operations waiting for bind: each runs once bound, or fails (with the bind's error code) if bind fails. */
  #queue: QueuedOp[] | undefined;
  #recvBufferSize: number;
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
    this.#recvBufferSize = o.recvBufferSize || SOCKET_LIMITS.recvBufferSize;
    const socket = this;
    this.#sender = new Sender({
      get bound() { return socket.#bindState === 'bound'; },
      get closed() { return socket.#closed; },
      get remote() { return socket.#connectState === 'connected' ? socket.#remote : null; },
      get port() { return socket.#port; },
      enqueue: (fn, fail) => this.#enqueue(fn, fail),
      emitError: (err) => this.emit('error', err),
    }, this.#mux, this.#addr, this.peer.limits.maxMessageSize, o.sendBufferSize || SOCKET_LIMITS.sendBufferSize);
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

  bind(port?: number | BindOptions | (() => void) | null, address?: string | (() => void), _callback?: () => void): this {
    this.#healthCheck();
    if (this.#bindState !== 'unbound') throw E.alreadyBound();
    const { port: bindPort, address: bindAddress } = normalizeBind(port, address);
    this.#bindState = 'binding';
    const cb = arguments.length ? arguments[arguments.length - 1] : undefined;
    if (typeof cb === 'function') {
      const onListening = () => { this.off('error', onError); cb.call(this); };
      const onError = () => { this.off('listening', onListening); };
      this.once('listening', onListening);
      this.once('error', onError);
    }
    queueMicrotask(() => this.#doBind(bindPort, bindAddress));
    return this;
  }

  #doBind(port: number, address: string): void {
    if (this.#closed) return;
    const fail = (code: string) => {
      this.#bindState = 'unbound';
      this.#failQueue(code);
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

  #enqueue(run: () => void, fail?: (code: string) => void): boolean {
    this.#queue ??= [];
    if (this.#queue.length >= MAX_BIND_QUEUE) return false;
    this.#queue.push({ run, fail });
    return true;
  }

  #drainQueue(): void {
    const q = this.#queue;
    this.#queue = undefined;
    for (const op of q ?? []) op.run();
  }

  /**
   * Bind failed: what waited for it fails too. (dgram drops its queue here and
   * never calls those send callbacks; this releases their bytes from
   * getSendQueueSize() and reports each one's loss with the bind's error code.)
   */
  #failQueue(code: string): void {
    const q = this.#queue;
    this.#queue = undefined;
    for (const op of q ?? []) op.fail?.(code);
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
    if (this.#bindState !== 'bound') this.#enqueue(run, () => { this.#connectState = 'disconnected'; });
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
    this.#sender.send(s.list, s.port, s.address, s.callback);
  }

  /** dgram's legacy sendto(): every argument required. */
  sendto(buffer: SendMessage, offset: number, length: number, port: number, address: string, callback?: SendCallback): void {
    for (const [v, name] of [[offset, 'offset'], [length, 'length'], [port, 'port']] as const) {
      if (typeof v !== 'number') throw E.invalidArgType(name, 'of type number', v);
    }
    validateString(address, 'address');
    this.send(buffer, offset, length, port, address, callback);
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
    // As node:dgram: each message is a Buffer whose memory is that message alone
    // (byteOffset 0, buffer.byteLength === length); programs such as osc.js read `msg.buffer`.
    const msg = ownBuffer(data);
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
      this.#queue.push({ run: () => this.close(), fail: () => { if (!this.#closed) this.close(); } });
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
  setSendBufferSize(size: number): void { this.#sender.bufferSize = this.#bufferSize(size, 'uv_send_buffer_size'); }
  getRecvBufferSize(): number { this.#bufferSize(0, 'uv_recv_buffer_size'); return this.#recvBufferSize; }
  getSendBufferSize(): number { this.#bufferSize(0, 'uv_send_buffer_size'); return this.#sender.bufferSize; }
  /** Bytes of datagrams waiting for bind or alias resolution, plus (own node) those its node has not sent yet. */
  getSendQueueSize(): number { this.#healthCheck(); return this.#sender.queuedBytes + (this.#owned ? this.peer.sendQueue().bytes : 0); }
  /** Datagrams waiting for bind or alias resolution, plus (own node) those its node has not sent yet. */
  getSendQueueCount(): number { this.#healthCheck(); return this.#sender.queuedCount + (this.#owned ? this.peer.sendQueue().count : 0); }

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

  // ---------------- dgram's legacy internals, answered here so no dgram code runs on this object

  /** @deprecated as in dgram (DEP0112). No UDP handle exists: null. */
  get _handle(): null { return null; }
  /** @deprecated as in dgram: true while bound and open. */
  get _receiving(): boolean { return this.#bindState === 'bound' && !this.#closed; }
  /** @deprecated as in dgram: 0 unbound, 1 binding, 2 bound. */
  get _bindState(): number { return this.#bindState === 'unbound' ? 0 : this.#bindState === 'binding' ? 1 : 2; }
  /** @deprecated as in dgram: the operations waiting for bind, or undefined. */
  get _queue(): (() => void)[] | undefined { return this.#queue?.map((op) => op.run); }
  /** @deprecated as in dgram. */
  get _reuseAddr(): boolean { return false; }
  /** @deprecated as in dgram: throws ERR_SOCKET_DGRAM_NOT_RUNNING once closed. */
  _healthCheck(): void { this.#healthCheck(); }
  /** @deprecated as in dgram: nothing to stop receiving from. */
  _stopReceiving(): void { /* no handle */ }
}

// `socket instanceof dgram.Socket` holds, as programs test it (node-coap's
// duplicate-request cache, error replies and proxy mode depend on it): dgram's
// prototype sits between this class's and EventEmitter's. Every member of it is
// defined above, so none of dgram's code (which expects a UDP handle) runs here,
// and dgram's constructor (which makes the handle) is never called.
if (dgramSocketPrototype) Object.setPrototypeOf(Socket.prototype, dgramSocketPrototype);
