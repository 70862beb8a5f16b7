/**
 * Reads a file source's input (one saved response, a folder of them, or an NDJSON file)
 * into records grouped by league, each league with its season. Bad input is a
 * `BackfillError('ERR_INPUT')` that names the path and the problem.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { BackfillError } from '../../errors.js';
import { parseYahooError } from '../yahoo-format/index.js';
import { indexNdjson, readIndexedLine } from './ndjson.js';
import { identityOf, linesOfShare, readIntoSharedMemory, shareNdjson } from './shared.js';
import type { SharedNdjson } from './shared.js';
import type { NdjsonLine } from './ndjson.js';
import { LEAGUE_KEY_PATTERN, readJsonResponse, readXmlResponse } from './records.js';
import type { InputRecord } from './records.js';
import { inferSeason } from './seasons.js';
import type { SeasonEvidence } from './seasons.js';

/** A record as the input keeps it: parsed (saved responses), or a line of NDJSON parsed when paged. */
export type StoredRecord = InputRecord | NdjsonLine;

/** One league of the input: its season and its records in input order. */
export interface InputLeague {
  leagueKey: string;
  season: number;
  seasonEvidence: SeasonEvidence;
  records: StoredRecord[];
}

/** Records [start, start + count) of a league, as fresh objects the caller may change. */
export function readRecords(league: InputLeague, start: number, count: number): InputRecord[] {
  return league.records.slice(start, start + count).map((record) => ('kind' in record
    ? readIndexedLine(record)
    : { leagueKey: record.leagueKey, rows: record.rows.map((row) => ({ ...row })), rejected: record.rejected.map((entry) => ({ ...entry })) }));
}

export interface LoadedInput {
  /** The input as given, resolved to an absolute path. */
  path: string;
  /** The files read, in the order their records were taken. */
  files: string[];
  /** Leagues in the order of their first record. */
  leagues: Map<string, InputLeague>;
}

const EXTENSIONS = ['.json', '.xml', '.ndjson', '.jsonl'] as const;
const EXPECTED = 'a saved API response (.json or .xml), an NDJSON file of rows (.ndjson or .jsonl), or a folder of them';

/** What one file contributed. */
interface FileRecords {
  records: StoredRecord[];
  metadata: Array<{ leagueKey: string; season: number }>;
}

function inputError(message: string, cause?: unknown): BackfillError {
  return new BackfillError('ERR_INPUT', message, cause === undefined ? undefined : { cause });
}

export interface LoadOptions {
  /** Put a single NDJSON file and its line index in shared memory for the fetch workers (shared.ts): the planning thread does. */
  publish?: boolean;
  /** A shared copy made by the planning thread: used instead of reading the file, if the file is still the one it was made from. */
  share?: SharedNdjson;
}

/**
 * Loads `input`. A folder contributes its `.json`, `.xml`, `.ndjson` and `.jsonl` files
 * (not its subfolders), in name order with numbers compared as numbers (`page-2` before
 * `page-10`); other files are ignored.
 */
export async function loadInput(input: string, options: LoadOptions = {}): Promise<LoadedInput> {
  const path = resolve(input);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw inputError(error.code === 'ENOENT'
      ? `Input ${JSON.stringify(input)} does not exist (looked for ${path}); expected ${EXPECTED}`
      : `Input ${path} cannot be read: ${error.message}`, error);
  });
  let files: string[];
  if (info.isDirectory()) {
    const names = await readdir(path, { withFileTypes: true }).catch((error: Error) => {
      throw inputError(`Input folder ${path} cannot be read: ${error.message}`, error);
    });
    files = names
      .filter((entry) => entry.isFile() && isSupported(entry.name))
      .map((entry) => entry.name)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .map((name) => join(path, name));
    if (files.length === 0) throw inputError(`Input folder ${path} holds no .json, .xml, .ndjson or .jsonl files; expected ${EXPECTED}`);
  } else if (info.isFile()) {
    if (!isSupported(path)) throw inputError(`Input ${path} is not ${EXPECTED} (by its extension ${JSON.stringify(extname(path) || 'none')})`);
    files = [path];
  } else {
    throw inputError(`Input ${path} is neither a file nor a folder; expected ${EXPECTED}`);
  }

  const records: StoredRecord[] = [];
  const metadataSeasons = new Map<string, number>();
  const single = files.length === 1 && info.isFile() && isNdjson(path);
  for (const file of files) {
    const read = single ? await readSingleNdjson(path, info, options) : await readInputFile(file);
    // Not push(...records): a spread of a few hundred thousand arguments overflows the stack.
    for (const record of read.records) records.push(record);
    for (const { leagueKey, season } of read.metadata) if (!metadataSeasons.has(leagueKey)) metadataSeasons.set(leagueKey, season);
  }
  // Every indexed NDJSON line is a row or a rejected record.
  if (!records.some((record) => 'kind' in record || record.rows.length > 0 || record.rejected.length > 0)) {
    throw inputError(`Input ${path} holds no transactions${files.length > 1 ? ` in any of its ${files.length} files` : ''}`);
  }
  return { path, files, leagues: groupByLeague(path, records, metadataSeasons) };
}

function earliestTimestamp(records: readonly StoredRecord[]): number | null {
  let earliest: number | null = null;
  for (const record of records) {
    for (const { timestamp } of ('kind' in record ? readIndexedLine(record) : record).rows) {
      if (timestamp !== null && (earliest === null || timestamp < earliest)) earliest = timestamp;
    }
  }
  return earliest;
}

