import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { neighbourVerdict, percentileShown, type LegacyWriterFigures, type ReaderFigures } from '../src/loadtest/results.js';
import { recommend, THROUGHPUT_NOISE } from '../src/loadtest/run.js';
import type { ScenarioResult } from '../src/loadtest/scenario.js';
import { percentile } from '../src/loadtest/stats.js';
import { bucketFor, MIN_TIMELINE_POINTS, Timeline } from '../src/loadtest/timeline.js';
import { runCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

interface ConfigFigures {
  name: string;
  successRate: number;
  rowsOffered: number;
  rowsCommitted: number;
  lockErrors: number;
  retries: number;
  rowsPerSecond: number;
  durationMs: number;
  commitLatencyMs: { count: number; p95: number; p99: number; max: number };
  p95CommitMs: number | null;
  p99CommitMs: number | null;
  rowsLost: number;
  readerErrors: number;
  legacyWriterErrors: number;
  readers: { count: number; queries: number; errors: number; p99Ms: number; maxMs: number };
  legacyWriters: { count: number; transactions: number; transactionsPerSecond: number; errors: number; errorsByMessage: Record<string, number>; p99Ms: number; maxMs: number; rowsLost: number };
  neighbours: { ok: boolean; problems: string[] };
  integrity: string;
  timelineBucketMs: number;
  timeline: Array<{ t: number; rowsCommitted: number }>;
}

interface Report {
  configs: ConfigFigures[];
  recommended: string;
  recommendation: string;
}

describe('league-backfill loadtest', () => {
  it('runs every configuration under real contention and counts what each, and each neighbour, suffers', async () => {
    const out = join(tempDir(), 'report');
    // The text report on stdout, the JSON one in --out: one run checks both.
    const result = await runCli(['loadtest', '--quick', '--out', out], { timeoutMs: 230_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    const names = report.configs.map((config) => config.name);
    expect(names).toEqual(['Baseline', 'PRAGMA Only', 'WAL Mode', 'Transactions', 'Full Stack', 'Recommended']);
    const config = (name: string): ConfigFigures => report.configs.find((c) => c.name === name)!;

    for (const name of ['Full Stack', 'Recommended']) {
      expect(config(name).lockErrors, name).toBe(0);
      expect(config(name).rowsLost, name).toBe(0);
      expect(config(name).rowsCommitted, name).toBe(config(name).rowsOffered);
    }
    // Baseline (no busy timeout, no retry, rollback journal) loses jobs to the readers' and the
    // legacy writer's locks: the count comes from the jobs that failed with a lock error.
    const baseline = config('Baseline');
    expect(baseline.lockErrors).toBeGreaterThan(0);
    expect(baseline.rowsCommitted).toBeLessThan(baseline.rowsOffered);
    expect(baseline.successRate).toBeLessThan(1);

    for (const c of report.configs) {
      expect(c.integrity, c.name).toBe('ok');
      // The neighbours' figures, as the processes reported them.
      expect(c.legacyWriters.count, c.name).toBe(1);
      expect(c.legacyWriters.transactions, c.name).toBeGreaterThan(0);
      expect(c.legacyWriters.rowsLost, c.name).toBe(0);
      expect(c.legacyWriters.maxMs, c.name).toBeGreaterThanOrEqual(c.legacyWriters.p99Ms);
      expect(c.legacyWriterErrors, c.name).toBe(c.legacyWriters.errors);
      expect(c.readers.count, c.name).toBe(2);
      expect(c.readers.queries, c.name).toBeGreaterThan(0);
      // The verdict on the neighbours follows from their figures: any error, or a wait past 1 s.
      const problems = c.legacyWriters.errors > 0 || c.readers.errors > 0 || c.legacyWriters.maxMs > 1000 || c.readers.p99Ms > 1000;
      expect(c.neighbours.ok, `${c.name}: ${c.neighbours.problems.join('; ')}`).toBe(!problems);
      expect(c.neighbours.problems.length > 0, c.name).toBe(problems);
      // Percentiles from too few commits to differ from the maximum are not given.
      expect(c.p95CommitMs === null, c.name).toBe(!percentileShown(c.commitLatencyMs.count, 95));
      expect(c.p99CommitMs === null, c.name).toBe(!percentileShown(c.commitLatencyMs.count, 99));
      // Enough points for a line, however short the run.
      expect(c.timeline.length, c.name).toBeGreaterThanOrEqual(Math.min(MIN_TIMELINE_POINTS, Math.floor(c.durationMs / 10)));
      expect(c.timeline.at(-1)!.rowsCommitted, c.name).toBeLessThanOrEqual(c.rowsOffered);
    }

    // The verdict: never a configuration that lost rows or hurt a neighbour.
    if (report.recommended === '') {
      expect(report.recommendation).toMatch(/^none: /);
      for (const c of report.configs) expect(c.rowsLost > 0 || !c.neighbours.ok, c.name).toBe(true);
    } else {
      expect(names).toContain(report.recommended);
      expect(config(report.recommended).rowsLost).toBe(0);
      expect(config(report.recommended).neighbours.ok).toBe(true);
    }

    const text = result.stdout;
    expect(text).toContain('1 legacy writer contending');
    expect(text).not.toMatch(/\b1 legacy writers\b/);
    expect(text).toMatch(/Legacy tx\/s\s+Legacy err\s+Legacy p99\/max ms/);
    expect(text).toContain('Reader p99 ms');
    expect(text).toContain('Neighbours (a configuration that makes one fail or wait past 1 s is not recommended):');
    expect(text).toContain(`Recommended configuration: ${report.recommendation}`);

    expect(existsSync(join(out, 'report.html'))).toBe(true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script[^>]*\ssrc\s*=/i);
    const details = html.slice(html.indexOf('<h2>Details</h2>'));
    expect(details).not.toContain('{}');
    expect(details).toMatch(/legacy writer: [\d,]+ transactions? \(/);
    expect(html).toMatch(/1 legacy writer process\s+\(20 rows a transaction, 10 ms apart\)/);
  }, 240_000);
});

describe('the load test verdict', () => {
  const writers = (over: Partial<LegacyWriterFigures> = {}): LegacyWriterFigures => ({
    count: 1, transactions: 500, transactionsPerSecond: 60, rowsCommitted: 10_000, errors: 0, errorCodes: {}, errorsByMessage: {},
    p50Ms: 1, p99Ms: 20, p99Samples: 500, maxMs: 40, rowsLost: 0, ...over,
  });
  const readers = (over: Partial<ReaderFigures> = {}): ReaderFigures => ({
    count: 2, queries: 900, queriesPerSecond: 90, errors: 0, errorCodes: {}, errorsByMessage: {}, p99Ms: 30, p99Samples: 400, maxMs: 50, ...over,
  });
  /** The fields the verdict reads; the rest of a result does not take part. */
  const config = (name: string, rowsPerSecond: number, over: { writers?: Partial<LegacyWriterFigures>; rowsLost?: number; successRate?: number } = {}): ScenarioResult => {
    const legacyWriters = writers(over.writers);
    const readerFigures = readers();
    return {
      name, rowsPerSecond, successRate: over.successRate ?? 1, lockErrors: 0, rowsLost: over.rowsLost ?? 0,
      legacyWriters, readers: readerFigures, neighbours: neighbourVerdict(readerFigures, legacyWriters),
    } as unknown as ScenarioResult;
  };

  it('keeps the default profile when another is faster only within noise, and says so', () => {
    const faster = Math.round(10_000 * (1 + THROUGHPUT_NOISE / 2));
    const verdict = recommend([config('Transactions', faster), config('Recommended', 10_000)]);
    expect(verdict.recommended).toBe('Recommended');
    expect(verdict.recommendation).toContain('Transactions was 13 % faster in this run, within the run-to-run noise (25 %): keep the default');
  });

  it('names a faster configuration beyond noise, and says how much slower the default was', () => {
    const verdict = recommend([config('Transactions', 20_000), config('Recommended', 10_000)]);
    expect(verdict.recommended).toBe('Transactions');
    expect(verdict.recommendation).toContain('The default, Recommended, was 50 % slower, beyond the noise.');
  });

  it('never recommends a configuration that makes a neighbour fail or wait past 1 s', () => {
    const starved = config('Recommended', 30_000, { writers: { maxMs: 4100 } });
    const failing = config('Full Stack', 40_000, { writers: { errors: 2, errorsByMessage: { 'database is locked': 2 } } });
    expect(starved.neighbours.problems).toEqual(['the legacy writer waited up to 4.1 s for a commit']);
    expect(failing.neighbours.problems).toEqual(['the legacy writer: 2 errors ("database is locked" x2)']);
    const verdict = recommend([config('Transactions', 10_000), starved, failing]);
    expect(verdict.recommended).toBe('Transactions');
    expect(verdict.recommendation).toContain('The default, Recommended, is not recommended: the legacy writer waited up to 4.1 s for a commit.');
    const none = recommend([starved, failing, config('WAL Mode', 9_000, { rowsLost: 12 })]);
    expect(none.recommended).toBe('');
    expect(none.recommendation).toMatch(/^none: every configuration lost rows or made a neighbour fail or wait past 1 s \(Recommended: the legacy writer waited/);
    expect(none.recommendation).toContain('WAL Mode: 12 rows lost');
  });
});

describe('load test figures', () => {
  it('shows p95 and p99 only from enough samples to differ from the maximum', () => {
    expect([19, 20].map((n) => percentileShown(n, 95))).toEqual([false, true]);
    expect([99, 100].map((n) => percentileShown(n, 99))).toEqual([false, true]);
    // Nearest rank: the 99.9th of 1,000 samples is the 999th, not the maximum.
    expect(percentile(Array.from({ length: 1000 }, (_, i) => i + 1), 99.9)).toBe(999);
  });

  it('gives a timeline enough points to be a line, for a short run and a long one', () => {
    expect(bucketFor(1_200)).toBe(25);
    expect(bucketFor(60_000)).toBe(1000);
    const origin = 1000;
    const timeline = new Timeline(origin);
    for (let at = origin; at < origin + 1200; at += 30) timeline.addRows(10, at);
    const points = timeline.points(origin + 1200);
    expect(points.length).toBeGreaterThanOrEqual(MIN_TIMELINE_POINTS);
    expect(points.at(-1)!.rowsCommitted).toBe(400);
  });
});
