/**
 * The row and source contracts shared by every source (demo, yahoo, file), the fetch
 * workers and the writer.
 */

/**
 * One player moved by one transaction: a row of the `transactions` table. A trade of three
 * players is three rows with one `transactionKey`. `type` is the transaction's type as Yahoo
 * names it (`add`, `drop`, `add/drop`, `trade`, `pending_trade`, ...), so both rows of an
 * add/drop carry `add/drop`; the source and destination teams tell the two moves apart.
 */
export interface TransactionRow {
  transactionKey: string;
  transactionId: number | null;
  type: string;
  /** Unix time in seconds. */
  timestamp: number | null;
  status: string;
  playerId: string;
  playerName: string | null;
  sourceTeamKey: string | null;
  sourceTeamName: string | null;
  destinationTeamKey: string | null;
  destinationTeamName: string | null;
  leagueKey: string;
}

/**
 * A record of the source that did not become a row, and why. Stored in `rejected_rows`:
 * nothing is dropped silently.
 */
export interface RejectedRecord {
  /** The record as the source delivered it (JSON text, truncated to a sane size by the caller). */
  raw: string;
  reason: string;
}

/** What parsing one page of a source yields. */
export interface ParsedPage {
  rows: TransactionRow[];
  rejected: RejectedRecord[];
  /** Number of transaction records on the page (valid or not): a page shorter than the page size is the last. */
  recordCount: number;
}

/**
 * Column order of a row in its compact (tuple) form: the form rows take across threads and
 * into the prepared INSERT, so no per-row object is cloned between threads.
 */
export const TRANSACTION_COLUMNS = [
  'transaction_key',
  'transaction_id',
  'type',
  'timestamp',
  'status',
  'player_id',
  'player_name',
  'source_team_key',
  'source_team_name',
  'destination_team_key',
  'destination_team_name',
  'league_key',
] as const;

export type RowTuple = [
  transactionKey: string,
  transactionId: number | null,
  type: string,
  timestamp: number | null,
  status: string,
  playerId: string,
  playerName: string | null,
  sourceTeamKey: string | null,
  sourceTeamName: string | null,
  destinationTeamKey: string | null,
  destinationTeamName: string | null,
  leagueKey: string,
];

export function rowToTuple(row: TransactionRow): RowTuple {
  return [
    row.transactionKey,
    row.transactionId,
    row.type,
    row.timestamp,
    row.status,
    row.playerId,
    row.playerName,
    row.sourceTeamKey,
    row.sourceTeamName,
    row.destinationTeamKey,
    row.destinationTeamName,
    row.leagueKey,
  ];
}

export function tupleToRow(tuple: RowTuple): TransactionRow {
  const [transactionKey, transactionId, type, timestamp, status, playerId, playerName,
    sourceTeamKey, sourceTeamName, destinationTeamKey, destinationTeamName, leagueKey] = tuple;
  return {
    transactionKey, transactionId, type, timestamp, status, playerId, playerName,
    sourceTeamKey, sourceTeamName, destinationTeamKey, destinationTeamName, leagueKey,
  };
}

/** One job of a source: the transactions of one league in one season. */
export interface JobRef {
  /** Stable id of the job (`job_log.job_id`, `transactions.job_id`). */
  jobId: string;
  /** The league key the user named (for Yahoo: the newest season's key, `{game_key}.l.{id}`). */
  leagueKey: string;
  season: number;
}

export interface PageRequest {
  job: JobRef;
  /** 0-based offset of the first transaction of the page (Yahoo's `start`). */
  start: number;
  /** Transactions per page (Yahoo's `count`); a page with fewer records is the last. */
  pageSize: number;
  signal?: AbortSignal;
}

/**
 * A league data source, as it runs inside a fetch worker. Sources are created in the worker
 * from a serialisable `SourceSpec`, so they hold no state the main thread must share.
 */
export interface Source {
  readonly kind: string;
  /** Fetches, parses and validates one page. Rejects with a `SourceError` when the page cannot be had. */
  fetchPage(request: PageRequest): Promise<ParsedPage>;
  close?(): Promise<void>;
}

/**
 * A serialisable description of a source: what crosses into the fetch workers, where
 * `createSource()` turns it into a `Source`.
 */
export type SourceSpec =
  | { kind: 'demo'; options: Record<string, unknown> }
  | { kind: 'yahoo'; options: Record<string, unknown> }
  | { kind: 'file'; options: Record<string, unknown> };
