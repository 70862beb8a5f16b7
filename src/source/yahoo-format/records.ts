/** One transaction record: its header, its players, and the rows and rejected records they become. */
import type { RejectedRecord, TransactionRow } from '../../model/index.js';
import {
  collectionEntries, field, idString, isCollection, isObject, mergeFields, nonEmptyString, optionalWholeNumber, present, reject, shown, subResource,
  type JsonObject,
} from './json.js';
import { leagueKeyOfTransactionKey } from './keys.js';

/** The rows and rejected records of one transaction record. */
export interface RecordResult {
  rows: TransactionRow[];
  rejected: RejectedRecord[];
}

/** The per-transaction part of a row: everything but the player. */
type TransactionHeader = Pick<TransactionRow, 'transactionKey' | 'transactionId' | 'type' | 'timestamp' | 'status' | 'leagueKey'>;

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Parses one `{"transaction": [metadata, {"players": …}]}` record. `fallbackLeagueKey` is
 * used only when the transaction key does not contain the league key.
 */
export function parseTransactionRecord(record: unknown, fallbackLeagueKey: string | null): RecordResult {
  const parts = field(record, 'transaction');
  if (!Array.isArray(parts)) {
    return rejectedOnly(record, `record is ${shown(record)}, not a {"transaction": [...]} object`);
  }
  const metadata = mergeFields(parts[0]);
  const header = readHeader(metadata, fallbackLeagueKey);
  if (!header.ok) return rejectedOnly(record, header.reason);
  const key = header.value.transactionKey;

  const players = readPlayerEntries(parts[1], key);
  if (!players.ok) return rejectedOnly(record, players.reason);
  if (players.value.length === 0) return rejectedOnly(record, noPlayersReason(header.value, metadata));

  const result: RecordResult = { rows: [], rejected: [] };
  for (const [index, entry] of players.value) {
    const row = readPlayerRow(entry, index, header.value);
    if (row.ok) result.rows.push(row.value);
    else result.rejected.push(reject(entry, row.reason));
  }
  return result;
}

function readHeader(metadata: JsonObject, fallbackLeagueKey: string | null): Checked<TransactionHeader> {
  const transactionKey = nonEmptyString(field(metadata, 'transaction_key'));
  if (transactionKey === null) return { ok: false, reason: 'transaction lacks transaction_key' };
  const type = nonEmptyString(field(metadata, 'type'));
  if (type === null) return { ok: false, reason: `transaction ${transactionKey} lacks type` };
  const status = nonEmptyString(field(metadata, 'status'));
  if (status === null) return { ok: false, reason: `transaction ${transactionKey} lacks status` };

  // Pending trades and waiver claims have no transaction_id.
  const transactionId = optionalWholeNumber(field(metadata, 'transaction_id'));
  if (transactionId === 'invalid') {
    return { ok: false, reason: `transaction ${transactionKey} has transaction_id ${shown(field(metadata, 'transaction_id'))}, not a whole number` };
  }
  // Pending trades have no timestamp: the time the trade was proposed stands in for it.
  const timeField = present(field(metadata, 'timestamp')) ? 'timestamp' : 'trade_proposed_time';
  const timestamp = optionalWholeNumber(field(metadata, timeField));
  if (timestamp === 'invalid') {
    return { ok: false, reason: `transaction ${transactionKey} has ${timeField} ${shown(field(metadata, timeField))}, not whole Unix seconds` };
  }
  const leagueKey = leagueKeyOfTransactionKey(transactionKey) ?? fallbackLeagueKey;
  if (leagueKey === null) {
    return { ok: false, reason: `transaction ${transactionKey}: no league key in the transaction key nor in the response` };
  }
  return { ok: true, value: { transactionKey, transactionId, type, timestamp, status, leagueKey } };
}

/**
 * The player entries of a transaction, as `[collection key, entry]` pairs. A missing
 * second element, `[]` in its place (commish) and `"players": []` (picks-only trade) all
 * mean "no players"; a second element of any other shape is malformed.
 */
function readPlayerEntries(subResourceValue: unknown, transactionKey: string): Checked<Array<[string, unknown]>> {
  if (subResourceValue === undefined) return { ok: true, value: [] };
  if (Array.isArray(subResourceValue) && subResourceValue.length === 0) return { ok: true, value: [] };
  if (!isObject(subResourceValue)) {
    return { ok: false, reason: `transaction ${transactionKey}: second element is ${shown(subResourceValue)}, not a {"players": ...} object` };
  }
  const players = field(subResourceValue, 'players');
  if (players === undefined) return { ok: true, value: [] };
  if (!isCollection(players)) {
    return { ok: false, reason: `transaction ${transactionKey}: players is ${shown(players)}, not a collection` };
  }
  return { ok: true, value: collectionEntries(players) };
}

function noPlayersReason(header: TransactionHeader, metadata: JsonObject): string {
  const picks = field(metadata, 'picks');
  if (header.type === 'trade' && Array.isArray(picks) && picks.length > 0) {
    return `trade ${header.transactionKey} moves draft picks only, no players`;
  }
  return `${header.type} transaction ${header.transactionKey} moves no players`;
}

/** One `{"player": [[{player_key}, {player_id}, {name}, …], {"transaction_data": …}]}` entry. */
function readPlayerRow(entry: unknown, index: string, header: TransactionHeader): Checked<TransactionRow> {
  const where = `transaction ${header.transactionKey}, player entry "${index}"`;
  const player = field(entry, 'player');
  if (!Array.isArray(player)) return { ok: false, reason: `${where} is not a {"player": [...]} object` };
  const identity = mergeFields(player[0]);
  const playerId = idString(field(identity, 'player_id'));
  if (playerId === null) return { ok: false, reason: `${where} lacks player_id` };
  const movement = readMovement(subResource(player, 'transaction_data'));
  if (movement === null) return { ok: false, reason: `${where} (player ${playerId}) lacks transaction_data` };

  const fromTeam = field(movement, 'source_type') === 'team';
  const toTeam = field(movement, 'destination_type') === 'team';
  return {
    ok: true,
    value: {
      transactionKey: header.transactionKey,
      transactionId: header.transactionId,
      type: header.type,
      timestamp: header.timestamp,
      status: header.status,
      playerId,
      playerName: nonEmptyString(field(field(identity, 'name'), 'full')),
      sourceTeamKey: fromTeam ? nonEmptyString(field(movement, 'source_team_key')) : null,
      sourceTeamName: fromTeam ? nonEmptyString(field(movement, 'source_team_name')) : null,
      destinationTeamKey: toTeam ? nonEmptyString(field(movement, 'destination_team_key')) : null,
      destinationTeamName: toTeam ? nonEmptyString(field(movement, 'destination_team_name')) : null,
      leagueKey: header.leagueKey,
    },
  };
}

/** `transaction_data` is a one-element array for add and trade, a bare object for drop. */
function readMovement(value: unknown): JsonObject | null {
  const movement = Array.isArray(value) ? value[0] : value;
  return isObject(movement) ? movement : null;
}

function rejectedOnly(value: unknown, reason: string): RecordResult {
  return { rows: [], rejected: [reject(value, reason)] };
}
