/** Order statistics and rates for benchmark samples (all times in milliseconds). */

/** The q-quantile (0..1) of `samples` by nearest rank; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError('q must be from 0 to 1');
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export const median = (s: readonly number[]): number => quantile(s, 0.5);
export const p90 = (s: readonly number[]): number => quantile(s, 0.9);
export const p99 = (s: readonly number[]): number => quantile(s, 0.99);

export function mean(s: readonly number[]): number {
  if (s.length === 0) return NaN;
  let sum = 0;
  for (const x of s) sum += x;
  return sum / s.length;
}

/** Best (largest) and spread ((max - min) / max) of repeated rate measurements. */
export function bestAndSpread(rates: readonly number[]): { best: number; spread: number } {
  if (rates.length === 0) return { best: NaN, spread: NaN };
  const best = Math.max(...rates);
  const worst = Math.min(...rates);
  return { best, spread: best > 0 ? (best - worst) / best : 0 };
}

/** A monotonic clock in milliseconds with sub-microsecond resolution. */
export function now(): number {
  return performance.now();
}

/**
 * Runs `fn` repeatedly for about `ms` milliseconds after a short warm-up and
 * returns the cost per call. Calls are batched so the clock is read rarely.
 */
export function timeOp(fn: () => unknown, ms = 400): { opsPerSec: number; usPerOp: number; runs: number } {
  if (typeof fn !== 'function') throw new TypeError('fn must be a function');
  let batch = 1;
  // Warm-up, and size a batch to take about 5 ms.
  for (;;) {
    const t0 = now();
    for (let i = 0; i < batch; i++) fn();
    const dt = now() - t0;
    if (dt >= 5 || batch >= 1 << 20) break;
    batch *= 2;
  }
  let runs = 0;
  const start = now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn();
    runs += batch;
    elapsed = now() - start;
  }
  return { opsPerSec: (runs * 1000) / elapsed, usPerOp: (elapsed * 1000) / runs, runs };
}
