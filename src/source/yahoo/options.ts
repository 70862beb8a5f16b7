/**
 * Options of the Yahoo source, their defaults (some from the environment) and their
 * validation. Credentials are resolved in the calling (main) thread by `yahooSource()`, so
 * the source description carries them to the fetch workers and every worker sees the same.
 */
import { BackfillError, InvalidOptionError } from '../../errors.js';

export interface YahooSourceOptions {
  /**
   * Base URL of the Fantasy Sports API v2, `http:` or `https:` (tests point it at a local
   * server). A trailing slash is ignored.
   * @default env LEAGUE_BACKFILL_YAHOO_API_BASE, else 'https://fantasysports.yahooapis.com/fantasy/v2'
   */
  apiBase?: string;
  /**
   * OAuth 2 token endpoint used to refresh the access token.
   * @default env LEAGUE_BACKFILL_YAHOO_TOKEN_URL, else 'https://api.login.yahoo.com/oauth2/get_token'
   */
  tokenUrl?: string;
  /**
   * OAuth 2 access token (lasts one hour). Optional when the refresh trio is given: the
   * source then fetches one before its first request.
   * @default env YAHOO_ACCESS_TOKEN
   */
  accessToken?: string;
  /** Client id (consumer key) of the Yahoo app, for refreshing the token. @default env YAHOO_CLIENT_ID */
  clientId?: string;
  /** Client secret (consumer secret) of the Yahoo app, for refreshing the token. @default env YAHOO_CLIENT_SECRET */
  clientSecret?: string;
  /** Refresh token of the user who authorized the app. @default env YAHOO_REFRESH_TOKEN */
  refreshToken?: string;
  /** Time allowed for one HTTP request, response body included, in milliseconds. @default 30000 */
  timeoutMs?: number;
  /**
   * Attempts per request for throttling (HTTP 999, 429), server errors (5xx), network
   * errors, timeouts and bodies that are not JSON. From 1 to 20.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * First retry delay in milliseconds; each further retry doubles it, with jitter (x0.5 to
   * x1.5), up to `retryMaxDelayMs`. A `Retry-After` header replaces it.
   * @default 1000
   */
  retryDelayMs?: number;
  /** Longest retry delay computed by the backoff, in milliseconds. @default 60000 */
  retryMaxDelayMs?: number;
}

/** The options with every default applied. Credentials that were not given are null. */
export interface ResolvedYahooSourceOptions {
  apiBase: string;
  tokenUrl: string;
  accessToken: string | null;
  clientId: string | null;
  clientSecret: string | null;
  refreshToken: string | null;
  timeoutMs: number;
  maxAttempts: number;
  retryDelayMs: number;
  retryMaxDelayMs: number;
}

export const DEFAULT_YAHOO_API_BASE = 'https://fantasysports.yahooapis.com/fantasy/v2';
export const DEFAULT_YAHOO_TOKEN_URL = 'https://api.login.yahoo.com/oauth2/get_token';

/** The README section that explains how to get and set the credentials. */
export const CREDENTIALS_HELP = 'see README "Yahoo credentials"';

const OPTION_NAMES = [
  'apiBase', 'tokenUrl', 'accessToken', 'clientId', 'clientSecret', 'refreshToken',
  'timeoutMs', 'maxAttempts', 'retryDelayMs', 'retryMaxDelayMs',
] as const;

/** The environment variable behind each credential option. */
const CREDENTIAL_ENV = {
  accessToken: 'YAHOO_ACCESS_TOKEN',
  clientId: 'YAHOO_CLIENT_ID',
  clientSecret: 'YAHOO_CLIENT_SECRET',
  refreshToken: 'YAHOO_REFRESH_TOKEN',
} as const;

const MAX_TIMER_MS = 2_147_483_647;

/**
 * Applies the defaults (the environment's where documented) and validates every field.
 * Throws `InvalidOptionError` for a bad or unknown option and `BackfillError('ERR_AUTH')`
 * when neither an access token nor the complete refresh trio is available.
 */
