// The process logger: pino JSON lines on stdout. Components take a child logger
// (`logger.child({ component: 'forward' })`); nothing is logged per query unless the query log is on.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false, minLength: 0 }),
  );
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = pino({ level: 'silent' });
