import { join } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { createCliLogger, InvalidOptionError, LOG_FORMATS, LOG_LEVELS, resolveFlagsPath, type LogFormat, type Logger } from '../index.js';
import { terminalLines, type OutputStream } from './output.js';

/** The options every command accepts (DESIGN section 6). */
export interface CommonOptions {
  db?: string;
  env?: string;
  flags?: string;
  json?: boolean;
  logLevel?: string;
  logFormat?: string;
}

export type Environment = 'production' | 'test';

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  /** Aborted by the first SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export interface CliContext extends CliIo {
  databasePath: string;
  /** True when no --db / LEAGUE_BACKFILL_DB was given: only then may the data/ folder be created. */
  databaseIsDefault: boolean;
  environment: Environment;
  /** The database of the other environment (production <-> test), for commands that treat both. */
  twinDatabasePath: string;
  flagsPath: string;
  json: boolean;
  /** How log lines look on stderr: `pretty` on a terminal, `json` elsewhere, with --json, or as asked. */
  logFormat: LogFormat;
  logger: Logger;
}

export const DEFAULT_DATA_FOLDER = 'data';
const DATABASE_FILES: Record<Environment, string> = {
  production: 'league_analytics.db',
  test: 'league_analytics_test.db',
};

/**
 * Resolves the common options, flags first and environment variables second. Pure apart from
 * reading `env`: nothing is opened or created here, so a bad argument leaves no file behind.
 */
export function resolveContext(options: CommonOptions, io: CliIo): CliContext {
  const environment = parseEnvironment(options.env, io.env.LEAGUE_BACKFILL_ENV);
  const logLevel = parseLogLevel(options.logLevel, io.env.LEAGUE_BACKFILL_LOG_LEVEL);
  const json = options.json ?? false;
  const logFormat = parseLogFormat(options.logFormat, io.env.LEAGUE_BACKFILL_LOG_FORMAT, json, io.stderr.isTTY === true);
  const explicitDb = options.db ?? nonEmpty(io.env.LEAGUE_BACKFILL_DB);
  // Name what the user typed: the option, or the variable when the value came from the environment.
  if (explicitDb !== undefined && explicitDb.trim() === '') throw new InvalidOptionError(options.db !== undefined ? '--db' : 'LEAGUE_BACKFILL_DB', 'a file path', explicitDb);
  if (options.flags !== undefined && options.flags.trim() === '') throw new InvalidOptionError('--flags', 'a file path', options.flags);
  const databasePath = explicitDb ?? join(DEFAULT_DATA_FOLDER, DATABASE_FILES[environment]);
  const twinDatabasePath = explicitDb === undefined
    ? join(DEFAULT_DATA_FOLDER, DATABASE_FILES[environment === 'production' ? 'test' : 'production'])
    : twinOf(explicitDb);
  const flagsPath = resolveFlagsPath({ flagsPath: options.flags, databasePath, env: io.env });
  return {
    ...io,
    databasePath,
    databaseIsDefault: explicitDb === undefined,
    environment,
    twinDatabasePath,
    flagsPath,
    json,
    logFormat,
    logger: createCliLogger(logLevel, {
      format: logFormat,
      destination: terminalLines(io.stderr),
      colors: logFormat === 'pretty' && io.stderr.isTTY === true && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb',
    }),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parseEnvironment(flag: string | undefined, variable: string | undefined): Environment {
  const value = flag ?? nonEmpty(variable) ?? 'production';
  if (value !== 'production' && value !== 'test') {
    throw new InvalidOptionError(flag !== undefined ? '--env' : 'LEAGUE_BACKFILL_ENV', 'production or test', value);
  }
  return value;
}

function parseLogLevel(flag: string | undefined, variable: string | undefined): LevelWithSilent {
  const value = flag ?? nonEmpty(variable) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new InvalidOptionError(flag !== undefined ? '--log-level' : 'LEAGUE_BACKFILL_LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, value);
  }
  return value as LevelWithSilent;
}

/**
 * An explicit --log-format wins; then --json (whoever asks for machine output wants machine
 * logs too); then LEAGUE_BACKFILL_LOG_FORMAT; then human lines on a terminal, JSON elsewhere.
 */
export function parseLogFormat(flag: string | undefined, variable: string | undefined, json: boolean, terminal: boolean): LogFormat {
  const value = flag ?? (json ? 'json' : undefined) ?? nonEmpty(variable) ?? (terminal ? 'pretty' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(value)) {
    throw new InvalidOptionError(flag !== undefined ? '--log-format' : 'LEAGUE_BACKFILL_LOG_FORMAT', `one of ${LOG_FORMATS.join(', ')}`, value);
  }
  return value as LogFormat;
}

/** `x.db` <-> `x_test.db`: the naming DESIGN uses for the two environments. */
function twinOf(path: string): string {
  if (/_test\.db$/.test(path)) return path.replace(/_test\.db$/, '.db');
  if (/\.db$/.test(path)) return path.replace(/\.db$/, '_test.db');
  return `${path}_test`;
}

/** Writes one JSON object on stdout (the `--json` contract). */
export function printJson(context: CliIo, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
