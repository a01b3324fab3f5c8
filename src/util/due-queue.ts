/**
 * One timer for many: items due at a time (ms since the epoch, like
 * `Date.now()`), kept in a binary min-heap, with one unref'd Node timer armed
 * for the earliest. Links schedule their keepalive ticks here instead of each
 * holding a Node timer: a `Timeout` with its closure, and a `TimersList` of its
 * own (Node keeps one list per distinct delay, and jittered delays are all
 * distinct), cost ~250 bytes per link end; an item here costs its heap slot.
 * Items fire in due order, each no earlier than its due time and as late as
 * Node timers fire when the event loop is late (the item sees that lateness).
 */
export interface DueItem {
  /** When the item is due (set by `schedule`). */
  dueAt: number;
  /** The item's place in the queue, -1 when it is not queued (kept by the queue; start at -1). */
  dueSlot: number;
  /** Called once when due (the item is no longer queued; it may schedule itself again). */
  onDue(): void;
}

export class DueQueue {
  readonly #heap: DueItem[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** When the armed timer fires (Infinity: none armed). */
  #timerAt = Infinity;

  /** Items queued. */
  get size(): number { return this.#heap.length; }

  /** Queues `item` for `at` (moving it if queued already). */
  schedule(item: DueItem, at: number): void {
    if (item.dueSlot >= 0) this.#remove(item.dueSlot);
    item.dueAt = at;
    const h = this.#heap;
    item.dueSlot = h.length;
    h.push(item);
    this.#up(item.dueSlot);
    this.#arm();
  }

  /** Takes `item` out of the queue (nothing if it is not queued). */
  cancel(item: DueItem): void {
    if (item.dueSlot < 0) return;
    this.#remove(item.dueSlot);
    if (this.#heap.length === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
    }
  }

  #arm(): void {
    const first = this.#heap[0];
    if (!first || first.dueAt >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = first.dueAt;
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, first.dueAt - Date.now()));
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const h = this.#heap;
    const now = Date.now();
    // Only what was due when the timer fired: an item that schedules itself again for now waits for the next turn.
    const due: DueItem[] = [];
    while (h.length && h[0].dueAt <= now) {
      const item = h[0];
      this.#remove(0);
      due.push(item);
    }
    this.#arm();
    for (const item of due) {
      try {
        item.onDue();
      } catch (err) {
        // As a throwing timer callback would: reported, and the other items still run.
        queueMicrotask(() => { throw err; });
      }
    }
  }

  #remove(i: number): void {
    const h = this.#heap;
    const item = h[i];
    item.dueSlot = -1;
    const last = h.pop()!;
    if (i === h.length) return;
    h[i] = last;
    last.dueSlot = i;
    this.#up(i);
    this.#down(last.dueSlot);
  }

  #up(i: number): void {
    const h = this.#heap;
    const item = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].dueAt <= item.dueAt) break;
      h[i] = h[p];
      h[i].dueSlot = i;
      i = p;
    }
    h[i] = item;
    item.dueSlot = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const item = h[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1].dueAt < h[c].dueAt) c++;
      if (h[c].dueAt >= item.dueAt) break;
      h[i] = h[c];
      h[i].dueSlot = i;
      i = c;
    }
    h[i] = item;
    item.dueSlot = i;
  }
}

/** The process's keepalive ticks (every link's). */
export const keepaliveQueue = new DueQueue();
