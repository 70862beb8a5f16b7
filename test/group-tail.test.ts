/**
 * A group's tail beside other processes: the batches that did not fit the transaction budget
 * wait in the writer for the next group instead of becoming a short transaction that costs a
 * whole gap; alone, the writer commits the whole group at once, as before. A real writer
 * thread on a real file, a real reader process beside it.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { demoSource, PROFILES } from '../dist/src/index.js';
import type { RowTuple } from '../src/model/index.js';
import { resolveEngineOptions } from '../dist/src/engine/options.js';
import { WriterHandle } from '../dist/src/writer/writer.js';
import type { BatchMessage } from '../dist/src/writer/protocol.js';
import { startReader } from './helpers/neighbours.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

async function startWriter(database: string): Promise<WriterHandle> {
  // A 5 ms budget: 60 batches of 100 rows never fit one transaction.
  const resolved = resolveEngineOptions({ database, source: demoSource({ seed: 3 }), flags: PROFILES.recommended, transactionBudgetMs: 5 });
  return WriterHandle.start({ ...resolved.writer, flags: PROFILES.recommended, workload: 'mixed', logLevel: 'silent' }, resolved.logger);
}

/** `count` one-page batches of 100 rows of one job, numbered from `first`. */
function batches(jobId: string, first: number, count: number): BatchMessage[] {
  return Array.from({ length: count }, (_, page) => {
    const rows: RowTuple[] = Array.from({ length: 100 }, (_, index) => {
      const n = (first + page) * 100 + index;
      return [`449.l.1.tr.${n}`, n, 'add', 1_700_000_000 + n, 'successful', `p${n}`, `Player ${n}`, null, null, '449.l.1.t.1', 'Team 1', '449.l.1'];
    });
    return { jobId, season: 2024, leagueSeries: '449.l.1', rows: JSON.stringify(rows), rowCount: 100, rejected: [], cursor: (first + page + 1) * 100, final: false };
  });
}

async function start(writer: WriterHandle, jobId: string): Promise<void> {
  await writer.startJob({ jobId, leagueKey: '449.l.1', season: 2024, source: 'demo', force: false, replaceSource: false });
}

function rows(database: string): number {
  const db = new Database(database, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM transactions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('a group larger than one transaction', () => {
  it('alone, is committed whole in several back-to-back transactions', async () => {
    const database = join(tempDir(), 'league.db');
    const writer = await startWriter(database);
    try {
      await start(writer, 'demo:449.l.1:2024');
      const result = await writer.commit(batches('demo:449.l.1:2024', 0, 60));
      expect(result.outcomes).toHaveLength(60);
      expect(result.transactions).toBeGreaterThan(1);
    } finally {
      await writer.close();
    }
    expect(rows(database)).toBe(6000);
  });

  it('beside another process, commits one transaction and keeps the tail, which leads the next group', async () => {
    const database = join(tempDir(), 'league.db');
    const writer = await startWriter(database);
    // The engine's tables exist once the writer has opened the file: the reader reads them.
    const reader = startReader({ database, durationMs: 30_000, intervalMs: 50 });
    try {
      await reader.ready;
      await start(writer, 'demo:449.l.1:2024');
      const first = await writer.commit(batches('demo:449.l.1:2024', 0, 60));
      expect(first.transactions).toBe(1);
      expect(first.outcomes.length).toBeGreaterThan(0);
      expect(first.outcomes.length).toBeLessThan(60);
      expect(first.outcomes.every((outcome) => outcome.ok)).toBe(true);
      expect(rows(database)).toBe(first.outcomes.length * 100);

      // The next group: the kept batches first, in order, then the ones sent now.
      const kept = 60 - first.outcomes.length;
      let outcomes = (await writer.commit(batches('demo:449.l.1:2024', 60, 5))).outcomes;
      expect(outcomes.length).toBeGreaterThan(0);
      let committed = first.outcomes.length + outcomes.length;
      // Empty groups drain what is kept: each commits at least one page.
      while (committed < 65) {
        outcomes = (await writer.commit([])).outcomes;
        expect(outcomes.length).toBeGreaterThan(0);
        committed += outcomes.length;
      }
      expect(committed).toBe(65);
      expect(kept).toBeGreaterThan(0);
    } finally {
      await reader.stop();
      await writer.close();
    }
    expect(rows(database)).toBe(6500);
    const db = new Database(database, { readonly: true });
    try {
      // The job's cursor is the last page's: every page committed in order.
      expect((db.prepare('SELECT cursor FROM job_log WHERE job_id = ?').get('demo:449.l.1:2024') as { cursor: number }).cursor).toBe(6500);
    } finally {
      db.close();
    }
  });
});
