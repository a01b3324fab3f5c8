/**
 * The `process` some of simple-peer's dependencies (readable-stream) expect,
 * injected by the bundle build in place of the free identifier `process`:
 * only nextTick, env and browser, nothing from Node.
 */
type Tick = (...args: unknown[]) => void;

export const process = {
  browser: true,
  env: {} as Record<string, string | undefined>,
  version: '',
  versions: {} as Record<string, string>,
  nextTick(fn: Tick, ...args: unknown[]): void { queueMicrotask(() => fn(...args)); },
};
