/**
 * A link's send queue (PROTOCOL.md §3.6): what waits while the window or the
 * transport is full. Control frames (and routed reports) go first; routed
 * frames wait in one queue per origin, served by deficit round robin, so a
 * flooding origin gets its share and a light one keeps its latency. When the
 * queue is over its limits, the heaviest flow loses its newest frame.
 *
 * Light flows go first. An origin is *light* on a link while its frames sent
 * on it over the last two windows' worth of the link's routed bytes add up to
 * less than a quarter window (the *reserve*); otherwise it is heavy. Control
 * frames and light origins' frames may go past the window by up to the
 * reserve, so a light frame never waits for the CREDIT a flood is waiting
 * for, and never queues behind a flood's frames (`classify`).
 *
 * The queue knows nothing of transports: the link says how many bytes its
 * transport holds when a frame is queued, and whether it can write (within
 * the window, or within the reserve past it) while the queue is drained.
 */
import type { CountDrop } from '../util/drop-reasons.js';
import { key53 } from '../util/bytes.js';
import { FrameType } from '../wire/frames.js';

export interface LinkHooks {
  /** A routed frame accepted into the queue was dropped later (a heavier flow needed room, or the link closed). */
  evicted?(frame: Uint8Array, why: 'congested' | 'link_closed'): void;
  /** A flow crossed `flowMark` (stop) or fell below half of it (go); `ref` is bytes 4..32 (id, to) of one of its frames. */
  flowSignal?(ref: Uint8Array, origin: Uint8Array, stop: boolean): void;
  /** The remote's CREDIT let queued frames go: buffers may have drained. */
  writable?(): void;
}

export interface FlowQueueOptions {
  /** Bytes the link may hold unsent in all (this queue and the transport's buffer). */
  maxBuffered: number;
  /** Bytes one origin's frames may hold in the queue. */
  maxFlowBuffer: number;
  /** A flow's queued bytes above which `flowSignal(.., true)` is called (false again below half). */
  flowMark: number;
  /** The link's window: a quarter of it is the reserve for light flows, and it measures what is recent. */
  window: number;
  countDrop: CountDrop;
  hooks?: LinkHooks;
}

/** One origin's routed frames waiting on a link. */
interface Flow {
  key: number;
  origin: Uint8Array;
  q: Uint8Array[];
  head: number;
  bytes: number;
  deficit: number;
  /** The quantum for the current round was added. */
  topped: boolean;
  active: boolean;
  /** Set while the origin was told to stop: (id, to) of the frame that crossed the mark. */
  stopped: Uint8Array | null;
}

/** DRR quantum: bytes a flow may send per round. */
const QUANTUM = 16 * 1024;
/** Offset of `from` and of the message type in a routed frame (wire/envelope.ts). */
const OFF_FROM = 32;
const ROUTE_TYPE_UNREACHABLE = 0x06;
const ROUTE_TYPE_CONGESTION = 0x0a;

/** What `classify` says of a frame that would be sent now. */
export const Go = {
  /** Frames of its kind wait ahead of it (or it is heavy and others wait): it is queued. */
  QUEUE: 0,
  /** It may go if the window has room. */
  WINDOW: 1,
  /** A control frame or a light origin's frame with nothing ahead: it may use the reserve past the window. */
  RESERVE: 2,
} as const;
export type Go = (typeof Go)[keyof typeof Go];

/**
 * What an idle queue holds in place of its two lists (shared, frozen: a push on it would throw):
 * a list is made on its first frame and given back once empty (docs/bench.md, Memory).
 */
const NO_FRAMES = Object.freeze([]) as unknown as Uint8Array[];
const NO_FLOWS = Object.freeze([]) as unknown as Flow[];

function isFlowFrame(frame: Uint8Array): boolean {
  return frame[0] === FrameType.ROUTE && frame.length >= 52 && frame[1] !== ROUTE_TYPE_UNREACHABLE && frame[1] !== ROUTE_TYPE_CONGESTION;
}

export class FlowQueue {
  readonly #o: FlowQueueOptions;
  /** Control frames (and routed reports) waiting: sent before any flow. */
  #control: Uint8Array[] = NO_FRAMES;
  /** Flows by origin key, made on the first queued routed frame (an idle link holds no maps: see docs/bench.md, Memory). */
  #flows: Map<number, Flow> | null = null;
  /** Flows with frames queued, in round-robin order, and the one being served. */
  #ring: Flow[] = NO_FLOWS;
  #ringPos = 0;
  /** Bytes queued (control and flows). */
  #queued = 0;
  /** Routed bytes sent per origin in this epoch and the one before (an epoch: a window of the link's routed bytes). */
  #recent: Map<number, number> | null = null;
  #before: Map<number, number> | null = null;
  #epochBytes = 0;
  readonly #reserve: number;

