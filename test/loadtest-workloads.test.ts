/**
 * `loadtest --workloads`: each workload profile under a read-heavy and a write-heavy contention
 * mix, with real reader and writer processes, and a recommendation that the measured figures
 * support (or a plain "within the noise").
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { PROFILES, planWorkload, WORKLOAD_NAMES, type WorkloadName } from '../src/flags/index.js';
import type { ConnectionPragmas } from '../src/loadtest/contenders/protocol.js';
import {
  CONTENTION_MIXES, advantage, combineRuns, planWorkloadRuns, recommendWorkload, runWorkloadComparison, WORKLOAD_FIGURES,
  type WorkloadCell, type WorkloadComparisonReport, type WorkloadRunFigures,
} from '../src/loadtest/workloads/index.js';
import { collect, runCli, startCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-workloads-');

/** What open.ts sets with the default flags, before any workload: the `mixed` profile's values. */
const FLAG_DEFAULTS = { cacheSize: -16384, mmapSize: 0, tempStore: 0, synchronous: 1 } as const;

const FIELD = { cache_size: 'cacheSize', mmap_size: 'mmapSize', temp_store: 'tempStore', synchronous: 'synchronous', wal_autocheckpoint: 'walAutocheckpoint' } as const;

/** The pragmas a profile must leave on a connection: the flags' values, then what the profile's plan sets. */
function expectedPragmas(profile: WorkloadName, readonly: boolean): Partial<ConnectionPragmas> {
  const expected: Partial<ConnectionPragmas> = { journalMode: 'wal', cacheSize: FLAG_DEFAULTS.cacheSize, mmapSize: FLAG_DEFAULTS.mmapSize, tempStore: FLAG_DEFAULTS.tempStore };
  if (!readonly) expected.synchronous = FLAG_DEFAULTS.synchronous;
  // The engine's writer runs its own checkpoints (wal_autocheckpoint 0), so no profile sets it there.
  for (const pragma of planWorkload(profile, { flags: PROFILES.recommended, walOn: true, readonly, walAutocheckpoint: 0 }).pragmas) {
    (expected as Record<string, number>)[FIELD[pragma.name]] = pragma.value;
  }
  return expected;
}

