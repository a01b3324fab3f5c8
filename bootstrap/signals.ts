/**
 * Stopping on SIGINT and SIGTERM: the first signal starts a graceful close and
 * the process then exits by itself (code 0) once nothing is left running. The
 * same signal again within DUPLICATE_WINDOW_MS is the same request, not a second
 * one: Ctrl-C on `npm start` reaches node twice, once from the terminal (the
 * whole process group) and once forwarded by npm; a process manager that
 * signals every process in the group does the same. A later second signal exits
 * at once (code 1), and a close still running after STOP_TIMEOUT_MS exits 1.
 */
import type { Logger } from './logger.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export const DUPLICATE_WINDOW_MS = 1000;
export const STOP_TIMEOUT_MS = 5000;

export function stopOnSignals(close: () => Promise<void>, log: Logger): void {
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < DUPLICATE_WINDOW_MS) return;
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    log.info('shutting down', { signal });
    // A stuck close must not keep the process alive: a process manager waits for it.
    setTimeout(() => { log.error('shutdown timed out', { afterMs: STOP_TIMEOUT_MS }); process.exit(1); }, STOP_TIMEOUT_MS).unref();
    close().then(() => {
      log.info('stopped');
    }, (err: Error) => {
      log.error('close failed', { err });
      process.exitCode = 1;
    }).finally(() => {
      // The handlers stay until the close is done, so a signal meanwhile never kills
      // the process half-closed; after it they go, and nothing holds the loop open.
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    });
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
}
