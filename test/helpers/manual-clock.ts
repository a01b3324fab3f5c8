/** A Clock whose timers run only when a test moves time on (`advance`), in due order. */
import type { Clock } from '../../src/util/clock.js';

export class ManualClock implements Clock {
  t = 0;
  timers: { at: number; fn: () => void; off: boolean }[] = [];
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown { const h = { at: this.t + ms, fn, off: false }; this.timers.push(h); return h; }
  clearTimeout(h: unknown): void { if (h) (h as { off: boolean }).off = true; }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((h) => !h.off && h.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.off = true;
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}
