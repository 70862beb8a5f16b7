/**
 * Parser for Yahoo Fantasy Sports v2 transaction responses (`?format=json`, and the XML
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
 */
import { describe } from '../../errors.js';
import type { ParsedPage, RejectedRecord, TransactionRow } from '../../model/index.js';

/** Longest `raw` text kept for a rejected record. */
export const RAW_LIMIT = 2000;

type JsonObject = Record<string, unknown>;

/** The rows and rejected records of one transaction record. */
export interface RecordResult {
  rows: TransactionRow[];
  rejected: RejectedRecord[];
}

export interface LeagueMetadata {
  leagueKey: string;
  season: number | null;
  /** The previous season's league as `{game_key}_{league_id}`, e.g. `396_5194`; null for a first season. */
  renew: string | null;
  /** The next season's league as `{game_key}_{league_id}`; null until the league is renewed. */
  renewed: string | null;
  name: string | null;
}

export interface YahooError {
  description: string;
  /** The OAuth problem named in the description (`token_expired`, `token_rejected`, ...), when there is one. */
  code?: string;
}

// ---------------------------------------------------------------------------------------
// Whole responses
// ---------------------------------------------------------------------------------------

/**
 * Parses one transactions response in any of its scopes: `league/{k}/transactions`,
 * `leagues;league_keys=…/transactions` (several leagues), `team/{k}/transactions`,
 * `teams;team_keys=…/transactions` and `transactions;transaction_keys=…`.
 * `leagueKey` is the league the response is about (the first one in a `leagues` response),
 * or null when it names none.
 */
export function parseTransactionsResponse(body: unknown): ParsedPage & { leagueKey: string | null } {
  const page: ParsedPage & { leagueKey: string | null } = { rows: [], rejected: [], recordCount: 0, leagueKey: null };
  const content = field(body, 'fantasy_content');
  for (const scope of findScopes(content)) {
    page.leagueKey ??= scope.leagueKey;
    if (scope.transactions === undefined) continue;
    if (!isCollection(scope.transactions)) {
      page.rejected.push(reject(scope.transactions, `transactions is ${shown(scope.transactions)}, not a collection`));
      continue;
    }
    for (const [, record] of collectionEntries(scope.transactions)) {
      page.recordCount += 1;
      const result = parseTransactionRecord(record, scope.leagueKey);
      page.rows.push(...result.rows);
      page.rejected.push(...result.rejected);
    }
  }
  return page;
}

/** One league or team of a response, with its transactions collection when it has one. */
interface Scope {
  leagueKey: string | null;
  transactions: unknown;
}

/** Finds the transactions collections wherever the URL scope put them (FORMAT.md section 3). */
function findScopes(content: unknown): Scope[] {
  const scopes: Scope[] = [];
  const league = field(content, 'league');
  if (league !== undefined) scopes.push(leagueScope(league));
  for (const [, entry] of collectionEntries(field(content, 'leagues'))) scopes.push(leagueScope(field(entry, 'league')));
  const team = field(content, 'team');
  if (team !== undefined) scopes.push(teamScope(team));
  for (const [, entry] of collectionEntries(field(content, 'teams'))) scopes.push(teamScope(field(entry, 'team')));
  const transactions = field(content, 'transactions');
  if (transactions !== undefined) scopes.push({ leagueKey: null, transactions });
  return scopes;
}

/** A league resource is `[metadata, {sub-resource}, …]`. */
function leagueScope(resource: unknown): Scope {
  if (!Array.isArray(resource)) return { leagueKey: null, transactions: undefined };
  return {
    leagueKey: nonEmptyString(field(mergeFields(resource[0]), 'league_key')),
    transactions: subResource(resource, 'transactions'),
  };
}

