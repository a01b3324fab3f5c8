/**
 * Node globals that bundled code reads, injected by the bundle build in place
 * of the free identifiers (esbuild `inject`), never as real globals:
 * - `process` (nextTick, env, browser): readable-stream, under simple-peer.
 * - `setImmediate`/`clearImmediate`: src/session/session-manager.ts and
 *   src/transport/memory.ts call them; in a browser they are a zero-delay
 *   macrotask, which is what those callers want.
 * No Buffer is injected.
 */
type Tick = (...args: unknown[]) => void;

export const process = {
  browser: true,
  env: {} as Record<string, string | undefined>,
  version: '',
  versions: {} as Record<string, string>,
  nextTick(fn: Tick, ...args: unknown[]): void { queueMicrotask(() => fn(...args)); },
};

export function setImmediate(fn: Tick, ...args: unknown[]): ReturnType<typeof setTimeout> {
  return setTimeout(fn, 0, ...args);
}

export function clearImmediate(handle: ReturnType<typeof setTimeout> | null | undefined): void {
  if (handle != null) clearTimeout(handle);
}
