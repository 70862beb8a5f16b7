/**
 * Turns saved inputs into records: the units the file source pages through, one per
 * transaction record of a saved response (as Yahoo pages them) and one per NDJSON line.
 * Every record goes through the Yahoo parser (`parseTransactionRecord`,
 * `parseTransactionsXml`), so a saved response gives exactly the rows and rejected records
 * the API would have given. Nothing here throws on bad data: it becomes rejected records.
 */
import { describe } from '../../errors.js';
import { TRANSACTION_COLUMNS } from '../../model/index.js';
import type { RejectedRecord, TransactionRow } from '../../model/index.js';
import { parseTransactionRecord, parseTransactionsXml, RAW_LIMIT } from '../yahoo-format/index.js';

/** One record of the input: what it yields, and the league it belongs to (null when it cannot tell). */
export interface InputRecord {
  leagueKey: string | null;
  rows: TransactionRow[];
  rejected: RejectedRecord[];
}

export interface LeagueSeasonMetadata {
  leagueKey: string;
  season: number;
}

export interface JsonResponseRecords {
  records: InputRecord[];
  /** Seasons named by the league metadata in the response. */
  metadata: LeagueSeasonMetadata[];
  /** False when the response holds no transactions collection at all (league settings, teams, ...). */
  hasTransactions: boolean;
}

type JsonObject = Record<string, unknown>;

// ---------------------------------------------------------------------------------------
// JSON responses
// ---------------------------------------------------------------------------------------

/**
 * The records of a saved JSON response, in order, whatever the URL scope (league, leagues,
 * team, teams, transactions: FORMAT.md section 3; the same scopes the parser reads).
 */
export function readJsonResponse(body: unknown): JsonResponseRecords {
  const result: JsonResponseRecords = { records: [], metadata: [], hasTransactions: false };
  const content = field(body, 'fantasy_content');
  const scopes: Array<{ leagueKey: string | null; transactions: unknown }> = [];

  const addLeague = (resource: unknown): void => {
    if (!Array.isArray(resource)) return;
    const metadata = mergeFields(resource[0]);
    const leagueKey = nonEmptyString(field(metadata, 'league_key'));
    const season = field(metadata, 'season');
    if (leagueKey !== null && typeof season === 'string' && /^\d{4}$/.test(season)) {
      result.metadata.push({ leagueKey, season: Number(season) });
    }
    scopes.push({ leagueKey, transactions: subResource(resource, 'transactions') });
  };
  const addTeam = (resource: unknown): void => {
    if (!Array.isArray(resource)) return;
    const teamKey = nonEmptyString(field(mergeFields(resource[0]), 'team_key'));
    const leagueKey = teamKey === null ? null : (/^([^.]+\.l\.[^.]+)\.t\.[^.]+$/.exec(teamKey)?.[1] ?? null);
    scopes.push({ leagueKey, transactions: subResource(resource, 'transactions') });
  };

  const league = field(content, 'league');
  if (league !== undefined) addLeague(league);
  for (const entry of collectionValues(field(content, 'leagues'))) addLeague(field(entry, 'league'));
  const team = field(content, 'team');
  if (team !== undefined) addTeam(team);
  for (const entry of collectionValues(field(content, 'teams'))) addTeam(field(entry, 'team'));
  const transactions = field(content, 'transactions');
  if (transactions !== undefined) scopes.push({ leagueKey: null, transactions });

  for (const scope of scopes) {
    if (scope.transactions === undefined) continue;
    result.hasTransactions = true;
    if (typeof scope.transactions !== 'object' || scope.transactions === null) {
      // The parser reports this as one rejected record, so a garbled page is not mistaken for an empty one.
      result.records.push({
        leagueKey: scope.leagueKey,
        rows: [],
        rejected: [{ raw: rawText(scope.transactions), reason: `transactions is ${describe(scope.transactions)}, not a collection` }],
      });
      continue;
    }
    for (const record of collectionValues(scope.transactions)) {
      const { rows, rejected } = parseTransactionRecord(record, scope.leagueKey);
      result.records.push({ leagueKey: rows[0]?.leagueKey ?? leagueKeyOfRecord(record) ?? scope.leagueKey, rows, rejected });
    }
  }
  return result;
}

/** The league of a record that gave no row (a commissioner move, say), from its transaction key. */
function leagueKeyOfRecord(record: unknown): string | null {
  const parts = field(record, 'transaction');
  const key = Array.isArray(parts) ? nonEmptyString(field(mergeFields(parts[0]), 'transaction_key')) : null;
  return key === null ? null : leagueKeyOfTransactionKey(key);
}

// ---------------------------------------------------------------------------------------
// XML responses
// ---------------------------------------------------------------------------------------

/** `<transaction …>…</transaction>`; `<transaction_key>` and friends do not match. */
const XML_TRANSACTION = /<(?:[\w-]+:)?transaction(?=[\s>/])[\s\S]*?<\/(?:[\w-]+:)?transaction\s*>/g;
const XML_LEAGUE_KEY = /<(?:[\w-]+:)?league_key\s*>([^<]*)</g;

