/**
 * The Yahoo Fantasy Sports API client of one fetch worker: rate limit, time limit, retries
 * with backoff, OAuth 2 token refresh, and errors that never carry a credential.
 *
 * Each worker has its own client and so refreshes its own token when Yahoo says it expired:
 * with N workers that is up to N refreshes an hour, which Yahoo's token endpoint accepts
 * (refresh tokens do not expire and are not rotated per use).
 */
import { BackfillError, SourceError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { sleep } from '../../util/sleep.js';
import { backoffDelay, parseRetryAfter } from './backoff.js';
import { isRetryableStatus, sendOnce, statusLabel } from './http.js';
import type { HttpRequest, HttpResponse } from './http.js';
import { CREDENTIALS_HELP, canRefresh } from './options.js';
import type { ResolvedYahooSourceOptions } from './options.js';
import { parseYahooError } from '../yahoo-format/index.js';
import type { RequestGate } from '../../util/rate-limiter.js';

/** What the client needs of the shared rate limiter: one slot per HTTP request. */
export type { RequestGate };

export interface YahooClientDependencies {
  /** Every HTTP request (API and token refresh) waits for a slot of this shared limit. */
  rateLimiter: RequestGate;
  /** Retries and refreshes are logged here (without credentials). @default a silent logger */
  logger?: Logger;
  /** Source of jitter, replaceable in tests. @default Math.random */
  random?: () => number;
}

/** What to do with one attempt's outcome. */
type Step<T> =
  | { kind: 'done'; value: T }
  /** A retry may cure it. `transientAtEnd` is the `transient` flag of the error thrown when attempts run out. */
  | { kind: 'retry'; problem: string; retryAfterMs: number | null; transientAtEnd: boolean }
  /** 401 (or a 403 naming an OAuth problem): a refreshed token may cure it. */
  | { kind: 'unauthorized'; problem: string };

/** The JSON body of a successful API response: an object with `fantasy_content`. */
export type FantasyResponse = Record<string, unknown> & { fantasy_content: unknown };

const DESCRIPTION_LIMIT = 300;
const SNIPPET_LIMIT = 60;
const REDACTED = '[redacted]';

export class YahooClient {
  readonly #options: ResolvedYahooSourceOptions;
  readonly #gate: RequestGate;
  readonly #logger: Logger;
  readonly #random: () => number;
  #accessToken: string | null;
  #refreshToken: string | null;
  #refreshing: Promise<string> | null = null;
  /** Every credential this client has held: scrubbed from any text it lets out. */
  readonly #secrets = new Set<string>();

  constructor(options: ResolvedYahooSourceOptions, dependencies: YahooClientDependencies) {
    this.#options = options;
    this.#gate = dependencies.rateLimiter;
    this.#logger = dependencies.logger ?? silentLogger();
    this.#random = dependencies.random ?? Math.random;
    this.#accessToken = options.accessToken;
    this.#refreshToken = options.refreshToken;
    for (const secret of [options.accessToken, options.refreshToken, options.clientSecret]) this.#remember(secret);
    if (options.clientId !== null && options.clientSecret !== null) this.#remember(basicCredentials(options.clientId, options.clientSecret));
  }

  /**
   * GETs `${apiBase}${path}` (path starts with `/`, query included) and returns its JSON
   * body. Retries throttling, 429, 5xx, network errors, timeouts and non-JSON bodies with
   * backoff; refreshes the token once on a 401. Throws `SourceError` (transient when a later
   * run may succeed) or `BackfillError('ERR_AUTH')`.
   */
  async getJson(path: string, signal?: AbortSignal): Promise<FantasyResponse> {
    const url = `${this.#options.apiBase}${path}`;
    const what = `GET ${url}`;
    let refreshed = false;
    let failures = 0;
    for (;;) {
      const { token, fresh } = await this.#currentToken(signal);
      refreshed ||= fresh;
      const request: HttpRequest = { method: 'GET', url, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } };
      const step = await this.#attempt(request, signal, (response) => this.#judgeApiResponse(response, what));
      if (step.kind === 'done') return step.value;
      if (step.kind === 'unauthorized') {
        if (refreshed || !canRefresh(this.#options)) throw this.#tokenRefused(what, step.problem, refreshed);
        this.#logger.info({ url, problem: this.#redact(step.problem) }, 'Yahoo refused the access token; refreshing it');
        await this.#refresh(token, signal);
        refreshed = true;
        continue;
      }
      failures += 1;
      await this.#waitBeforeRetry(what, step, failures, signal);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Attempts and retries
  // ---------------------------------------------------------------------------------------

  /** One rate-limited exchange, judged; network errors and timeouts are retryable. */
  async #attempt<T>(request: HttpRequest, signal: AbortSignal | undefined, judge: (response: HttpResponse) => Step<T>): Promise<Step<T>> {
    await this.#gate.acquire(signal);
    const outcome = await sendOnce(request, this.#options.timeoutMs, signal);
    if (!outcome.ok) return { kind: 'retry', problem: outcome.problem, retryAfterMs: null, transientAtEnd: true };
    return judge(outcome.response);
  }

  /** Sleeps before the next attempt, or throws when `failures` used up the attempts. */
  async #waitBeforeRetry(what: string, step: Extract<Step<unknown>, { kind: 'retry' }>, failures: number, signal: AbortSignal | undefined): Promise<void> {
    const attempts = this.#options.maxAttempts;
    if (failures >= attempts) {
      throw new SourceError(this.#redact(
        `Yahoo request ${what} failed ${attempts} ${attempts === 1 ? 'time' : 'times'}; last: ${step.problem}. ${adviceFor(step.problem)}`,
      ), { transient: step.transientAtEnd });
    }
    const delayMs = step.retryAfterMs ?? backoffDelay(failures, { baseDelayMs: this.#options.retryDelayMs, maxDelayMs: this.#options.retryMaxDelayMs }, this.#random);
    this.#logger.warn({ request: what, problem: this.#redact(step.problem), attempt: failures, delayMs }, 'Yahoo request failed; retrying');
    await sleep(delayMs, signal);
  }

  #judgeApiResponse(response: HttpResponse, what: string): Step<FantasyResponse> {
    const { status } = response;
    if (status >= 200 && status < 300) return this.#judgeApiBody(response, what);
    const yahooError = parseYahooError(response.text);
    const said = yahooError === null ? '' : `: ${this.#describeYahoo(yahooError.description)}`;
    if (isRetryableStatus(status)) {
      return { kind: 'retry', problem: `${statusLabel(status)}${said}`, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')), transientAtEnd: true };
    }
    const oauthProblem = yahooError?.code ?? /oauth_problem="?([a-z_]+)/i.exec(response.headers.get('www-authenticate') ?? '')?.[1];
    if (status === 401 || (status === 403 && oauthProblem !== undefined)) {
      return { kind: 'unauthorized', problem: `${statusLabel(status)}${oauthProblem !== undefined ? ` ${oauthProblem}` : ''}${said}` };
    }
    if (status === 403) {
      throw new BackfillError('ERR_AUTH', this.#redact(
        `Yahoo has not authorized this application for Fantasy Sports data (HTTP 403 to ${what}): Yahoo must approve the app, ` +
        `and new apps must request access; ${CREDENTIALS_HELP}.`,
      ));
    }
    if (status >= 300 && status < 400) {
      throw new SourceError(this.#redact(`Yahoo answered ${what} with a redirect (${statusLabel(status)} to ${response.headers.get('location') ?? 'nowhere'}); check apiBase`));
    }
    // 400/404: a bad league key and the like. Yahoo's description says which.
    throw new SourceError(this.#redact(`Yahoo refused ${what} (${statusLabel(status)})${said || `: ${this.#snippet(response)}`}`));
  }

  #judgeApiBody(response: HttpResponse, what: string): Step<FantasyResponse> {
    const body = parseJsonObject(response.text);
    if (body === null) {
      // Proxies and Yahoo's edge answer hiccups with an HTML page: worth another attempt. If every
      // attempt gets one, retrying the page later is unlikely to help: not transient.
      return { kind: 'retry', problem: `a body that is not JSON (${this.#snippet(response)})`, retryAfterMs: null, transientAtEnd: false };
    }
    if (typeof body['fantasy_content'] !== 'object' || body['fantasy_content'] === null) {
      const yahooError = parseYahooError(body);
      const detail = yahooError !== null
        ? `: ${this.#describeYahoo(yahooError.description)}`
        : ` (keys: ${Object.keys(body).slice(0, 5).join(', ') || 'none'})`;
      throw new SourceError(this.#redact(`Yahoo answered ${what} with JSON that has no fantasy_content${detail}`));
    }
    return { kind: 'done', value: body as FantasyResponse };
  }

  // ---------------------------------------------------------------------------------------
  // Tokens
  // ---------------------------------------------------------------------------------------

  /** The token to send; fetches one first when only the refresh trio was given. */
  async #currentToken(signal: AbortSignal | undefined): Promise<{ token: string; fresh: boolean }> {
    if (this.#accessToken !== null) return { token: this.#accessToken, fresh: false };
    return { token: await this.#refresh(null, signal), fresh: true };
  }

  /**
   * Replaces the token `stale`. Requests of this worker that fail together share one refresh,
   * and a request that failed with an already replaced token just uses the new one.
   */
  #refresh(stale: string | null, signal: AbortSignal | undefined): Promise<string> {
    if (this.#accessToken !== null && this.#accessToken !== stale) return Promise.resolve(this.#accessToken);
    this.#refreshing ??= this.#requestNewToken(signal).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #requestNewToken(signal: AbortSignal | undefined): Promise<string> {
    const { tokenUrl, clientId, clientSecret } = this.#options;
    if (clientId === null || clientSecret === null || this.#refreshToken === null) {
      throw new BackfillError('ERR_AUTH', `Cannot refresh the Yahoo access token: set YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN; ${CREDENTIALS_HELP}`);
    }
    const what = `POST ${tokenUrl}`;
    const request: HttpRequest = {
      method: 'POST',
      url: tokenUrl,
      headers: {
        authorization: `Basic ${basicCredentials(clientId, clientSecret)}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      // Yahoo's guide asks for the client credentials and redirect_uri in the body as well.
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: this.#refreshToken,
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uri: 'oob',
      }).toString(),
    };
    let failures = 0;
    for (;;) {
      const step = await this.#attempt(request, signal, (response) => this.#judgeTokenResponse(response, what));
      if (step.kind === 'done') {
        this.#accessToken = step.value.accessToken;
        this.#remember(step.value.accessToken);
        if (step.value.refreshToken !== null) {
          this.#refreshToken = step.value.refreshToken;
          this.#remember(step.value.refreshToken);
        }
        this.#logger.info({ tokenUrl }, 'Yahoo access token refreshed');
        return step.value.accessToken;
      }
      failures += 1;
      // 'unauthorized' is never produced for the token endpoint: the judge throws instead.
      if (step.kind === 'retry') await this.#waitBeforeRetry(what, step, failures, signal);
    }
  }

  #judgeTokenResponse(response: HttpResponse, what: string): Step<{ accessToken: string; refreshToken: string | null }> {
    const { status } = response;
    if (isRetryableStatus(status)) {
      return { kind: 'retry', problem: statusLabel(status), retryAfterMs: parseRetryAfter(response.headers.get('retry-after')), transientAtEnd: true };
    }
    const body = parseJsonObject(response.text);
    const accessToken = body?.['access_token'];
    if (status >= 200 && status < 300 && typeof accessToken === 'string' && accessToken !== '') {
      const refreshToken = body?.['refresh_token'];
      return { kind: 'done', value: { accessToken, refreshToken: typeof refreshToken === 'string' && refreshToken !== '' ? refreshToken : null } };
    }
    const reason = [body?.['error'], body?.['error_description']].filter((part) => typeof part === 'string' && part !== '').join(': ');
    throw new BackfillError('ERR_AUTH', this.#redact(
      `Yahoo's token endpoint refused to refresh the access token (${statusLabel(status)} to ${what}` +
      `${reason ? `: ${this.#describeYahoo(reason)}` : accessToken === undefined && status < 300 ? ': no access_token in the answer' : ''}). ` +
      `Check YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN; ${CREDENTIALS_HELP}.`,
    ));
  }

  #tokenRefused(what: string, problem: string, afterRefresh: boolean): BackfillError {
    const expired = /token_expired/.test(problem);
    const message = afterRefresh
      ? `Yahoo refused a freshly refreshed access token (${problem}, to ${what}). Check YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and ` +
        `YAHOO_REFRESH_TOKEN, and that the app is approved for Fantasy Sports; ${CREDENTIALS_HELP}.`
      : `Yahoo refused the access token${expired ? ' because it expired (access tokens last one hour)' : ''} (${problem}, to ${what}). ` +
        `Set YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and YAHOO_REFRESH_TOKEN so the token can be refreshed, or put a current token in ` +
        `YAHOO_ACCESS_TOKEN; ${CREDENTIALS_HELP}.`;
    return new BackfillError('ERR_AUTH', this.#redact(message));
  }

  // ---------------------------------------------------------------------------------------
  // Keeping credentials out of every text
  // ---------------------------------------------------------------------------------------

  #remember(secret: string | null): void {
    // Very short values would scrub ordinary words; real credentials are long.
    if (secret === null || secret.length < 6) return;
    // A server that echoes a request may quote the form body, where the value is URL-encoded.
    for (const form of [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]) this.#secrets.add(form);
  }

  /** Removes every credential this client knows, and anything after "Bearer"/"Basic", from `text`. */
  #redact(text: string): string {
    let clean = text;
    for (const secret of this.#secrets) clean = clean.split(secret).join(REDACTED);
    return clean.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`);
  }

  #describeYahoo(description: string): string {
    const oneLine = description.replace(/\s+/g, ' ').trim();
    return this.#redact(oneLine.length > DESCRIPTION_LIMIT ? `${oneLine.slice(0, DESCRIPTION_LIMIT - 3)}...` : oneLine);
  }

  #snippet(response: HttpResponse): string {
    const type = response.headers.get('content-type')?.split(';')[0]?.trim() || 'no content type';
    const start = response.text.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_LIMIT);
    return `${type}, ${start === '' ? 'empty' : `starting ${JSON.stringify(start)}`}`;
  }
}

function basicCredentials(clientId: string, clientSecret: string): string {
  return Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64');
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function adviceFor(problem: string): string {
  if (/HTTP 999|HTTP 429/.test(problem)) {
    return 'Yahoo is limiting the request rate: lower --rate, or wait a few minutes and run again (committed pages are kept)';
  }
  if (/timed out/.test(problem)) return 'Raise timeoutMs or check the network; committed pages are kept';
  if (/not JSON/.test(problem)) return 'Something between here and Yahoo (a proxy?) answers instead of the API';
  return 'Committed pages are kept: run again to resume';
}