describe('league-backfill loadtest --workloads', () => {
  it('measures every profile under both mixes with real processes, each with its pragmas in force, and recommends what the figures support', async () => {
    const dir = tempDir();
    const reportPath = join(dir, 'workloads.json');
    // Two leagues: a few seconds a run, 8 runs (6 cells and a noise probe per mix).
    const result = await runCli(['loadtest', '--workloads', '--quick', '--leagues', '2', '--out', join(dir, 'out'), '--report', reportPath], { timeoutMs: 240_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as WorkloadComparisonReport;

    // Every cell, once, mix by mix.
    expect(report.cells.map((cell) => `${cell.mix}/${cell.profile}`)).toEqual(
      ['read-heavy', 'write-heavy'].flatMap((mix) => WORKLOAD_NAMES.map((profile) => `${mix}/${profile}`)),
    );
    expect(report.settings.order).toEqual(['read-heavy', 'write-heavy'].flatMap((mix) => [`${mix}/mixed#0`, ...WORKLOAD_NAMES.map((profile) => `${mix}/${profile}#1`)]));
    expect(report.settings.historyRows).toBeGreaterThan(0);
    for (const cell of report.cells) {
      const mix = CONTENTION_MIXES[cell.mix];
      const name = `${cell.mix}/${cell.profile}`;
      expect(cell.runs, name).toBe(1);
      expect(cell.perRun, name).toHaveLength(1);
      // Each figure was measured: the engine wrote, the readers read, the neighbour writer committed.
      expect(cell.successRate, name).toBe(1);
      expect(cell.rowsLost, name).toBe(0);
      expect(cell.engineRowsPerSecond, name).toBeGreaterThan(0);
      expect(cell.readerQueriesPerSecond, name).toBeGreaterThan(0);
      expect(cell.writerCommitsPerSecond, name).toBeGreaterThan(0);
      expect(cell.walMaxBytes, name).toBeGreaterThan(0);
      expect(cell.writerMaxMs, name).toBeGreaterThanOrEqual(cell.writerP99Ms);
      for (const figure of ['readerP99Ms', 'writerP99Ms', 'lockErrors', 'writerErrors'] as const) expect(Number.isFinite(cell[figure]), `${name} ${figure}`).toBe(true);

      // The profile's pragmas, read back from SQLite: on the engine's write connection, and on
      // each reader process's connection.
      expect(cell.pragmas.engine, name).toMatchObject(expectedPragmas(cell.profile, false));
      expect(cell.pragmas.readers, name).toHaveLength(mix.contention.readers);
      for (const reader of cell.pragmas.readers) expect(reader, name).toMatchObject(expectedPragmas(cell.profile, true));
      expect(cell.pragmasInForce, `${name}: ${cell.pragmaProblems.join('; ')}`).toBe(true);
    }
    // The profiles really differ where they should: a cache of each size on the engine's connection.
    const engineCache = (profile: WorkloadName): number => report.cells.find((cell) => cell.profile === profile)!.pragmas.engine.cacheSize;
    expect(new Set(WORKLOAD_NAMES.map(engineCache)).size).toBe(3);

    // One verdict per mix, which the measured figures support.
    expect(report.verdicts.map((verdict) => verdict.mix)).toEqual(['read-heavy', 'write-heavy']);
    for (const verdict of report.verdicts) {
      const mix = CONTENTION_MIXES[verdict.mix as keyof typeof CONTENTION_MIXES];
      const cells = report.cells.filter((cell) => cell.mix === mix.name);
      const eligible = cells.filter((cell) => cell.rowsLost === 0 && cell.problems.length === 0 && cell.pragmasInForce);
      const noise = report.noise[mix.name].used[mix.decidingFigure];
      expect(noise).toBeGreaterThanOrEqual(report.settings.noiseFloor);
      expect(verdict.noise).toBe(noise);
      if (eligible.length === 0) {
        expect(verdict.recommended).toBeNull();
        continue;
      }
      const top = eligible.filter((cell) => cell.successRate === Math.max(...eligible.map((c) => c.successRate)))
        .filter((cell, _, same) => cell.lockErrors === Math.min(...same.map((c) => c.lockErrors)));
      if (top.length === 1) {
        expect(verdict.recommended).toBe(top[0]!.profile);
        continue;
      }
      expect(verdict.decidedBy).toBe(mix.decidingFigure);
      const figure = mix.decidingFigure;
      const values = top.map((cell) => cell[figure]);
      const bestValue = WORKLOAD_FIGURES[figure].higherIsBetter ? Math.max(...values) : Math.min(...values);
      const best = top.find((cell) => cell.profile === verdict.best)!;
      const against = top.find((cell) => cell.profile === verdict.against)!;
      expect(best[figure]).toBe(bestValue);
      expect(against).toBeDefined();
      expect(against.profile).not.toBe(best.profile);
      const margin = advantage(figure, best[figure], against[figure]);
      expect(verdict.margin).toBeCloseTo(margin, 3);
      expect(verdict.recommendation).toContain(WORKLOAD_FIGURES[figure].label);
      if (margin > noise) {
        expect(verdict.recommended).toBe(best.profile);
        expect(verdict.withinNoise).toBe(false);
        expect(verdict.recommendation.startsWith(`${best.profile}, by ${WORKLOAD_FIGURES[figure].label}`)).toBe(true);
      } else {
        expect(verdict.recommended).toBeNull();
        expect(verdict.withinNoise).toBe(true);
        expect(verdict.recommendation).toContain('within this run\'s noise');
      }
    }

    // The table on stdout has every cell, with its measured rows/s.
    const lines = result.stdout.split('\n');
    for (const cell of report.cells) {
      const row = lines.find((line) => new RegExp(`^${cell.mix}\\s+${cell.profile}\\s`).test(line));
      expect(row, `${cell.mix}/${cell.profile}\n${result.stdout}`).toBeDefined();
      expect(row).toContain(Math.round(cell.engineRowsPerSecond).toLocaleString('en-US'));
      expect(row).toContain('in force');
    }
    for (const verdict of report.verdicts) expect(result.stdout).toContain(`Under the ${verdict.mix} mix: ${verdict.recommendation}`);
    expect(result.stdout).toContain(`Report: ${reportPath}`);
  }, 300_000);

  it('refuses an unknown profile, a profile named twice, and options that do not apply, with exit 2 and nothing made', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const unknown = await runCli(['loadtest', '--workloads', 'read-heavy,fast', '--out', out]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Expected `--workloads` to be a comma-separated list of mixed, read-heavy, write-heavy');
    expect(unknown.stderr).toContain('"fast" is not a workload profile');

    const twice = await runCli(['loadtest', '--workloads', 'mixed,mixed', '--out', out, '--json']);
    expect(twice.code).toBe(2);
    expect(JSON.parse(twice.stdout)).toMatchObject({ error: { code: 'ERR_INVALID_OPTION' } });
    expect(twice.stderr).toContain('mixed is named twice');

    const readers = await runCli(['loadtest', '--workloads', '--readers', '3', '--out', out]);
    expect(readers.code).toBe(2);
    expect(readers.stderr).toContain('`--readers` to be left out with --workloads');

    const runs = await runCli(['loadtest', '--runs', '2', '--out', out]);
    expect(runs.code).toBe(2);
    expect(runs.stderr).toContain('`--runs` to be given only with --workloads');

    expect(existsSync(out)).toBe(false);
  });

  it('stops on Ctrl-C with exit 130, writes no report, and leaves no database behind', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const child = startCli(['loadtest', '--workloads', '--quick', '--leagues', '2', '--out', out]);
    const done = collect(child, 60_000);
    // Once the first run has started (its contenders are up), not before the command has begun.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    expect(existsSync(join(out, 'workloads.json'))).toBe(false);
    expect(readdirSync(out)).toEqual([]);
  });

  it('rejects unknown options and profiles by name in the API', async () => {
    const folder = tempDir();
    await expect(runWorkloadComparison({ folder, profile: ['mixed'] } as never)).rejects.toThrow(InvalidOptionError);
    await expect(runWorkloadComparison({ folder, profile: ['mixed'] } as never)).rejects.toThrow(/`profile`/);
    await expect(runWorkloadComparison({ folder, profiles: ['fast'] as never })).rejects.toThrow(/Expected `profiles` to be one of mixed, read-heavy, write-heavy, got "fast"/);
    await expect(runWorkloadComparison({ folder, runs: 0 })).rejects.toThrow(/Expected `runs` to be an integer from 1 to 20/);
  });
});

describe('the order of the runs', () => {
  it('rotates the profiles each round so that each runs first once in three rounds, and probes the default only with one run per cell', () => {
    const plan = planWorkloadRuns(['mixed', 'read-heavy', 'write-heavy'], ['a', 'b'], 3);
    expect(plan.some((run) => run.probe)).toBe(false);
    const orderOf = (mix: string, round: number): string[] => plan.filter((run) => run.mix === mix && run.round === round).map((run) => run.profile);
    expect(orderOf('a', 1)).toEqual(['mixed', 'read-heavy', 'write-heavy']);
    expect(orderOf('a', 2)).toEqual(['read-heavy', 'write-heavy', 'mixed']);
    expect(orderOf('a', 3)).toEqual(['write-heavy', 'mixed', 'read-heavy']);
    expect(orderOf('b', 2)).toEqual(orderOf('a', 2));
    // Rounds are interleaved: all of round 1 (both mixes) before any of round 2.
    expect(plan.map((run) => run.round)).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]);

    const once = planWorkloadRuns(['read-heavy', 'mixed'], ['a'], 1);
    expect(once.map((run) => `${run.profile}#${run.round}`)).toEqual(['mixed#0', 'read-heavy#1', 'mixed#1']);
    expect(planWorkloadRuns(['write-heavy'], ['a'], 1).some((run) => run.probe)).toBe(false);
  });
});

