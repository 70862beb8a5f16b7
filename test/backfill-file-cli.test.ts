import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BackfillSummary } from '../src/cli/commands/backfill.js';
import { parseTransactionsResponse } from '../src/source/yahoo-format/index.js';
import { runCli } from './helpers/cli.js';
import { readTable } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('backfill-file-cli-');
const FIXTURES = fileURLToPath(new URL('./fixtures/yahoo/', import.meta.url));
/** The path exactly as a user types it from the project folder. */
const SEASON = 'test/fixtures/yahoo/yfantasy-api-league-transactions-2020-nhl.json';
const PENDING = join(FIXTURES, 'yahoo_fantasy_api-league-transactions-pending_trade-2019-nhl.json');

function keysOf(file: string): string[] {
  const { rows } = parseTransactionsResponse(JSON.parse(readFileSync(file, 'utf8')));
  return [...new Set(rows.map((row) => `${row.transactionKey}|${row.playerId}`))].sort();
}

describe('backfill --source file on the command line', () => {
  it('refuses to import a league that holds made-up demo rows (exit 2, nothing changed) until --replace-source, which leaves exactly the real rows', async () => {
    const db = join(tempDir(), 'league.db');
    const demo = await runCli(['backfill', '--source', 'demo', '--league', '403.l.17457', '--seasons', '2020', '--db', db, '--json']);
    expect(demo.code, demo.stderr).toBe(0);
    const demoRows = readTable(db).rows;
    const refused = await runCli(['backfill', '--source', 'file', '--input', SEASON, '--db', db, '--json']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/League 403\.l\.17457 already holds \d+ rows from the demo source/);
    expect(refused.stderr).toContain('--replace-source');
    expect(readTable(db).rows).toBe(demoRows);
    const replaced = await runCli(['backfill', '--source', 'file', '--input', SEASON, '--db', db, '--replace-source', '--json']);
    expect(replaced.code, replaced.stderr).toBe(0);
    const table = readTable(db);
    expect(table.rows).toBe(584);
    expect(table.keys).toEqual(keysOf(SEASON));
  });

  it('stores the 584 rows of a saved season for league 403.l.17457, and a second run stores nothing new', async () => {
    const db = join(tempDir(), 'league.db');
    const first = await runCli(['backfill', '--source', 'file', '--input', SEASON, '--db', db, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout) as BackfillSummary).toMatchObject({
      jobs: 1, completed: 1, failed: 0, rowsFetched: 584, rowsInserted: 584, rowsIgnored: 0, rowsRejected: 35,
    });
    const table = readTable(db);
    expect(table.rows).toBe(584);
    expect(table.keys).toEqual(keysOf(SEASON));
    expect(table.keys.every((key) => key.startsWith('403.l.17457.tr.'))).toBe(true);
    expect(table.statuses).toEqual({ completed: 1 });

    const second = await runCli(['backfill', '--source', 'file', '--input', SEASON, '--db', db, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout) as BackfillSummary).toMatchObject({ jobs: 1, skipped: 1, rowsInserted: 0 });
    expect(readTable(db).keys).toEqual(table.keys);
  });

  it('reads a folder of saved responses: one job per league and season', async () => {
    const dir = tempDir();
    const folder = join(dir, 'saved');
    mkdirSync(folder);
    copyFileSync(SEASON, join(folder, 'nhl-2020.json'));
    copyFileSync(PENDING, join(folder, 'nhl-2019.json'));
    writeFileSync(join(folder, 'README.txt'), 'responses saved by hand\n');
    const db = join(dir, 'league.db');

    const result = await runCli(['backfill', '--source', 'file', '--input', folder, '--db', db, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout) as BackfillSummary).toMatchObject({ jobs: 2, completed: 2, failed: 0 });
    expect(readTable(db).keys).toEqual([...keysOf(SEASON), ...keysOf(PENDING)].sort());
    expect(readTable(db).statuses).toEqual({ completed: 2 });
  });

  it('exits 2 for an input that is not JSON, and creates no database', async () => {
    const dir = tempDir();
    const input = join(dir, 'transactions.json');
    writeFileSync(input, '<html><body>Please sign in</body></html>\n');
    const db = join(dir, 'league.db');
    const result = await runCli(['backfill', '--source', 'file', '--input', input, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Input ${input} is not valid JSON`);
    expect(existsSync(db)).toBe(false);
  });

  it('exits 2 for an input path that does not exist, and creates no database', async () => {
    const dir = tempDir();
    const db = join(dir, 'league.db');
    const missing = join(dir, 'no-such-file.json');
    const result = await runCli(['backfill', '--source', 'file', '--input', missing, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Input ".*no-such-file\.json" does not exist/);
    expect(existsSync(db)).toBe(false);
  });
});
