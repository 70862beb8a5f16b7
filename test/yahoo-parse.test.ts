import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  leagueKeyFromRenew,
  parseLeagueMetadata,
  parseTransactionRecord,
  parseTransactionsResponse,
  parseTransactionsXml,
  parseYahooError,
  RAW_LIMIT,
} from '../src/source/yahoo-format/index.js';
import type { RejectedRecord, TransactionRow } from '../src/model/index.js';

// ---------------------------------------------------------------------------------------
// Fixtures and an independent reading of them
// ---------------------------------------------------------------------------------------

function fixtureText(name: string): string {
  return readFileSync(new URL(`./fixtures/yahoo/${name}`, import.meta.url), 'utf8');
}

function fixture(name: string): unknown {
  return JSON.parse(fixtureText(name));
}

const FILES = {
  season: 'yfantasy-api-league-transactions-2020-nhl.json',
  empty: 'yfantasy-api-league-transactions-empty-2020-nhl.json',
  leagues: 'yfar-leagues-transactions-trade-start0-count2-2021-nhl.json',
  teams: 'yfar-teams-transactions-2021-nhl.json',
  team: 'yfar-team-transactions-count5-type-add-2021-nhl.json',
  drop: 'yfar-league-transactions-count1-type-drop-2021-nhl.json',
  nflTrades: 'yahoo_fantasy_api-league-transactions-trade-2020-nfl.json',
  pending: 'yahoo_fantasy_api-league-transactions-pending_trade-2019-nhl.json',
  anonymized: 'yahoo_fantasy_ex-league-transactions-2022-nhl-anonymized.json',
  settings: 'yfantasy-api-league-settings-2020-nhl.json',
  leagueTeams: 'yfantasy-api-league-teams-2020-nhl.json',
  games: 'yfar-games-nfl-nhl-all-seasons.json',
  xmlAddDrop: 'yahoo-fantasy-ruby-transactions-add-drop-2021-nfl.xml',
  xmlError401: 'yahoo-fantasy-ruby-error-401-token-expired.xml',
  xmlError400: 'yahoo-fantasy-ruby-error-400-invalid-game-key.xml',
} as const;

const TRANSACTION_FIXTURES = [
  FILES.season, FILES.empty, FILES.leagues, FILES.teams, FILES.team,
  FILES.drop, FILES.nflTrades, FILES.pending, FILES.anonymized,
] as const;

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/**
 * Every `{"transaction": [...]}` record anywhere in a document, found by a blind walk of
 * the tree rather than by the scope paths the parser knows.
 */
function findRecords(value: unknown): Json[] {
  if (Array.isArray(value)) return value.flatMap(findRecords);
  const object = asObject(value);
  if (object === undefined) return [];
  if (Array.isArray(object['transaction'])) return [object];
  return Object.values(object).flatMap(findRecords);
}

interface RecordFacts {
  key: string;
  type: string;
  /** player ids in collection order */
  playerIds: string[];
}

/** What a record holds, read with the plainest code that works on these fixtures. */
function recordFacts(record: Json): RecordFacts {
  const parts = record['transaction'] as unknown[];
  const metadata = asObject(parts[0]) ?? {};
  const players = asObject(asObject(parts[1])?.['players']) ?? {};
  const playerIds = Object.keys(players)
    .filter((key) => key !== 'count')
    .map((key) => {
      const identity = (asObject(players[key])?.['player'] as unknown[])[0] as unknown[];
      const idPart = identity.map(asObject).find((part) => part?.['player_id'] !== undefined);
      return String(idPart?.['player_id']);
    });
  return { key: String(metadata['transaction_key']), type: String(metadata['type']), playerIds };
}

function pairsOf(rows: readonly TransactionRow[]): string[] {
  return rows.map((row) => `${row.transactionKey}|${row.playerId}`).sort();
}

function expectedPairs(records: readonly Json[]): string[] {
  return records.map(recordFacts).flatMap((facts) => facts.playerIds.map((id) => `${facts.key}|${id}`)).sort();
}

function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[keyOf(item)] = (counts[keyOf(item)] ?? 0) + 1;
  return counts;
}

function distinctTransactionsByType(rows: readonly TransactionRow[]): Record<string, number> {
  const typeOfKey = new Map(rows.map((row) => [row.transactionKey, row.type]));
  return countBy([...typeOfKey.values()], (type) => type);
}

function rowsOf(rows: readonly TransactionRow[], transactionKey: string): TransactionRow[] {
  return rows.filter((row) => row.transactionKey === transactionKey);
}

function expectWellFormed(row: TransactionRow): void {
  expect(typeof row.transactionKey).toBe('string');
  expect(row.transactionKey).not.toBe('');
  expect(typeof row.playerId).toBe('string');
  expect(row.playerId).not.toBe('');
  expect(typeof row.leagueKey).toBe('string');
  expect(row.leagueKey).not.toBe('');
  expect(typeof row.type).toBe('string');
  expect(typeof row.status).toBe('string');
  for (const number of [row.transactionId, row.timestamp]) {
    expect(number === null || Number.isSafeInteger(number)).toBe(true);
  }
}

