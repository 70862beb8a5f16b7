/**
 * A local stand-in for the Yahoo Fantasy Sports API and its OAuth token endpoint, on
 * 127.0.0.1 and a free port. It serves the REAL saved season
 * test/fixtures/yahoo/yfantasy-api-league-transactions-2020-nhl.json page by page, as the API
 * does (`;start=S;count=C`, collection keys renumbered "0".."n-1", league metadata kept), plus
 * league metadata for the `renew` chain. It can be told to misbehave the way Yahoo does, and
 * it records every request so tests can check timing, tokens and refreshes.
 *
 * The 2019 season (396.l.5194, which the 2020 league's `renew: "396_5194"` points to) is
 * FABRICATED: the first 30 transactions of the 2020 file with their keys rewritten to 396.
 * Only its shape is real.
 */
import { readFileSync } from 'node:fs';
import { parseTransactionsResponse } from '../../src/source/yahoo-format/index.js';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Misbehaviour =
  /** HTTP 999, Yahoo's throttle, with its non-JSON body. */
  | { kind: 'throttle' }
  /** HTTP 429 with a `Retry-After` header. */
  | { kind: 'tooManyRequests'; retryAfter: string }
  /** Every token issued so far expires: this request gets the real 401 token_expired body. */
  | { kind: 'expireTokens' }
  /** HTTP 500 with Yahoo's JSON error body. */
  | { kind: 'serverError' }
  /** HTTP 200 with an HTML page instead of JSON, as a proxy answers on a hiccup. */
  | { kind: 'html' }
  /** The normal answer, after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** HTTP 403: the app is not authorized for Fantasy Sports. */
  | { kind: 'forbidden' }
  /** HTTP 400 whose description quotes the request's Authorization header (as a careless proxy might). */
  | { kind: 'echoAuthorization' };

export interface RecordedRequest {
  /** Arrival time of the request's headers in ms, on the same clock as `performance.timeOrigin + performance.now()`. */
  time: number;
  method: string;
  /** Path and query, e.g. `/fantasy/v2/league/403.l.17457/transactions;start=0;count=25?format=json`. */
  path: string;
  authorization: string | undefined;
  body: string;
  /** The misbehaviour applied to this request, if any. */
  misbehaviour?: Misbehaviour['kind'];
}

export interface FakeYahooServer {
  /** Base URL of the API (`…/fantasy/v2`), for the source's `apiBase`. */
  readonly apiBase: string;
  /** URL of the token endpoint, for the source's `tokenUrl`. */
  readonly tokenUrl: string;
  /** A token the server accepts until `expireTokens` (or the `expireTokens` misbehaviour). */
  readonly accessToken: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Queues misbehaviours, each applied to one of the next API requests, in order. */
  script(...misbehaviours: Misbehaviour[]): void;
  /** When true, every API request gets 401, whatever its token (a refresh does not help). */
  rejectEveryToken: boolean;
  /** When true, the token endpoint answers 400 invalid_grant. */
  refuseRefresh: boolean;
  /** Forgets recorded requests and queued misbehaviours; accepts `accessToken` again; clears the flags. */
  reset(): void;
  close(): Promise<void>;
}

const FIXTURES = new URL('../fixtures/yahoo/', import.meta.url);

/**
 * The sorted `transaction_key|player_id` list of the season fixture, by the parser's own
 * reading: what a table must hold after a backfill served from it.
 */
export function seasonFixtureKeys(): string[] {
  const page = parseTransactionsResponse(JSON.parse(readFileSync(new URL(SEASON_FIXTURE, FIXTURES), 'utf8')));
  return [...new Set(page.rows.map((row) => `${row.transactionKey}|${row.playerId}`))].sort();
}
export const SEASON_FIXTURE = 'yfantasy-api-league-transactions-2020-nhl.json';
const TOKEN_EXPIRED_XML = readFileSync(new URL('yahoo-fantasy-ruby-error-401-token-expired.xml', FIXTURES), 'utf8');

type JsonObject = Record<string, unknown>;

