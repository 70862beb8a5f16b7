import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, demoLeagueKeys, demoSource, PROFILES, type CheckpointInfo } from '../dist/src/index.js';
import { committedRows, readTable, startReader, waitFor } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

function walSize(db: string): number {
  try {
    return statSync(`${db}-wal`).size;
  } catch {
    return 0;
  }
}

describe('the checkpoint policy', () => {
  it('keeps the WAL near its threshold during a long backfill while a reader queries without pause', async () => {
    const db = join(tempDir(), 'league.db');
    const threshold = 2 * 1024 * 1024;
    await using engine = await createEngine({
      database: db, source: demoSource({ seed: 2 }), flags: PROFILES.recommended,
      // SQLite's own trigger off: only the policy under test checkpoints.
      walAutocheckpointPages: 0, checkpointThresholdBytes: threshold, transactionBudgetMs: 20,
    });
    const checkpoints: CheckpointInfo[] = [];
    engine.on('checkpoint', (info) => checkpoints.push(info));
    const reader = startReader(db, 4000);
    let maxWal = 0;
    const sampler = setInterval(() => { maxWal = Math.max(maxWal, walSize(db)); }, 5);
    const jobs = demoLeagueKeys(4, 2).flatMap((leagueKey) => [2020, 2021, 2022, 2023, 2024, 2025].map((season) => engine.enqueue({ leagueKey, season })));
    await waitFor(() => committedRows(db) > 0, 10_000, 'first commit');
    await Promise.all(jobs.map((job) => job.done));
    clearInterval(sampler);
    const report = await reader;
    const rows = readTable(db).rows;
    expect(report.errors).toBe(0);
    expect(report.queries).toBeGreaterThan(10);
    expect(checkpoints.length).toBeGreaterThan(0);
    // Every write adds to the WAL; without checkpoints it would hold the whole backfill.
    const databaseBytes = statSync(db).size;
    expect(databaseBytes).toBeGreaterThan(5 * threshold);
    expect(maxWal, `largest WAL ${maxWal} bytes, database ${databaseBytes} bytes, checkpoints ${JSON.stringify(checkpoints.map((c) => [c.mode, c.busy, c.walPages, c.checkpointedPages, c.walBytesBefore, Math.round(c.durationMs)]))}`).toBeLessThan(2.5 * threshold);
    expect(rows).toBe(engine.totals.rowsInserted);
  });
});
