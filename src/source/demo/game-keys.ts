/**
 * Yahoo game keys by season, and the league keys of a league's seasons. A Yahoo league gets a
 * new key every season: the game key changes (one game per sport and season), the league id
 * stays. The tables are Yahoo's real game keys (`games;game_codes=nfl,nhl`, see
 * fixtures/yahoo/yfar-games-nfl-nhl-all-seasons.json, and the 2022-2025 games); seasons
 * outside them are extrapolated so that every season still gets its own key.
 */
import { InvalidOptionError } from '../../errors.js';

export type Sport = 'nfl' | 'nhl';

/** Earliest and latest season a demo league can have. */
export const MIN_SEASON = 1950;
export const MAX_SEASON = 2150;

const GAME_KEYS: Readonly<Record<Sport, ReadonlyMap<number, number>>> = {
  nfl: new Map([
    [1999, 50], [2000, 53], [2001, 57], [2002, 49], [2003, 79], [2004, 101], [2005, 124],
    [2006, 153], [2007, 175], [2008, 199], [2009, 222], [2010, 242], [2011, 257], [2012, 273],
    [2013, 314], [2014, 331], [2015, 348], [2016, 359], [2017, 371], [2018, 380], [2019, 390],
    [2020, 399], [2021, 406], [2022, 414], [2023, 423], [2024, 449], [2025, 461],
  ]),
  nhl: new Map([
    [2000, 61], [2001, 15], [2002, 64], [2003, 94], [2004, 111], [2005, 130], [2006, 164],
    [2007, 186], [2008, 210], [2009, 233], [2010, 248], [2011, 263], [2012, 303], [2013, 321],
    [2014, 341], [2015, 352], [2016, 363], [2017, 376], [2018, 386], [2019, 396], [2020, 403],
    [2021, 411], [2022, 419], [2023, 427], [2024, 453], [2025, 465],
  ]),
};

interface TableBounds { first: number; last: number; lastKey: number; backwardBase: number }

function bounds(sport: Sport): TableBounds {
  const seasons = [...GAME_KEYS[sport].keys()];
  const first = Math.min(...seasons);
  const last = Math.max(...seasons);
  // Before the table: 100000 + 2k (NFL, even) or 100001 + 2k (NHL, odd). After it: 12 a
  // season from the last real key. The ranges cannot meet within MIN_SEASON..MAX_SEASON.
  return { first, last, lastKey: GAME_KEYS[sport].get(last) ?? 0, backwardBase: sport === 'nfl' ? 100_000 : 100_001 };
}

const BOUNDS: Readonly<Record<Sport, TableBounds>> = { nfl: bounds('nfl'), nhl: bounds('nhl') };

/** Game key -> sport, for the keys of the tables. */
const SPORT_OF_KEY: ReadonlyMap<number, Sport> = new Map([
  ...[...GAME_KEYS.nfl.values()].map((key) => [key, 'nfl'] as const),
  ...[...GAME_KEYS.nhl.values()].map((key) => [key, 'nhl'] as const),
]);

const LEAGUE_KEY = /^(\d+|[a-z]+)\.l\.(\d+)$/;
const LEAGUE_KEY_FORM = 'a league key of the form `{game_key}.l.{league_id}`, e.g. "461.l.12345" or "nfl.l.12345"';

export interface ParsedLeagueKey {
  gameKey: string;
  leagueId: string;
  sport: Sport;
}

/**
 * Splits a league key. Numeric game keys of the NHL table (or its extrapolation) and the code
 * `nhl` make an NHL-like league; every other game key or code makes an NFL-like league.
 */
export function parseLeagueKey(leagueKey: string, option = 'leagueKey'): ParsedLeagueKey {
  const match = typeof leagueKey === 'string' ? LEAGUE_KEY.exec(leagueKey) : null;
  if (match === null) throw new InvalidOptionError(option, LEAGUE_KEY_FORM, leagueKey);
  const gameKey = match[1] ?? '';
  return { gameKey, leagueId: match[2] ?? '', sport: sportOfGameKey(gameKey) };
}

function sportOfGameKey(gameKey: string): Sport {
  if (!/^\d+$/.test(gameKey)) return gameKey === 'nhl' ? 'nhl' : 'nfl';
  const key = Number(gameKey);
  const known = SPORT_OF_KEY.get(key);
  if (known !== undefined) return known;
  if (key >= 100_000) return key % 2 === 0 ? 'nfl' : 'nhl';
  const nhl = BOUNDS.nhl.lastKey;
  return key > nhl && (key - nhl) % 12 === 0 ? 'nhl' : 'nfl';
}

export function assertSeason(season: unknown, option = 'season'): asserts season is number {
  if (typeof season !== 'number' || !Number.isInteger(season) || season < MIN_SEASON || season > MAX_SEASON) {
    throw new InvalidOptionError(option, `an integer from ${MIN_SEASON} to ${MAX_SEASON}`, season);
  }
}

/** The game key of a sport's season: Yahoo's own where known, else extrapolated. */
export function gameKeyFor(sport: Sport, season: number): number {
  const known = GAME_KEYS[sport].get(season);
  if (known !== undefined) return known;
  const b = BOUNDS[sport];
  if (season > b.last) return b.lastKey + 12 * (season - b.last);
  return b.backwardBase + 2 * (b.first - season);
}

/**
 * The key of `season`'s edition of the league `leagueKey`: same league id, that season's game
 * key. `seasonLeagueKey('461.l.12345', 2020)` is `'399.l.12345'` (NFL 2020);
 * `seasonLeagueKey('403.l.7', 2019)` is `'396.l.7'` (NHL 2019). Throws `InvalidOptionError`
 * for a key not of the form `{game_key}.l.{league_id}` or a season outside 1950..2150.
 */
export function seasonLeagueKey(leagueKey: string, season: number): string {
  const { leagueId, sport } = parseLeagueKey(leagueKey);
  assertSeason(season);
  return `${gameKeyFor(sport, season)}.l.${leagueId}`;
}
