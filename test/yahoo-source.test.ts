import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackfillError, SourceError } from '../src/errors.js';
import { jobIdOf } from '../src/queue/job.js';
import { createSource } from '../src/source/index.js';
import type { ParsedPage, RejectedRecord, TransactionRow } from '../src/model/index.js';
import type { Source } from '../src/source/types.js';
import { backoffDelay, parseRetryAfter } from '../src/source/yahoo/backoff.js';
import { createYahooSource, listSeasons, resolveYahooSourceOptions, yahooSource } from '../src/source/yahoo/source.js';
import type { YahooSourceOptions } from '../src/source/yahoo/source.js';
import { SharedRateLimiter } from '../src/util/rate-limiter.js';
import { startFakeYahooServer } from './helpers/fake-yahoo-server.js';
import type { FakeYahooServer } from './helpers/fake-yahoo-server.js';

const LEAGUE = '403.l.17457';
const PREVIOUS_LEAGUE = '396.l.5194';
const PAGE = 25;
const CREDENTIAL_VARIABLES = ['YAHOO_ACCESS_TOKEN', 'YAHOO_CLIENT_ID', 'YAHOO_CLIENT_SECRET', 'YAHOO_REFRESH_TOKEN', 'LEAGUE_BACKFILL_YAHOO_API_BASE', 'LEAGUE_BACKFILL_YAHOO_TOKEN_URL'];

let server: FakeYahooServer;
const savedEnv = new Map<string, string | undefined>();
/** Every log line any source of this file wrote. */
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

beforeAll(async () => {
  // Credentials of the machine running the tests must not leak into them.
  for (const name of CREDENTIAL_VARIABLES) {
    savedEnv.set(name, process.env[name]);
    delete process.env[name];
  }
  server = await startFakeYahooServer();
});

afterAll(async () => {
  await server.close();
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

afterEach(() => server.reset());

/** Small delays and limits, so that retries take milliseconds. */
function options(overrides: YahooSourceOptions = {}): YahooSourceOptions {
  return {
    apiBase: server.apiBase,
    tokenUrl: server.tokenUrl,
    accessToken: server.accessToken,
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    refreshToken: server.refreshToken,
    timeoutMs: 2000,
    maxAttempts: 3,
    retryDelayMs: 10,
    retryMaxDelayMs: 40,
    ...overrides,
  };
}

function source(overrides: YahooSourceOptions = {}, rateLimiter = new SharedRateLimiter(0)): Source {
  return createYahooSource(options(overrides), { rateLimiter, logger });
}

/** A source with only some credentials: the others are left out (the environment has none). */
function sourceWithout(...names: Array<'accessToken' | 'clientId' | 'clientSecret' | 'refreshToken'>): Source {
  const all: Record<string, unknown> = { ...options() };
  for (const name of names) delete all[name];
  return createYahooSource(all, { rateLimiter: new SharedRateLimiter(0), logger });
}

function page(src: Source, start = 0, season = 2020, leagueKey = LEAGUE, signal?: AbortSignal): Promise<ParsedPage> {
  return src.fetchPage({ job: { jobId: jobIdOf(leagueKey, season), leagueKey, season }, start, pageSize: PAGE, ...(signal ? { signal } : {}) });
}

async function wholeSeason(src: Source, season = 2020): Promise<{ rows: TransactionRow[]; rejected: RejectedRecord[]; pages: number }> {
  const rows: TransactionRow[] = [];
  const rejected: RejectedRecord[] = [];
  let pages = 0;
  for (let start = 0; ; start += PAGE) {
    const result = await page(src, start, season);
    pages += 1;
    rows.push(...result.rows);
    rejected.push(...result.rejected);
    if (result.recordCount < PAGE) break;
  }
  return { rows, rejected, pages };
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; transient?: boolean }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; transient?: boolean };
  }
  throw new Error('expected a rejection');
}

const apiRequests = (): typeof server.requests => server.requests.filter((request) => request.path.startsWith('/fantasy/'));
const tokenRequests = (): typeof server.requests => server.requests.filter((request) => request.path.startsWith('/oauth2/'));
const transactionsPath = (leagueKey: string, start: number): string => `/fantasy/v2/league/${leagueKey}/transactions;start=${start};count=${PAGE}?format=json`;

