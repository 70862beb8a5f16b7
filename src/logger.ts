import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `json`: one JSON object per line, for machines. `pretty`: one short human line per record, for a terminal. */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Where the command line's log lines go: anything that takes a whole line at a time, synchronously. */
export interface LogSink {
  write(chunk: string): void;
}

export interface CliLoggerOptions {
  /** @default 'json' */
  format?: LogFormat;
  /** @default standard error, written synchronously */
  destination?: LogSink;
  /** ANSI colours on the level names (pretty only). @default false */
  colors?: boolean;
}

/**
 * The logger a library user gets when they pass none: silent, so importing the engine
 * never writes to a host application's streams.
 */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The command line's logger, on stderr so stdout stays free for `--json` output and for pipes.
 * Writes are synchronous, so the last lines before an exit are never lost; `pretty` formats in
 * this thread (no transport worker), so a log line and a progress bar never race for the terminal.
 */
export function createCliLogger(level: LevelWithSilent = 'info', options: CliLoggerOptions = {}): Logger {
  const format = options.format ?? 'json';
  if (!LOG_FORMATS.includes(format)) throw new TypeError(`Expected \`format\` to be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  const target = options.destination ?? pino.destination({ fd: 2, sync: true });
  const colors = options.colors ?? false;
  const destination: LogSink = format === 'json' ? target : { write: (chunk) => target.write(prettyChunk(chunk, colors)) };
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Bound by pino or by our own base: known to every line, so not worth a column on a terminal. */
const HIDDEN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg']);
const MAX_VALUE_LENGTH = 120;

function prettyChunk(chunk: string, colors: boolean): string {
  let out = '';
  for (const line of chunk.split('\n')) {
    if (line === '') continue;
    try {
      out += `${formatLogLine(JSON.parse(line) as Record<string, unknown>, { colors })}\n`;
    } catch {
      out += `${line}\n`; // not one of pino's lines: pass it through rather than lose it
    }
  }
  return out;
}

/**
 * One log record as one human line: time, level, message, then the record's figures as
 * `key=value`, e.g. `09:52:15.909 INFO  backfill starting  database=data/x.db jobs=24 source=demo`.
 */
export function formatLogLine(record: Record<string, unknown>, options: { colors?: boolean } = {}): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  const name = (LEVEL_NAMES[level] ?? `L${level}`).padEnd(5);
  const label = options.colors ? `\u001b[${LEVEL_COLORS[level] ?? '0'}m${name}\u001b[0m` : name;
  const error = errorMessage(record.err);
  const message = typeof record.msg === 'string' && record.msg !== '' ? record.msg : error ?? '';
  const figures = Object.entries(record)
    .filter(([key, value]) => !HIDDEN_KEYS.has(key) && value !== undefined && !(key === 'err' && error === message))
    .map(([key, value]) => `${key}=${key === 'err' ? quote(error ?? '') : formatValue(value)}`);
  const head = [clock(record.time), label, message].filter((part) => part !== '').join(' ');
  // Two spaces set the figures apart from a message that has spaces of its own.
  return figures.length === 0 ? head : `${head}  ${figures.join(' ')}`;
}

function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  if (Number.isNaN(date.getTime())) return '';
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function errorMessage(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? value : undefined;
  const message = (value as { message?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'boolean' || value === null) return String(value);
  // A set of switches (the feature flags): the ones that are on say more than seven booleans.
  if (typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > 0 && entries.every(([, v]) => typeof v === 'boolean')) {
      const on = entries.filter(([, v]) => v).map(([k]) => k);
      return `[${on.length === 0 ? 'none on' : on.join(',')}]`;
    }
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > MAX_VALUE_LENGTH ? `${json.slice(0, MAX_VALUE_LENGTH - 1)}…` : json;
}

function quote(text: string): string {
  const short = text.length > MAX_VALUE_LENGTH * 2 ? `${text.slice(0, MAX_VALUE_LENGTH * 2 - 1)}…` : text;
  return /^[^\s"=]+$/.test(short) ? short : JSON.stringify(short);
}
