/**
 * The pieces of the output layer, in this process: the human log line, the progress line,
 * the status line kept below other lines on a terminal, the help sections, and how the log
 * format and the backfill options are resolved. The real-terminal behaviour is in
 * cli-terminal.test.ts; these pin the exact text.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { resolveBackfillOptions } from '../src/cli/commands/backfill.js';
import { parseLogFormat } from '../src/cli/context.js';
import { formatExamples, formatExitCodes, withDefault } from '../src/cli/help.js';
import { TerminalLines } from '../src/cli/output.js';
import { formatProgressLine } from '../src/cli/progress.js';
import { defaultFetchWorkers } from '../src/engine/options.js';
import { BackfillError, InvalidOptionError } from '../src/errors.js';
import { createCliLogger, formatLogLine } from '../src/logger.js';

const TIME = /^\d\d:\d\d:\d\d\.\d{3} /;

describe('the human log line', () => {
  it('is time, level, message, then the figures as key=value', () => {
    const line = formatLogLine({ level: 30, time: '2026-12-01T09:52:15.909Z', pid: 1, msg: 'backfill starting', database: 'data/x.db', jobs: 24, source: 'demo' });
    expect(line).toMatch(TIME);
    expect(line.replace(TIME, '')).toBe('INFO  backfill starting  database=data/x.db jobs=24 source=demo');
  });

  it('lists the switches that are on, rounds fractions, quotes text with spaces, and uses the error when there is no message', () => {
    const line = formatLogLine({
      level: 40, time: Date.now(), msg: 'page fetch failed; retrying', flags: { wal_mode: true, aggressive_caching: false, retry_logic: true },
      delayMs: 123.456, err: 'socket hang up', holder: 'python3 nb.py',
    });
    expect(line.replace(TIME, '')).toBe('WARN  page fetch failed; retrying  flags=[wal_mode,retry_logic] delayMs=123.46 err="socket hang up" holder="python3 nb.py"');
    expect(formatLogLine({ level: 50, time: Date.now(), err: { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at x' } }).replace(TIME, '')).toBe('ERROR disk full');
  });

  it('colours only the level, and only when asked', () => {
    expect(formatLogLine({ level: 50, msg: 'x' }, { colors: true })).toContain('\u001b[31mERROR\u001b[0m x');
    expect(formatLogLine({ level: 50, msg: 'x' })).not.toContain('\u001b');
  });

  it('is what the CLI logger writes in pretty format, one line per record; json stays pino\'s JSON', () => {
    const pretty: string[] = [];
    createCliLogger('info', { format: 'pretty', destination: { write: (chunk) => { pretty.push(chunk); } } }).info({ jobs: 3 }, 'hello');
    expect(pretty).toHaveLength(1);
    expect(pretty[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  hello {2}jobs=3\n$/);
    const json: string[] = [];
    createCliLogger('info', { format: 'json', destination: { write: (chunk) => { json.push(chunk); } } }).info({ jobs: 3 }, 'hello');
    expect(JSON.parse(json[0]!)).toMatchObject({ level: 30, msg: 'hello', jobs: 3 });
  });
});

describe('the log format', () => {
  it('is --log-format if given, then json with --json, then LEAGUE_BACKFILL_LOG_FORMAT, then pretty on a terminal and json elsewhere', () => {
    expect(parseLogFormat('pretty', 'json', true, false)).toBe('pretty');
    expect(parseLogFormat(undefined, 'pretty', true, true)).toBe('json');
    expect(parseLogFormat(undefined, 'pretty', false, false)).toBe('pretty');
    expect(parseLogFormat(undefined, 'json', false, true)).toBe('json');
    expect(parseLogFormat(undefined, '', false, true)).toBe('pretty');
    expect(parseLogFormat(undefined, undefined, false, false)).toBe('json');
    expect(() => parseLogFormat('yaml', undefined, false, true)).toThrow(InvalidOptionError);
    expect(() => parseLogFormat(undefined, 'xml', false, true)).toThrow(/`LEAGUE_BACKFILL_LOG_FORMAT` to be one of json, pretty, got "xml"/);
  });
});

describe('the progress line', () => {
  const counts = { jobs: 24, completed: 8, alreadyComplete: 4, failed: 0, cancelled: 0, rows: 12_345, locks: 2 };

  it('counts jobs already complete as done, and shows failed and cancelled only when there are some', () => {
    expect(formatProgressLine(counts, 2000)).toBe(
      'backfill ██████████░░░░░░░░░░  50 % 12/24 jobs done (4 already complete) | 12,345 rows, 6,173/s | 2 locks | 2.0 s');
    expect(formatProgressLine({ ...counts, completed: 17, failed: 1, cancelled: 2 }, 1000, 80)).toBe(
      'backfill █████████░  87 % 21/24 jobs done (4 already complete) | 1 failed | 2 cancelled | 12,345 rows, 12,345/s | 2 locks | 1.0 s');
  });

  it('says 100 % only when every job is done', () => {
    expect(formatProgressLine({ ...counts, completed: 19 }, 1000)).toContain(' 95 % 23/24 jobs done');
    expect(formatProgressLine({ ...counts, completed: 20 }, 1000)).toContain('100 % 24/24 jobs done');
  });
});

/** A stream that says it is a terminal, 60 columns wide, and keeps what is written. */
function fakeTerminal(isTTY: boolean): { stream: Writable & { isTTY: boolean; columns: number }; written: () => string } {
  let text = '';
  const stream = Object.assign(new Writable({ write(chunk, _encoding, callback) { text += String(chunk); callback(); } }), { isTTY, columns: 60 });
  return { stream, written: () => text };
}