  constructor(o: FlowQueueOptions) {
    this.#o = o;
    this.#reserve = Math.max(1, Math.floor(o.window / 4));
  }

  /** Bytes control frames and light origins' frames may go past the window. */
  get reserve(): number { return this.#reserve; }

  /** An origin is light while what it sent recently is under the reserve. */
  #light(key: number): boolean {
    return (this.#recent?.get(key) ?? 0) + (this.#before?.get(key) ?? 0) < this.#reserve;
  }

  /** Whether an origin (its key53 of the 20-byte id) is light on this link now. */
  isLight(key: number): boolean { return this.#light(key); }

  /** Whether `frame` may go now, past everything queued, and within which bound (it is then the link's to send). */
  classify(frame: Uint8Array): Go {
    if (!isFlowFrame(frame)) return this.#control.length ? Go.QUEUE : Go.RESERVE;
    if (this.#queued === 0) return this.#light(key53(frame, OFF_FROM)) ? Go.RESERVE : Go.WINDOW;
    if (this.#control.length) return Go.QUEUE;
    const key = key53(frame, OFF_FROM);
    return !this.#flows?.has(key) && this.#light(key) ? Go.RESERVE : Go.QUEUE;
  }

  /** Counts a routed frame the link sent (by whatever path), for telling light origins from heavy ones. */
  sent(frame: Uint8Array): void {
    if (!isFlowFrame(frame)) return;
    const key = key53(frame, OFF_FROM);
    const recent = this.#recent ??= new Map();
    recent.set(key, (recent.get(key) ?? 0) + frame.length);
    this.#epochBytes += frame.length;
    if (this.#epochBytes >= this.#o.window) {
      this.#epochBytes = 0;
      this.#before = this.#recent;
      this.#recent = null;
    }
  }

  /** Bytes queued (control and flows). */
  get bytes(): number { return this.#queued; }

  /** Queue figures for stats: bytes, frames, and flows with frames waiting. */
  info(): { bytes: number; frames: number; flows: number } {
    let frames = this.#control.length;
    for (const f of this.#ring) frames += f.q.length - f.head;
    return { bytes: this.#queued, frames, flows: this.#ring.length };
  }

  /** One origin's frames in the queue: bytes and count. */
  flowOf(key: number): { bytes: number; frames: number } {
    const f = this.#flows?.get(key);
    return f ? { bytes: f.bytes, frames: f.q.length - f.head } : { bytes: 0, frames: 0 };
  }

  /** One origin's bytes in the queue (flowOf's bytes, with no object made: send() asks on every message). */
  flowBytes(key: number): number { return this.#flows?.get(key)?.bytes ?? 0; }

  /**
   * Queues a frame, given the bytes the transport already holds. False when it
   * cannot take it (over the link's or the flow's limit: counted as `congested`);
   * a heavier flow may lose its newest frames to make room.
   */
  push(frame: Uint8Array, transport: number): boolean {
    const len = frame.length;
    const o = this.#o;
    if (transport + len > o.maxBuffered) { o.countDrop('congested'); return false; }
    if (!isFlowFrame(frame)) {
      // Control frames and reports are small and go first; only the link's total bounds them.
      if (this.#queued + transport + len > o.maxBuffered) { o.countDrop('congested'); return false; }
      if (this.#control === NO_FRAMES) this.#control = [];
      this.#control.push(frame);
      this.#queued += len;
      return true;
    }
    const key = key53(frame, OFF_FROM);
    let flow = this.#flows?.get(key);
    if (flow && flow.bytes + len > o.maxFlowBuffer) { o.countDrop('congested'); return false; }
    while (this.#queued + transport + len > o.maxBuffered) {
      // Room is made by the heaviest flow; if that is this frame's own, the frame is refused.
      let heavy: Flow | null = null;
      for (const f of this.#ring) if (!heavy || f.bytes > heavy.bytes) heavy = f;
      if (!heavy || heavy === flow || heavy.bytes <= (flow?.bytes ?? 0) + len || heavy.q.length - heavy.head <= 0) {
        o.countDrop('congested');
        return false;
      }
      const victim = heavy.q.pop()!;
      heavy.bytes -= victim.length;
      this.#queued -= victim.length;
      o.countDrop('congested');
      if (heavy.q.length === heavy.head) this.#deactivate(heavy);
      else this.#maybeGo(heavy);
      o.hooks?.evicted?.(victim, 'congested');
    }
    if (!flow) {
      flow = { key, origin: frame.slice(OFF_FROM, OFF_FROM + 20), q: [], head: 0, bytes: 0, deficit: 0, topped: false, active: false, stopped: null };
      (this.#flows ??= new Map()).set(key, flow);
    }
    flow.q.push(frame);
    flow.bytes += len;
    this.#queued += len;
    if (!flow.active) {
      flow.active = true;
      if (this.#ring === NO_FLOWS) this.#ring = [];
      this.#ring.push(flow);
    }
    if (!flow.stopped && flow.bytes > o.flowMark) {
      flow.stopped = frame.slice(4, 32);
      o.hooks?.flowSignal?.(flow.stopped, flow.origin, true);
    }
    return true;
  }

  /**
   * Sends queued frames while `canWrite` allows (`reserve`: may the frame use the reserve past the
   * window; `len`: the frame's length, as a frame longer than the window has a bound of its own):
   * control first, then light origins' frames, then every flow by DRR.
   */
  drain(canWrite: (reserve: boolean, len: number) => boolean, send: (frame: Uint8Array) => void): void {
    this.#drain(canWrite, send);
    if (this.#control.length === 0) this.#control = NO_FRAMES;
    if (this.#ring.length === 0) { this.#ring = NO_FLOWS; this.#ringPos = 0; }
  }

  #drain(canWrite: (reserve: boolean, len: number) => boolean, send: (frame: Uint8Array) => void): void {
    while (this.#control.length) {
      if (!canWrite(true, this.#control[0].length)) return;
      const f = this.#control.shift()!;
      this.#queued -= f.length;
      send(f);
    }
    if (this.#ring.length) this.#drainLight(canWrite, send);
    while (this.#queued > 0) {
      if (this.#control.length) {
        if (!canWrite(true, this.#control[0].length)) break;
        const f = this.#control.shift()!;
        this.#queued -= f.length;
        send(f);
        continue;
      }
      const flow = this.#ring[this.#ringPos];
      if (!flow) { this.#ringPos = 0; if (!this.#ring.length) break; continue; }
      const light = this.#light(flow.key);
      if (!canWrite(light, flow.q[flow.head].length)) break;
      if (!flow.topped) { flow.deficit += QUANTUM; flow.topped = true; }
      let stalled = false;
      while (flow.head < flow.q.length) {
        const f = flow.q[flow.head];
        if (f.length > flow.deficit) break;
        if (!canWrite(light, f.length)) { stalled = true; break; }
        flow.q[flow.head++] = undefined as unknown as Uint8Array;
        flow.deficit -= f.length;
        flow.bytes -= f.length;
        this.#queued -= f.length;
        this.sent(f);
        send(f);
      }
      if (stalled) break;
      if (flow.head === flow.q.length) { this.#deactivate(flow); continue; }
      if (flow.head > 1024 && flow.head * 2 > flow.q.length) { flow.q = flow.q.slice(flow.head); flow.head = 0; }
      this.#maybeGo(flow);
      flow.topped = false;
      this.#ringPos = (this.#ringPos + 1) % this.#ring.length;
    }
  }

  /** Light origins' queued frames go before the round: each while it stays light and the reserve allows. */
  #drainLight(canWrite: (reserve: boolean, len: number) => boolean, send: (frame: Uint8Array) => void): void {
    for (let i = 0; i < this.#ring.length;) {
      const flow = this.#ring[i];
      while (flow.head < flow.q.length && this.#light(flow.key)) {
        const f = flow.q[flow.head];
        if (!canWrite(true, f.length)) return;
        flow.q[flow.head++] = undefined as unknown as Uint8Array;
        flow.bytes -= f.length;
        this.#queued -= f.length;
        this.sent(f);
        send(f);
      }
      if (flow.head === flow.q.length) this.#deactivate(flow);
      else { this.#maybeGo(flow); i++; }
    }
  }

  /** Drops everything queued (the link closed): routed frames are reported through `evicted`. */
  clear(): void {
    const o = this.#o;
    for (let i = 0; i < this.#control.length; i++) o.countDrop('link_closed');
    this.#control = NO_FRAMES;
    const ring = this.#ring;
    this.#ring = NO_FLOWS;
    this.#ringPos = 0;
    this.#flows = null;
    this.#queued = 0;
    for (const flow of ring) {
      for (let i = flow.head; i < flow.q.length; i++) {
        o.countDrop('link_closed');
        o.hooks?.evicted?.(flow.q[i], 'link_closed');
      }
    }
  }

  #maybeGo(f: Flow): void {
    if (f.stopped && f.bytes <= this.#o.flowMark / 2) {
      const ref = f.stopped;
      f.stopped = null;
      this.#o.hooks?.flowSignal?.(ref, f.origin, false);
    }
  }

  #deactivate(f: Flow): void {
    const i = this.#ring.indexOf(f);
    if (i >= 0) {
      this.#ring.splice(i, 1);
      if (i < this.#ringPos) this.#ringPos--;
      if (this.#ringPos >= this.#ring.length) this.#ringPos = 0;
    }
    f.active = false;
    f.deficit = 0;
    f.topped = false;
    f.q = [];
    f.head = 0;
    this.#maybeGo(f);
    const flows = this.#flows;
    if (flows && flows.delete(f.key) && flows.size === 0) this.#flows = null;
  }
}
