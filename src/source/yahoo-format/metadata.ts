/** League metadata (season, renew chain) and Yahoo's error descriptions. */
import { collectionEntries, field, mergeFields, nonEmptyString, optionalWholeNumber } from './json.js';
import { localName, readXml } from './xml-reader.js';

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
