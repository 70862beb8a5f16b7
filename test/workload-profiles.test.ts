import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.js';
import { ReadPool, withReader } from '../src/db/read-pool.js';
import { FlagsFileError } from '../src/errors.js';
import {
  applyWorkloadPragmas, loadFlags, PROFILES, planWorkload, setWorkload, updateFlags, WORKLOAD_NAMES, type WorkloadName,
} from '../src/flags/index.js';
import { runCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-workload-');

/** Opens a connection the way open.ts does, applies the workload, and reads every pragma back from SQLite. */
function readBack(workload: WorkloadName, flags = PROFILES.recommended, options: { readonly?: boolean; walAutocheckpointPages?: number } = {}) {
  const path = join(tempDir(), 'league.db');
  const writer = openDatabase({ path, flags, ...(options.walAutocheckpointPages !== undefined ? { walAutocheckpointPages: options.walAutocheckpointPages } : {}) });
  let db = writer.db;
  if (options.readonly) {
    db.close();
    db = openDatabase({ path, flags, readonly: true }).db;
  }
  try {
    const applied = applyWorkloadPragmas(db, { workload, flags, readonly: options.readonly ?? false });
    const pragma = (name: string): number => Number(db.pragma(name, { simple: true }) ?? 0);
    return {
      applied,
      values: {
        journal_mode: String(db.pragma('journal_mode', { simple: true })),
        cache_size: pragma('cache_size'),
        mmap_size: pragma('mmap_size'),
        temp_store: pragma('temp_store'),
        synchronous: pragma('synchronous'),
        wal_autocheckpoint: pragma('wal_autocheckpoint'),
      },
    };
  } finally {
    db.close();
  }
}

describe('workload profiles read back from SQLite', () => {
  it('mixed changes nothing the flags set', () => {
    const { applied, values } = readBack('mixed');
    expect(applied.pragmas).toEqual([]);
    expect(applied.warnings).toEqual([]);
    expect(values).toMatchObject({ journal_mode: 'wal', cache_size: -16384, mmap_size: 0, synchronous: 1 });
  });

  it('read-heavy: a 64 MiB cache, 1 GiB mmap and temp_store MEMORY, on write and read-only connections', () => {
    for (const readonly of [false, true]) {
      const { applied, values } = readBack('read-heavy', PROFILES.recommended, { readonly });
      expect(applied.warnings).toEqual([]);
      expect(values).toMatchObject({ cache_size: -65536, mmap_size: 1024 * 1024 * 1024, temp_store: 2 });
      expect(applied.pragmas.map((p) => [p.name, p.readBack])).toEqual([['cache_size', -65536], ['mmap_size', 1073741824], ['temp_store', 2]]);
    }
  });

  it('reaches the read connections of health and jobs: the read pool and a one-shot reader get the profile too', async () => {
    const path = join(tempDir(), 'league.db');
    openDatabase({ path, flags: PROFILES.recommended }).db.close();
    const cacheOf = (db: { pragma(source: string, options: { simple: true }): unknown }): number => Number(db.pragma('cache_size', { simple: true }));
    const pool = new ReadPool({ path, flags: PROFILES.recommended, workload: 'read-heavy', min: 1, max: 1 });
    try {
      const lease = await pool.acquire();
      expect(cacheOf(lease.db)).toBe(-65536);
      expect(Number(lease.db.pragma('mmap_size', { simple: true }))).toBe(1024 * 1024 * 1024);
      lease.release();
    } finally {
      await pool.close();
    }
    expect(await withReader({ path, flags: PROFILES.recommended, workload: 'read-heavy' }, cacheOf)).toBe(-65536);
    expect(await withReader({ path, flags: PROFILES.recommended }, cacheOf)).toBe(-16384);
    expect(() => new ReadPool({ path, flags: PROFILES.recommended, workload: 'reading' as WorkloadName })).toThrow(/`workload` to be one of mixed, read-heavy, write-heavy, got "?reading/);
  });

  it('write-heavy: WAL with synchronous NORMAL, a 32 MiB cache and wal_autocheckpoint 4000, but never against a connection that checkpoints itself', () => {
    const { applied, values } = readBack('write-heavy');
    expect(applied.warnings).toEqual([]);
    expect(values).toMatchObject({ journal_mode: 'wal', synchronous: 1, cache_size: -32768, wal_autocheckpoint: 4000 });
    // The engine's writer opens with wal_autocheckpoint = 0 and runs its own checkpoints between transactions.
    const writer = readBack('write-heavy', PROFILES.recommended, { walAutocheckpointPages: 0 });
    expect(writer.values.wal_autocheckpoint).toBe(0);
    expect(writer.applied.pragmas.map((p) => p.name)).toEqual(['cache_size', 'synchronous']);
  });

  it('never enlarges less than aggressive_caching already asks, and is not applied without pragma_optimizations', () => {
    const full = readBack('write-heavy', PROFILES.full);
    expect(full.values.cache_size).toBe(-65536);
    const baseline = readBack('read-heavy', PROFILES.baseline);
    expect(baseline.applied.pragmas).toEqual([]);
    expect(baseline.applied.warnings[0]).toMatch(/workload read-heavy is not applied: .*pragma_optimizations is off/);
    expect(baseline.values).toMatchObject({ mmap_size: 0, journal_mode: 'delete' });
  });

  it('write-heavy on a connection without WAL says so and applies only the cache', () => {
    const plan = planWorkload('write-heavy', { flags: { ...PROFILES.recommended, wal_mode: false }, walOn: false });
    expect(plan.pragmas.map((p) => p.name)).toEqual(['cache_size']);
    expect(plan.warnings[0]).toContain('wal_mode is off');
    const { applied, values } = readBack('write-heavy', { ...PROFILES.recommended, wal_mode: false });
    expect(values).toMatchObject({ journal_mode: 'delete', cache_size: -32768 });
    expect(applied.warnings[0]).toContain('workload write-heavy wants WAL');
  });
});

describe('the workload setting in the flags file', () => {
  it('is read and written beside the seven flags, and a change of flags keeps it', async () => {
    const file = join(tempDir(), 'feature_flags.json');
    expect((await loadFlags(file)).workload).toBe('mixed');
    await setWorkload(file, 'read-heavy');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ ...PROFILES.recommended, workload: 'read-heavy' });
    const changed = await updateFlags(file, { wal_mode: false });
    expect(changed.workload).toBe('read-heavy');
    const loaded = await loadFlags(file);
    expect(loaded).toMatchObject({ workload: 'read-heavy', workloadSource: 'file', flags: { ...PROFILES.recommended, wal_mode: false } });
    await setWorkload(file, 'mixed');
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).not.toContain('workload');
  });

  it('an unknown workload is an error that names the file and leaves it unchanged', async () => {
    const file = join(tempDir(), 'feature_flags.json');
    writeFileSync(file, JSON.stringify({ wal_mode: true, workload: 'fast' }));
    const error = await loadFlags(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlagsFileError);
    expect((error as Error).message).toBe(`Flags file ${file}: "workload" must be one of ${WORKLOAD_NAMES.join(', ')}, got "fast" (string). The file was left unchanged.`);
    await expect(updateFlags(file, { wal_mode: false })).rejects.toBeInstanceOf(FlagsFileError);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ wal_mode: true, workload: 'fast' });
  });

  it('`flags profile write-heavy` selects the workload on the command line; the flags stay as they were', async () => {
    const dir = tempDir();
    const file = join(dir, 'feature_flags.json');
    expect((await runCli(['flags', 'profile', 'baseline', '--flags', file])).code).toBe(0);
    const result = await runCli(['flags', 'profile', 'write-heavy', '--flags', file, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { flags: unknown; workload: string };
    expect(json).toMatchObject({ flags: PROFILES.baseline, workload: 'write-heavy' });
    const human = await runCli(['flags', 'list', '--flags', file]);
    expect(human.stdout).toMatch(/workload +write-heavy +\(file\).*Not applied while pragma_optimizations is off\./);
    const reset = await runCli(['flags', 'reset', '--flags', file, '--json']);
    expect(JSON.parse(reset.stdout)).toMatchObject({ flags: PROFILES.recommended, workload: 'mixed' });
    const bad = await runCli(['flags', 'profile', 'fast', '--flags', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('read-heavy');
  });
});
