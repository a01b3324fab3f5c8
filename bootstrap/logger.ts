/**
 * Structured logs: one JSON object per line (`{"time","level","msg",...fields}`),
 * filtered by level, to a writable stream (stdout by default).
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = typeof LOG_LEVELS[number];

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LogSink { write(line: string): unknown }

export function createLogger(level: LogLevel = 'info', sink: LogSink = process.stdout): Logger {
  const min = LOG_LEVELS.indexOf(level);
  if (min < 0) throw new RangeError(`level must be one of ${LOG_LEVELS.join(', ')}, got ${String(level)}`);
  const log = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...fields };
    for (const [k, v] of Object.entries(entry)) if (v instanceof Error) entry[k] = { message: v.message, code: (v as { code?: string }).code };
    sink.write(JSON.stringify(entry) + '\n');
  };
  return {
    level,
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}