/** A run's figures, as runFiguresOf makes them, with the rest at neutral values. */
function runOf(over: Partial<WorkloadRunFigures>): WorkloadRunFigures {
  const pragmas: ConnectionPragmas = { journalMode: 'wal', synchronous: 1, cacheSize: -16384, mmapSize: 0, tempStore: 0, walAutocheckpoint: 0 };
  return {
    engineRowsPerSecond: 10_000, readerQueriesPerSecond: 100, readerP99Ms: 20, writerCommitsPerSecond: 40, writerP99Ms: 50, walMaxBytes: 1 << 20,
    successRate: 1, rowsLost: 0, lockErrors: 0, locks: 0, readerErrors: 0, readerP99Samples: 500, writerErrors: 0, writerMaxMs: 80, writerP99Samples: 200,
    timedOut: false, durationMs: 1000, problems: [], pragmas: { engine: pragmas, readers: [] }, pragmaProblems: [],
    ...over,
  };
}

function cellOf(profile: WorkloadName, ...runs: Array<Partial<WorkloadRunFigures>>): WorkloadCell {
  return combineRuns('write-heavy', profile, runs.map(runOf));
}

describe('the verdict of one mix', () => {
  const mix = CONTENTION_MIXES['write-heavy'];

  it('names the profile that is better beyond the noise, by the mix\'s figure and by how much', () => {
    const verdict = recommendWorkload(mix, [cellOf('mixed', { engineRowsPerSecond: 10_000 }), cellOf('write-heavy', { engineRowsPerSecond: 14_000 })], 0.25);
    expect(verdict).toMatchObject({ recommended: 'write-heavy', decidedBy: 'engineRowsPerSecond', best: 'write-heavy', against: 'mixed', margin: 0.4, withinNoise: false });
    expect(verdict.recommendation).toMatch(/^write-heavy, by the engine's rows\/s: 14,000 rows\/s for write-heavy against 10,000 rows\/s for mixed \(the default\), 40 % better, beyond this run's noise of 25 %/);
  });

  it('says the difference is noise instead of picking when it is within the noise', () => {
    const verdict = recommendWorkload(mix, [cellOf('mixed', { engineRowsPerSecond: 10_000 }), cellOf('read-heavy', { engineRowsPerSecond: 11_000 })], 0.25);
    expect(verdict).toMatchObject({ recommended: null, withinNoise: true, best: 'read-heavy', against: 'mixed', margin: 0.1 });
    expect(verdict.recommendation).toContain('no profile is measurably better under this mix');
    expect(verdict.recommendation).toContain('10 % apart, within this run\'s noise of 25 %');
  });

  it('never recommends a profile that made a neighbour fail, lost rows or did not get its pragmas, whatever its speed', () => {
    const verdict = recommendWorkload(mix, [
      cellOf('mixed', { engineRowsPerSecond: 10_000 }),
      cellOf('write-heavy', { engineRowsPerSecond: 30_000, problems: ['the legacy writer waited up to 1.4 s for a commit'] }),
      cellOf('read-heavy', { engineRowsPerSecond: 30_000, pragmaProblems: ['the engine: PRAGMA mmap_size is 0, the read-heavy profile asks for 1073741824'] }),
    ], 0.25);
    expect(verdict.recommended).toBe('mixed');
    expect(verdict.recommendation).toContain('write-heavy (the legacy writer waited up to 1.4 s for a commit)');
    expect(verdict.recommendation).toContain('read-heavy (the engine: PRAGMA mmap_size is 0');
  });

  it('decides by rows committed, then lock errors, before any timed figure', () => {
    const byRows = recommendWorkload(mix, [cellOf('mixed', { successRate: 0.97, engineRowsPerSecond: 20_000 }), cellOf('read-heavy', {})], 0.25);
    expect(byRows).toMatchObject({ recommended: 'read-heavy', decidedBy: 'rows' });
    const byLocks = recommendWorkload(mix, [cellOf('mixed', { lockErrors: 2, engineRowsPerSecond: 20_000 }), cellOf('read-heavy', {})], 0.25);
    expect(byLocks).toMatchObject({ recommended: 'read-heavy', decidedBy: 'lockErrors' });
  });

  it('takes medians over runs, and totals of what went wrong', () => {
    const cell = cellOf('mixed', { engineRowsPerSecond: 9_000, writerErrors: 1 }, { engineRowsPerSecond: 12_000 }, { engineRowsPerSecond: 10_000, problems: ['x'] });
    expect(cell.engineRowsPerSecond).toBe(10_000);
    expect(cell.writerErrors).toBe(1);
    expect(cell.problems).toEqual(['run 3: x']);
    expect(cell.runs).toBe(3);
  });

  it('rules a profile out for the neighbour writer\'s wait past 1 s in the median run, not in one run of several', () => {
    const once = cellOf('mixed', { writerMaxMs: 2_900 }, { writerMaxMs: 400 }, { writerMaxMs: 500 });
    expect(once.problems).toEqual([]);
    expect(once.writerMaxMs).toBe(2_900);
    const twice = cellOf('mixed', { writerMaxMs: 2_900 }, { writerMaxMs: 1_200 }, { writerMaxMs: 500 });
    expect(twice.problems).toEqual(['the neighbour writer waited up to 1.2 s for a commit (median of the 3 runs\' longest waits)']);
    expect(cellOf('mixed', { writerMaxMs: 1_500 }).problems).toEqual(['the neighbour writer waited up to 1.5 s for a commit']);
  });
});
