/**
 * Rows staged outside the lock (src/writer/thread/staging.ts): staging takes no lock on the
 * database file, so it runs while another process holds the write lock; the copy into the
 * table is the same INSERT OR IGNORE as the direct insert, batch by batch.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.js';
import { PROFILES } from '../src/flags/index.js';
import type { RowTuple } from '../src/model/index.js';
import { RowStaging, type StagedRange } from '../src/writer/thread/staging.js';
import { useTempDir } from './helpers/temp.js';
import { holdWriteLock } from './helpers/processes.js';

const tempDir = useTempDir();

function rows(from: number, count: number): RowTuple[] {
  return Array.from({ length: count }, (_, index) => {
    const n = from + index;
    return [`449.l.1.tr.${n}`, n, 'add', 1_700_000_000 + n, 'successful', `p${n}`, `Player ${n}`, null, null, '449.l.1.t.1', 'Team 1', '449.l.1'];
  });
}

const job = { jobId: 'demo:449.l.1:2024', season: 2024, leagueSeries: '449.l.1' };

describe('row staging', () => {
  it('stages while another process holds the write lock, and copies each batch in order with its job columns', async () => {
    const path = join(tempDir(), 'league.db');
    const { db } = openDatabase({ path, flags: PROFILES.recommended });
    db.pragma('busy_timeout = 0');
    const staging = new RowStaging(db, 'transactions');
    const held = await holdWriteLock(path, 600);
    let ranges: StagedRange[];
    try {
      // No busy wait at all: a lock on the file would fail this at once.
      ranges = staging.stage([{ job, rows: rows(0, 50) }, { job, rows: [] }, { job, rows: rows(50, 30) }]);
      expect(() => db.transaction(() => staging.move(ranges[0]!)).immediate()).toThrow(/database is locked/);
    } finally {
      await held.released;
    }
    expect(ranges).toEqual([{ first: 1, last: 50 }, { first: 51, last: 50 }, { first: 51, last: 80 }]);
    const inserted = db.transaction(() => ranges.map((range) => staging.move(range))).immediate();
    expect(inserted).toEqual([50, 0, 30]);
    staging.release(80);
    const stored = db.prepare('SELECT transaction_key, job_id, season, league_series FROM transactions ORDER BY rowid').all() as Array<Record<string, unknown>>;
    expect(stored).toHaveLength(80);
    expect(stored[0]).toEqual({ transaction_key: '449.l.1.tr.0', job_id: job.jobId, season: 2024, league_series: '449.l.1' });
    expect(stored[79]!.transaction_key).toBe('449.l.1.tr.79');
    db.close();
    // Nothing of the staging is in the file: it lived in the connection's memory.
    const reader = new Database(path, { readonly: true });
    expect(reader.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE '%staging%'").get()).toEqual({ n: 0 });
    reader.close();
  });

  it('ignores rows already in the table, as the direct insert does, and counts only the new ones', () => {
    const path = join(tempDir(), 'league.db');
    const { db } = openDatabase({ path, flags: PROFILES.recommended });
    const staging = new RowStaging(db, 'transactions');
    const first = staging.stage([{ job, rows: rows(0, 40) }]);
    expect(db.transaction(() => staging.move(first[0]!)).immediate()).toBe(40);
    staging.release(first[0]!.last);
    const again = staging.stage([{ job, rows: rows(20, 40) }]);
    expect(again).toEqual([{ first: 41, last: 80 }]);
    expect(db.transaction(() => staging.move(again[0]!)).immediate()).toBe(20);
    expect((db.prepare('SELECT count(*) AS n FROM transactions').get() as { n: number }).n).toBe(60);
    db.close();
  });
});
