import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillSummary } from '../src/cli/commands/backfill.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { seasonFixtureKeys, startFakeYahooServer, type FakeYahooServer, type RecordedRequest } from './helpers/fake-yahoo-server.js';
import { readTable } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('backfill-yahoo-cli-');
const LEAGUE = '403.l.17457';
const RATE = 20;
/** What the fixture holds, by the parser's own reading: the rows the table must end with. */
const FIXTURE_KEYS = seasonFixtureKeys();

let server: FakeYahooServer;

beforeAll(async () => {
  server = await startFakeYahooServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.reset());

/** The credentials as a user sets them: recognisable fake values the server accepts. */
function credentials(): NodeJS.ProcessEnv {
  return {
    YAHOO_ACCESS_TOKEN: server.accessToken,
    YAHOO_CLIENT_ID: server.clientId,
    YAHOO_CLIENT_SECRET: server.clientSecret,
    YAHOO_REFRESH_TOKEN: server.refreshToken,
    // The command line names the server; variables of the machine running the tests must not.
    LEAGUE_BACKFILL_YAHOO_API_BASE: '',
    LEAGUE_BACKFILL_YAHOO_TOKEN_URL: '',
  };
}

function backfill(db: string): Promise<CliResult> {
  return runCli([
    'backfill', '--source', 'yahoo', '--league', LEAGUE, '--seasons', '2020',
    '--api-base', server.apiBase, '--token-url', server.tokenUrl, '--rate', String(RATE),
    '--db', db, '--json', '--log-level', 'debug',
  ], { env: credentials(), timeoutMs: 120_000 });
}

/** Every credential the run could leak, the refreshed tokens and the Basic header included. */
function secrets(): string[] {
  const refreshed = server.requests.filter((r) => r.path.startsWith('/oauth2/')).map((_, i) => `fake-access-token-refreshed-${i + 1}-Rk8sPw`);
  return [
    server.accessToken, server.clientId, server.clientSecret, server.refreshToken, ...refreshed,
    Buffer.from(`${server.clientId}:${server.clientSecret}`).toString('base64'),
  ];
}

const isToken = (request: RecordedRequest): boolean => request.path.startsWith('/oauth2/');

describe('backfill --source yahoo on the command line', () => {
  it('stores exactly the fixture season through throttling, 429, an expired token, a 500, a malformed page and a slow answer', async () => {
    const db = join(tempDir(), 'league.db');
    // One misbehaviour per request, each followed by a normal answer (a slow one of 0 ms), so
    // that every failure is retried once: the metadata request, then the first pages.
    const ok = { kind: 'slow', delayMs: 0 } as const;
    server.script(
      { kind: 'throttle' }, ok,
      { kind: 'tooManyRequests', retryAfter: '1' }, ok,
      { kind: 'expireTokens' }, ok,
      { kind: 'serverError' }, ok,
      { kind: 'html' }, ok,
      { kind: 'slow', delayMs: 500 },
    );

    const first = await backfill(db);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as BackfillSummary;
    expect(summary).toMatchObject({ jobs: 1, completed: 1, failed: 0, rowsFetched: 584, rowsInserted: 584, rowsIgnored: 0, rowsRejected: 35, failures: [] });

    const table = readTable(db);
    expect(table.rows).toBe(584);
    expect(table.keys).toEqual(FIXTURE_KEYS);
    expect(table.statuses).toEqual({ completed: 1 });
    expect(table.integrity).toBe('ok');

    const requests = [...server.requests];
    const misbehaved = requests.flatMap((r) => (r.misbehaviour !== undefined && r.misbehaviour !== 'slow' ? [r.misbehaviour] : []));
    expect(misbehaved).toEqual(['throttle', 'tooManyRequests', 'expireTokens', 'serverError', 'html']);
    // The expired token was refreshed once, with the client's credentials, and used from then on.
    const refreshes = requests.filter(isToken);
    expect(refreshes).toHaveLength(1);
    expect(new URLSearchParams(refreshes[0]!.body).get('grant_type')).toBe('refresh_token');
    const afterRefresh = requests.slice(requests.indexOf(refreshes[0]!) + 1);
    expect(afterRefresh.every((r) => r.authorization === 'Bearer fake-access-token-refreshed-1-Rk8sPw')).toBe(true);
    // Retry-After: 1 was honoured.
    const limited = requests.findIndex((r) => r.misbehaviour === 'tooManyRequests');
    expect(requests[limited + 1]!.time - requests[limited]!.time).toBeGreaterThanOrEqual(950);

    // Every request (API and token) waits for its slot of the shared limit, 1/RATE s apart. A
    // busy machine can delay a request after its slot, never before it, so each arrival is
    // checked against the first (as in yahoo-source.test.ts), allowing a few ms for the
    // loopback trip; pair by pair, a late arrival would make the next gap look short.
    const interval = 1000 / RATE;
    const times = requests.map((r) => r.time);
    times.forEach((time, k) => expect(time - times[0]!, `request ${k}`).toBeGreaterThanOrEqual(k * interval - 10));
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    const sorted = [...gaps].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThanOrEqual(interval - 5);
    expect(requests.length).toBe(1 + 18 + 5 + 1); // metadata + 18 pages, 5 retried answers, 1 refresh
    const steady = times.slice(-13); // the last pages: no retries among them
    console.info(`yahoo cli: ${requests.length} requests at --rate ${RATE} (${interval} ms apart): gaps min ${sorted[0]!.toFixed(1)} ms, ` +
      `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms; last 13 requests ${((steady.at(-1)! - steady[0]!) / 12).toFixed(1)} ms apart on average; ` +
      `run ${(summary.durationMs / 1000).toFixed(1)} s`);

    // Nothing the user holds secret reaches the logs (debug level) or the output.
    for (const secret of secrets()) {
      expect(first.stderr, 'stderr').not.toContain(secret);
      expect(first.stdout, 'stdout').not.toContain(secret);
    }
    expect(first.stderr).toContain('"msg":"backfill starting"'); // the logs were there to check

    // A second run finds the job completed: nothing new is stored, no page is fetched.
    server.reset();
    const second = await backfill(db);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout) as BackfillSummary).toMatchObject({ jobs: 1, skipped: 1, rowsInserted: 0, failed: 0 });
    expect(readTable(db).keys).toEqual(FIXTURE_KEYS);
    expect(server.requests.filter((r) => r.path.includes('/transactions'))).toEqual([]);
  });

  it('ends with exit 2 and the one-sentence explanation when Yahoo has not authorized the app (403)', async () => {
    const db = join(tempDir(), 'league.db');
    server.script({ kind: 'forbidden' });
    const result = await backfill(db);
    expect(result.code, result.stderr).toBe(2);
    const summary = JSON.parse(result.stdout) as BackfillSummary;
    expect(summary).toMatchObject({ jobs: 1, completed: 0, failed: 1 });
    expect(summary.failures).toHaveLength(1);
    expect(summary.failures[0]!.code).toBe('ERR_AUTH');
    expect(summary.failures[0]!.error).toMatch(
      /^Yahoo has not authorized this application for Fantasy Sports data \(HTTP 403 to GET .*\): Yahoo must approve the app, and new apps must request access; see README "Yahoo credentials"\.$/,
    );
    expect(result.stderr).toContain('Yahoo has not authorized this application for Fantasy Sports data');
    // Not retried: a 403 does not get better by asking again.
    expect(server.requests.filter((r) => !isToken(r))).toHaveLength(1);
    for (const secret of secrets()) expect(result.stderr + result.stdout).not.toContain(secret);
  });
});