const unixSeconds = (year: number, monthIndex: number, day: number): number => Date.UTC(year, monthIndex, day) / 1000;

// ---------------------------------------------------------------------------------------
// Every transactions fixture against the blind walk
// ---------------------------------------------------------------------------------------

describe('parseTransactionsResponse on every JSON transactions fixture', () => {
  for (const name of TRANSACTION_FIXTURES) {
    it(`${name}: one row per player moved, one rejected record per record that moves none`, () => {
      const body = fixture(name);
      const records = findRecords(body);
      const page = parseTransactionsResponse(body);

      expect(page.recordCount).toBe(records.length);
      expect(pairsOf(page.rows)).toEqual(expectedPairs(records));
      const recordsWithoutPlayers = records.map(recordFacts).filter((facts) => facts.playerIds.length === 0);
      expect(page.rejected).toHaveLength(recordsWithoutPlayers.length);
      for (const row of page.rows) expectWellFormed(row);
      // Rows are unique on (transactionKey, playerId): the key the writer upserts on.
      expect(new Set(pairsOf(page.rows)).size).toBe(page.rows.length);
    });
  }

  it('the same transaction gives the same rows in every file that holds it', () => {
    const byPair = new Map<string, TransactionRow>();
    for (const name of [FILES.teams, FILES.team, FILES.drop]) {
      for (const row of parseTransactionsResponse(fixture(name)).rows) {
        const pair = `${row.transactionKey}|${row.playerId}`;
        const seen = byPair.get(pair);
        if (seen !== undefined) expect(row).toEqual(seen);
        byPair.set(pair, row);
      }
    }
    // The team file (5 records) and the drop file (1 record) lie wholly inside the teams file.
    expect(byPair.size).toBe(parseTransactionsResponse(fixture(FILES.teams)).rows.length);
  });
});

// ---------------------------------------------------------------------------------------
// The full NHL 2020 season: the facts SOURCES.md states
// ---------------------------------------------------------------------------------------