interface FakeLeague {
  metadata: JsonObject;
  records: unknown[];
}

/** The leagues the server knows: the real 2020 season and the fabricated 2019 season before it. */
export function fakeLeagues(): Map<string, FakeLeague> {
  const body = JSON.parse(readFileSync(new URL(SEASON_FIXTURE, FIXTURES), 'utf8')) as JsonObject;
  const league = (body['fantasy_content'] as JsonObject)['league'] as [JsonObject, { transactions: JsonObject }];
  const real: FakeLeague = { metadata: league[0], records: collectionValues(league[1].transactions) };

  // FABRICATED 2019 season: 30 records of the real file, re-keyed; metadata ends the chain.
  const rekeyed = JSON.parse(JSON.stringify(real.records.slice(0, 30)).replaceAll('403.l.17457', '396.l.5194').replaceAll('"403.p.', '"396.p.')) as unknown[];
  const fabricated: FakeLeague = {
    metadata: { ...real.metadata, league_key: '396.l.5194', league_id: '5194', season: '2019', renew: '', renewed: '403_17457' },
    records: rekeyed,
  };
  return new Map([['403.l.17457', real], ['396.l.5194', fabricated]]);
}

function collectionValues(collection: JsonObject): unknown[] {
  return Object.keys(collection)
    .filter((key) => /^\d+$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => collection[key]);
}

function envelope(uri: string, content: JsonObject): JsonObject {
  return {
    fantasy_content: {
      'xml:lang': 'en-US',
      'yahoo:uri': uri,
      ...content,
      time: '12.3ms',
      copyright: 'Data provided by Yahoo! and STATS, LLC',
      refresh_rate: '60',
    },
  };
}

