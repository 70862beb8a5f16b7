/**
 * The Yahoo Fantasy Sports v2 response format, read by both the yahoo source (over HTTP) and
 * the file source (saved responses). Parser for transaction responses (`?format=json`, and the XML
 * default through `parseTransactionsXml`). Pure: no I/O, and no input makes it throw.
 * The wire format is described in test/fixtures/yahoo/FORMAT.md.
 *
 * Behaviour (what the backfill stores, and what it records as rejected instead):
 *
 * 1. One row per player moved. `type` is the transaction's type, so both rows of an
 *    `add/drop` carry `add/drop`; the source and destination teams tell the moves apart.
 * 2. A transaction that moves no player gives no row and exactly ONE rejected record whose
 *    reason says so: a commissioner move (`commish`, second element `[]`) reads
 *    "commish transaction K moves no players", a trade of draft picks only (`players: []`)
 *    reads "trade K moves draft picks only, no players". Nothing disappears silently.
 * 3. Pending trades (`….pt.N`) are stored as rows: `transactionId` null (they have none),
 *    `timestamp` = `trade_proposed_time`, `status` as given (`proposed`).
 * 4. A transaction lacking `transaction_key`, `type` or `status`, or holding a
 *    `transaction_id`/`timestamp` that is not a whole number, is one rejected record naming
 *    the field. A player entry lacking `player_id` or `transaction_data` is a rejected
 *    record naming the field; the other players of that transaction still become rows.
 * 5. Anything of another shape (a string, a number, null, wrong nesting) gives rejected
 *    records or an empty page, never an exception. A response that holds no transactions
 *    collection at all (league settings, teams, games) is an empty page; a `transactions`
 *    value that is not a collection is one rejected record, so a garbled page is not
 *    mistaken for the last one.
 * 6. `recordCount` is the number of transaction records on the page, valid or not.
 * 7. `leagueKey` of a row is the prefix of its transaction key before `.tr.`, `.pt.` or
 *    `.w.c.`; only when the key has no such prefix does it fall back to the league of the
 *    response (league metadata, or the league part of the team key in team scope).
 * 8. Team keys and names are kept only when `source_type`/`destination_type` is `team`:
 *    a player dropped to waivers has no destination team, whatever else the data says.
 * 9. Draft picks (`picks` on trades) are not stored: the row has no column for them.
 * 10. `raw` of a rejected record is the JSON text of the rejected transaction record, or
 *    of the rejected player entry, cut to `RAW_LIMIT` characters (for XML that is not
 *    well-formed: the XML text).
 * 11. Collections are walked by their numeric keys; `count` is never trusted.
 *
 * Re-exports only: responses.ts, records.ts, keys.ts, metadata.ts, xml.ts (over
 * xml-reader.ts) and json.ts (the small readers of untrusted values) hold the rules.
 */
export { RAW_LIMIT } from './json.js';
export { leagueKeyFromRenew } from './keys.js';
export { parseLeagueMetadata, parseYahooError } from './metadata.js';
export type { LeagueMetadata, YahooError } from './metadata.js';
export { parseTransactionRecord } from './records.js';
export type { RecordResult } from './records.js';
export { parseTransactionsResponse } from './responses.js';
export { parseTransactionsXml } from './xml.js';
