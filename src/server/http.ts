/**
 * The HTTP side: Node's `http` module, no framework. `startDashboard()` serves the page, its
 * JSON and `/metrics` for one database; `serveEngineMetrics()` serves a live engine's
 * `/metrics`. Both listen on 127.0.0.1 unless told otherwise, and answer only requests
 * addressed to the loopback names there (a web page elsewhere cannot reach them through DNS
 * rebinding).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { BackfillError, InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { resolveTableNames, type TableNames } from '../db/schema.js';
import { databaseMetrics, engineMetrics, type MetricsEngine } from './metrics.js';
import { PAGE_CSP, renderPage } from './page.js';
import { DatabaseSampler } from './sampler.js';

export const DEFAULT_DASHBOARD_PORT = 8089;
export const DEFAULT_HOST = '127.0.0.1';

export interface DashboardOptions {
  /** The database to show. It need not exist yet: the page waits for it. */
  readonly database: string;
  /** TCP port; 0 picks a free one (see `url`). @default 8089 */
  readonly port?: number;
  /** The interface to listen on. Anything but loopback exposes the job log to the network. @default '127.0.0.1' */
  readonly host?: string;
  /** How often the database is read, ms (one short read transaction each time). @default 1000 */
  readonly intervalMs?: number;
  /** Minutes of `writer_metrics` the charts show. @default 60 */
  readonly historyMinutes?: number;
  /** How long a read waits for the lock (rollback-journal mode only; WAL readers never wait), ms. @default 250 */
  readonly busyTimeoutMs?: number;
  /** Table names, when the writer was configured with others. @default DEFAULT_TABLES */
  readonly tables?: Partial<TableNames>;
  /** @default a silent logger */
  readonly logger?: Logger;
}

export interface ResolvedDashboardOptions {
  readonly database: string;
  readonly port: number;
  readonly host: string;
  readonly intervalMs: number;
  readonly historyMinutes: number;
  readonly busyTimeoutMs: number;
  readonly tables: TableNames;
  readonly logger: Logger;
}

/** A server listening; `close()` (or `await using`) stops it and releases everything it holds. */
export interface ListeningServer extends AsyncDisposable {
  /** `http://HOST:PORT/`, with the port actually bound. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting, ends open connections, releases the database connection. Idempotent. */
  close(): Promise<void>;
}

export interface DashboardServer extends ListeningServer {
  /** `url` + `metrics`. */
  readonly metricsUrl: string;
}

export interface EngineMetricsServer extends ListeningServer {
  /** `url` + `metrics`. */
  readonly metricsUrl: string;
  /** The registry it serves (fed by the engine's events). */
  readonly registry: Registry;
}

const DASHBOARD_OPTIONS = new Set(['database', 'port', 'host', 'intervalMs', 'historyMinutes', 'busyTimeoutMs', 'tables', 'logger']);

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, resolved);
  }
  return resolved;
}

function checkKeys(options: object, known: ReadonlySet<string>, what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new InvalidOptionError(key, `one of the ${what} options (${[...known].join(', ')})`, key);
  }
}

function resolveHost(value: unknown): string {
  const host = value ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host.trim() === '' || /\s/.test(host)) throw new InvalidOptionError('host', 'an interface address such as 127.0.0.1', host);
  return host;
}

export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'an object such as { database: "data/league_analytics.db" }', options);
  }
  checkKeys(options, DASHBOARD_OPTIONS, 'dashboard');
  if (typeof options.database !== 'string' || options.database.trim() === '') throw new InvalidOptionError('database', 'the path of a database file', options.database);
  if (options.database === ':memory:') throw new InvalidOptionError('database', 'a database file (another connection to :memory: is another, empty database)', options.database);
  return {
    database: options.database,
    port: integer('port', options.port, DEFAULT_DASHBOARD_PORT, 0, 65_535),
    host: resolveHost(options.host),
    intervalMs: integer('intervalMs', options.intervalMs, 1000, 100, 3_600_000),
    historyMinutes: integer('historyMinutes', options.historyMinutes, 60, 1, 7 * 24 * 60),
    busyTimeoutMs: integer('busyTimeoutMs', options.busyTimeoutMs, 250, 0, 60_000),
    tables: resolveTableNames(options.tables),
    logger: options.logger ?? silentLogger(),
  };
}

/** Loopback names: the only Host headers answered when listening on loopback. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void> | void;

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

/**
 * Routes by path, GET and HEAD only. Requests addressed to another name than the loopback
 * ones are refused when the server listens on loopback.
 */