/**
 * The records of a saved XML response: each `<transaction>` element parsed on its own, in a
 * document that keeps the league key around it (the parser's fallback for keys without one).
 * If that split does not add up to what the parser reads from the whole document, the whole
 * document is one record: correct rows, coarser paging. Returns null for XML that is not
 * well-formed.
 */
export function readXmlResponse(xml: string): InputRecord[] | null {
  const whole = parseTransactionsXml(xml);
  if (whole.recordCount === 0 && whole.rejected.some((entry) => entry.reason === 'response is not well-formed XML')) return null;
  const leagueKeys = [...xml.matchAll(XML_LEAGUE_KEY)].map((match) => ({ index: match.index, key: match[1]?.trim() ?? '' }));
  const records: InputRecord[] = [];
  let nextLeagueKey = 0;
  let leagueKey: string | null = null;
  for (const match of xml.matchAll(XML_TRANSACTION)) {
    // The league around a transaction is the last <league_key> before it.
    for (; nextLeagueKey < leagueKeys.length && (leagueKeys[nextLeagueKey]?.index ?? Infinity) < match.index; nextLeagueKey++) {
      const key = leagueKeys[nextLeagueKey]?.key ?? '';
      leagueKey = /^\w+\.l\.\w+$/.test(key) ? key : null;
    }
    const document = leagueKey === null
      ? `<transactions>${match[0]}</transactions>`
      : `<league><league_key>${leagueKey}</league_key><transactions>${match[0]}</transactions></league>`;
    const page = parseTransactionsXml(document);
    records.push({ leagueKey: page.rows[0]?.leagueKey ?? leagueKey, rows: page.rows, rejected: page.rejected });
  }
  const rowCount = records.reduce((sum, record) => sum + record.rows.length, 0);
  const rejectedCount = records.reduce((sum, record) => sum + record.rejected.length, 0);
  if (records.length !== whole.recordCount || rowCount !== whole.rows.length || rejectedCount !== whole.rejected.length) {
    return whole.recordCount === 0 && whole.rejected.length === 0
      ? []
      : [{ leagueKey: whole.rows[0]?.leagueKey ?? null, rows: whole.rows, rejected: whole.rejected }];
  }
  return records;
}

// ---------------------------------------------------------------------------------------
// NDJSON rows
// ---------------------------------------------------------------------------------------

/** camelCase field of `TransactionRow` -> its snake_case column, in column order. */
const ROW_FIELDS = [
  'transactionKey', 'transactionId', 'type', 'timestamp', 'status', 'playerId', 'playerName',
  'sourceTeamKey', 'sourceTeamName', 'destinationTeamKey', 'destinationTeamName', 'leagueKey',
] as const satisfies ReadonlyArray<keyof TransactionRow>;
type RowField = (typeof ROW_FIELDS)[number];

const COLUMN_OF: Readonly<Record<RowField, string>> = Object.fromEntries(
  ROW_FIELDS.map((name, index) => [name, TRANSACTION_COLUMNS[index]]),
) as Record<RowField, string>;

/** The league keys a job accepts (queue/job.ts). */
export const LEAGUE_KEY_PATTERN = /^(\d+|[a-z]+)\.l\.\d+$/;

/**
 * One record per non-blank line: a `TransactionRow` object with camelCase keys (as in
 * types.ts) or snake_case column names (as in the `transactions` table), mixed freely; other
 * keys (`job_id`, ...) are ignored. A line that is not such an object is a rejected record
 * whose reason starts with its line number.
 */
export function readNdjson(text: string): InputRecord[] {
  const records: InputRecord[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const record = readNdjsonLine(line, index + 1);
    if (record !== null) records.push(record);
  });
  return records;
}

/** The record of one NDJSON line (without its line break), or null for a blank line. */
export function readNdjsonLine(line: string, lineNumber: number): InputRecord | null {
  if (line.trim() === '') return null;
  const reject = (reason: string, leagueKey: string | null = null): InputRecord =>
    ({ leagueKey, rows: [], rejected: [{ raw: line.slice(0, RAW_LIMIT), reason: `line ${lineNumber}: ${reason}` }] });
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return reject(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return reject(`${Array.isArray(value) ? 'an array' : `a ${value === null ? 'null' : typeof value}`}, not an object of row columns`);
  }
  const row = rowOfColumns(value as JsonObject);
  return row.ok ? { leagueKey: row.value.leagueKey, rows: [row.value], rejected: [] } : reject(row.reason, row.leagueKey);
}

type RowCheck = { ok: true; value: TransactionRow } | { ok: false; reason: string; leagueKey: string | null };

/** A field of a row object by its camelCase name, else its snake_case column. */
function readField(object: JsonObject, name: RowField): unknown {
  return Object.hasOwn(object, name) ? object[name] : Object.hasOwn(object, COLUMN_OF[name]) ? object[COLUMN_OF[name]] : undefined;
}

