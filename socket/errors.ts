/**
 * Errors shaped like node:dgram's, so programs that test `err.code` (or print
 * `err.message`) see what they would see over UDP. Codes, classes and message
 * texts follow Node 20's lib/dgram.js and lib/internal/errors.js.
 */

/** Errno numbers (Linux) for the system errors this shim can raise. */
const ERRNO: Record<string, number> = {
  EBADF: -9, EINVAL: -22, EMSGSIZE: -90, EADDRINUSE: -98, EADDRNOTAVAIL: -99,
  ENETUNREACH: -101, ENOBUFS: -105, EHOSTUNREACH: -113, ENOTFOUND: -3008,
};

export interface DgramError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
  hostname?: string;
}

type ErrorClass = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/** A Node-style internal error: `name [CODE]: message` in stack traces, `code` property. */
function nodeError(Base: ErrorClass, code: string, message: string): DgramError {
  const err = new Base(message) as DgramError;
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  err.stack = `${err.name} [${code}]: ${message}${(err.stack ?? '').slice((err.stack ?? '').indexOf('\n'))}`;
  return err;
}

/** Like Node's determineSpecificType(): "type number (0)", "an instance of Object". */
export function describeValue(value: unknown): string {
  if (value == null) return String(value);
  if (typeof value === 'function') return `function ${(value as { name?: string }).name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  let shown = typeof value === 'string' ? `'${value}'` : String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

export function notRunning(): DgramError {
  return nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
}

export function alreadyBound(): DgramError {
  return nodeError(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
}

export function isConnected(): DgramError {
  return nodeError(Error, 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
}

export function notConnected(): DgramError {
  return nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
}

export function badPort(name: string, port: unknown, allowZero: boolean): DgramError {
  return nodeError(RangeError, 'ERR_SOCKET_BAD_PORT',
    `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${describeValue(port)}.`);
}

export function badType(): DgramError {
  return nodeError(TypeError, 'ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6, peer-relay');
}

export function badBufferSize(): DgramError {
  return nodeError(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
}

export function bufferSizeUnbound(syscall: string): DgramError {
  const err = nodeError(Error, 'ERR_SOCKET_BUFFER_SIZE',
    `Could not get or set buffer size: ${syscall} returned EBADF (bad file descriptor)`);
  err.name = 'SystemError';
  return err;
}

export function invalidArgType(name: string, expected: string, actual: unknown): DgramError {
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describeValue(actual)}`);
}

export const BUFFER_TYPES = 'of type string or an instance of Buffer, TypedArray, or DataView';

export function outOfBounds(name: string): DgramError {
  return nodeError(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', `"${name}" is outside of buffer bounds`);
}

export function missingArgs(name: string): DgramError {
  return nodeError(TypeError, 'ERR_MISSING_ARGS', `The "${name}" argument must be specified`);
}

/** Like Node's ErrnoException / ExceptionWithHostPort: "send EMSGSIZE 10.1.2.3:9". */
export function systemError(code: string, syscall: string, address?: string, port?: number): DgramError {
  let message = `${syscall} ${code}`;
  if (address !== undefined) message += port ? ` ${address}:${port}` : ` ${address}`;
  const err = new Error(message) as DgramError;
  err.errno = ERRNO[code];
  err.code = code;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port) err.port = port;
  return err;
}

/** Like a failed dns.lookup(): "getaddrinfo ENOTFOUND name". */
export function notFound(hostname: string): DgramError {
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname}`) as DgramError;
  err.errno = ERRNO.ENOTFOUND;
  err.code = 'ENOTFOUND';
  err.syscall = 'getaddrinfo';
  err.hostname = hostname;
  return err;
}
