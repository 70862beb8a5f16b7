/**
 * The README's API example runs as written, on the Node version the package supports: its code
 * block is extracted, saved inside the package (so `import ... from 'league-backfill'` resolves
 * to this package through its exports map) and run in a child process in an empty folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { useTempDir } from './helpers/temp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tempDir = useTempDir('readme-');

function apiBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Programmatic API'), readme.indexOf('\n## ', readme.indexOf('## Programmatic API') + 5));
  return [...section.matchAll(/```(?:js|ts)\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe('the README', () => {
  it('has an API example in a form Node 20 parses, which runs and writes what it says', async () => {
    const blocks = apiBlocks();
    expect(blocks.length).toBeGreaterThan(0);
    const folder = tempDir();
    const scripts = join(ROOT, '.vitest');
    mkdirSync(scripts, { recursive: true });
    for (const [index, code] of blocks.entries()) {
      // `await using` does not parse on Node 20: the example must not need it.
      expect(code).not.toMatch(/^\s*await using /m);
      const script = join(scripts, `readme-api-${process.pid}-${index}.mjs`);
      writeFileSync(script, code);
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: folder, timeout: 60_000 });
        // The example prints the rows the job inserted.
        expect(Number(stdout.trim().split('\n').at(-1))).toBeGreaterThan(0);
      } finally {
        rmSync(script, { force: true });
      }
    }
    const db = join(folder, 'data', 'league_analytics.db');
    expect(existsSync(db)).toBe(true);
    const check = new Database(db, { readonly: true });
    const job = check.prepare("SELECT status, error FROM job_log WHERE job_id = '423.l.12345:2023'").get() as { status: string; error: string | null };
    check.close();
    expect(job).toEqual({ status: 'completed', error: null });
  });
});