/** A team resource is `[[{team_key}, {team_id}, [], …], {sub-resource}, …]`; its league is part of the team key. */
function teamScope(resource: unknown): Scope {
  if (!Array.isArray(resource)) return { leagueKey: null, transactions: undefined };
  const teamKey = nonEmptyString(field(mergeFields(resource[0]), 'team_key'));
  return {
    leagueKey: teamKey === null ? null : leagueKeyOfTeamKey(teamKey),
    transactions: subResource(resource, 'transactions'),
  };
}

/** The value of the first element after the metadata that holds `name`. */
function subResource(resource: readonly unknown[], name: string): unknown {
  for (const element of resource.slice(1)) {
    const value = field(element, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// One transaction record
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/** `403.l.17457.tr.12`, `396.l.49770.pt.1`, `257.l.193.w.c.2_6390` -> the league key before the marker. */
const TRANSACTION_KEY = /^([^.]+\.l\.[^.]+)\.(?:tr|pt|w\.c)\.[^.]/;
/** `411.l.1239.t.1` -> `411.l.1239`. */
const TEAM_KEY = /^([^.]+\.l\.[^.]+)\.t\.[^.]+$/;
/** `396_5194` (the form of `renew`/`renewed`) -> game key and league id. */
const RENEW_REFERENCE = /^([^_.]+)_([^_.]+)$/;

function leagueKeyOfTransactionKey(transactionKey: string): string | null {
  return TRANSACTION_KEY.exec(transactionKey)?.[1] ?? null;
}

function leagueKeyOfTeamKey(teamKey: string): string | null {
  return TEAM_KEY.exec(teamKey)?.[1] ?? null;
}

/** Turns a `renew`/`renewed` reference (`396_5194`) into a league key (`396.l.5194`); null for anything else. */
export function leagueKeyFromRenew(reference: string): string | null {
  const match = RENEW_REFERENCE.exec(reference);
  return match ? `${match[1]}.l.${match[2]}` : null;
}

// ---------------------------------------------------------------------------------------
// League metadata and errors
// ---------------------------------------------------------------------------------------

/**
 * Reads the metadata element of a league resource response (`league/{k}`, `…/settings`,
 * `…/teams`, `…/transactions`), or of the first league of a `leagues` response. `renew`
 * names the previous season's league and `renewed` the next one, both as
 * `{game_key}_{league_id}` (see `leagueKeyFromRenew`); Yahoo sends `""` for "none", which
 * becomes null. Returns null when the response holds no league with a key.
 */
export function parseLeagueMetadata(body: unknown): LeagueMetadata | null {
  const content = field(body, 'fantasy_content');
  const firstLeague = collectionEntries(field(content, 'leagues'))[0]?.[1];
  const resource = field(content, 'league') ?? field(firstLeague, 'league');
  if (!Array.isArray(resource)) return null;
  const metadata = mergeFields(resource[0]);
  const leagueKey = nonEmptyString(field(metadata, 'league_key'));
  if (leagueKey === null) return null;
  const season = optionalWholeNumber(field(metadata, 'season'));
  return {
    leagueKey,
    season: season === 'invalid' ? null : season,
    renew: nonEmptyString(field(metadata, 'renew')),
    renewed: nonEmptyString(field(metadata, 'renewed')),
    name: nonEmptyString(field(metadata, 'name')),
  };
}

/**
 * Reads a Yahoo error document: JSON `{"error": {"description": …}}` (as a value or as
 * text) or XML `<error><description>…` / `<yahoo:error><yahoo:description>…`. `code` is the
 * `oauth_problem` a 401 names, so callers can tell an expired token from a refused one.
 * Returns null for anything else, including the non-JSON body of a 999 throttle.
 */
export function parseYahooError(body: unknown): YahooError | null {
  const description = typeof body === 'string' ? errorDescriptionOfText(body) : errorDescriptionOfJson(body);
  if (description === null) return null;
  const code = /oauth_problem="([^"]+)"/.exec(description)?.[1];
  return code === undefined ? { description } : { description, code };
}

function errorDescriptionOfJson(body: unknown): string | null {
  return nonEmptyString(field(field(body, 'error'), 'description'));
}

function errorDescriptionOfText(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed.startsWith('<')) {
    const root = readXml(trimmed);
    if (root === null || localName(root.name) !== 'error') return null;
    const description = root.children.find((child) => localName(child.name) === 'description');
    return description === undefined ? null : nonEmptyString(description.text.trim());
  }
  try {
    return errorDescriptionOfJson(JSON.parse(trimmed));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// XML transactions
// ---------------------------------------------------------------------------------------

/**
 * Parses the XML form of a transactions response (Yahoo's default format). Each
 * `<transaction>` is rebuilt in the JSON shape and goes through `parseTransactionRecord`,
 * so both formats follow the same rules. A body that is not well-formed XML is one
 * rejected record.
 */
export function parseTransactionsXml(xml: string): ParsedPage {
  const page: ParsedPage = { rows: [], rejected: [], recordCount: 0 };
  if (typeof xml !== 'string') return page;
  const root = readXml(xml);
  if (root === null) {
    page.rejected.push({ raw: xml.slice(0, RAW_LIMIT), reason: 'response is not well-formed XML' });
    return page;
  }
  for (const { collection, owner } of findXmlTransactionCollections(root, null)) {
    const fallbackLeagueKey = owner !== null && localName(owner.name) === 'league'
      ? nonEmptyString(childText(owner, 'league_key'))
      : null;
    for (const element of collection.children.filter((child) => localName(child.name) === 'transaction')) {
      page.recordCount += 1;
      const result = parseTransactionRecord(transactionRecordOfXml(element), fallbackLeagueKey);
      page.rows.push(...result.rows);
      page.rejected.push(...result.rejected);
    }
  }
  return page;
}

interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

function findXmlTransactionCollections(
  element: XmlElement,
  parent: XmlElement | null,
): Array<{ collection: XmlElement; owner: XmlElement | null }> {
  if (localName(element.name) === 'transactions') return [{ collection: element, owner: parent }];
  return element.children.flatMap((child) => findXmlTransactionCollections(child, element));
}

/** `<transaction>` -> `{"transaction": [metadata, {"players": {"0": {"player": [identity, {transaction_data}]}}}]}`. */
function transactionRecordOfXml(element: XmlElement): unknown {
  const metadata = Object.fromEntries(element.children
    .filter((child) => localName(child.name) !== 'players')
    .map((child) => [localName(child.name), xmlValue(child)]));
  const playersElement = element.children.find((child) => localName(child.name) === 'players');
  if (playersElement === undefined) return { transaction: [metadata] };
  const players = Object.fromEntries(playersElement.children
    .filter((child) => localName(child.name) === 'player')
    .map((player, index) => [String(index), { player: playerOfXml(player) }]));
  return { transaction: [metadata, { players }] };
}

function playerOfXml(player: XmlElement): unknown[] {
  const identity = Object.fromEntries(player.children
    .filter((child) => localName(child.name) !== 'transaction_data')
    .map((child) => [localName(child.name), xmlValue(child)]));
  const movement = player.children.find((child) => localName(child.name) === 'transaction_data');
  return movement === undefined ? [identity] : [identity, { transaction_data: xmlValue(movement) }];
}

/** A leaf element becomes its text, any other element an object of its children. */
function xmlValue(element: XmlElement): unknown {
  if (element.children.length === 0) return element.text.trim();
  return Object.fromEntries(element.children.map((child) => [localName(child.name), xmlValue(child)]));
}

function childText(element: XmlElement, name: string): string | undefined {
  return element.children.find((child) => localName(child.name) === name)?.text.trim();
}

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

/**
 * A minimal XML reader: enough for Yahoo's responses (elements, text, entities, CDATA,
 * comments, the declaration). Attributes are read past but not kept: Yahoo only puts
 * `count` and namespaces there. Returns null for anything that is not one well-formed root.
 */
function readXml(xml: string): XmlElement | null {
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([^\s>]+)\s*>|<([^\s/>!?]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(\/?)>|([^<]+)|(<)/g;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  for (const match of xml.matchAll(token)) {
    const [, cdata, closing, opening, selfClosing, text, stray] = match;
    const current = stack.at(-1);
    if (stray !== undefined) return null;
    if (cdata !== undefined || text !== undefined) {
      const content = cdata ?? decodeEntities(text ?? '');
      if (current !== undefined) current.text += content;
      else if (content.trim() !== '') return null;
    } else if (opening !== undefined) {
      if (current === undefined && root !== null) return null;
      const element: XmlElement = { name: opening, children: [], text: '' };
      if (current !== undefined) current.children.push(element);
      else root = element;
      if (selfClosing !== '/') stack.push(element);
    } else if (closing !== undefined) {
      if (current?.name !== closing) return null;
      stack.pop();
    }
  }
  return stack.length === 0 ? root : null;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (entity, name: string) => {
    if (name.startsWith('#')) {
      const codePoint = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : entity;
    }
    return Object.hasOwn(NAMED_ENTITIES, name) ? (NAMED_ENTITIES[name] ?? entity) : entity;
  });
}

// ---------------------------------------------------------------------------------------
// Small readers of untrusted JSON values
// ---------------------------------------------------------------------------------------

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Yahoo collections are objects with numeric keys, or `[]` when empty. */
function isCollection(value: unknown): value is JsonObject | unknown[] {
  return typeof value === 'object' && value !== null;
}

/** An own property only: a key such as `constructor` must not reach Object.prototype. */
function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
    ? (value as JsonObject)[key]
    : undefined;
}

/**
 * The entries of a collection under its numeric keys, in numeric order. `count` is not
 * trusted: edited responses have gaps (keys 0, 1, 4, 7) and no `count`.
 */
function collectionEntries(collection: unknown): Array<[string, unknown]> {
  if (typeof collection !== 'object' || collection === null) return [];
  return Object.keys(collection)
    .filter((key) => /^(?:0|[1-9][0-9]*)$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key): [string, unknown] => [key, (collection as JsonObject)[key]]);
}