describe('the full-season NHL 2020 log', () => {
  const body = fixture(FILES.season);
  const page = parseTransactionsResponse(body);

  it('has 438 records moving 584 players: 584 rows', () => {
    expect(page.recordCount).toBe(438);
    expect(page.rows).toHaveLength(584);
    expect(page.leagueKey).toBe('403.l.17457');
  });

  it('puts every row in league 403.l.17457, all successful', () => {
    expect(new Set(page.rows.map((row) => row.leagueKey))).toEqual(new Set(['403.l.17457']));
    expect(new Set(page.rows.map((row) => row.status))).toEqual(new Set(['successful']));
  });

  it('rejects the 34 commish moves and the picks-only trade tr.419, with reasons', () => {
    expect(page.rejected).toHaveLength(35);
    const commish = page.rejected.filter((r) => /^commish transaction 403\.l\.17457\.tr\.\d+ moves no players$/.test(r.reason));
    expect(commish).toHaveLength(34);
    const picksOnly = page.rejected.filter((r) => r.reason === 'trade 403.l.17457.tr.419 moves draft picks only, no players');
    expect(picksOnly).toHaveLength(1);
    expect(rowsOf(page.rows, '403.l.17457.tr.419')).toEqual([]);
  });

  it('keeps the rejected record itself as raw JSON, cut to the limit', () => {
    const firstCommish = findRecords(body).find((record) => recordFacts(record).type === 'commish');
    const firstCommishRejected = page.rejected.find((r) => r.reason.startsWith('commish'));
    expect(firstCommish).toBeDefined();
    expect(firstCommishRejected?.raw).toBe(JSON.stringify(firstCommish));
    for (const rejected of page.rejected) expect(rejected.raw.length).toBeLessThanOrEqual(RAW_LIMIT);
  });

  it('counts 158 add/drop, 133 add, 102 drop and 10 trades with players (+ tr.419)', () => {
    expect(distinctTransactionsByType(page.rows)).toEqual({ 'add/drop': 158, add: 133, drop: 102, trade: 10 });
    // 291 adds = 133 + 158, 260 drops = 102 + 158, 33 traded players.
    expect(countBy(page.rows, (row) => row.type)).toEqual({ 'add/drop': 316, add: 133, drop: 102, trade: 33 });
  });

  it('has team keys only where the source or destination is a team: 293 sources, 324 destinations', () => {
    expect(page.rows.filter((row) => row.sourceTeamKey !== null)).toHaveLength(293);
    expect(page.rows.filter((row) => row.destinationTeamKey !== null)).toHaveLength(324);
    for (const row of page.rows) {
      expect(row.sourceTeamKey === null).toBe(row.sourceTeamName === null);
      expect(row.destinationTeamKey === null).toBe(row.destinationTeamName === null);
    }
    // All 260 drops (to waivers, or to free agents once) leave the destination empty.
    expect(page.rows.filter((row) => row.destinationTeamKey === null)).toHaveLength(260);
  });

  it('reads tr.181, a drop that went straight to free agents', () => {
    const rows = rowsOf(page.rows, '403.l.17457.tr.181');
    expect(rows).toEqual([
      {
        transactionKey: '403.l.17457.tr.181', transactionId: 181, type: 'add/drop', timestamp: 1612686201,
        status: 'successful', playerId: '6767', playerName: 'Jack Roslovic',
        sourceTeamKey: null, sourceTeamName: null,
        destinationTeamKey: '403.l.17457.t.4', destinationTeamName: 'HockeyMind', leagueKey: '403.l.17457',
      },
      {
        transactionKey: '403.l.17457.tr.181', transactionId: 181, type: 'add/drop', timestamp: 1612686201,
        status: 'successful', playerId: '3747', playerName: 'Curtis McElhinney',
        sourceTeamKey: '403.l.17457.t.4', sourceTeamName: 'HockeyMind',
        destinationTeamKey: null, destinationTeamName: null, leagueKey: '403.l.17457',
      },
    ]);
  });

  it('reads ids and timestamps as numbers, newest first, in the season 2020-12-22 .. 2021-04-11', () => {
    const ids = page.rows.map((row) => row.transactionId);
    for (const id of ids) expect(Number.isInteger(id) && id !== null && id >= 1 && id <= 463).toBe(true);
    expect(new Set(ids).size).toBe(438 - 35);
    const sortedNewestFirst = [...ids].sort((a, b) => (b ?? 0) - (a ?? 0));
    expect(ids).toEqual(sortedNewestFirst);
    for (const row of page.rows) {
      expect(row.timestamp).toBeGreaterThanOrEqual(unixSeconds(2020, 11, 22));
      expect(row.timestamp).toBeLessThan(unixSeconds(2021, 3, 12));
    }
  });

  it('reads tr.416, a trade of 7 players, with both teams on every row', () => {
    const rows = rowsOf(page.rows, '403.l.17457.tr.416');
    expect(rows).toHaveLength(7);
    for (const row of rows) {
      expect(row.type).toBe('trade');
      expect(row.sourceTeamKey).toMatch(/^403\.l\.17457\.t\.\d+$/);
      expect(row.destinationTeamKey).toMatch(/^403\.l\.17457\.t\.\d+$/);
      expect(row.sourceTeamKey).not.toBe(row.destinationTeamKey);
    }
  });

  it('names teams as the league teams fixture does', () => {
    const teamsPage = fixture(FILES.leagueTeams);
    const names = new Map<string, string>();
    for (const record of findTeams(teamsPage)) names.set(record.key, record.name);
    expect(names.size).toBe(12);
    for (const row of page.rows) {
      if (row.sourceTeamKey !== null) expect(row.sourceTeamName).toBe(names.get(row.sourceTeamKey));
      if (row.destinationTeamKey !== null) expect(row.destinationTeamName).toBe(names.get(row.destinationTeamKey));
    }
  });
});

/** Team keys and names of a teams collection, by a blind walk for `team_key` next to `name`. */
function findTeams(value: unknown): Array<{ key: string; name: string }> {
  if (Array.isArray(value)) {
    const parts = value.map(asObject);
    const key = parts.find((part) => typeof part?.['team_key'] === 'string')?.['team_key'];
    const name = parts.find((part) => typeof part?.['name'] === 'string')?.['name'];
    if (typeof key === 'string' && typeof name === 'string') return [{ key, name }];
    return value.flatMap(findTeams);
  }
  const object = asObject(value);
  return object === undefined ? [] : Object.values(object).flatMap(findTeams);
}

// ---------------------------------------------------------------------------------------
// The other scopes and shapes
// ---------------------------------------------------------------------------------------

