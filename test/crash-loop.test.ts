/**
 * The crash-loop and soak benchmarks, run as users run them (the built scripts behind
 * `npm run crash-loop` and `npm run soak`), in short versions: a few SIGKILLs, a few seconds
 * of soak. test/backfill-cli.test.ts kills a backfill at four chosen moments; the crash loop
 * kills it at random ones and checks the table after every kill.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CrashLoopReport } from '../bench/crash-loop.js';
import type { SoakReport } from '../bench/soak.js';
import { collect, type CliResult } from './helpers/cli.js';

const CRASH_LOOP = fileURLToPath(new URL('../dist/bench/crash-loop.js', import.meta.url));
const SOAK = fileURLToPath(new URL('../dist/bench/soak.js', import.meta.url));

function runScript(script: string, args: string[], timeoutMs = 120_000): Promise<CliResult> {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' },
  });
  return collect(child, timeoutMs);
}

describe('npm run crash-loop', () => {
  it('kills a backfill with SIGKILL at random moments, resumes each time, and ends with exactly the uninterrupted run\'s table', async () => {
    const result = await runScript(CRASH_LOOP, ['--kills', '5', '--leagues', '1', '--seasons', '2019-2025', '--seed', '9', '--latency', '4', '--json']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const report = JSON.parse(result.stdout) as CrashLoopReport;
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    // A run could, in theory, finish in the instant before its kill; in practice every kill lands.
    expect(report.kills).toBeGreaterThanOrEqual(4);
    expect(report.jobs).toBe(7);
    expect(report.referenceRows).toBeGreaterThan(5000);
    expect(report.rowsAtKill.max).toBeLessThanOrEqual(report.referenceRows);
    expect(report.finalRun.code).toBe(0);
    console.info(`crash loop: ${report.kills} kills, rows at kill ${JSON.stringify(report.rowsAtKill)} of ${report.referenceRows}, ${report.seconds.total} s`);
  });

  it('refuses a bad argument with exit 2', async () => {
    const result = await runScript(CRASH_LOOP, ['--kills', 'many']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--kills to be an integer from 1 to 100000, got "many"/);
  });
});

describe('npm run soak', () => {
  it('runs repeated backfills against readers and a legacy writer, with memory and WAL flat and nothing lost', async () => {
    // A short run: memory still ramps up in its first seconds, so the bound is generous here.
    const result = await runScript(SOAK, ['--seconds', '8', '--interval', '2', '--leagues', '1', '--rss-growth-mb', '160', '--json']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const report = JSON.parse(result.stdout) as SoakReport;
    expect(report.problems).toEqual([]);
    expect(report.rounds).toBeGreaterThanOrEqual(2);
    expect(report.jobs.failed + report.jobs.cancelled).toBe(0);
    expect(report.rows.inTable).toBe(report.rows.inserted);
    expect(report.rows.ignored).toBeGreaterThan(0); // a forced re-run happened
    expect(report.wal.maxMb).toBeLessThanOrEqual(report.wal.boundMb);
    expect(report.readers).toHaveLength(2);
    for (const reader of report.readers) expect(reader.queries).toBeGreaterThan(0);
    expect(report.legacyWriters).toHaveLength(1);
    expect(report.legacyWriters[0]!.rowsInTable).toBe(report.legacyWriters[0]!.commits * 5);
    // The figures printed every few seconds.
    expect(result.stderr).toMatch(/\[\s*\d+ s\] RSS [\d.]+ MB \(heap [\d.]+ MB\), WAL [\d.]+ MB/);
  });
});
