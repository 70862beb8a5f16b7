/**
 * A Yahoo league gets a new key every season. Its league metadata names the previous
 * season's league in `renew` (`"396_5194"` -> `396.l.5194`), so the seasons of the league a
 * user names (by its newest key) are found by walking that chain backwards.
 */
import { SourceError } from '../../errors.js';
import type { FantasyResponse } from './client.js';
import { leagueKeyFromRenew, parseLeagueMetadata } from '../yahoo-format/index.js';
import type { LeagueMetadata } from '../yahoo-format/index.js';

export interface LeagueSeason {
  season: number;
  leagueKey: string;
}

/** How the chain reads metadata: `GET /league/{key}/metadata`. */
export type FetchJson = (path: string, signal?: AbortSignal) => Promise<FantasyResponse>;

/** A league can be renewed every year; a chain longer than this is a loop in the data. */
const MAX_CHAIN = 100;

/**
 * The season chains of this worker's leagues. Metadata is fetched once per league key and
 * kept (a failed fetch is forgotten, so the next page tries again).
 */
export class SeasonChain {
  readonly #fetchJson: FetchJson;
  readonly #metadata = new Map<string, Promise<LeagueMetadata & { season: number }>>();

  constructor(fetchJson: FetchJson) {
    this.#fetchJson = fetchJson;
  }

  /**
   * The league key of `season` of the league named by `leagueKey`. Throws a non-transient
   * `SourceError` when the league has no such season.
   */
  async leagueKeyOf(leagueKey: string, season: number, signal?: AbortSignal): Promise<string> {
    let key = leagueKey;
    for (let step = 0; step < MAX_CHAIN; step++) {
      const metadata = await this.#metadataOf(key, signal);
      if (metadata.season === season) return metadata.leagueKey;
      if (step === 0 && metadata.season < season) {
        throw new SourceError(
          `League ${leagueKey} is the league's ${metadata.season} season, so it has no season ${season}; ` +
          `name the league key of season ${season} or later (each season has its own key)`,
        );
      }
      const previous = metadata.renew === null ? null : leagueKeyFromRenew(metadata.renew);
      if (metadata.season < season || previous === null) {
        throw new SourceError(`League ${leagueKey} has no season ${season}; its seasons are ${describeSeasons(await this.seasons(leagueKey, signal))}`);
      }
      key = previous;
    }
    throw new SourceError(`League ${leagueKey}: the renew chain is longer than ${MAX_CHAIN} seasons; it probably loops`);
  }

  /** Every season of the league named by `leagueKey`, newest first. */
  async seasons(leagueKey: string, signal?: AbortSignal): Promise<LeagueSeason[]> {
    const seasons: LeagueSeason[] = [];
    let key: string | null = leagueKey;
    while (key !== null) {
      if (seasons.length >= MAX_CHAIN) {
        throw new SourceError(`League ${leagueKey}: the renew chain is longer than ${MAX_CHAIN} seasons; it probably loops`);
      }
      const metadata = await this.#metadataOf(key, signal);
      seasons.push({ season: metadata.season, leagueKey: metadata.leagueKey });
      key = metadata.renew === null ? null : leagueKeyFromRenew(metadata.renew);
    }
    return seasons;
  }

  #metadataOf(leagueKey: string, signal: AbortSignal | undefined): Promise<LeagueMetadata & { season: number }> {
    let metadata = this.#metadata.get(leagueKey);
    if (metadata === undefined) {
      metadata = this.#fetchMetadata(leagueKey, signal);
      this.#metadata.set(leagueKey, metadata);
      metadata.catch(() => this.#metadata.delete(leagueKey));
    }
    return metadata;
  }

  async #fetchMetadata(leagueKey: string, signal: AbortSignal | undefined): Promise<LeagueMetadata & { season: number }> {
    // The key may come from Yahoo's own `renew` field: encode it, never paste it into the path.
    const path = `/league/${encodeURIComponent(leagueKey)}/metadata?format=json`;
    const metadata = parseLeagueMetadata(await this.#fetchJson(path, signal));
    if (metadata === null || metadata.season === null) {
      throw new SourceError(`Yahoo's metadata for league ${leagueKey} (GET ${path}) names no ${metadata === null ? 'league' : 'season'}`);
    }
    return { ...metadata, season: metadata.season };
  }
}

/** `2016-2023` for consecutive seasons, `2016, 2018-2023` otherwise. */
export function describeSeasons(seasons: readonly LeagueSeason[]): string {
  const years = [...new Set(seasons.map((entry) => entry.season))].sort((a, b) => a - b);
  const ranges: string[] = [];
  let first = years[0];
  let last = first;
  for (const year of [...years.slice(1), undefined]) {
    if (year !== undefined && last !== undefined && year === last + 1) {
      last = year;
      continue;
    }
    if (first !== undefined) ranges.push(first === last ? `${first}` : `${first}-${last}`);
    first = year;
    last = year;
  }
  return ranges.join(', ');
}
