/**
 * The virtual-time network of simulator level b: an event queue (a binary
 * heap on time), a clock the routing code reads, and links that deliver
 * frames after a latency. No crypto and no sockets: the real RoutingTable,
 * Router and Discovery run on top of it (see level-b.ts).
 */
import type { Clock } from '../../src/util/clock.js';

interface Event { at: number; seq: number; fn: () => void }

export class EventQueue implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Event[] = [];
  /** Events run so far. */
  ran = 0;

  now(): number { return this.#now; }

  /** Runs `fn` after `ms` of virtual time; returns a handle for `cancel`. */
  setTimeout(fn: () => void, ms: number): { cancelled: boolean } {
    const e: Event & { cancelled?: boolean } = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    const handle = { cancelled: false };
    e.fn = () => { if (!handle.cancelled) fn(); };
    this.#push(e);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    if (handle && typeof handle === 'object') (handle as { cancelled: boolean }).cancelled = true;
  }

  get pending(): number { return this.#heap.length; }

  /**
   * Runs events up to virtual time `until`. Yields to the microtask queue every
   * `batch` events, so promise callbacks and queueMicrotask work run between them.
   */
  async runUntil(until: number, batch = 64): Promise<void> {
    let k = 0;
    while (this.#heap.length > 0 && this.#heap[0].at <= until) {
      const e = this.#pop();
      this.#now = e.at;
      e.fn();
      this.ran++;
      if (++k % batch === 0) await null;
    }
    await null;
    this.#now = Math.max(this.#now, until);
  }

  #push(e: Event): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  #pop(): Event {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
