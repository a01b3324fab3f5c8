/**
 * dgram's argument rules, ported from Node 20's lib/dgram.js so every send
 * overload (offset/length, arrays, strings, connected sockets) means what it
 * means over UDP, and misuse throws the same codes.
 */
import { isBytes, textEncoder } from '../src/util/bytes.js';
import * as E from './errors.js';

export type SendCallback = (err: Error | null, bytes?: number) => void;

export interface SendArgs {
  list: Uint8Array[];
  port: number;
  /** A string, or (an extension for the seed's programs) a 20-byte id. */
  address: string | Uint8Array | undefined;
  callback: SendCallback | undefined;
}

function isView(x: unknown): x is ArrayBufferView {
  return ArrayBuffer.isView(x);
}

function viewBytes(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** bind()'s options object. */
export interface BindOptions { port?: number; address?: string; exclusive?: boolean; fd?: number }

/** bind([port][, address][, callback]) or bind(options[, callback]): the port (0: any) and address ('': any). */
export function normalizeBind(port: unknown, address: unknown): { port: number; address: string } {
  let p = port;
  let a: unknown;
  if (p !== null && typeof p === 'object') {
    a = (p as BindOptions).address || '';
    p = (p as BindOptions).port;
  } else {
    a = typeof address === 'function' ? '' : address;
  }
  if (typeof p === 'function') p = 0;
  const bindPort = p === undefined || p === null ? 0 : validatePort(p, 'options.port', true);
  if (a != null && typeof a !== 'string') throw E.invalidArgType('address', 'of type string', a);
  return { port: bindPort, address: (a as string | undefined) || '' };
}

/** Node's validatePort(): numbers or numeric strings, 0..65535 (1.. unless allowZero). */
export function validatePort(port: unknown, name: string, allowZero: boolean): number {
  if ((typeof port !== 'number' && typeof port !== 'string') ||
      (typeof port === 'string' && port.trim().length === 0) ||
      +port !== (+port >>> 0) || +port > 0xffff || (+port === 0 && !allowZero)) {
    throw E.badPort(name, port, allowZero);
  }
  return +port | 0;
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw E.invalidArgType(name, 'of type string', value);
}

/** Node's sliceBuffer(): offset and length cut the bytes that are sent. */
function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (typeof buffer === 'string') bytes = textEncoder.encode(buffer);
  else if (isView(buffer)) bytes = viewBytes(buffer);
  else throw E.invalidArgType('buffer', E.BUFFER_TYPES, buffer);
  const off = (offset as number) >>> 0;
  const len = (length as number) >>> 0;
  if (off > bytes.byteLength) throw E.outOfBounds('offset');
  if (off + len > bytes.byteLength) throw E.outOfBounds('length');
  return bytes.subarray(off, off + len);
}

function toList(buffer: unknown): Uint8Array[] {
  if (!Array.isArray(buffer)) {
    if (typeof buffer === 'string') return [textEncoder.encode(buffer)];
    if (!isView(buffer)) throw E.invalidArgType('buffer', E.BUFFER_TYPES, buffer);
    return [viewBytes(buffer)];
  }
  const list: Uint8Array[] = [];
  for (const b of buffer) {
    if (typeof b === 'string') list.push(textEncoder.encode(b));
    else if (isView(b)) list.push(viewBytes(b));
    else throw E.invalidArgType('buffer list arguments', E.BUFFER_TYPES, buffer);
  }
  return list;
}

/** send(buffer, offset, length, port, address, callback) with dgram's shifting of arguments. */
export function normalizeSend(args: unknown[], connected: boolean): SendArgs {
  let [buffer, offset, length, port, address, callback] = args;
  if (!connected) {
    if (address || (port && typeof port !== 'function')) {
      buffer = sliceBuffer(buffer, offset, length);
    } else {
      callback = port;
      port = offset;
      address = length;
    }
  } else {
    if (typeof length === 'number') {
      buffer = sliceBuffer(buffer, offset, length);
      if (typeof port === 'function') {
        callback = port;
        port = null;
      }
    } else {
      callback = offset;
    }
    if (port || address) throw E.isConnected();
  }
  const list = toList(buffer);
  const p = connected ? 0 : validatePort(port, 'Port', false);
  if (typeof callback !== 'function') callback = undefined;
  if (typeof address === 'function') {
    callback = address;
    address = undefined;
  } else if (address != null && !(isBytes(address) && address.length === 20)) {
    validateString(address, 'address');
  }
  if (list.length === 0) list.push(new Uint8Array(0));
  return { list, port: p, address: (address ?? undefined) as string | Uint8Array | undefined, callback: callback as SendCallback | undefined };
}