/** The league a row object names: its leagueKey, else the one in its transactionKey (not yet checked against the pattern). */
function leagueKeyOfObject(object: JsonObject): string | null {
  const givenLeagueKey = readField(object, 'leagueKey');
  if (typeof givenLeagueKey === 'string' && givenLeagueKey !== '') return givenLeagueKey;
  const transactionKey = readField(object, 'transactionKey');
  return typeof transactionKey === 'string' ? leagueKeyOfTransactionKey(transactionKey) : null;
}

/**
 * The league of an NDJSON line's record, as `readNdjsonLine` would file it, without checking
 * the rest of the row: undefined for a blank line. The record of a line names its league
 * whether or not the row is valid, so this is all that grouping the input needs; the row is
 * checked when its page is read.
 */
export function ndjsonLineLeague(line: string): string | null | undefined {
  if (line.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const leagueKey = leagueKeyOfObject(value as JsonObject);
  return leagueKey !== null && LEAGUE_KEY_PATTERN.test(leagueKey) ? leagueKey : null;
}

function rowOfColumns(object: JsonObject): RowCheck {
  const read = (name: RowField): unknown => readField(object, name);
  const leagueKey = leagueKeyOfObject(object);
  const fail = (reason: string): RowCheck => ({ ok: false, reason, leagueKey: leagueKey !== null && LEAGUE_KEY_PATTERN.test(leagueKey) ? leagueKey : null });

  const text: Partial<Record<RowField, string | null>> = {};
  for (const name of ['transactionKey', 'type', 'status'] as const) {
    const value = read(name);
    if (typeof value !== 'string' || value === '') return fail(`${name} is ${shown(value)}, not a non-empty string`);
    text[name] = value;
  }
  for (const name of ['playerName', 'sourceTeamKey', 'sourceTeamName', 'destinationTeamKey', 'destinationTeamName'] as const) {
    const value = read(name);
    if (value !== undefined && value !== null && typeof value !== 'string') return fail(`${name} is ${shown(value)}, not a string or null`);
    text[name] = typeof value === 'string' && value !== '' ? value : null;
  }
  const playerId = read('playerId');
  const playerIdText = typeof playerId === 'number' && Number.isSafeInteger(playerId) && playerId >= 0 ? String(playerId) : playerId;
  if (typeof playerIdText !== 'string' || playerIdText === '') return fail(`playerId is ${shown(playerId)}, not a non-empty string`);
  const transactionId = wholeNumberOrNull(read('transactionId'));
  if (transactionId === 'invalid') return fail(`transactionId is ${shown(read('transactionId'))}, not a whole number or null`);
  const timestamp = wholeNumberOrNull(read('timestamp'));
  if (timestamp === 'invalid') return fail(`timestamp is ${shown(read('timestamp'))}, not whole Unix seconds or null`);
  if (leagueKey === null) return fail('no leagueKey, and the transactionKey does not contain one');
  if (!LEAGUE_KEY_PATTERN.test(leagueKey)) return fail(`leagueKey ${JSON.stringify(leagueKey)} is not of the form {game_key}.l.{league_id}`);

  return {
    ok: true,
    value: {
      transactionKey: text.transactionKey ?? '',
      transactionId,
      type: text.type ?? '',
      timestamp,
      status: text.status ?? '',
      playerId: playerIdText,
      playerName: text.playerName ?? null,
      sourceTeamKey: text.sourceTeamKey ?? null,
      sourceTeamName: text.sourceTeamName ?? null,
      destinationTeamKey: text.destinationTeamKey ?? null,
      destinationTeamName: text.destinationTeamName ?? null,
      leagueKey,
    },
  };
}

function wholeNumberOrNull(value: unknown): number | null | 'invalid' {
  if (value === undefined || value === null || value === '') return null;
  const number = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0 ? number : 'invalid';
}

// ---------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------

/** `403.l.17457.tr.12` -> `403.l.17457` (also `.pt.` and `.w.c.` keys). */
export function leagueKeyOfTransactionKey(transactionKey: string): string | null {
  return /^([^.]+\.l\.[^.]+)\.(?:tr|pt|w\.c)\.[^.]/.exec(transactionKey)?.[1] ?? null;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
    ? (value as JsonObject)[key]
    : undefined;
}

/** The values of a Yahoo collection (`{"0": …, "1": …, "count": n}` or `[]`) in key order; `count` is not trusted. */
function collectionValues(collection: unknown): unknown[] {
  if (typeof collection !== 'object' || collection === null) return [];
  return Object.keys(collection)
    .filter((key) => /^(?:0|[1-9][0-9]*)$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => (collection as JsonObject)[key]);
}

function mergeFields(value: unknown): JsonObject {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
  if (!Array.isArray(value)) return {};
  return Object.fromEntries(value
    .filter((part): part is JsonObject => typeof part === 'object' && part !== null && !Array.isArray(part))
    .flatMap((part) => Object.entries(part)));
}

function subResource(resource: readonly unknown[], name: string): unknown {
  for (const element of resource.slice(1)) {
    const value = field(element, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function rawText(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, RAW_LIMIT);
  } catch {
    return String(value).slice(0, RAW_LIMIT);
  }
}

function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return `${text.length > 40 ? `${text.slice(0, 37)}...` : text} (${value === null ? 'null' : typeof value})`;
}
