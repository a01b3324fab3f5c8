/**
 * CPU work that may wait a little, for every node in this process: the KEM
 * operations of session and link handshakes, and encapsulations made ahead of
 * time. At most `SLICE_MS` of it runs per event-loop turn (or as long as the
 * rest of the turn took, when that was longer), by priority
 * (session handshakes, then link handshakes, work made ahead only when nothing
 * else waits), so that many handshakes arriving together (one process hosting
 * many nodes, or one node dialed by many) cannot hold the event loop for
 * seconds: timers (keepalives, retries, time limits) stay on time, routed
 * frames (relaying costs no KEM) move on every turn, and a session handshake
 * does not queue behind link set-up.
 *
 * A job runs at once when nothing waits and this turn's slice is not spent,
 * so a lightly loaded node pays no latency for it.
 */

/** The lower the sooner: end-to-end session handshakes, then link handshakes, then work made ahead. */
export const CpuPriority = { SESSION: 0, LINK: 1, AHEAD: 2 } as const;
export type CpuPriorityCode = (typeof CpuPriority)[keyof typeof CpuPriority];

/**
 * Work run per event-loop turn (ms), once a job had to wait: at least this, or
 * as long as everything else took since the last slice, so a busy event loop
 * (routing, keepalives) never starves the queue: it gets half the CPU then.
 */
export const SLICE_MS = 12;

type Job = () => void;

const immediate: (fn: () => void) => void = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate
  ? (fn) => { (globalThis as unknown as { setImmediate: (fn: () => void) => unknown }).setImmediate(fn); }
  : (fn) => { setTimeout(fn, 0); };

export class CpuQueue {
  readonly #queues: Job[][] = [[], [], []];
  readonly #heads = [0, 0, 0];
  #waiting = 0;
  /** Work run in this turn (ms); reset at the next turn. */
  #spent = 0;
  #resetArmed = false;
  #drainArmed = false;
  /** A job is running: a job it adds waits its turn (no recursion, and its time counts). */
  #running = false;
  /** When the last slice ended (performance.now()). */
  #lastSliceEnd = 0;
  /** Mean cost of a job (ms, moving average): the backlog's estimate. */
  #mean = 1;
  readonly counters = { ran: 0, queued: 0 };

  /** Jobs waiting. */
  get waiting(): number { return this.#waiting; }
  /** Handshake jobs waiting (session and link; not work made ahead): while there are, this process is behind. */
  get urgent(): number {
    return this.#queues[CpuPriority.SESSION].length - this.#heads[CpuPriority.SESSION] + this.#queues[CpuPriority.LINK].length - this.#heads[CpuPriority.LINK];
  }
  /** Estimated work waiting (ms). */
  get backlogMs(): number { return this.#waiting * this.#mean; }

  /** Runs `job` now if nothing waits, no job is running and the turn's slice is not spent, else queues it. */
  run(priority: CpuPriorityCode, job: Job): void {
    if (!this.#running && this.#waiting === 0 && this.#spent < SLICE_MS) { this.#exec(job); return; }
    this.#queues[priority].push(job);
    this.#waiting++;
    this.counters.queued++;
    this.#armDrain();
  }

  #exec(job: Job): void {
    const t0 = performance.now();
    this.#running = true;
    try {
      job();
    } catch (err) {
      queueMicrotask(() => { throw err; });
    } finally {
      this.#running = false;
      const ms = performance.now() - t0;
      this.#spent += ms;
      this.#mean += (ms - this.#mean) / 16;
      this.counters.ran++;
      if (!this.#resetArmed) {
        this.#resetArmed = true;
        immediate(() => { this.#resetArmed = false; this.#spent = 0; });
      }
    }
  }

  #armDrain(): void {
    if (this.#drainArmed) return;
    this.#drainArmed = true;
    immediate(() => this.#drain());
  }

  /** One turn's slice: the most urgent jobs first, until SLICE_MS is spent. */
  #drain(): void {
    this.#drainArmed = false;
    this.#spent = 0;
    const start = performance.now();
    const budget = this.#lastSliceEnd > 0 ? Math.max(SLICE_MS, Math.min(start - this.#lastSliceEnd, 1000)) : SLICE_MS;
    while (this.#waiting > 0 && this.#spent < budget) {
      let p = 0;
      while (this.#queues[p].length <= this.#heads[p]) p++;
      const q = this.#queues[p];
      const job = q[this.#heads[p]];
      q[this.#heads[p]++] = undefined as unknown as Job;
      if (this.#heads[p] === q.length) { q.length = 0; this.#heads[p] = 0; } else if (this.#heads[p] > 1024 && this.#heads[p] * 2 > q.length) {
        q.splice(0, this.#heads[p]);
        this.#heads[p] = 0;
      }
      this.#waiting--;
      this.#exec(job);
    }
    this.#lastSliceEnd = performance.now();
    if (this.#waiting > 0) this.#armDrain(); else this.#lastSliceEnd = 0;
  }
}

/** The queue every node of this process shares (the CPU is the process's). */
export const cpuQueue = new CpuQueue();
