/**
 * The file source: saved Yahoo API responses (JSON as the API returns it, or XML), a folder
 * of them, or NDJSON rows, replayed through the same parser as the live API. Records are
 * grouped by league; each league is one job (its season from the response's league metadata,
 * else its game key, else its earliest transaction's year: see seasons.ts), paged in input
 * order like the API pages a season, so paging, cursors and resume work as for the API.
 *
 * A record is one transaction of a saved response (as Yahoo counts them for `start`) or one
 * non-blank NDJSON line. A bad NDJSON line becomes a rejected record that names its line
 * number; when it names no league it is filed under the league of the line before it.
 */
import { resolve } from 'node:path';
import { InvalidOptionError, SourceError } from '../../errors.js';
import type { ParsedPage } from '../../model/index.js';
import type { PageRequest, Source, SourceSpec } from '../types.js';
import { isPlainObject, rejectUnknownOptions } from '../yahoo/options.js';
import { loadInput, readRecords } from './load.js';
import { isSharedNdjson, plannedShare } from './shared.js';
import type { LoadedInput } from './load.js';

export interface FileSourceOptions {
  /**
   * A saved API response (`.json` or `.xml`), a folder of them, or an NDJSON file (`.ndjson`
   * or `.jsonl`, one `TransactionRow` per line, camelCase or snake_case keys). A relative path
   * is resolved against the current directory when the source is described.
   */
  input: string;
}

export interface ResolvedFileSourceOptions {
  /** Absolute path of the input. */
  input: string;
}

/** A job of a file input: one league, one season. */
export interface FileJob {
  leagueKey: string;
  season: number;
}

const OPTION_NAMES = ['input'] as const;
/** Where `fileSource()` puts the planning thread's shared copy of an NDJSON input. */
const SHARE_OPTION = 'sharedInput';

export function resolveFileSourceOptions(options: unknown): ResolvedFileSourceOptions {
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object { input } naming the file or folder to read', options);
  rejectUnknownOptions(options, OPTION_NAMES);
  const input = options['input'];
  if (typeof input !== 'string' || input.trim() === '') {
    throw new InvalidOptionError('input', 'the path of a saved API response, a folder of them, or an NDJSON file', input);
  }
  return { input: resolve(input) };
}

/**
 * A serialisable description of a file source, for the fetch workers. Checks the options
 * only; `planFileJobs()` reads the input and reports bad input.
 */
export function fileSource(options: FileSourceOptions): SourceSpec {
  const resolved = resolveFileSourceOptions(options);
  // A file planned in this thread goes to the workers in shared memory (shared.ts).
  const share = plannedShare(resolved.input);
  return { kind: 'file', options: { ...resolved, ...(share ? { [SHARE_OPTION]: share } : {}) } };
}

/**
 * Reads `input` and returns its jobs, one per league and season, in input order: what the
 * calling thread enqueues. Throws `BackfillError('ERR_INPUT')` naming the path and the
 * problem (missing path, unsupported file, not JSON, no transactions), before any database
 * work starts.
 *
 * @example
 * for (const job of await planFileJobs('saved/')) engine.enqueue(job);
 */
export async function planFileJobs(input: string): Promise<FileJob[]> {
  const loaded = await loadInput(resolveFileSourceOptions({ input }).input, { publish: true });
  return [...loaded.leagues.values()].map(({ leagueKey, season }) => ({ leagueKey, season }));
}

/**
 * The file source, as it runs in a fetch worker. The input is read once, on the first page,
 * and kept for the life of the source (the fetch worker keeps one source per description).
 * `fetchPage` returns records [start, start + pageSize) of the job's league, in input order.
 */
export function createFileSource(options: unknown): Source {
  // The shared copy is the package's own addition to the description, not a user's option.
  const { [SHARE_OPTION]: share, ...given } = (isPlainObject(options) ? options : { options }) as Record<string, unknown>;
  const { input } = resolveFileSourceOptions(isPlainObject(options) ? given : options);
  let loading: Promise<LoadedInput> | null = null;
  const loaded = (): Promise<LoadedInput> => {
    loading ??= loadInput(input, isSharedNdjson(share) ? { share } : {});
    // A read that failed (say, a file briefly locked) is tried again on the next page.
    loading.catch(() => {
      loading = null;
    });
    return loading;
  };
  return {
    kind: 'file',
    async fetchPage(request: PageRequest): Promise<ParsedPage> {
      const { job, start, pageSize, signal } = request;
      signal?.throwIfAborted();
      if (!Number.isInteger(start) || start < 0) throw new InvalidOptionError('start', 'an integer of at least 0', start);
      if (!Number.isInteger(pageSize) || pageSize < 1) throw new InvalidOptionError('pageSize', 'an integer of at least 1', pageSize);
      const { leagues } = await loaded();
      const league = leagues.get(job.leagueKey);
      if (league === undefined || league.season !== job.season) {
        const jobs = [...leagues.values()].map((entry) => `${entry.leagueKey} ${entry.season}`).join(', ');
        throw new SourceError(`Input ${input} has no transactions of league ${job.leagueKey} season ${job.season}; it has: ${jobs}`);
      }
      const records = readRecords(league, start, pageSize);
      return {
        rows: records.flatMap((record) => record.rows),
        rejected: records.flatMap((record) => record.rejected),
        recordCount: records.length,
      };
    },
  };
}