function yahooErrorJson(uri: string, description: string): JsonObject {
  return { error: { 'xml:lang': 'en-us', 'yahoo:uri': uri, description, detail: '' } };
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

export async function startFakeYahooServer(): Promise<FakeYahooServer> {
  const leagues = fakeLeagues();
  const accessToken = 'fake-access-token-initial-7Qm2xZ';
  const clientId = 'fake-client-id-dj0yJmk9';
  const clientSecret = 'fake-client-secret-9f8e7d6c';
  const refreshToken = 'fake-refresh-token-AOk1Lq3v';
  const validTokens = new Set<string>([accessToken]);
  const queue: Misbehaviour[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let issued = 0;

  const state = {
    rejectEveryToken: false,
    refuseRefresh: false,
  };
  const requests: RecordedRequest[] = [];

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(body);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void =>
    send(res, status, JSON.stringify(value), headers);

  const handleToken = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const form = new URLSearchParams(body);
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [basicId, basicSecret] = basic === undefined ? [] : Buffer.from(basic, 'base64').toString('utf8').split(':');
    const clientOk = basicId === clientId && basicSecret === clientSecret;
    if (req.method !== 'POST' || form.get('grant_type') !== 'refresh_token' || !clientOk) {
      sendJson(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' });
      return;
    }
    if (state.refuseRefresh || form.get('refresh_token') !== refreshToken) {
      sendJson(res, 400, { error: 'invalid_grant', error_description: 'refresh token is not valid' });
      return;
    }
    issued += 1;
    const token = `fake-access-token-refreshed-${issued}-Rk8sPw`;
    validTokens.add(token);
    sendJson(res, 200, { access_token: token, refresh_token: refreshToken, expires_in: 3600, token_type: 'bearer' });
  };

  const handleApi = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const url = new URL(path, 'http://127.0.0.1');
    const uri = decodeURIComponent(url.pathname);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (state.rejectEveryToken || token === undefined || !validTokens.has(token)) {
      send(res, 401, TOKEN_EXPIRED_XML, {
        'content-type': 'application/xml; charset=UTF-8',
        'www-authenticate': 'OAuth oauth_problem="token_expired", realm="yahooapis.com"',
      });
      return;
    }
    if (url.searchParams.get('format') !== 'json') {
      sendJson(res, 400, yahooErrorJson(uri, 'this fake server speaks JSON only: add ?format=json'));
      return;
    }
    const route = /^\/fantasy\/v2\/league\/([^/]+)\/(metadata|transactions((?:;[a-z_]+=[^;/]*)*))$/.exec(uri);
    const league = route === null ? undefined : leagues.get(route[1] ?? '');
    if (route === null || league === undefined) {
      const description = route === null ? `Resource ${uri} does not exist.` : `League key ${route[1]} does not exist.`;
      sendJson(res, route === null ? 404 : 400, yahooErrorJson(uri, description));
      return;
    }
    if (route[2] === 'metadata') {
      sendJson(res, 200, envelope(uri, { league: [league.metadata] }));
      return;
    }
    const matrix = new Map((route[3] ?? '').split(';').filter(Boolean).map((part) => part.split('=') as [string, string]));
    const start = Number(matrix.get('start') ?? '0');
    const count = matrix.has('count') ? Number(matrix.get('count')) : league.records.length;
    const page = league.records.slice(start, start + count);
    // Yahoo renders an empty collection as [] and a full one as {"0": …, "count": n}.
    const transactions = page.length === 0 ? [] : { ...Object.fromEntries(page.map((record, index) => [String(index), record])), count: page.length };
    sendJson(res, 200, envelope(uri, { league: [league.metadata, { transactions }] }));
  };

  const misbehave = (misbehaviour: Misbehaviour, req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    switch (misbehaviour.kind) {
      case 'throttle':
        send(res, 999, '<html><body>Request denied</body></html>', { 'content-type': 'text/html' });
        return true;
      case 'tooManyRequests':
        sendJson(res, 429, yahooErrorJson(path, 'Too many requests'), { 'retry-after': misbehaviour.retryAfter });
        return true;
      case 'serverError':
        sendJson(res, 500, yahooErrorJson(path, 'Server Error'));
        return true;
      case 'html':
        send(res, 200, '<!DOCTYPE html><html><head><title>Gateway</title></head><body>Please try again</body></html>', { 'content-type': 'text/html' });
        return true;
      case 'forbidden':
        sendJson(res, 403, yahooErrorJson(path, 'This application is not authorized to perform this action.'));
        return true;
      case 'echoAuthorization':
        sendJson(res, 400, yahooErrorJson(path, `Bad request with header Authorization: ${req.headers.authorization ?? ''}`));
        return true;
      case 'expireTokens':
        validTokens.clear();
        return false;
      case 'slow':
        return false;
    }
  };

  const server = createServer((req, res) => {
    // Arrival is when the headers came in: a POST's body can trail them by some milliseconds.
    const arrived = now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = { time: arrived, method: req.method ?? 'GET', path, authorization: req.headers.authorization, body };
      requests.push(recorded);
      if (path.startsWith('/oauth2/get_token')) {
        handleToken(req, res, body);
        return;
      }
      const misbehaviour = queue.shift();
      if (misbehaviour !== undefined) {
        recorded.misbehaviour = misbehaviour.kind;
        if (misbehave(misbehaviour, req, res, path)) return;
        if (misbehaviour.kind === 'slow') {
          const timer = setTimeout(() => {
            timers.delete(timer);
            handleApi(req, res, path);
          }, misbehaviour.delayMs);
          timers.add(timer);
          return;
        }
      }
      handleApi(req, res, path);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    apiBase: `${origin}/fantasy/v2`,
    tokenUrl: `${origin}/oauth2/get_token`,
    accessToken,
    clientId,
    clientSecret,
    refreshToken,
    requests,
    script(...misbehaviours) {
      queue.push(...misbehaviours);
    },
    get rejectEveryToken() {
      return state.rejectEveryToken;
    },
    set rejectEveryToken(value: boolean) {
      state.rejectEveryToken = value;
    },
    get refuseRefresh() {
      return state.refuseRefresh;
    },
    set refuseRefresh(value: boolean) {
      state.refuseRefresh = value;
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      validTokens.clear();
      validTokens.add(accessToken);
      state.rejectEveryToken = false;
      state.refuseRefresh = false;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