function router(routes: Record<string, Handler>, loopbackOnly: boolean, logger: Logger): Handler {
  return async (request, response) => {
    const hostHeader = request.headers.host ?? '';
    const hostName = hostHeader.replace(/:\d+$/, '');
    if (loopbackOnly && !isLoopback(hostName)) {
      send(response, 421, 'text/plain; charset=utf-8', `This server answers only requests to 127.0.0.1 or localhost, not to "${hostHeader}".\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain; charset=utf-8', 'Only GET and HEAD are served.\n', { allow: 'GET, HEAD' });
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const route = routes[path];
    if (!route) {
      send(response, 404, 'text/plain; charset=utf-8', `Not found: ${path}. Served here: ${Object.keys(routes).join(', ')}\n`);
      return;
    }
    try {
      await route(request, response);
    } catch (error) {
      logger.error({ err: error, path }, 'dashboard: request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `Internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      else response.destroy();
    }
  };
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        reject(new InvalidOptionError('port', `a free TCP port on ${host}`, port, 'Another program listens on it: choose another port, or 0 for any free one'));
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
        reject(new InvalidOptionError('host', 'an address of this machine, such as 127.0.0.1', host));
      } else if (error.code === 'EACCES') {
        reject(new InvalidOptionError('port', 'a port this user may listen on (1024 or above unless privileged)', port));
      } else {
        reject(new BackfillError('ERR_INTERNAL', `Cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
      }
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
  return (server.address() as AddressInfo).port;
}

function urlOf(host: string, port: number): string {
  const name = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  return `http://${name}:${port}/`;
}

function closer(server: Server, cleanup: () => void): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive connections (a browser polling) would hold close() open indefinitely.
      server.closeAllConnections();
    }).finally(cleanup);
    return closing;
  };
}

/**
 * Serves the dashboard of one database: `/` the page, `/api/snapshot` its figures as JSON,
 * `/metrics` in Prometheus text format, `/healthz`. Reads the database through one
 * read-only connection (`query_only`), once per `intervalMs`, in one short read transaction.
 *
 * ```ts
 * await using dashboard = await startDashboard({ database: 'data/league_analytics.db', port: 0 });
 * console.log(dashboard.url);
 * ```
 */
export async function startDashboard(options: DashboardOptions): Promise<DashboardServer> {
  const resolved = resolveDashboardOptions(options);
  const logger = resolved.logger.child({ component: 'dashboard' });
  const sampler = new DatabaseSampler({
    path: resolved.database, tables: resolved.tables, intervalMs: resolved.intervalMs, historyMinutes: resolved.historyMinutes,
    liveWindowMs: 5 * 60_000, busyTimeoutMs: resolved.busyTimeoutMs, logger,
  });
  const metrics = databaseMetrics();
  const page = renderPage({ databasePath: resolved.database });
  const server = createServer(router({
    '/': (_request, response) => send(response, 200, 'text/html; charset=utf-8', page, { 'content-security-policy': PAGE_CSP }),
    '/api/snapshot': (_request, response) => send(response, 200, 'application/json; charset=utf-8', JSON.stringify(sampler.state())),
    '/metrics': async (_request, response) => {
      metrics.update(sampler.latest());
      send(response, 200, metrics.registry.contentType, await metrics.registry.metrics());
    },
    '/healthz': (_request, response) => send(response, 200, 'text/plain; charset=utf-8', 'ok\n'),
  }, isLoopback(resolved.host), logger));
  server.keepAliveTimeout = 5000;
  const port = await listen(server, resolved.port, resolved.host);
  sampler.start();
  const url = urlOf(resolved.host, port);
  logger.info({ url, database: resolved.database }, 'dashboard listening');
  const close = closer(server, () => sampler.close());
  return {
    url,
    metricsUrl: `${url}metrics`,
    host: resolved.host,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface EngineMetricsServerOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The engine's database file, for `league_backfill_wal_bytes`. */
  readonly database?: string;
  /** @default a silent logger */
  readonly logger?: Logger;
}

const METRICS_SERVER_OPTIONS = new Set(['port', 'host', 'database', 'logger']);

/**
 * Serves a live engine's metrics (`engineMetrics(engine)`) on `/metrics`, for
 * `backfill --metrics-port N`. Closing the server detaches its listeners from the engine.
 */
export async function serveEngineMetrics(engine: MetricsEngine, options: EngineMetricsServerOptions): Promise<EngineMetricsServer> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionError('options', 'an object such as { port: 9464 }', options);
  checkKeys(options, METRICS_SERVER_OPTIONS, 'serveEngineMetrics');
  if (options.port === undefined) throw new InvalidOptionError('port', 'an integer from 0 to 65535 (0: any free port)', options.port);
  const port = integer('port', options.port, 0, 0, 65_535);
  const host = resolveHost(options.host);
  const logger = (options.logger ?? silentLogger()).child({ component: 'metrics' });
  const detach = new AbortController();
  const registry = engineMetrics(engine, { signal: detach.signal, ...(options.database !== undefined ? { database: options.database } : {}) });
  const server = createServer(router({
    '/metrics': async (_request, response) => send(response, 200, registry.contentType, await registry.metrics()),
    '/': (_request, response) => send(response, 200, 'text/plain; charset=utf-8', 'league-backfill engine metrics: /metrics (Prometheus text format)\n'),
    '/healthz': (_request, response) => send(response, 200, 'text/plain; charset=utf-8', 'ok\n'),
  }, isLoopback(host), logger));
  let bound: number;
  try {
    bound = await listen(server, port, host);
  } catch (error) {
    detach.abort();
    throw error;
  }
  const url = urlOf(host, bound);
  logger.info({ url }, 'engine metrics listening');
  const close = closer(server, () => detach.abort());
  return { url, metricsUrl: `${url}metrics`, host, port: bound, registry, close, [Symbol.asyncDispose]: close };
}
