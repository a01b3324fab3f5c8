/**
 * The virtual-time network of simulator level b: an event queue (a binary
 * heap on time), a clock the routing code reads, and links that deliver
 * frames after a latency. No crypto and no sockets: the real RoutingTable,
 * Router and Discovery run on top of it (see level-b.ts).
 *
 * An event is one object that is also its own cancel handle, and `call`
 * schedules a function with two arguments, so a frame in flight costs no
 * closure (at 100,000 nodes there are tens of millions of them).
 */
import type { Clock } from '../../src/util/clock.js';

interface Event {
  at: number;
  seq: number;
  fn: (a: unknown, b: unknown) => void;
  a: unknown;
  b: unknown;
  cancelled: boolean;
}

export class EventQueue implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Event[] = [];
  /** Events run so far. */
  ran = 0;

  now(): number { return this.#now; }

  /** Runs `fn` after `ms` of virtual time; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown {
    return this.call(ms, fn as (a: unknown, b: unknown) => void, undefined, undefined);
  }

  /** Runs `fn(a, b)` after `ms` of virtual time (no closure needed); returns a handle for `clearTimeout`. */
  call<A, B>(ms: number, fn: (a: A, b: B) => void, a: A, b: B): unknown {
    const e: Event = { at: this.#now + (ms > 0 ? ms : 0), seq: this.#seq++, fn: fn as (a: unknown, b: unknown) => void, a, b, cancelled: false };
    this.#push(e);
    return e;
  }

  clearTimeout(handle: unknown): void {
    if (handle && typeof handle === 'object') (handle as Event).cancelled = true;
  }

  get pending(): number { return this.#heap.length; }

  /**
   * Runs events up to virtual time `until`. Yields to the microtask queue every
   * `batch` events, so promise callbacks and queueMicrotask work run between them.
   */
  async runUntil(until: number, batch = 64): Promise<void> {
    const h = this.#heap;
    let k = 0;
    while (h.length > 0 && h[0].at <= until) {
      const e = this.#pop();
      if (e.cancelled) continue;
      this.#now = e.at;
      e.fn(e.a, e.b);
      e.a = e.b = undefined;
      this.ran++;
      if (++k % batch === 0) await null;
    }
    await null;
    this.#now = Math.max(this.#now, until);
  }

  #push(e: Event): void {
    const h = this.#heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const q = h[p];
      if (q.at < e.at || (q.at === e.at && q.seq < e.seq)) break;
      h[i] = q;
      i = p;
    }
    h[i] = e;
  }

  #pop(): Event {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        if (r < n && before(h[r], h[l])) m = r;
        if (!before(h[m], last)) break;
        h[i] = h[m];
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
