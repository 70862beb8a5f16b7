/**
 * The season of a league key, for saved responses and NDJSON rows that do not say it.
 * Order of evidence: the league metadata of a saved response (`season`), then the game key
 * (each sport-season has its own, table below), then the year of the league's earliest
 * transaction. The last is a guess: a season is named by the year it starts, and an NHL or
 * NBA season whose first transaction falls in January would be named one year late.
 */

/**
 * Yahoo game keys of the four main sports, 1999-2025 (test/fixtures/yahoo/FORMAT.md section
 * 8: mattdodge/yahoofantasy `games.py`, checked against real API output where bold there).
 * Row: season, then the game keys of nfl, mlb, nba, nhl (0: not known).
 */
const GAME_KEYS_BY_SEASON: ReadonlyArray<readonly [season: number, nfl: number, mlb: number, nba: number, nhl: number]> = [
  [1999, 50, 0, 0, 0], [2000, 53, 0, 0, 61],
  [2001, 57, 12, 16, 15], [2002, 49, 39, 67, 64], [2003, 79, 74, 95, 94], [2004, 101, 98, 112, 111],
  [2005, 124, 113, 131, 130], [2006, 153, 147, 165, 164], [2007, 175, 171, 187, 186], [2008, 199, 195, 211, 210],
  [2009, 222, 215, 234, 233], [2010, 242, 238, 249, 248], [2011, 257, 253, 265, 263], [2012, 273, 268, 304, 303],
  [2013, 314, 308, 322, 321], [2014, 331, 328, 342, 341], [2015, 348, 346, 353, 352], [2016, 359, 357, 364, 363],
  [2017, 371, 370, 375, 376], [2018, 380, 378, 385, 386], [2019, 390, 388, 395, 396], [2020, 399, 398, 402, 403],
  [2021, 406, 404, 410, 411], [2022, 414, 412, 418, 419], [2023, 423, 422, 428, 427], [2024, 449, 431, 454, 453],
  [2025, 461, 458, 466, 465],
];

/** Game key -> season. No game key appears twice in the table. */
const SEASON_OF_GAME_KEY: ReadonlyMap<string, number> = new Map(
  GAME_KEYS_BY_SEASON.flatMap(([season, ...keys]) => keys.filter((key) => key > 0).map((key) => [String(key), season] as const)),
);

/** The season of a game key (`403` -> 2020), or null when the table does not know it. */
export function seasonOfGameKey(gameKey: string): number | null {
  return SEASON_OF_GAME_KEY.get(gameKey) ?? null;
}

/** The game key part of a league key (`403.l.17457` -> `403`). */
export function gameKeyOf(leagueKey: string): string {
  return leagueKey.slice(0, leagueKey.indexOf('.'));
}

/** The UTC year of Unix time `seconds`. */
export function yearOf(seconds: number): number {
  return new Date(seconds * 1000).getUTCFullYear();
}

export type SeasonEvidence = 'league metadata' | 'game key' | 'earliest transaction';

/**
 * The season of `leagueKey`: from `metadataSeason` when the input had league metadata, else
 * from the game key, else from `earliestTimestamp`. Null when there is no evidence at all.
 */
export function inferSeason(
  leagueKey: string,
  metadataSeason: number | undefined,
  earliestTimestamp: number | null,
): { season: number; evidence: SeasonEvidence } | null {
  if (metadataSeason !== undefined) return { season: metadataSeason, evidence: 'league metadata' };
  const fromGameKey = seasonOfGameKey(gameKeyOf(leagueKey));
  if (fromGameKey !== null) return { season: fromGameKey, evidence: 'game key' };
  if (earliestTimestamp !== null) return { season: yearOf(earliestTimestamp), evidence: 'earliest transaction' };
  return null;
}
