/**
 * Time as the routing layer sees it: the wall clock in a node, a virtual one
 * in the simulator (bench/sim). Timers made through a Clock never keep the
 * process alive.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout(handle) { clearTimeout(handle as ReturnType<typeof setTimeout>); },
};

/** `ms` spread uniformly over ±`fraction` of itself, so nodes made together do not act together. */
export function jitter(ms: number, fraction = 0.25, rand: () => number = Math.random): number {
  return ms * (1 - fraction + 2 * fraction * rand());
}
