/**
 * The order in which a link hands up the routed frames that arrive together
 * (PROTOCOL.md §3.6, "Light origins first on receipt too"). A transport hands
 * up every frame of one read (a socket read: up to 64 KiB, several 16 KiB batch
 * records of a flood) before the event loop turns. Handled in arrival order, a
 * light flow's frame in that read waits for every flood frame ahead of it to be
 * opened and delivered. Here a heavy origin's frames wait until the end of the
 * turn (a microtask) instead, so a light origin's frame in the same read is
 * handed up first; everything is still handed up in the turn it arrived in, and
 * each origin's frames keep their order (an origin with frames waiting has its
 * next ones wait behind them, light or not).
 *
 * Light and heavy as on the sending side (flow-queue.ts): an origin is light
 * while its routed bytes received on this link over the current and the previous
 * epoch (a window's worth of the link's routed bytes) are under a quarter window.
 */
import { key53 } from '../util/bytes.js';

/** Offset of `from` in a routed frame (wire/envelope.ts). */
const OFF_FROM = 32;
/** The shortest routed frame (its envelope header). */
const HEADER = 52;

export class InboundOrder {
  readonly #window: number;
  readonly #reserve: number;
  /** Hands a frame up (and counts it consumed); called for every frame taken, in the order described above. */
  readonly #hand: (frame: Uint8Array) => void;
  /** Routed bytes received per origin in this epoch and the one before. */
  #recent: Map<number, number> | null = null;
  #before: Map<number, number> | null = null;
  #epochBytes = 0;
  /** Heavy origins' frames waiting for the end of this turn, in arrival order, and how many per origin. */
  #waiting: Uint8Array[] | null = null;
  #waitingBy: Map<number, number> | null = null;
  #flushQueued = false;

  constructor(window: number, hand: (frame: Uint8Array) => void) {
    this.#window = window;
    this.#reserve = Math.max(1, Math.floor(window / 4));
    this.#hand = hand;
  }

  /** Frames waiting for the end of this turn. */
  get waiting(): number { return this.#waiting?.length ?? 0; }

  /** Takes a routed frame: handed up now (a light origin with nothing waiting) or at the end of this turn. */
  take(frame: Uint8Array): void {
    if (frame.length < HEADER) { this.#hand(frame); return; }
    const key = key53(frame, OFF_FROM);
    const light = (this.#recent?.get(key) ?? 0) + (this.#before?.get(key) ?? 0) < this.#reserve;
    this.#count(key, frame.length);
    if (light && !this.#waitingBy?.has(key)) { this.#hand(frame); return; }
    (this.#waiting ??= []).push(frame);
    const by = this.#waitingBy ??= new Map();
    by.set(key, (by.get(key) ?? 0) + 1);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Hands up every waiting frame, in arrival order (also when the link closes: they arrived while it was open). */
  flush(): void {
    this.#flushQueued = false;
    const frames = this.#waiting;
    if (!frames) return;
    this.#waiting = null;
    this.#waitingBy = null;
    for (const f of frames) this.#hand(f);
  }

  #count(key: number, bytes: number): void {
    const recent = this.#recent ??= new Map();
    recent.set(key, (recent.get(key) ?? 0) + bytes);
    this.#epochBytes += bytes;
    if (this.#epochBytes >= this.#window) {
      this.#epochBytes = 0;
      this.#before = this.#recent;
      this.#recent = null;
    }
  }
}
