import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { RolloutLogEntry, RolloutStatus } from '../src/db/rollout/index.js';
import { flagsAtStep, ROLLOUT_STEPS } from '../src/db/rollout/index.js';
import { PROFILES } from '../src/flags/index.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-rollout-');

interface Setup {
  dir: string;
  db: string;
  flags: string;
}

function setup(): Setup {
  const dir = tempDir();
  return { dir, db: join(dir, 'league.db'), flags: join(dir, 'feature_flags.json') };
}

async function rollout(s: Setup, ...args: string[]): Promise<CliResult & { json: { status: RolloutStatus; entry?: RolloutLogEntry; error?: { code: string; message: string } } }> {
  const result = await runCli(['rollout', ...args, '--db', s.db, '--json']);
  let json: never;
  try {
    json = JSON.parse(result.stdout) as never;
  } catch {
    throw new Error(`rollout ${args.join(' ')} printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`);
  }
  return { ...result, json };
}

/** A real backfill of one demo league-season, redone each time (`--force`), with the flags the rollout set. */
async function backfill(s: Setup): Promise<void> {
  const result = await runCli(['backfill', '--db', s.db, '--leagues', '1', '--seasons', '2024', '--force', '--json']);
  expect(result.code, result.stderr).toBe(0);
}

/** Lock errors as the writer records them: added to the current minute of writer_metrics. */
function addLockErrors(s: Setup, count: number): void {
  const db = new BetterSqlite3(s.db, { timeout: 5000 });
  try {
    db.prepare(`INSERT INTO writer_metrics (minute, locks) VALUES (?, ?)
      ON CONFLICT (minute) DO UPDATE SET locks = locks + excluded.locks`).run(Math.floor(Date.now() / 60_000), count);
  } finally {
    db.close();
  }
}

const flagsFile = (s: Setup): unknown => JSON.parse(readFileSync(s.flags, 'utf8'));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const failing = (status: RolloutStatus): string[] => status.criteria.filter((c) => !c.ok).map((c) => c.name);

function fileHash(path: string): string {
  return createHash('sha256').update(existsSync(path) ? readFileSync(path) : Buffer.alloc(0)).digest('hex');
}

/** Starts the rollout, collects a baseline with `locks` lock errors, and steps to pragma_optimizations. */
async function toFirstStep(s: Setup, locks: number): Promise<RolloutLogEntry> {
  const start = await rollout(s, 'next');
  expect(start.code, start.stderr).toBe(0);
  expect(start.json.entry).toMatchObject({ action: 'start', step: 'baseline' });
  expect(flagsFile(s)).toEqual(PROFILES.baseline);
  await backfill(s);
  addLockErrors(s, locks);
  await sleep(1100);
  const next = await rollout(s, 'next', '--min-observation', '1s');
  expect(next.code, next.stdout).toBe(0);
  expect(next.json.entry).toMatchObject({ action: 'next', from: 'baseline', step: 'pragma_optimizations' });
  expect(next.json.entry?.figures?.locks).toBe(locks);
  expect(flagsFile(s)).toEqual(flagsAtStep(1));
  return next.json.entry as RolloutLogEntry;
}