describe('options', () => {
  it('fails with ERR_AUTH naming the variables to set when there are no credentials', () => {
    const error = (() => {
      try {
        resolveYahooSourceOptions({}, {});
      } catch (caught) {
        return caught as BackfillError;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(BackfillError);
    expect(error.code).toBe('ERR_AUTH');
    expect(error.message).toMatch(/YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN/);
    expect(error.message).toMatch(/YAHOO_ACCESS_TOKEN/);
    expect(error.message).toMatch(/README "Yahoo credentials"/);
  });

  it('names the missing part of an incomplete refresh trio', () => {
    expect(() => resolveYahooSourceOptions({}, { YAHOO_CLIENT_ID: 'client-id-1', YAHOO_REFRESH_TOKEN: 'refresh-1' }))
      .toThrow(expect.objectContaining({ code: 'ERR_AUTH', message: expect.stringMatching(/YAHOO_CLIENT_SECRET is not set/) }));
  });

  it('takes its defaults from the environment and documents the rest', () => {
    const resolved = resolveYahooSourceOptions({}, {
      YAHOO_ACCESS_TOKEN: 'token-from-env',
      LEAGUE_BACKFILL_YAHOO_API_BASE: 'http://127.0.0.1:9/fantasy/v2/',
    });
    expect(resolved).toEqual({
      apiBase: 'http://127.0.0.1:9/fantasy/v2',
      tokenUrl: 'https://api.login.yahoo.com/oauth2/get_token',
      accessToken: 'token-from-env',
      clientId: null,
      clientSecret: null,
      refreshToken: null,
      timeoutMs: 30_000,
      maxAttempts: 5,
      retryDelayMs: 1000,
      retryMaxDelayMs: 60_000,
    });
    expect(resolveYahooSourceOptions({}, { YAHOO_ACCESS_TOKEN: 'x-token' }).apiBase).toBe('https://fantasysports.yahooapis.com/fantasy/v2');
  });

  it('resolves the environment in the calling thread, so the description carries the credentials to workers', () => {
    process.env['YAHOO_CLIENT_ID'] = 'env-client-id';
    process.env['YAHOO_CLIENT_SECRET'] = 'env-client-secret';
    process.env['YAHOO_REFRESH_TOKEN'] = 'env-refresh-token';
    try {
      const spec = yahooSource({ apiBase: server.apiBase });
      expect(spec.kind).toBe('yahoo');
      expect(spec.options).toMatchObject({ clientId: 'env-client-id', clientSecret: 'env-client-secret', refreshToken: 'env-refresh-token', accessToken: null });
      expect(structuredClone(spec)).toEqual(spec);
    } finally {
      delete process.env['YAHOO_CLIENT_ID'];
      delete process.env['YAHOO_CLIENT_SECRET'];
      delete process.env['YAHOO_REFRESH_TOKEN'];
    }
  });

  it('rejects a base URL that is not http(s), and unknown options by name without showing secrets', () => {
    expect(() => yahooSource(options({ apiBase: 'ftp://example.com/v2' }))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/`apiBase`/) }));
    const misspelt = { ...options(), acessToken: 'secret-value-123' } as YahooSourceOptions;
    const error = (() => {
      try {
        yahooSource(misspelt);
      } catch (caught) {
        return caught as BackfillError;
      }
      throw new Error('expected an error');
    })();
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toMatch(/Did you mean `accessToken`\?/);
    expect(error.message).not.toContain('secret-value-123');
    expect(() => yahooSource(options({ maxAttempts: 0 }))).toThrow(/`maxAttempts` to be an integer from 1 to 20/);
  });
});

describe('paging a season', () => {
  it('returns exactly the fixture\'s 584 rows and 35 rejected records, 25 transactions a page', async () => {
    const { rows, rejected, pages } = await wholeSeason(source());
    expect(rows).toHaveLength(584);
    expect(rejected).toHaveLength(35);
    expect(pages).toBe(18); // 438 transactions: 17 full pages and one of 13
    expect(new Set(rows.map((row) => row.leagueKey))).toEqual(new Set([LEAGUE]));
    expect(new Set(rows.map((row) => `${row.transactionKey}|${row.playerId}`)).size).toBe(584);
    const paths = apiRequests().map((request) => request.path);
    expect(paths[0]).toBe(`/fantasy/v2/league/${LEAGUE}/metadata?format=json`);
    expect(paths[1]).toBe(transactionsPath(LEAGUE, 0));
    expect(paths).toHaveLength(19);
    expect(apiRequests().every((request) => request.authorization === `Bearer ${server.accessToken}`)).toBe(true);
  });

  it('goes through createSource, the registry the fetch workers use', async () => {
    const spec = yahooSource(options());
    const src = await createSource(spec, { rateLimiter: new SharedRateLimiter(0) });
    expect(src.kind).toBe('yahoo');
    expect((await page(src)).recordCount).toBe(PAGE);
  });
});

