/**
 * Output into a pipe that its reader closes early, as `league-backfill jobs | head -1` does:
 * the command must end quietly, with its own exit code, and no `Error: write EPIPE` stack.
 * Each case runs in a real shell pipeline; `true` as the reader closes the pipe before the
 * command writes anything, so the closed pipe is certain, and `head` is what people type.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './helpers/cli.js';
import { readTable } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

interface PipelineResult {
  /** The exit code of league-backfill itself (PIPESTATUS[0]), not of the reader. */
  code: number;
  stdout: string;
  stderr: string;
}

function pipeline(args: string[], reader: string, cwd: string): Promise<PipelineResult> {
  const quoted = [process.execPath, BIN, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(' ');
  const script = `${quoted} | ${reader}; echo "exit=\${PIPESTATUS[0]}" >&2`;
  const child = spawn('bash', ['-c', script], { cwd, env: { ...process.env, LEAGUE_BACKFILL_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => {
      const match = /exit=(\d+)\n?$/.exec(stderr);
      if (!match) reject(new Error(`no exit status in: ${stderr}`));
      else resolve({ code: Number(match[1]), stdout, stderr: stderr.slice(0, match.index) });
    });
  });
}

let dir: string;
let db: string;

// One database for the whole file (filling it is the slow part), removed at the end.
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'league-backfill-pipes-'));
  db = join(dir, 'pipes.db');
  // Enough jobs that `jobs` writes far more than a pipe's buffer.
  const filled = await runCli(['backfill', '--db', db, '--leagues', '40', '--seasons', '2015-2025', '--seed', '9', '--json']);
  expect(filled.code, filled.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a pipe closed by its reader', () => {
  const commands: Array<[what: string, args: () => string[]]> = [
    ['jobs', () => ['jobs', '--db', db]],
    ['jobs --json', () => ['jobs', '--db', db, '--json']],
    ['flags list', () => ['flags', 'list', '--db', db]],
    ['validate', () => ['validate', '--db', db]],
    ['--help', () => ['--help']],
    ['backfill --help', () => ['backfill', '--help']],
    ['--version', () => ['--version']],
  ];
  const cases = [
    ...commands.map(([what, args]) => ({ what, args, reader: 'head -1', lines: 1 })),
    { what: '--help', args: () => ['--help'], reader: 'head -3', lines: 3 },
    // `true` reads nothing and exits at once: the pipe is closed before the first write.
    ...commands.map(([what, args]) => ({ what, args, reader: 'true', lines: 0 })),
  ];
  it.for(cases)('$what | $reader: exits 0 with no EPIPE and no stack', async ({ args, reader, lines }) => {
    const result = await pipeline(args(), reader, dir);
    expect(result.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const shown = result.stdout === '' ? 0 : result.stdout.replace(/\n$/, '').split('\n').length;
    expect(shown).toBe(lines);
  });

  it('jobs | head -1 prints the first line the same as without the pipe', async () => {
    const whole = await runCli(['jobs', '--db', db]);
    const first = await pipeline(['jobs', '--db', db], 'head -1', dir);
    expect(first.stdout).toBe(`${whole.stdout.split('\n')[0]}\n`);
    expect(whole.stdout.split('\n').length).toBeGreaterThan(400);
  });

  it('a backfill whose stdout reader is gone still does its work and exits 0', async () => {
    const target = join(tempDir(), 'closed-stdout.db');
    const result = await pipeline(['backfill', '--db', target, '--leagues', '2', '--seasons', '2020-2021', '--seed', '5'], 'true', dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readTable(target).statuses).toEqual({ completed: 4 });
  });

  it('a backfill whose stderr reader is gone (2>&1 | head -1) still does its work and exits 0', async () => {
    const target = join(tempDir(), 'closed-stderr.db');
    const quoted = [process.execPath, BIN, 'backfill', '--db', target, '--leagues', '2', '--seasons', '2020-2021', '--seed', '5'].map((a) => `'${a}'`).join(' ');
    const child = spawn('bash', ['-c', `${quoted} 2>&1 | head -1 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`], {
      env: { ...process.env, LEAGUE_BACKFILL_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
    await new Promise((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(out.trim()).toBe('exit=0');
    expect(readTable(target).statuses).toEqual({ completed: 4 });
  });
});