/**
 * Yahoo renders some metadata as a list of single-key objects with `[]` placeholders
 * (`[{"player_key": …}, {"player_id": …}, [], …]`): merge the objects, skip the rest.
 * A plain object is returned as it is. `fromEntries` keeps a `__proto__` key an own field.
 */
function mergeFields(value: unknown): JsonObject {
  if (isObject(value)) return value;
  if (!Array.isArray(value)) return {};
  return Object.fromEntries(value.filter(isObject).flatMap((part) => Object.entries(part)));
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Ids are strings on the wire; a number is accepted too. */
function idString(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return nonEmptyString(value);
}

/** Yahoo sends `""` or leaves a field out for "none". */
function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** Numbers come as strings (`"1612686201"`): a whole number, null when absent, or 'invalid'. */
function optionalWholeNumber(value: unknown): number | null | 'invalid' {
  if (!present(value)) return null;
  const number = typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0 ? number : 'invalid';
}

function reject(value: unknown, reason: string): RejectedRecord {
  return { raw: rawText(value), reason };
}

function rejectedOnly(value: unknown, reason: string): RecordResult {
  return { rows: [], rejected: [reject(value, reason)] };
}

/** JSON text of what was rejected, cut to `RAW_LIMIT`; never throws, even on a value JSON cannot hold. */
function rawText(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.slice(0, RAW_LIMIT);
}

/** A short rendering of a value for a reason text; `describe` itself can throw on a value with no prototype. */
function shown(value: unknown): string {
  try {
    return describe(value);
  } catch {
    return `a value of type ${typeof value}`;
  }
}
