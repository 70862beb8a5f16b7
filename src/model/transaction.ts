/**
 * The transaction row: what every source (demo, yahoo, file) yields, the fetch workers carry
 * across threads in its tuple form, and the writer inserts.
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
