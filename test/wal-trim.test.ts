/**
 * The WAL file is cut back to its limit in transactions of its own, never inside a batch's
 * COMMIT (src/writer/thread/wal-trim.ts): the decisions without files, then a real engine whose
 * WAL a real notebook process pins.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalTrim } from '../src/writer/thread/wal-trim.js';
import { createEngine, demoLeagueKeys, demoSource, PROFILES, type CheckpointInfo } from '../dist/src/index.js';
import { startLegacyWriter, startNotebook } from './helpers/neighbours.js';
import { committedRows } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const MIB = 1024 * 1024;
const tempDir = useTempDir();

describe('WalTrim', () => {
  it('is due only after a checkpoint copied the whole WAL, and only until the next COMMIT', () => {
    const trim = new WalTrim({ limitBytes: 16 * MIB, budgetMs: 100 });
    expect(trim.due(64 * MIB)).toBeNull();
    trim.checkpointed(false);
    expect(trim.due(64 * MIB)).toBeNull();
    expect(trim.pending).toBe(false);
    trim.checkpointed(true);
    expect(trim.pending).toBe(true);
    expect(trim.due(64 * MIB)).toBe(16 * MIB);
    trim.committed();
    expect(trim.pending).toBe(false);
    expect(trim.due(64 * MIB)).toBeNull();
  });

  it('leaves a file within the slack over the limit alone', () => {
    const trim = new WalTrim({ limitBytes: 16 * MIB, budgetMs: 100, slackBytes: 4 * MIB });
    trim.checkpointed(true);
    expect(trim.due(20 * MIB)).toBeNull();
    expect(trim.due(20 * MIB + 1)).toBe(16 * MIB);
  });

  it('cuts a large file in steps sized to half the budget from the cuts it measured', () => {
    const trim = new WalTrim({ limitBytes: 16 * MIB, budgetMs: 100, firstStepBytes: 64 * MIB });
    trim.checkpointed(true);
    // Before any measurement: the first step.
    expect(trim.due(400 * MIB)).toBe(336 * MIB);
    // 64 MiB took 40 ms: 50 ms (half the budget) cut 80 MiB.
    trim.record(400 * MIB, 336 * MIB, 40);
    expect(trim.stepBytes).toBe(80 * MIB);
    // A slower cut counts at once...
    trim.record(336 * MIB, 256 * MIB, 100);
    expect(trim.stepBytes).toBe(40 * MIB);
    // ...a faster one by half.
    trim.record(256 * MIB, 216 * MIB, 12.5);
    expect(trim.stepBytes).toBeGreaterThan(40 * MIB);
    expect(trim.stepBytes).toBeLessThan(80 * MIB);
    // Tiny cuts are the transaction's fixed cost, not the rate.
    const before = trim.stepBytes;
    trim.record(20 * MIB, 17 * MIB, 30);
    expect(trim.stepBytes).toBe(before);
  });

  it('waits a second after a trim that cut nothing (another connection started the WAL over first), whatever the checkpoints', () => {
    const clock = { now: 0 };
    const trim = new WalTrim({ limitBytes: 16 * MIB, budgetMs: 100, now: () => clock.now });
    trim.checkpointed(true);
    expect(trim.due(300 * MIB)).not.toBeNull();
    trim.committed();
    trim.record(300 * MIB, 300 * MIB, 0.5);
    for (let i = 0; i < 20; i++) {
      clock.now += 49;
      trim.checkpointed(true);
      expect(trim.pending).toBe(false);
    }
    clock.now += 20;
    trim.checkpointed(true);
    expect(trim.due(300 * MIB)).toBe(236 * MIB);
  });

  it('after a try that could not cut (missed), waits a second: the first complete checkpoint after it makes the trim due', () => {
    const clock = { now: 0 };
    const trim = new WalTrim({ limitBytes: 16 * MIB, budgetMs: 100, now: () => clock.now });
    trim.checkpointed(true);
    expect(trim.pending).toBe(true);
    trim.missed();
    expect(trim.pending).toBe(false);
    clock.now += 999;
    trim.checkpointed(true);
    expect(trim.pending).toBe(false);
    // A reader pinned the WAL meanwhile: no checkpoint completed, and none needs to have.
    clock.now += 5000;
    trim.checkpointed(false);
    expect(trim.pending).toBe(false);
    trim.checkpointed(true);
    expect(trim.pending).toBe(true);
  });
});

describe('the WAL file after a reader lets go', () => {
  it('is cut back to its limit in trim transactions of their own, each well within the budget', { timeout: 60_000 }, async () => {
    const db = join(tempDir(), 'league.db');
    // Small beside what a pinned second and a half lets the engine write (8 MB and more here):
    // the WAL must grow well past it while pinned.
    const threshold = 2 * MIB;
    const limit = threshold / 4;
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 21 }), flags: PROFILES.recommended, checkpointThresholdBytes: threshold });
    const trims: CheckpointInfo[] = [];
    engine.on('checkpoint', (info) => {
      if (info.mode === 'TRIM') trims.push(info);
    });
    await engine.enqueue({ leagueKey: demoLeagueKeys(1, 8)[0]!, season: 2020 }).done;
    const notebook = startNotebook({ database: db, holdMs: 1500 });
    let pinnedBytes = 0;
    try {
      await notebook.ready;
      // The WAL grows past its threshold while the notebook's snapshot holds it.
      const jobs = demoLeagueKeys(6, 8).flatMap((leagueKey) => [2021, 2022].map((season) => engine.enqueue({ leagueKey, season }).done));
      await notebook.released;
      pinnedBytes = statSync(`${db}-wal`).size;
      await Promise.all(jobs);
      // More work after the reader let go: the WAL starts over and is trimmed.
      await Promise.all([2023, 2024].map((season) => engine.enqueue({ leagueKey: demoLeagueKeys(1, 9)[0]!, season }).done));
    } finally {
      await notebook.stop();
    }
    expect(pinnedBytes).toBeGreaterThan(2 * threshold);
    expect(trims.length).toBeGreaterThan(0);
    const cut = trims.filter((trim) => (trim.walBytesAfter ?? 0) < trim.walBytesBefore);
    expect(cut.length).toBeGreaterThan(0);
    for (const trim of cut) {
      expect(trim.walBytesAfter).toBeGreaterThanOrEqual(limit);
      // The trim transaction holds the lock for the cut and one small write.
      expect(trim.durationMs).toBeLessThan(100);
    }
    expect(statSync(`${db}-wal`).size).toBeLessThanOrEqual(limit + 4 * MIB);
    expect(committedRows(db)).toBe(engine.totals.rowsInserted);
  });

  it('is cut too beside a legacy script committing every 10 ms, whose commits would start the WAL over first', { timeout: 60_000 }, async () => {
    const db = join(tempDir(), 'league.db');
    const threshold = 2 * MIB;
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 22 }), flags: PROFILES.recommended, checkpointThresholdBytes: threshold });
    const trims: CheckpointInfo[] = [];
    engine.on('checkpoint', (info) => {
      if (info.mode === 'TRIM') trims.push(info);
    });
    await engine.enqueue({ leagueKey: demoLeagueKeys(1, 8)[0]!, season: 2020 }).done;
    // Python's sqlite3 defaults: no journal_size_limit, so its commit that starts the WAL over leaves the file as it was.
    const legacy = startLegacyWriter({ database: db, table: 'legacy_notes', durationMs: 50_000, intervalMs: 10 });
    const notebook = startNotebook({ database: db, holdMs: 1500 });
    let pinnedBytes = 0;
    let endBytes = 0;
    try {
      await Promise.all([legacy.ready, notebook.ready]);
      const jobs = demoLeagueKeys(6, 8).flatMap((leagueKey) => [2021, 2022].map((season) => engine.enqueue({ leagueKey, season }).done));
      await notebook.released;
      pinnedBytes = statSync(`${db}-wal`).size;
      await Promise.all(jobs);
      await Promise.all(demoLeagueKeys(3, 9).flatMap((leagueKey) => [2023, 2024].map((season) => engine.enqueue({ leagueKey, season }).done)));
      endBytes = statSync(`${db}-wal`).size;
    } finally {
      await notebook.stop();
    }
    const figures = await legacy.stop();
    expect(figures.errors).toEqual([]);
    expect(figures.commits).toBeGreaterThan(50);
    expect(pinnedBytes).toBeGreaterThan(2 * threshold);
    const cut = trims.filter((trim) => (trim.walBytesAfter ?? 0) < trim.walBytesBefore);
    expect(cut.length, `trims: ${trims.map((t) => `${t.walBytesBefore}->${t.walBytesAfter}`).join(', ')}`).toBeGreaterThan(0);
    for (const trim of cut) expect(trim.durationMs).toBeLessThan(100);
    expect(endBytes).toBeLessThan(pinnedBytes);
  });
});