export function resolveYahooSourceOptions(
  options: unknown = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedYahooSourceOptions {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object of Yahoo source options', options);
  rejectUnknownOptions(options, OPTION_NAMES);

  const resolved: ResolvedYahooSourceOptions = {
    apiBase: httpUrl('apiBase', options['apiBase'] ?? nonEmpty(env['LEAGUE_BACKFILL_YAHOO_API_BASE']) ?? DEFAULT_YAHOO_API_BASE),
    tokenUrl: httpUrl('tokenUrl', options['tokenUrl'] ?? nonEmpty(env['LEAGUE_BACKFILL_YAHOO_TOKEN_URL']) ?? DEFAULT_YAHOO_TOKEN_URL),
    accessToken: credential(options, env, 'accessToken'),
    clientId: credential(options, env, 'clientId'),
    clientSecret: credential(options, env, 'clientSecret'),
    refreshToken: credential(options, env, 'refreshToken'),
    timeoutMs: integerIn('timeoutMs', options['timeoutMs'] ?? 30_000, 1, MAX_TIMER_MS),
    maxAttempts: integerIn('maxAttempts', options['maxAttempts'] ?? 5, 1, 20),
    retryDelayMs: integerIn('retryDelayMs', options['retryDelayMs'] ?? 1000, 0, MAX_TIMER_MS),
    retryMaxDelayMs: 0,
  };
  resolved.retryMaxDelayMs = integerIn('retryMaxDelayMs', options['retryMaxDelayMs'] ?? Math.max(60_000, resolved.retryDelayMs), resolved.retryDelayMs, MAX_TIMER_MS);
  assertCredentials(resolved);
  return resolved;
}

/** True when the options hold what a token refresh needs. */
export function canRefresh(options: ResolvedYahooSourceOptions): boolean {
  return options.clientId !== null && options.clientSecret !== null && options.refreshToken !== null;
}

function assertCredentials(options: ResolvedYahooSourceOptions): void {
  if (options.accessToken !== null || canRefresh(options)) return;
  const trio = (['clientId', 'clientSecret', 'refreshToken'] as const);
  const given = trio.filter((name) => options[name] !== null);
  const missing = trio.filter((name) => options[name] === null).map((name) => CREDENTIAL_ENV[name]);
  if (given.length > 0) {
    throw new BackfillError('ERR_AUTH',
      `Yahoo credentials are incomplete: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set. ` +
      'Set YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN together (or a current YAHOO_ACCESS_TOKEN); ' +
      `${CREDENTIALS_HELP}`);
  }
  throw new BackfillError('ERR_AUTH',
    'No Yahoo credentials: set YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN (the token is then ' +
    'refreshed as needed), or YAHOO_ACCESS_TOKEN for a one-hour run; ' +
    `${CREDENTIALS_HELP}`);
}

function credential(
  options: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  name: keyof typeof CREDENTIAL_ENV,
): string | null {
  const value = options[name];
  if (value === undefined || value === null) return nonEmpty(env[CREDENTIAL_ENV[name]]) ?? null;
  // Never echo the value: it is a secret. Say only what kind of value it was.
  if (typeof value !== 'string' || value.trim() === '' || /[\s]/.test(value)) {
    throw new InvalidOptionError(name, 'a non-empty string without spaces', `<a ${typeof value} value, not shown>`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function httpUrl(name: string, value: unknown): string {
  let url: URL | null = null;
  if (typeof value === 'string') {
    try {
      url = new URL(value);
    } catch {
      url = null;
    }
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new InvalidOptionError(name, 'an http(s) URL without query or fragment, e.g. "https://fantasysports.yahooapis.com/fantasy/v2"', value);
  }
  return String(value).replace(/\/+$/, '');
}

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Rejects option names that are not `known`, suggesting the nearest known name. */
export function rejectUnknownOptions(object: Record<string, unknown>, known: readonly string[]): void {
  for (const name of Object.keys(object)) {
    if (known.includes(name)) continue;
    const near = known.find((candidate) => editDistance(name, candidate) <= 2);
    throw new InvalidOptionError(
      name,
      `a known option (${known.join(', ')})`,
      // The value of a misspelt credential option is a secret too: do not show it.
      /token|secret/i.test(name) ? '<not shown>' : object[name],
      near === undefined ? 'Remove it' : `Did you mean \`${near}\`?`,
    );
  }
}

/** Levenshtein distance, case-insensitive, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}
