/**
 * The Yahoo source: the Fantasy Sports API v2 over HTTP(S), `format=json`. A job names the
 * user's league key (its newest season) and a season; the season's own league key is found
 * through the `renew` chain, then its transactions are read in pages
 * (`/league/{key}/transactions;start=S;count=C`), newest first, until a short page.
 *
 * What each answer becomes (the client retries inside one page fetch, `maxAttempts` in all):
 * - 999 (Yahoo's throttle), 408, 429, 5xx, network errors, timeouts: retried with backoff,
 *   or after `Retry-After`; when attempts run out, a `SourceError` with `transient: true`
 *   naming the status (or the time limit) and the URL, so the engine may try the page again.
 * - 200 with a body that is not JSON: retried too (proxies answer hiccups with an HTML page);
 *   when every attempt gets one, a `SourceError` with `transient: false`: it is not a hiccup.
 * - 200 with JSON that has no `fantasy_content`, 400, 404: a `SourceError` with
 *   `transient: false` carrying Yahoo's description (an invalid league key, say).
 * - 401: the token is refreshed once (when the refresh trio is set) and the request sent
 *   again; a second 401 or a refused refresh is `BackfillError('ERR_AUTH')`.
 * - 403: `BackfillError('ERR_AUTH')`: the app is not approved for Fantasy Sports data (a 403
 *   that names an OAuth problem, such as token_expired, is treated as a 401).
 * No message, log line or URL carries a token or secret.
 */
import { InvalidOptionError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { SharedRateLimiter } from '../../util/rate-limiter.js';
import type { ParsedPage } from '../../model/index.js';
import type { PageRequest, Source, SourceSpec } from '../types.js';
import { YahooClient } from './client.js';
import type { RequestGate } from './client.js';
import { resolveYahooSourceOptions } from './options.js';
import type { YahooSourceOptions } from './options.js';
import { parseTransactionsResponse } from '../yahoo-format/index.js';
import { SeasonChain } from './seasons.js';
import type { LeagueSeason } from './seasons.js';

export { resolveYahooSourceOptions } from './options.js';
export type { ResolvedYahooSourceOptions, YahooSourceOptions } from './options.js';
export type { LeagueSeason } from './seasons.js';

/** What the worker gives the source: the shared rate limit, and optionally a logger. */
export interface YahooSourceContext {
  /** One request rate shared by every fetch worker; each HTTP request takes a slot. */
  rateLimiter: RequestGate;
  /** Retries and token refreshes are logged here, never with credentials. @default silent */
  logger?: Logger;
}

/**
 * A serialisable description of a Yahoo source, for the fetch workers. Runs in the calling
 * thread: defaults are taken from the environment here (credentials included, so every
 * worker uses the same), and bad options or missing credentials fail here, before any
 * worker starts. Throws `BackfillError('ERR_AUTH')` when no usable credentials are set.
 *
 * @example
 * const engine = await createEngine({ database: 'league.db', source: yahooSource() }); // credentials from YAHOO_* variables
 */
export function yahooSource(options?: YahooSourceOptions): SourceSpec {
  return { kind: 'yahoo', options: { ...resolveYahooSourceOptions(options) } };
}

/**
 * The Yahoo source, as it runs in a fetch worker. Each call makes its own client (token,
 * metadata cache); the fetch worker keeps one per source description.
 */
export function createYahooSource(options: unknown, context: YahooSourceContext): Source {
  const resolved = resolveYahooSourceOptions(options);
  const client = new YahooClient(resolved, { rateLimiter: context.rateLimiter, ...(context.logger ? { logger: context.logger } : {}) });
  const chain = new SeasonChain((path, signal) => client.getJson(path, signal));
  return {
    kind: 'yahoo',
    async fetchPage(request: PageRequest): Promise<ParsedPage> {
      const { job, start, pageSize, signal } = request;
      signal?.throwIfAborted();
      checkPage(start, pageSize);
      const seasonKey = await chain.leagueKeyOf(job.leagueKey, job.season, signal);
      const body = await client.getJson(`/league/${encodeURIComponent(seasonKey)}/transactions;start=${start};count=${pageSize}?format=json`, signal);
      const { rows, rejected, recordCount } = parseTransactionsResponse(body);
      return { rows, rejected, recordCount };
    },
  };
}

/**
 * Every season of the league named by `leagueKey` (its newest season's key), oldest first,
 * each with its own league key: for expanding "all seasons" in the calling thread. Makes one
 * metadata request per season, at most `requestsPerSecond` (default 1) a second.
 */
export async function listSeasons(
  options: YahooSourceOptions | undefined,
  leagueKey: string,
  init: { signal?: AbortSignal; requestsPerSecond?: number; logger?: Logger } = {},
): Promise<LeagueSeason[]> {
  const resolved = resolveYahooSourceOptions(options);
  const rateLimiter = new SharedRateLimiter(init.requestsPerSecond ?? 1);
  const client = new YahooClient(resolved, { rateLimiter, ...(init.logger ? { logger: init.logger } : {}) });
  const seasons = await new SeasonChain((path, signal) => client.getJson(path, signal)).seasons(leagueKey, init.signal);
  return seasons.reverse();
}

function checkPage(start: number, pageSize: number): void {
  if (!Number.isInteger(start) || start < 0) throw new InvalidOptionError('start', 'an integer of at least 0', start);
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new InvalidOptionError('pageSize', 'an integer of at least 1', pageSize);
}