describe('scopes and shapes', () => {
  it('reads an empty collection, `"transactions": []`, as an empty page of its league', () => {
    const page = parseTransactionsResponse(fixture(FILES.empty));
    expect(page).toEqual({ rows: [], rejected: [], recordCount: 0, leagueKey: '403.l.17457' });
  });

  it('reads the leagues scope: 2 trades, 6 players, league 411.l.1240', () => {
    const page = parseTransactionsResponse(fixture(FILES.leagues));
    expect(page.leagueKey).toBe('411.l.1240');
    expect(page.recordCount).toBe(2);
    expect(page.rows).toHaveLength(6);
    expect(rowsOf(page.rows, '411.l.1240.tr.629')).toHaveLength(4);
    expect(rowsOf(page.rows, '411.l.1240.tr.619')).toHaveLength(2);
    for (const row of page.rows) {
      expect(row.type).toBe('trade');
      expect(row.leagueKey).toBe('411.l.1240');
    }
  });

  it('reads several leagues of one leagues response, each under its own league key', () => {
    const body = fixture(FILES.leagues) as { fantasy_content: { leagues: Json } };
    const firstLeague = body.fantasy_content.leagues['0'];
    const secondLeague = JSON.parse(
      JSON.stringify(firstLeague).replaceAll('411.l.1240', '411.l.9999'),
    ) as unknown;
    const twoLeagues = { fantasy_content: { leagues: { 0: firstLeague, 1: secondLeague, count: 2 } } };
    const page = parseTransactionsResponse(twoLeagues);
    expect(page.leagueKey).toBe('411.l.1240');
    expect(page.recordCount).toBe(4);
    expect(countBy(page.rows, (row) => row.leagueKey)).toEqual({ '411.l.1240': 6, '411.l.9999': 6 });
  });

  it('reads the transactions scope (transactions;transaction_keys=…), where only the keys name the league', () => {
    const records = findRecords(fixture(FILES.nflTrades));
    const page = parseTransactionsResponse({ fantasy_content: { transactions: { 0: records[0], 1: records[1], count: 2 } } });
    expect(page.leagueKey).toBeNull();
    expect(page.recordCount).toBe(2);
    expect(page.rows).toHaveLength(4);
    for (const row of page.rows) expect(row.leagueKey).toBe('399.l.710921');
  });

  it('reads the team scope (type filter ignored by Yahoo): 3 drops and 2 adds', () => {
    const page = parseTransactionsResponse(fixture(FILES.team));
    expect(page.leagueKey).toBe('411.l.1239');
    expect(page.recordCount).toBe(5);
    expect(page.rows).toHaveLength(5);
    expect(distinctTransactionsByType(page.rows)).toEqual({ drop: 3, add: 2 });
    expect(new Set(page.rows.map((row) => row.transactionKey))).toEqual(
      new Set(['236', '176', '163', '159', '158'].map((id) => `411.l.1239.tr.${id}`)),
    );
  });

  it('reads the teams scope: 21 transactions, 12 add/drop, 5 add, 4 drop, 33 rows', () => {
    const page = parseTransactionsResponse(fixture(FILES.teams));
    expect(page.leagueKey).toBe('411.l.1239');
    expect(page.recordCount).toBe(21);
    expect(page.rows).toHaveLength(12 * 2 + 5 + 4);
    expect(distinctTransactionsByType(page.rows)).toEqual({ 'add/drop': 12, add: 5, drop: 4 });
    // Every add comes from waivers and every drop goes to waivers: one team side per row.
    for (const row of page.rows) {
      expect((row.sourceTeamKey === null) !== (row.destinationTeamKey === null)).toBe(true);
      expect(row.sourceTeamKey ?? row.destinationTeamKey).toBe('411.l.1239.t.1');
    }
  });

  it('reads the one-drop league page: tr.236 to waivers', () => {
    const page = parseTransactionsResponse(fixture(FILES.drop));
    expect(page.recordCount).toBe(1);
    expect(page.rows).toEqual([expect.objectContaining({
      transactionKey: '411.l.1239.tr.236', transactionId: 236, type: 'drop', timestamp: 1641008771,
      sourceTeamKey: '411.l.1239.t.1', destinationTeamKey: null, destinationTeamName: null, leagueKey: '411.l.1239',
    })]);
  });

  it('reads the NFL trades (escaped slashes in the raw text): 3 trades, 6 players, both teams named', () => {
    const page = parseTransactionsResponse(fixture(FILES.nflTrades));
    expect(page.leagueKey).toBe('399.l.710921');
    expect(page.recordCount).toBe(3);
    expect(page.rows).toHaveLength(6);
    expect(new Set(page.rows.map((row) => row.transactionKey))).toEqual(
      new Set(['319', '295', '133'].map((id) => `399.l.710921.tr.${id}`)),
    );
    for (const row of page.rows) {
      expect(row.sourceTeamName).toEqual(expect.any(String));
      expect(row.destinationTeamName).toEqual(expect.any(String));
    }
  });

  it('stores pending trades: no transaction id, proposed time as timestamp, status proposed', () => {
    const body = fixture(FILES.pending);
    const page = parseTransactionsResponse(body);
    expect(page.leagueKey).toBe('396.l.49770');
    expect(page.recordCount).toBe(3);
    expect(page.rows).toHaveLength(8);
    expect(page.rejected).toEqual([]);
    const proposedTimes = new Map(findRecords(body).map((record) => {
      const metadata = asObject((record['transaction'] as unknown[])[0]) ?? {};
      return [metadata['transaction_key'], Number(metadata['trade_proposed_time'])];
    }));
    for (const row of page.rows) {
      expect(row.transactionKey).toMatch(/^396\.l\.49770\.pt\.\d+$/);
      expect(row.transactionId).toBeNull();
      expect(row.type).toBe('pending_trade');
      expect(row.status).toBe('proposed');
      expect(row.timestamp).toBe(proposedTimes.get(row.transactionKey));
      expect(row.sourceTeamKey).not.toBeNull();
      expect(row.destinationTeamKey).not.toBeNull();
      expect(row.leagueKey).toBe('396.l.49770');
    }
    expect(rowsOf(page.rows, '396.l.49770.pt.1')[0]).toMatchObject({
      playerId: '4472', playerName: 'Drew Doughty', timestamp: 1572812431,
      sourceTeamKey: '396.l.49770.t.4', sourceTeamName: 'Sharks',
      destinationTeamKey: '396.l.49770.t.5', destinationTeamName: 'Eagles',
    });
  });

  it('walks the anonymized collection by its keys 0, 1, 4, 7 with no count', () => {
    const body = fixture(FILES.anonymized) as { fantasy_content: { league: [unknown, { transactions: Json }] } };
    expect(Object.keys(body.fantasy_content.league[1].transactions)).toEqual(['0', '1', '4', '7']);
    const page = parseTransactionsResponse(body);
    expect(page.leagueKey).toBe('nhl.l.12345');
    expect(page.recordCount).toBe(4);
    expect(page.rejected).toEqual([]);
    expect(countBy(page.rows, (row) => row.transactionKey)).toEqual({
      'nhl.l.12345.tr.470': 1, 'nhl.l.12345.tr.469': 2, 'nhl.l.12345.tr.466': 6, 'nhl.l.12345.tr.463': 1,
    });
    expect(distinctTransactionsByType(page.rows)).toEqual({ add: 1, 'add/drop': 1, trade: 1, drop: 1 });
    for (const row of page.rows) expect(row.leagueKey).toBe('nhl.l.12345');
  });

  it('preserves non-ASCII player and team names', () => {
    // No fixture holds a non-ASCII name: put the ones FORMAT.md quotes into a real record.
    const record = findRecords(fixture(FILES.season))
      .find((r) => recordFacts(r).key === '403.l.17457.tr.181');
    const text = JSON.stringify(record)
      .replace('Jack Roslovic', 'Tim St\\u00fctzle \u{1F3D2}')
      .replaceAll('HockeyMind', 'San Antonio S\\u00fcp\\u00fcrs');
    const { rows, rejected } = parseTransactionRecord(JSON.parse(text), null);
    expect(rejected).toEqual([]);
    expect(rows[0]?.playerName).toBe('Tim Stützle 🏒');
    expect(rows[0]?.destinationTeamName).toBe('San Antonio Süpürs');
    expect(rows[1]?.sourceTeamName).toBe('San Antonio Süpürs');
  });

  it('gives an empty page for responses that hold no transactions', () => {
    for (const name of [FILES.settings, FILES.leagueTeams, FILES.games]) {
      const page = parseTransactionsResponse(fixture(name));
      expect(page.rows).toEqual([]);
      expect(page.rejected).toEqual([]);
      expect(page.recordCount).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------------------

describe('parseTransactionRecord rejections', () => {
  const realRecord = (key: string): Json => {
    const found = findRecords(fixture(FILES.season)).find((r) => recordFacts(r).key === key);
    if (found === undefined) throw new Error(`no record ${key}`);
    return JSON.parse(JSON.stringify(found)) as Json;
  };
  const metadataOf = (record: Json): Json => (record['transaction'] as Json[])[0] as Json;
  const playerPartsOf = (record: Json, index: string): unknown[] =>
    ((((record['transaction'] as Json[])[1] as Json)['players'] as Json)[index] as Json)['player'] as unknown[];

  it('rejects a transaction without transaction_key or type, naming the field', () => {
    const noKey = realRecord('403.l.17457.tr.181');
    delete metadataOf(noKey)['transaction_key'];
    expect(parseTransactionRecord(noKey, '403.l.17457')).toEqual({
      rows: [], rejected: [{ raw: JSON.stringify(noKey), reason: 'transaction lacks transaction_key' }],
    });
    const noType = realRecord('403.l.17457.tr.181');
    delete metadataOf(noType)['type'];
    expect(parseTransactionRecord(noType, null).rejected.map((r) => r.reason))
      .toEqual(['transaction 403.l.17457.tr.181 lacks type']);
  });

  it('rejects a player without player_id and keeps the other player of the transaction', () => {
    const record = realRecord('403.l.17457.tr.181');
    const identity = playerPartsOf(record, '1')[0] as Json[];
    playerPartsOf(record, '1')[0] = identity.filter((part) => !('player_id' in part));
    const { rows, rejected } = parseTransactionRecord(record, null);
    expect(rows.map((row) => row.playerId)).toEqual(['6767']);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reason).toBe('transaction 403.l.17457.tr.181, player entry "1" lacks player_id');
    expect(rejected[0]?.raw).toContain('Curtis McElhinney');
  });

  it('rejects a player without transaction_data', () => {
    const record = realRecord('403.l.17457.tr.181');
    playerPartsOf(record, '0').splice(1);
    const { rows, rejected } = parseTransactionRecord(record, null);
    expect(rows.map((row) => row.playerId)).toEqual(['3747']);
    expect(rejected[0]?.reason).toMatch(/player entry "0" \(player 6767\) lacks transaction_data/);
  });

  it('rejects a transaction_id or timestamp that is not a whole number', () => {
    const badId = realRecord('403.l.17457.tr.181');
    metadataOf(badId)['transaction_id'] = 'one-eighty-one';
    expect(parseTransactionRecord(badId, null).rejected[0]?.reason).toMatch(/transaction_id "one-eighty-one" .*not a whole number/);
    const badTime = realRecord('403.l.17457.tr.181');
    metadataOf(badTime)['timestamp'] = '-5';
    expect(parseTransactionRecord(badTime, null).rejected[0]?.reason).toMatch(/timestamp "-5" .*not whole Unix seconds/);
  });

  it('takes the league from the transaction key, and falls back to the response league only without one', () => {
    const record = realRecord('403.l.17457.tr.181');
    expect(parseTransactionRecord(record, '999.l.1').rows[0]?.leagueKey).toBe('403.l.17457');
    metadataOf(record)['transaction_key'] = 'tr-181';
    expect(parseTransactionRecord(record, '403.l.17457').rows.map((row) => row.leagueKey)).toEqual(['403.l.17457', '403.l.17457']);
    expect(parseTransactionRecord(record, null).rejected[0]?.reason).toMatch(/no league key/);
  });

  it('keeps team keys only for a side whose type is "team", whatever else the data holds', () => {
    const record = realRecord('403.l.17457.tr.181');
    const drop = (playerPartsOf(record, '1')[1] as Json)['transaction_data'] as Json;
    Object.assign(drop, { destination_team_key: '403.l.17457.t.9', destination_team_name: 'Slap Shot' });
    const add = ((playerPartsOf(record, '0')[1] as Json)['transaction_data'] as Json[])[0] as Json;
    Object.assign(add, { source_team_key: '403.l.17457.t.9', source_team_name: 'Slap Shot' });
    const rows = parseTransactionRecord(record, null).rows;
    expect(rows.map((row) => [row.sourceTeamKey, row.destinationTeamKey])).toEqual([
      [null, '403.l.17457.t.4'],
      ['403.l.17457.t.4', null],
    ]);
  });

  it('walks numeric keys only, in numeric order, ignoring count and other keys', () => {
    const [first, second] = findRecords(fixture(FILES.season));
    const page = parseTransactionsResponse(asPage({ note: first, 10: first, 2: second, count: 99 }));
    expect(page.recordCount).toBe(2);
    expect(page.rows[0]?.transactionKey).toBe(recordFacts(second as Json).key);
  });

  it('reads waiver-claim keys (.w.c.) for their league too', () => {
    const record = realRecord('403.l.17457.tr.181');
    metadataOf(record)['transaction_key'] = '257.l.193.w.c.2_6390';
    delete metadataOf(record)['transaction_id'];
    const rows = parseTransactionRecord(record, null).rows;
    expect(rows.map((row) => [row.leagueKey, row.transactionId])).toEqual([['257.l.193', null], ['257.l.193', null]]);
  });

  it('rejects records of the wrong shape without throwing', () => {
    for (const value of [null, undefined, 'transaction', 42, [], {}, { transaction: 'x' }, { transaction: [] }]) {
      const result = parseTransactionRecord(value, '403.l.17457');
      expect(result.rows).toEqual([]);
      expect(result.rejected).toHaveLength(1);
    }
    const wrongPlayers = realRecord('403.l.17457.tr.181');
    (wrongPlayers['transaction'] as unknown[])[1] = { players: 'none' };
    expect(parseTransactionRecord(wrongPlayers, null).rejected[0]?.reason).toMatch(/players is "none" \(string\), not a collection/);
  });

  it('cuts raw to RAW_LIMIT characters', () => {
    const record = realRecord('403.l.17457.tr.374');
    metadataOf(record)['note'] = 'x'.repeat(5000);
    const [rejected] = parseTransactionRecord(record, null).rejected;
    expect(rejected?.raw).toHaveLength(RAW_LIMIT);
    expect(rejected?.raw).toBe(JSON.stringify(record).slice(0, RAW_LIMIT));
  });

  it('turns a transactions value that is not a collection into one rejected record', () => {
    const page = parseTransactionsResponse({ fantasy_content: { league: [{ league_key: '1.l.2' }, { transactions: 'oops' }] } });
    expect(page).toMatchObject({ rows: [], recordCount: 0, leagueKey: '1.l.2' });
    expect(page.rejected).toHaveLength(1);
  });

  it('gives an empty page for bodies that are not a response', () => {
    for (const body of [null, undefined, '', 'text', 0, true, [], {}, { fantasy_content: 'x' }, { fantasy_content: { league: 'x' } }]) {
      expect(parseTransactionsResponse(body)).toEqual({ rows: [], rejected: [], recordCount: 0, leagueKey: null });
    }
  });
});

// ---------------------------------------------------------------------------------------
// League metadata, errors, XML
// ---------------------------------------------------------------------------------------

describe('parseLeagueMetadata', () => {
  it('reads the league key, season and renew chain of the settings fixture', () => {
    expect(parseLeagueMetadata(fixture(FILES.settings))).toEqual({
      leagueKey: '403.l.17457', season: 2020, renew: '396_5194', renewed: null, name: 'Keeper',
    });
    expect(leagueKeyFromRenew('396_5194')).toBe('396.l.5194');
    expect(leagueKeyFromRenew('')).toBeNull();
  });

  it('reads the metadata of transactions responses too, and of the first league of a leagues response', () => {
    expect(parseLeagueMetadata(fixture(FILES.nflTrades))).toMatchObject({ leagueKey: '399.l.710921', season: 2020, renew: '390_212794' });
    expect(parseLeagueMetadata(fixture(FILES.anonymized))).toMatchObject({ renew: '411_4774', renewed: null });
    expect(parseLeagueMetadata(fixture(FILES.leagues))).toMatchObject({ leagueKey: '411.l.1240', renew: '403_1516' });
    expect(parseLeagueMetadata(fixture(FILES.pending))).toMatchObject({ renew: null, renewed: null });
  });

  it('returns null for responses without a league', () => {
    for (const body of [fixture(FILES.games), fixture(FILES.team), null, 'x', { fantasy_content: { league: [{}] } }]) {
      expect(parseLeagueMetadata(body)).toBeNull();
    }
  });
});

describe('parseYahooError', () => {
  it('reads the XML error fixtures, with the OAuth problem as code', () => {
    expect(parseYahooError(fixtureText(FILES.xmlError401))).toEqual({
      description: 'Please provide valid credentials. OAuth oauth_problem="token_expired", realm="yahooapis.com"',
      code: 'token_expired',
    });
    expect(parseYahooError(fixtureText(FILES.xmlError400))).toEqual({ description: 'Invalid game key provided - 1111111' });
  });

  it('reads JSON error documents, as values or as text', () => {
    const error = { error: { 'xml:lang': 'en-us', description: 'Team key 39.l.15338.t.1 does not exist.', detail: '' } };
    expect(parseYahooError(error)).toEqual({ description: 'Team key 39.l.15338.t.1 does not exist.' });
    expect(parseYahooError(JSON.stringify(error))).toEqual({ description: 'Team key 39.l.15338.t.1 does not exist.' });
  });

  it('returns null for anything that is not an error document', () => {
    for (const body of [fixture(FILES.season), fixtureText(FILES.xmlAddDrop), '<html><body>999</body></html>', 'Request denied', '', null, 7]) {
      expect(parseYahooError(body)).toBeNull();
    }
  });
});

describe('parseTransactionsXml', () => {
  it('reads the add/drop XML fixture like its JSON form', () => {
    const page = parseTransactionsXml(fixtureText(FILES.xmlAddDrop));
    expect(page.recordCount).toBe(1);
    expect(page.rejected).toEqual([]);
    const shared = { transactionKey: '406.l.117376.tr.584', transactionId: 584, type: 'add/drop', timestamp: 1638224605, status: 'successful', leagueKey: '406.l.117376' };
    expect(page.rows).toEqual([
      { ...shared, playerId: '32814', playerName: 'DeeJay Dallas', sourceTeamKey: null, sourceTeamName: null, destinationTeamKey: '406.l.117376.t.4', destinationTeamName: 'Chalupa Batman' },
      { ...shared, playerId: '32608', playerName: "D'Ernest Johnson", sourceTeamKey: '406.l.117376.t.4', sourceTeamName: 'Chalupa Batman', destinationTeamKey: null, destinationTeamName: null },
    ]);
  });

  it('decodes entities and gives an empty page for error documents', () => {
    const xml = fixtureText(FILES.xmlAddDrop).replace('Chalupa Batman', 'Chalupa &amp; Batman &#233;&#x1F3D2;');
    expect(parseTransactionsXml(xml).rows[0]?.destinationTeamName).toBe('Chalupa & Batman é🏒');
    expect(parseTransactionsXml(fixtureText(FILES.xmlError401))).toEqual({ rows: [], rejected: [], recordCount: 0 });
  });

  it('rejects a body that is not well-formed XML', () => {
    const cut = fixtureText(FILES.xmlAddDrop).slice(0, 1500);
    const page = parseTransactionsXml(cut);
    expect(page.rows).toEqual([]);
    expect(page.rejected.map((r) => r.reason)).toEqual(['response is not well-formed XML']);
  });
});

// ---------------------------------------------------------------------------------------
// Properties: no input makes the parser throw, and nothing is dropped silently
// ---------------------------------------------------------------------------------------

const REAL_RECORDS: unknown[] = TRANSACTION_FIXTURES.flatMap((name) => findRecords(fixture(name)));
const RUNS = { numRuns: 500 };

/** Replaces the subtree that `steps` leads to (each step picks a key modulo the key count). */
function replaceSubtree(value: unknown, steps: readonly number[], replacement: unknown): unknown {
  if (steps.length === 0 || typeof value !== 'object' || value === null) return replacement;
  const keys = Object.keys(value);
  if (keys.length === 0) return replacement;
  const [step = 0, ...rest] = steps;
  const key = keys[step % keys.length] as string;
  const copy: Json | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Json) };
  (copy as Json)[key] = replaceSubtree((value as Json)[key], rest, replacement);
  return copy;
}

function asPage(transactions: unknown): unknown {
  return { fantasy_content: { league: [{ league_key: '403.l.17457' }, { transactions }] } };
}

function expectRowsWellTyped(rows: readonly TransactionRow[]): void {
  for (const row of rows) {
    if (typeof row.transactionKey !== 'string' || typeof row.playerId !== 'string' || typeof row.leagueKey !== 'string') {
      throw new Error(`badly typed row ${JSON.stringify(row)}`);
    }
  }
}

function expectRejectedWellTyped(rejected: readonly RejectedRecord[]): void {
  for (const record of rejected) {
    if (typeof record.raw !== 'string' || record.raw.length > RAW_LIMIT || typeof record.reason !== 'string' || record.reason === '') {
      throw new Error(`badly typed rejected record ${JSON.stringify(record)}`);
    }
  }
}

describe('properties', () => {
  it('never throws on arbitrary JSON values, as a body, a collection or a record', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      for (const page of [parseTransactionsResponse(value), parseTransactionsResponse(asPage(value)), parseTransactionsResponse({ fantasy_content: value })]) {
        expectRowsWellTyped(page.rows);
        expectRejectedWellTyped(page.rejected);
      }
      const record = parseTransactionRecord(value, null);
      expectRowsWellTyped(record.rows);
      expectRejectedWellTyped(record.rejected);
      parseLeagueMetadata(value);
      parseYahooError(value);
    }), RUNS);
  });

  it('never throws on arbitrary JavaScript values', () => {
    fc.assert(fc.property(fc.anything(), (value) => {
      parseTransactionsResponse(value);
      parseTransactionsResponse(asPage(value));
      parseTransactionRecord(value, '403.l.17457');
      parseLeagueMetadata(value);
      parseYahooError(value);
    }), RUNS);
  });

  it('turns every mutated real record into at least one row or rejected record', () => {
    fc.assert(fc.property(
      fc.constantFrom(...REAL_RECORDS),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.anything(),
      (record, steps, replacement) => {
        const mutated = replaceSubtree(record, steps, replacement);
        const result = parseTransactionRecord(mutated, null);
        expectRowsWellTyped(result.rows);
        expectRejectedWellTyped(result.rejected);
        if (result.rows.length + result.rejected.length === 0) throw new Error('a record vanished');
        const page = parseTransactionsResponse(asPage({ 0: mutated, count: 1 }));
        if (page.recordCount !== 1) throw new Error(`recordCount ${page.recordCount}`);
        expectRowsWellTyped(page.rows);
      },
    ), RUNS);
  });

  it('never throws on mutated real responses', () => {
    const bodies = [FILES.leagues, FILES.team, FILES.pending, FILES.anonymized, FILES.drop].map(fixture);
    fc.assert(fc.property(
      fc.constantFrom(...bodies),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.jsonValue(),
      (body, steps, replacement) => {
        const page = parseTransactionsResponse(replaceSubtree(body, steps, replacement));
        expectRowsWellTyped(page.rows);
        expectRejectedWellTyped(page.rejected);
      },
    ), RUNS);
  });

  it('never throws on arbitrary or damaged XML and error text', () => {
    const xml = fixtureText(FILES.xmlAddDrop);
    fc.assert(fc.property(fc.string(), fc.nat(xml.length), fc.nat(xml.length), (text, from, to) => {
      const damaged = xml.slice(0, Math.min(from, to)) + text + xml.slice(Math.max(from, to));
      for (const input of [text, damaged]) {
        const page = parseTransactionsXml(input);
        expectRowsWellTyped(page.rows);
        expectRejectedWellTyped(page.rejected);
        parseYahooError(input);
      }
    }), RUNS);
  });
});
