/**
 * An optional hook that sees the steps of a session set-up and times the
 * crypto on them (bench/session.ts prints the breakdown of a cold first
 * message with it). Off by default: then each trace point costs one null
 * check, and nothing is recorded. Not part of the public API.
 */

/** `node`: the id of the node the step ran on (null inside crypto, which runs on the node of the last step). */
export type TraceHook = (step: string, node: Uint8Array | null, ms?: number) => void;

let hook: TraceHook | null = null;

/** Installs (or with null removes) the hook. One at a time, process-wide. */
export function setTraceHook(h: TraceHook | null): void { hook = h; }

/** Reports step `step + suffix` on `node` (the two parts are joined only when a hook listens). */
export function trace(step: string, node: Uint8Array, suffix = ''): void { if (hook) hook(step + suffix, node); }

/** Runs `f`; with a hook installed, reports `step` with how long `f` took (ms). */
export function timed<T>(step: string, f: () => T): T {
  if (!hook) return f();
  const t0 = performance.now();
  try {
    return f();
  } finally {
    hook(step, null, performance.now() - t0);
  }
}