describe('lines and the status line', () => {
  it('writes a line above the status line and redraws the status below it', () => {
    const { stream, written } = fakeTerminal(true);
    const lines = new TerminalLines(stream);
    lines.status('backfill 1/2');
    lines.write('league-backfill: SIGINT received');
    lines.status('backfill 2/2');
    lines.endStatus(true);
    lines.write('Backfill finished');
    expect(written()).toBe('\r\u001b[2Kbackfill 1/2' + '\r\u001b[2Kleague-backfill: SIGINT received\nbackfill 1/2' + '\r\u001b[2Kbackfill 2/2' + '\n' + '\r\u001b[2KBackfill finished\n');
  });

  it('keeps the status line one row high: longer than the terminal, it is cut', () => {
    const { stream, written } = fakeTerminal(true);
    new TerminalLines(stream).status('x'.repeat(100));
    expect(written()).toBe(`\r\u001b[2K${'x'.repeat(58)}…`);
  });

  it('draws no status line when the stream is not a terminal', () => {
    const { stream, written } = fakeTerminal(false);
    const lines = new TerminalLines(stream);
    lines.status('backfill 1/2');
    lines.write('a line');
    lines.endStatus(true);
    expect(written()).toBe('a line\n');
  });
});

describe('help sections', () => {
  it('aligns comments beside short commands, and puts them above when one command is long', () => {
    expect(formatExamples([['league-backfill jobs', 'every job'], ['league-backfill jobs --json', 'for scripts'], 'league-backfill jobs --limit 5']))
      .toBe('Examples:\n  league-backfill jobs         # every job\n  league-backfill jobs --json  # for scripts\n  league-backfill jobs --limit 5');
    expect(formatExamples([['league-backfill backfill', 'demo'], [`league-backfill backfill ${'--seasons 2019-2024 '.repeat(3)}`.trim(), 'long']]))
      .toBe(`Examples:\n  # demo\n  league-backfill backfill\n  # long\n  league-backfill backfill ${'--seasons 2019-2024 '.repeat(3).trim()}`);
  });

  it('lists exit codes in order, right-aligned', () => {
    expect(formatExitCodes([[130, 'interrupted'], [0, 'success'], [2, 'bad usage']])).toBe('Exit codes:\n    0  success\n    2  bad usage\n  130  interrupted');
    expect(withDefault('info', 'LEAGUE_BACKFILL_LOG_LEVEL')).toBe(' (default: info; env LEAGUE_BACKFILL_LOG_LEVEL)');
  });
});

describe('backfill options, resolved in one place', () => {
  it('refuses --league without --source, naming the made-up demo source and both ways on', () => {
    const error = (() => {
      try {
        resolveBackfillOptions({ league: ['403.l.17457'] });
      } catch (caught) {
        return caught as BackfillError;
      }
      throw new Error('not refused');
    })();
    expect(error).toBeInstanceOf(BackfillError);
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain('`--league 403.l.17457` was given without `--source`');
    expect(error.message).toContain('--source yahoo');
    expect(error.message).toContain('--source demo');
    expect(resolveBackfillOptions({ league: ['403.l.17457'], source: 'demo' }).leagues).toEqual(['403.l.17457']);
    expect(resolveBackfillOptions({ league: ['403.l.17457', '403.l.17457'], source: 'yahoo' }).leagues).toEqual(['403.l.17457']);
  });

  it('defaults to one fetch worker on two cores for the demo and file sources, and two for yahoo', () => {
    expect([1, 2, 3, 8].map((cores) => defaultFetchWorkers('demo', cores))).toEqual([1, 1, 2, 2]);
    expect(defaultFetchWorkers('file', 2)).toBe(1);
    expect([1, 2, 8].map((cores) => defaultFetchWorkers('yahoo', cores))).toEqual([2, 2, 2]);
  });

  it('applies the defaults, and refuses an option of another source and an unknown option by name', () => {
    const resolved = resolveBackfillOptions({ json: true, db: 'x.db' });
    expect(resolved).toMatchObject({ source: 'demo', leagues: [], workers: defaultFetchWorkers('demo'), batchSize: 100, force: false, progress: true, busyTimeout: 5000, transactionBudget: 100 });
    expect(resolved.demo).toEqual({ leagues: 4, seed: 1, latency: 0, failureRate: 0 });
    expect(() => resolveBackfillOptions({ source: 'yahoo', league: ['423.l.1'], seed: 4 })).toThrow(/`--seed` to be used only with --source demo, got 4.*remove --seed/);
    expect(() => resolveBackfillOptions({ leagues: 3, source: 'file', input: 'x.json' })).toThrow(/`--leagues` to be used only with --source demo/);
    expect(() => resolveBackfillOptions({ apiBase: 'http://127.0.0.1:1' })).toThrow(/`--api-base` to be used only with --source yahoo/);
    expect(() => resolveBackfillOptions({ workerz: 3 })).toThrow(/`backfill option` to be one of .*, got "workerz"/);
  });
});