function isNdjson(name: string): boolean {
  const extension = extname(name).toLowerCase();
  return extension === '.ndjson' || extension === '.jsonl';
}

/** An input that is one NDJSON file: from the planning thread's shared copy, or read (and shared, when asked). */
async function readSingleNdjson(path: string, info: Stats, options: LoadOptions): Promise<FileRecords> {
  const shared = options.share === undefined ? null : linesOfShare(path, options.share);
  if (shared !== null) return { records: shared, metadata: [] };
  if (!options.publish) return readInputFile(path);
  const bytes = await readIntoSharedMemory(path, info.size).catch((error: Error) => {
    throw inputError(`Input ${path} cannot be read: ${error.message}`, error);
  });
  const records = indexNdjson(bytes);
  if (records.length === 0) throw inputError(`Input ${path} holds no rows (every line is blank)`);
  shareNdjson(path, identityOf(info), bytes, records);
  return { records, metadata: [] };
}

function isSupported(name: string): boolean {
  return (EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

async function readInputFile(file: string): Promise<FileRecords> {
  const bytes = await readFile(file).catch((error: Error) => {
    throw inputError(`Input ${file} cannot be read: ${error.message}`, error);
  });
  const extension = extname(file).toLowerCase();
  if (isNdjson(file)) {
    const records = indexNdjson(bytes);
    if (records.length === 0) throw inputError(`Input ${file} holds no rows (every line is blank)`);
    return { records, metadata: [] };
  }
  const text = bytes.toString('utf8');
  if (extension === '.xml') return readXmlFile(file, text);
  return readJsonFile(file, text);
}

function readJsonFile(file: string, text: string): FileRecords {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw inputError(`Input ${file} is not valid JSON (${(error as Error).message}); a file of one row per line must be named .ndjson or .jsonl`, error);
  }
  const yahooError = parseYahooError(body);
  if (yahooError !== null) throw inputError(`Input ${file} is a saved Yahoo error, not transactions: ${JSON.stringify(yahooError.description)}`);
  if (typeof body !== 'object' || body === null || !Object.hasOwn(body, 'fantasy_content')) {
    throw inputError(`Input ${file} is JSON but not a saved Yahoo Fantasy API response (it has no fantasy_content)`);
  }
  const { records, metadata, hasTransactions } = readJsonResponse(body);
  // A response without transactions (league settings, teams) may still tell the seasons of its leagues.
  if (!hasTransactions && metadata.length === 0) throw inputError(`Input ${file} is a Yahoo API response without transactions or league metadata`);
  return { records, metadata };
}

function readXmlFile(file: string, text: string): FileRecords {
  const records = readXmlResponse(text);
  if (records === null) {
    const yahooError = parseYahooError(text);
    throw inputError(yahooError !== null
      ? `Input ${file} is a saved Yahoo error, not transactions: ${JSON.stringify(yahooError.description)}`
      : `Input ${file} is not well-formed XML`);
  }
  if (records.length === 0) {
    const yahooError = parseYahooError(text);
    if (yahooError !== null) throw inputError(`Input ${file} is a saved Yahoo error, not transactions: ${JSON.stringify(yahooError.description)}`);
  }
  return { records, metadata: [] };
}

/**
 * Groups records by league in input order. A record that names no league (an NDJSON line
 * that is not even JSON) goes with the record before it, or the first one after it when it
 * leads: it is still stored as rejected, under a job of the same input.
 */
function groupByLeague(path: string, records: readonly StoredRecord[], metadataSeasons: ReadonlyMap<string, number>): Map<string, InputLeague> {
  const grouped = new Map<string, StoredRecord[]>();
  const firstKnown = records.find((record) => record.leagueKey !== null)?.leagueKey ?? null;
  if (firstKnown === null) {
    let reason: string | undefined;
    for (const record of records) {
      reason = ('kind' in record ? readIndexedLine(record) : record).rejected[0]?.reason;
      if (reason !== undefined) break;
    }
    throw inputError(`Input ${path} holds no record that names its league${reason === undefined ? '' : `; the first problem: ${reason}`}`);
  }
  let current = firstKnown;
  for (const record of records) {
    current = record.leagueKey ?? current;
    const list = grouped.get(current);
    if (list === undefined) grouped.set(current, [record]);
    else list.push(record);
  }

  const leagues = new Map<string, InputLeague>();
  for (const [leagueKey, leagueRecords] of grouped) {
    if (!LEAGUE_KEY_PATTERN.test(leagueKey)) {
      throw inputError(`Input ${path} holds transactions of ${JSON.stringify(leagueKey)}, which is not a league key of the form {game_key}.l.{league_id}`);
    }
    // The earliest timestamp is the last evidence of a season, and NDJSON lines are only read
    // for it when the league's metadata and game key say nothing.
    const season = inferSeason(leagueKey, metadataSeasons.get(leagueKey), null)
      ?? inferSeason(leagueKey, undefined, earliestTimestamp(leagueRecords));
    if (season === null) {
      throw inputError(`Input ${path}: cannot tell the season of league ${leagueKey}: no league metadata, a game key that is not in the table, and no timestamps`);
    }
    leagues.set(leagueKey, { leagueKey, season: season.season, seasonEvidence: season.evidence, records: leagueRecords });
  }
  return leagues;
}