describe('seasons through the renew chain', () => {
  it('reads an earlier season from the league its renew link names, and caches the chain', async () => {
    const src = source();
    const { rows, rejected } = await wholeSeason(src, 2019);
    expect(rows.length + rejected.length).toBeGreaterThan(30);
    expect(new Set(rows.map((row) => row.leagueKey))).toEqual(new Set([PREVIOUS_LEAGUE]));
    expect(apiRequests().map((request) => request.path)).toEqual([
      `/fantasy/v2/league/${LEAGUE}/metadata?format=json`,
      `/fantasy/v2/league/${PREVIOUS_LEAGUE}/metadata?format=json`,
      transactionsPath(PREVIOUS_LEAGUE, 0),
      transactionsPath(PREVIOUS_LEAGUE, 25),
    ]);
    server.reset();
    await page(src, 0, 2019);
    await page(src, 0, 2020);
    expect(apiRequests().map((request) => request.path)).toEqual([transactionsPath(PREVIOUS_LEAGUE, 0), transactionsPath(LEAGUE, 0)]);
  });

  it('says which seasons a league has when asked for one before its first', async () => {
    const error = await failure(page(source(), 0, 2012));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.transient).toBe(false);
    expect(error.message).toBe(`League ${LEAGUE} has no season 2012; its seasons are 2019-2020`);
  });

  it('refuses a season later than the named league key\'s own', async () => {
    const error = await failure(page(source(), 0, 2021));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.transient).toBe(false);
    expect(error.message).toMatch(/League 403\.l\.17457 is the league's 2020 season, so it has no season 2021/);
  });

  it('lists every season of a league for the calling thread, oldest first', async () => {
    await expect(listSeasons(options(), LEAGUE, { requestsPerSecond: 0 })).resolves.toEqual([
      { season: 2019, leagueKey: PREVIOUS_LEAGUE },
      { season: 2020, leagueKey: LEAGUE },
    ]);
  });

  it('passes on Yahoo\'s description of an invalid league key, as a permanent error', async () => {
    const error = await failure(page(source(), 0, 2020, '999.l.1'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.transient).toBe(false);
    expect(error.message).toMatch(/League key 999\.l\.1 does not exist\./);
    expect(error.message).toMatch(/HTTP 400/);
    expect(apiRequests()).toHaveLength(1);
  });
});

