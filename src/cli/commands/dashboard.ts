/**
 * `dashboard`: a live page of a running or finished backfill, and `/metrics` for Prometheus,
 * on 127.0.0.1. Reads only: one read-only connection, one short read transaction a second.
 * Runs until Ctrl-C (or SIGTERM).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { checkDatabasePath, DEFAULT_DASHBOARD_PORT, InvalidOptionError, isLoopback, startDashboard, type DashboardServer } from '../../index.js';
import type { CliContext } from '../context.js';
import { addExamples, addExitCodes } from '../help.js';
import { EXIT } from '../exit-codes.js';
import { parseInteger, parseNumber } from '../parse.js';

export function describe(command: Command): void {
  command
    .option('--port <n>', 'TCP port to listen on, 0 for any free port', (v) => parseInteger(v, '--port', 0, 65_535), DEFAULT_DASHBOARD_PORT)
    .option('--host <address>', 'interface to listen on; anything but loopback shows the job log to the network', '127.0.0.1')
    .option('--interval <seconds>', 'how often the page and /metrics read the database (0.1-3600)', (v) => parseNumber(v, '--interval', 0.1, 3600), 1)
    .option('--history <minutes>', 'minutes of writer history in the charts (1-10080)', (v) => parseInteger(v, '--history', 1, 10_080), 60);
  command.addHelpText('after', `
Serves, until Ctrl-C:
  /               the page: jobs by state, rows per second, lock waits and who held the lock,
                  the neighbours' figures, WAL and checkpoints, longest lock holds, alerts
  /metrics        Prometheus text format (docs/metrics.md)
  /api/snapshot   the page's figures as JSON

Reads only, from any process, during a backfill or after it: one read-only (query_only)
connection, one short read transaction per interval; it never takes the write lock. A
database that does not exist yet is waited for.`);
  addExamples(command, [
    ['league-backfill dashboard', 'http://127.0.0.1:8089/ for data/league_analytics.db'],
    ['league-backfill dashboard --db data/other.db --port 0', 'any free port; the URL is printed'],
    ['league-backfill dashboard --port 9000 --json', 'the URLs as one JSON line'],
  ]);
  addExitCodes(command, [
    [0, 'stopped by Ctrl-C or SIGTERM'],
    [2, 'bad usage: a bad option, a port in use, or --db names a file that is not a database'],
  ]);
}

interface DashboardCommandOptions {
  port: number;
  host: string;
  interval: number;
  history: number;
}

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = raw as unknown as DashboardCommandOptions;
  const path = context.databasePath;
  // A path that is there but is not a database is bad usage, said at once; a path that is not
  // there yet is a backfill still to start, and the page waits for it.
  if (existsSync(path)) checkDatabasePath(path, { readonly: true });
  let dashboard: DashboardServer;
  try {
    dashboard = await startDashboard({
      database: path,
      port: options.port,
      host: options.host,
      intervalMs: Math.round(options.interval * 1000),
      historyMinutes: options.history,
      logger: context.logger,
    });
  } catch (error) {
    // Name what the user typed, not the library's option.
    if (error instanceof InvalidOptionError && error.option === 'port') {
      throw new InvalidOptionError('--port', `a free TCP port on ${options.host}`, options.port, 'Another program listens on it: choose another --port, or --port 0 for any free one');
    }
    if (error instanceof InvalidOptionError && error.option === 'host') throw new InvalidOptionError('--host', 'an address of this machine, such as 127.0.0.1', options.host);
    throw error;
  }
  try {
    if (context.json) {
      context.stdout.write(`${JSON.stringify({ url: dashboard.url, metricsUrl: dashboard.metricsUrl, database: path })}\n`);
    } else {
      context.stdout.write(`Dashboard of ${path}: ${dashboard.url}\n  Prometheus metrics: ${dashboard.metricsUrl}\n  (Ctrl-C to stop)\n`);
      if (!existsSync(path)) context.stdout.write(`  ${path} does not exist yet: the page fills in once a backfill creates it\n`);
    }
    if (!isLoopback(options.host)) {
      context.stderr.write(`league-backfill dashboard: listening on ${options.host}, not only on loopback: anyone who can reach this machine can read the job log\n`);
    }
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      else context.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await dashboard.close();
  }
  return EXIT.ok;
}
