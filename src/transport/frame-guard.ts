/**
 * Bounds on what a WebSocket peer can make us hold in unfinished frames.
 * `ws` buffers a frame until its last byte arrives (up to maxPayload, also
 * across fragments) and has no time limit for it: a peer that sends all but
 * the last byte of a 4 MiB frame holds 4 MiB forever. guardFrames() closes a
 * connection whose frame does not complete within `timeoutMs` (1008), and
 * one that would take the node's unfinished-frame bytes past the shared
 * budget (1009). It reads ws 8's receiver state (`_bufferedBytes`,
 * `_totalPayloadLength`) after each chunk; without it, it does nothing.
 */
import debugFactory from 'debug';
import type { WebSocket } from 'ws';

const debug = debugFactory('relaymesh:transport:frame-guard');

/** Unfinished-frame bytes held across connections, at most `max`. */
export class PartialBudget {
  readonly max: number;
  held = 0;
  constructor(max: number) { this.max = max; }
}

interface ReceiverState { _bufferedBytes?: unknown; _totalPayloadLength?: unknown }
interface WsInternals { _socket?: NodeJS.EventEmitter | null; _receiver?: ReceiverState | null }

/**
 * What a connection may make us hold for its open message: the payload its
 * frame headers announced so far (all fragments), or the bytes buffered if
 * more; 0 between messages; -1 if unknown.
 */
export function partialBytes(ws: WebSocket): number {
  const r = (ws as unknown as WsInternals)._receiver;
  if (!r || typeof r._bufferedBytes !== 'number' || typeof r._totalPayloadLength !== 'number') return -1;
  return Math.max(r._bufferedBytes, r._totalPayloadLength);
}

export interface FrameGuard { timeoutMs: number; budget: PartialBudget }

/** Watches `ws` (a server-side socket, just upgraded). Returns false if ws's internals are not what it reads. */
export function guardFrames(ws: WebSocket, guard: FrameGuard): boolean {
  const socket = (ws as unknown as WsInternals)._socket;
  if (!socket || partialBytes(ws) < 0) {
    debug('ws internals not found: unfinished frames are not bounded');
    return false;
  }
  let mine = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const stopTimer = () => { if (timer) { clearTimeout(timer); timer = null; } };
  const release = () => { guard.budget.held -= mine; mine = 0; };
  const shut = (code: number, reason: string) => {
    stopTimer();
    release();
    socket.removeListener('data', check);
    debug('closing a connection: %s', reason);
    try { ws.close(code, reason); } catch { /* closing */ }
    // A peer that does not answer the close frame is cut off.
    const kill = setTimeout(() => ws.terminate(), 2000);
    kill.unref?.();
  };
  function check(): void {
    const held = Math.max(0, partialBytes(ws));
    guard.budget.held += held - mine;
    mine = held;
    if (held === 0) return stopTimer();
    if (guard.budget.held > guard.budget.max) return shut(1009, 'too many unfinished frames on this server');
    if (!timer) {
      timer = setTimeout(() => { timer = null; if (partialBytes(ws) > 0) shut(1008, 'frame not completed in time'); }, guard.timeoutMs);
      timer.unref?.();
    }
  }
  // A completed message ends the current frame's clock; the next chunk starts a new one if a frame is open.
  // (Pings do not: they may sit between the fragments of a message that never ends.)
  ws.on('message', () => stopTimer());
  // Registered after ws's own listener, so it sees the receiver after the chunk was parsed.
  socket.on('data', check);
  ws.once('close', () => { stopTimer(); release(); socket.removeListener('data', check); });
  return true;
}