describe('recovering from Yahoo\'s misbehaviour', () => {
  it('retries after HTTP 999 throttling', async () => {
    const src = source();
    await page(src); // the chain is known: the next requests are pages only
    server.reset();
    server.script({ kind: 'throttle' });
    expect((await page(src, 25)).recordCount).toBe(PAGE);
    expect(apiRequests().map((request) => [request.path, request.misbehaviour])).toEqual([
      [transactionsPath(LEAGUE, 25), 'throttle'],
      [transactionsPath(LEAGUE, 25), undefined],
    ]);
  });

  it('waits as long as a 429\'s Retry-After says', async () => {
    const src = source();
    await page(src);
    server.reset();
    server.script({ kind: 'tooManyRequests', retryAfter: '1' });
    expect((await page(src, 25)).recordCount).toBe(PAGE);
    const [first, second] = apiRequests();
    expect(first?.misbehaviour).toBe('tooManyRequests');
    expect(second!.time - first!.time).toBeGreaterThanOrEqual(990);
  });

  it('retries a server error', async () => {
    server.script({ kind: 'serverError' });
    expect((await page(source())).recordCount).toBe(PAGE);
    expect(apiRequests().filter((request) => request.misbehaviour === 'serverError')).toHaveLength(1);
  });

  it('retries an HTML page, and reports one that keeps coming as a permanent error', async () => {
    const src = source();
    server.script({ kind: 'html' });
    expect((await page(src)).rows.length).toBeGreaterThan(0);

    server.script({ kind: 'html' }, { kind: 'html' }, { kind: 'html' });
    const error = await failure(page(src, 25));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.transient).toBe(false);
    expect(error.message).toContain(`GET ${server.apiBase}/league/${LEAGUE}/transactions;start=25;count=25?format=json failed 3 times`);
    expect(error.message).toMatch(/a body that is not JSON \(text\/html, starting "<!DOCTYPE html>/);
  });

  it('gives up on a slow answer after timeoutMs and retries it', async () => {
    const src = source({ timeoutMs: 200 });
    await page(src);
    server.reset();
    server.script({ kind: 'slow', delayMs: 1000 });
    const started = performance.now();
    expect((await page(src, 25)).recordCount).toBe(PAGE);
    expect(performance.now() - started).toBeLessThan(900);
    expect(apiRequests()).toHaveLength(2);
  });

  it('fails with a transient error naming the URL and the time limit when every attempt times out', async () => {
    const src = source({ timeoutMs: 100, maxAttempts: 2 });
    await page(src);
    server.script({ kind: 'slow', delayMs: 600 }, { kind: 'slow', delayMs: 600 });
    const error = await failure(page(src, 25));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.transient).toBe(true);
    expect(error.message).toContain(`${server.apiBase}/league/${LEAGUE}/transactions;start=25;count=25?format=json`);
    expect(error.message).toMatch(/timed out after 100 ms/);
  });

  it('fails with a transient error naming the status and URL when throttling outlasts the attempts', async () => {
    const src = source();
    await page(src);
    server.script({ kind: 'throttle' }, { kind: 'throttle' }, { kind: 'throttle' });
    const error = await failure(page(src, 25));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/failed 3 times; last: HTTP 999, Yahoo throttling/);
    expect(error.message).toContain(`${server.apiBase}/league/${LEAGUE}/transactions;start=25`);
    expect(error.message).toMatch(/lower --rate/);
  });

  it('stops at once when the caller aborts', async () => {
    const src = source({ timeoutMs: 5000 });
    await page(src);
    server.script({ kind: 'slow', delayMs: 3000 });
    const controller = new AbortController();
    const reason = new Error('stopped by the test');
    setTimeout(() => controller.abort(reason), 50);
    const started = performance.now();
    await expect(page(src, 25, 2020, LEAGUE, controller.signal)).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('credentials', () => {
  it('refreshes an expired token once, with the client credentials, and carries on with the new one', async () => {
    const src = source();
    await page(src);
    server.script({ kind: 'expireTokens' });
    await page(src, 25);
    await page(src, 50);
    const tokens = tokenRequests();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]?.method).toBe('POST');
    expect(tokens[0]?.authorization).toBe(`Basic ${Buffer.from(`${server.clientId}:${server.clientSecret}`).toString('base64')}`);
    const form = new URLSearchParams(tokens[0]?.body);
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('refresh_token')).toBe(server.refreshToken);
    const after = apiRequests().slice(-2);
    expect(after.map((request) => request.authorization)).toEqual(['Bearer fake-access-token-refreshed-1-Rk8sPw', 'Bearer fake-access-token-refreshed-1-Rk8sPw']);
  });

  it('shares one refresh between requests that fail together', async () => {
    const src = source();
    await page(src);
    server.script({ kind: 'expireTokens' });
    await Promise.all([page(src, 25), page(src, 50), page(src, 75)]);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('gets a token before the first request when only the refresh trio is set', async () => {
    await page(sourceWithout('accessToken'));
    expect(server.requests[0]?.path).toBe('/oauth2/get_token');
    expect(tokenRequests()).toHaveLength(1);
  });

  it('fails with ERR_AUTH on an expired token it cannot refresh', async () => {
    server.script({ kind: 'expireTokens' });
    const error = await failure(page(sourceWithout('clientId', 'clientSecret', 'refreshToken')));
    expect(error.code).toBe('ERR_AUTH');
    expect(error.message).toMatch(/refused the access token because it expired/);
    expect(error.message).toMatch(/token_expired/);
    expect(error.message).toMatch(/YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN/);
    expect(tokenRequests()).toHaveLength(0);
  });

  it('fails with ERR_AUTH when the refreshed token is refused too', async () => {
    server.rejectEveryToken = true;
    const error = await failure(page(source()));
    expect(error.code).toBe('ERR_AUTH');
    expect(error.message).toMatch(/refused a freshly refreshed access token/);
    expect(error.message).toMatch(/README "Yahoo credentials"/);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('fails with ERR_AUTH when the token endpoint refuses the refresh', async () => {
    server.refuseRefresh = true;
    server.script({ kind: 'expireTokens' });
    const error = await failure(page(source()));
    expect(error.code).toBe('ERR_AUTH');
    expect(error.message).toMatch(/token endpoint refused to refresh the access token \(HTTP 400 .*invalid_grant/);
    expect(error.message).toMatch(/Check YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN/);
  });

  it('explains a 403 in one sentence: the app is not approved for Fantasy Sports', async () => {
    server.script({ kind: 'forbidden' });
    const error = await failure(page(source()));
    expect(error).toBeInstanceOf(BackfillError);
    expect(error.code).toBe('ERR_AUTH');
    expect(error.message).toMatch(/^Yahoo has not authorized this application for Fantasy Sports data \(HTTP 403 to GET .*\): Yahoo must approve the app, and new apps must request access; see README "Yahoo credentials"\.$/);
    expect(tokenRequests()).toHaveLength(0);
  });

  it('never lets a token or secret into an error message or a log line', async () => {
    const errors: Error[] = [];
    const collect = async (promise: Promise<unknown>): Promise<void> => {
      errors.push(await failure(promise));
    };
    server.script({ kind: 'echoAuthorization' });
    await collect(page(source()));
    server.script({ kind: 'expireTokens' });
    await collect(page(sourceWithout('clientId', 'clientSecret', 'refreshToken')));
    server.rejectEveryToken = true;
    await collect(page(source()));
    server.rejectEveryToken = false;
    server.refuseRefresh = true;
    server.script({ kind: 'expireTokens' });
    await collect(page(source()));
    server.refuseRefresh = false;
    server.script({ kind: 'forbidden' });
    await collect(page(source()));
    server.script({ kind: 'throttle' }, { kind: 'html' }, { kind: 'serverError' });
    await collect(page(source()));

    expect(errors).toHaveLength(6);
    expect(errors[0]?.message).toMatch(/Authorization: Bearer \[redacted\]/);
    const secrets = [
      server.accessToken, server.clientSecret, server.refreshToken, 'fake-access-token-refreshed',
      Buffer.from(`${server.clientId}:${server.clientSecret}`).toString('base64'),
    ];
    const texts = [...errors.map((error) => `${error.message}\n${error.stack ?? ''}`), ...logLines];
    expect(logLines.length).toBeGreaterThan(0);
    for (const text of texts) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

describe('the shared rate limit', () => {
  it('spaces every request, token refreshes included, at least 1/rate apart across sources', async () => {
    // Warm up what the first measured request would otherwise wait for: the HTTP client, and
    // the limiter's timer module (loaded on its first wait; slow under the test runner).
    await page(source());
    const warm = new SharedRateLimiter(1000);
    await warm.acquire();
    await warm.acquire();
    server.reset();

    const rate = 20;
    const interval = 1000 / rate;
    const buffer = new SharedRateLimiter(rate).buffer;
    // Two sources on one schedule: what two fetch workers do with the shared buffer. Each
    // records when the limiter let a request go.
    const grants: number[] = [];
    const gate = (): { acquire(signal?: AbortSignal): Promise<void> } => {
      const limiter = new SharedRateLimiter(rate, buffer);
      return {
        async acquire(signal) {
          await limiter.acquire(signal);
          grants.push(performance.timeOrigin + performance.now());
        },
      };
    };
    const first = createYahooSource(options(), { rateLimiter: gate(), logger });
    const second = createYahooSource(options(), { rateLimiter: gate(), logger });
    server.script({ kind: 'expireTokens' });
    const [current, previous] = await Promise.all([wholeSeason(first, 2020), wholeSeason(second, 2019)]);
    expect(current.rows).toHaveLength(584);
    expect(previous.rows.length).toBeGreaterThan(0);
    // Each source refreshed its own expired token (as each worker does), through the same limit.
    expect(tokenRequests()).toHaveLength(2);

    // Every request the server saw, API and token alike, waited for a slot first...
    const arrivals = server.requests.map((request) => request.time).sort((a, b) => a - b);
    expect(arrivals.length).toBeGreaterThan(20);
    expect(grants).toHaveLength(arrivals.length);
    // ...and no stretch of time holds more requests than the rate allows. A late wake-up of the
    // event loop can push one request towards the next (two close together), so the check
    // allows one extra per window and a little slack on the whole span, never more.
    const windowMs = 500;
    const allowed = windowMs / interval + 2;
    for (const times of [grants.sort((a, b) => a - b), arrivals]) {
      for (const start of times) expect(times.filter((time) => time >= start && time < start + windowMs).length).toBeLessThanOrEqual(allowed);
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual((times.length - 1) * interval - 60);
    }
  });
});

describe('retry timing', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('1')).toBe(1000);
    expect(parseRetryAfter('0')).toBe(0);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 31 Dec 2023 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('99999')).toBe(15 * 60_000);
  });

  it('doubles the delay with jitter from x0.5 to x1.5, up to the cap', () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect(backoffDelay(1, policy, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, () => 1)).toBe(1500);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(4000);
    expect(backoffDelay(10, policy, () => 1)).toBe(60_000);
  });
});
