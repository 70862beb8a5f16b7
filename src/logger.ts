import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The logger a library user gets when they pass none: silent, so importing the engine
 * never writes to a host application's streams.
 */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The command line's logger: JSON lines on stderr, so stdout stays free for `--json` output
 * and for pipes. Synchronous writes, so the last lines before an exit are never lost.
 */
export function createCliLogger(level: LevelWithSilent = 'info'): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}
