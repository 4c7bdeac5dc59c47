import { type Logger, pino } from 'pino';

export type { Logger };

/** The process logger: JSON lines on stdout, level from LOG_LEVEL (default info; tests default to silent). */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  return pino({ level, name: opts.name ?? 'switchboard', base: undefined });
}

/** A logger that discards everything (for components created without one). */
export const silentLogger: Logger = pino({ level: 'silent' });