describe('rollout', () => {
  it('starts at the baseline with every flag off and shows the steps before it starts', async () => {
    const s = setup();
    const before = await rollout(s, 'status');
    expect(before.code).toBe(0);
    expect(before.json.status).toMatchObject({ started: false, step: null, nextStep: 'baseline' });
    expect(before.json.status.steps).toEqual(['baseline', 'pragma_optimizations', 'explicit_transactions', 'wal_mode', 'retry_logic', 'connection_pooling', 'isolation_levels', 'aggressive_caching']);
    const start = await rollout(s, 'next');
    expect(start.code, start.stderr).toBe(0);
    expect(flagsFile(s)).toEqual(PROFILES.baseline);
    expect(existsSync(join(s.dir, 'feature_flags.rollout.json'))).toBe(true);
    // No backfill yet: the baseline has nothing to measure, and the refusal says so.
    const refused = await rollout(s, 'next', '--min-observation', '0s');
    expect(refused.code).toBe(1);
    expect(failing(refused.json.status)).toEqual(['activity', 'integrity']);
    expect(refused.json.error?.message).toMatch(/^Rollout stays at step baseline: 2 criteria fail: activity \(no backfill has committed rows/);
  });

  it('next refuses, naming the lock-error criterion, while lock errors are not reduced by more than 90 %; nothing changes', async () => {
    const s = setup();
    await toFirstStep(s, 600);
    await backfill(s);
    const measured = (await rollout(s, 'status')).json.status;
    const baseline = measured.baseline?.lockErrorsPerMinute ?? 0;
    expect(baseline).toBeGreaterThan(0);
    // Half the baseline's rate: reduced 50 %, not more than 90 %.
    addLockErrors(s, Math.max(1, Math.ceil(0.5 * baseline * ((measured.figures?.activeMs ?? 0) / 60_000))));
    expect((await runCli(['rollback', '--drill', '--db', s.db])).code).toBe(0);
    await sleep(1100);
    const stateBefore = readFileSync(join(s.dir, 'feature_flags.rollout.json'), 'utf8');
    const dbBefore = fileHash(s.db);
    const refused = await rollout(s, 'next', '--min-observation', '1s', '--max-degradation', '95');
    expect(refused.code).toBe(1);
    expect(failing(refused.json.status)).toEqual(['lock errors']);
    expect(refused.json.error).toMatchObject({ code: 'ERR_VALIDATION' });
    expect(refused.json.error?.message).toMatch(/a criterion fails: lock errors \(.* per minute now against .* per minute at the baseline: reduced \d+ %; more than 90 % is needed\)/);
    expect(refused.stderr).toContain('lock errors');
    expect(flagsFile(s)).toEqual(flagsAtStep(1));
    expect(readFileSync(join(s.dir, 'feature_flags.rollout.json'), 'utf8')).toBe(stateBefore);
    expect(fileHash(s.db)).toBe(dbBefore);
    // The human output names it too.
    const human = await runCli(['rollout', 'next', '--db', s.db, '--min-observation', '1s', '--max-degradation', '95']);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('REFUSED: the rollout stays at pragma_optimizations.');
    expect(human.stdout).toMatch(/\[FAIL\] lock errors: /);
  });

  it('next takes the step when lock errors are reduced by more than 90 % and every other criterion holds, and logs the figures', async () => {
    const s = setup();
    await toFirstStep(s, 6000);
    await backfill(s);
    const measured = (await rollout(s, 'status')).json.status;
    const baseline = measured.baseline?.lockErrorsPerMinute ?? 0;
    // A twentieth of the baseline's rate: reduced 95 %.
    const few = Math.floor(0.05 * baseline * ((measured.figures?.activeMs ?? 0) / 60_000));
    expect(few).toBeGreaterThanOrEqual(1);
    addLockErrors(s, few);
    const drill = await runCli(['rollback', '--drill', '--db', s.db]);
    expect(drill.code, drill.stdout).toBe(0);
    await sleep(1100);
    const next = await rollout(s, 'next', '--min-observation', '1s', '--max-degradation', '95');
    expect(next.code, next.stdout).toBe(0);
    const entry = next.json.entry as RolloutLogEntry;
    expect(entry).toMatchObject({ action: 'next', from: 'pragma_optimizations', step: 'explicit_transactions' });
    expect(entry.criteria.every((c) => c.ok)).toBe(true);
    expect(entry.criteria.map((c) => c.name)).toEqual(['flags', 'observation time', 'activity', 'integrity', 'lock errors', 'rollback drill', 'performance']);
    expect(entry.criteria.find((c) => c.name === 'lock errors')?.detail).toMatch(/reduced (9[5-9]|100) %; more than 90 % is needed/);
    expect(entry.figures?.locks).toBe(few);
    expect(entry.baseline?.locks).toBe(6000);
    expect(entry.drill?.status).toBe('passed');
    expect(flagsFile(s)).toEqual(flagsAtStep(2));
    const status = next.json.status;
    expect(status.log.map((e) => `${e.action}:${e.step}`)).toEqual(['start:baseline', 'next:pragma_optimizations', 'next:explicit_transactions']);
  });

  it('back restores the previous step\'s flags and logs the figures of the step undone; at the baseline there is nothing to undo', async () => {
    const s = setup();
    await toFirstStep(s, 10);
    await backfill(s);
    const back = await rollout(s, 'back');
    expect(back.code, back.stdout).toBe(0);
    expect(back.json.entry).toMatchObject({ action: 'back', from: 'pragma_optimizations', step: 'baseline' });
    expect(back.json.entry?.figures?.jobs).toBe(1);
    expect(flagsFile(s)).toEqual(PROFILES.baseline);
    expect(back.json.status).toMatchObject({ step: 'baseline', stepIndex: 0, nextStep: 'pragma_optimizations' });
    const again = await rollout(s, 'back');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('The rollout is at the baseline (every flag off): there is no step to undo');
  });

  it('names each other criterion that fails: observation time, the drill, performance, and flags changed by hand', async () => {
    const s = setup();
    await toFirstStep(s, 100);
    await backfill(s);
    const early = await rollout(s, 'next', '--min-observation', '1h');
    expect(early.code).toBe(1);
    expect(failing(early.json.status)).toEqual(expect.arrayContaining(['observation time', 'rollback drill']));
    expect(early.json.status.criteria.find((c) => c.name === 'rollback drill')?.detail).toContain('rollback --drill');

    // The step's jobs made ten times slower than they were: rows per second far below the baseline.
    const db = new BetterSqlite3(s.db, { timeout: 5000 });
    const since = early.json.status.since ?? '';
    const rows = db.prepare('SELECT job_id, started_at, finished_at FROM job_log WHERE started_at >= ?').all(since) as Array<{ job_id: string; started_at: string; finished_at: string }>;
    expect(rows.length).toBe(1);
    for (const row of rows) {
      const took = Date.parse(row.finished_at) - Date.parse(row.started_at);
      db.prepare('UPDATE job_log SET finished_at = ? WHERE job_id = ?').run(new Date(Date.parse(row.started_at) + took * 10 + 1000).toISOString(), row.job_id);
    }
    db.close();
    const slow = (await rollout(s, 'status', '--min-observation', '0s')).json.status;
    expect(slow.criteria.find((c) => c.name === 'performance')).toMatchObject({ ok: false });
    expect(slow.criteria.find((c) => c.name === 'performance')?.detail).toMatch(/rows\/s against .* rows\/s at the baseline: \d+ % slower; less than 10 % slower is needed/);

    const edited = await runCli(['flags', 'enable', 'wal_mode', '--db', s.db]);
    expect(edited.code).toBe(0);
    const drifted = await rollout(s, 'next', '--min-observation', '0s');
    expect(drifted.code).toBe(1);
    expect(drifted.json.status.flagDrift).toEqual([{ name: 'wal_mode', actual: true, expected: false }]);
    expect(drifted.json.status.criteria.find((c) => c.name === 'flags')?.detail).toContain('`league-backfill flags disable wal_mode`');
    // back is still allowed, and puts the flags to exactly the previous step's.
    expect((await rollout(s, 'back')).code).toBe(0);
    expect(flagsFile(s)).toEqual(PROFILES.baseline);
  });

  it('refuses another database than the one the rollout measures, and rejects a bad duration', async () => {
    const s = setup();
    expect((await rollout(s, 'next')).code).toBe(0);
    const other = await runCli(['rollout', 'status', '--db', join(s.dir, 'other.db'), '--flags', s.flags]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`the database this rollout measures, ${s.db}`);
    const bad = await runCli(['rollout', 'next', '--db', s.db, '--min-observation', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Expected `--min-observation` to be a duration such as 2s, 30m, 24h or 7d, got "soon"');
    expect(ROLLOUT_STEPS.at(-1)).toBe('aggressive_caching');
  });
});
