import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG_NAMES, PROFILES, type Flags } from '../src/flags/index.js';
import { runCli, type CliResult, type RunOptions } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-cli-flags-');

/** Variables of the surrounding shell must not choose the files under test. */
const CLEAN_ENV = { LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' };

interface FlagsJson {
  file: string;
  exists: boolean;
  flags: Flags;
  status: Array<{ name: string; enabled: boolean; source: 'file' | 'default'; description: string }>;
}

/** A temp folder as the working directory and a flags file path inside it (not created). */
function setup(): { cwd: string; file: string; cli: (args: string[], options?: RunOptions) => Promise<CliResult> } {
  const cwd = tempDir();
  const file = join(cwd, 'feature_flags.json');
  const cli = (args: string[], options: RunOptions = {}): Promise<CliResult> =>
    runCli(args, { cwd, ...options, env: { ...CLEAN_ENV, ...options.env } });
  return { cwd, file, cli };
}

function parseJson(result: CliResult): FlagsJson {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as FlagsJson;
}

const CORRUPT = '{"wal_mode": tru';

describe('flags list', () => {
  it('shows every flag with its default when there is no file, and creates none', async () => {
    const { cwd, file, cli } = setup();
    const result = await cli(['flags', 'list', '--flags', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(file);
    expect(result.stdout).toContain('not created yet');
    const lines = result.stdout.split('\n');
    for (const name of FLAG_NAMES) {
      const line = lines.find((candidate) => candidate.trimStart().startsWith(`${name} `));
      expect(line, name).toBeDefined();
      expect(line).toMatch(new RegExp(`${name}\\s+${PROFILES.recommended[name] ? 'on' : 'off'}\\s+\\(default\\)`));
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('prints the recommended profile as JSON when there is no file', async () => {
    const { file, cli } = setup();
    const json = parseJson(await cli(['flags', 'list', '--json', '--flags', file]));
    expect(json.flags).toEqual(PROFILES.recommended);
    expect(json.exists).toBe(false);
    expect(json.file).toBe(file);
    expect(json.status.map((flag) => flag.name)).toEqual([...FLAG_NAMES]);
    expect(json.status.every((flag) => flag.source === 'default')).toBe(true);
  });

  it('lists the flags file beside the database given with --db', async () => {
    const { cwd, cli } = setup();
    const json = parseJson(await cli(['flags', '--json', '--db', join(cwd, 'x.db')]));
    expect(json.file).toBe(join(cwd, 'feature_flags.json'));
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('changing flags', () => {
  it('enables and disables single flags, and list then shows them from the file', async () => {
    const { file, cli } = setup();
    const enabled = await cli(['flags', 'enable', 'aggressive_caching', '--flags', file]);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ ...PROFILES.recommended, aggressive_caching: true });

    let json = parseJson(await cli(['flags', 'list', '--json', '--flags', file]));
    expect(json.exists).toBe(true);
    expect(json.flags).toEqual({ ...PROFILES.recommended, aggressive_caching: true });
    expect(json.status.find((flag) => flag.name === 'aggressive_caching')).toMatchObject({ enabled: true, source: 'file' });

    const disabled = await cli(['flags', 'disable', 'wal_mode', '--flags', file]);
    expect(disabled.code, disabled.stderr).toBe(0);
    json = parseJson(await cli(['flags', 'list', '--json', '--flags', file]));
    expect(json.flags).toEqual({ ...PROFILES.recommended, aggressive_caching: true, wal_mode: false });
    expect(json.status.find((flag) => flag.name === 'wal_mode')).toMatchObject({ enabled: false, source: 'file' });
  });

  it('applies the baseline profile (all off), then reset brings back the recommended one', async () => {
    const { cwd, file, cli } = setup();
    const baseline = await cli(['flags', 'profile', 'baseline', '--flags', file]);
    expect(baseline.code, baseline.stderr).toBe(0);
    let json = parseJson(await cli(['flags', 'list', '--json', '--flags', file]));
    expect(json.flags).toEqual(PROFILES.baseline);
    expect(FLAG_NAMES.every((name) => !json.flags[name])).toBe(true);

    const reset = await cli(['flags', 'reset', '--flags', file]);
    expect(reset.code, reset.stderr).toBe(0);
    json = parseJson(await cli(['flags', 'list', '--json', '--flags', file]));
    expect(json.flags).toEqual(PROFILES.recommended);
    expect(json.status.every((flag) => flag.source === 'file')).toBe(true);
    // Saved atomically: no temporary file is left beside it.
    expect(readdirSync(cwd)).toEqual(['feature_flags.json']);
  });
});

describe('a corrupt flags file', () => {
  function corruptSetup(): ReturnType<typeof setup> & { before: Buffer } {
    const context = setup();
    writeFileSync(context.file, CORRUPT);
    return { ...context, before: readFileSync(context.file) };
  }

  function expectRefused(result: CliResult, file: string, before: Buffer): void {
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toMatch(/not valid JSON/);
    expect(readFileSync(file).equals(before)).toBe(true);
  }

  it('makes flags list fail with exit 2, naming the file and the problem', async () => {
    const { cwd, file, before, cli } = corruptSetup();
    expectRefused(await cli(['flags', 'list', '--flags', file]), file, before);
    expect(readdirSync(cwd)).toEqual(['feature_flags.json']);
  });

  it('reports the problem as a JSON error object with --json', async () => {
    const { file, before, cli } = corruptSetup();
    const result = await cli(['flags', 'list', '--json', '--flags', file]);
    expectRefused(result, file, before);
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('ERR_FLAGS_FILE');
    expect(error.message).toContain(file);
  });

  it('makes flags enable fail with exit 2 and leaves the file byte for byte unchanged', async () => {
    const { cwd, file, before, cli } = corruptSetup();
    expectRefused(await cli(['flags', 'enable', 'wal_mode', '--flags', file]), file, before);
    expect(readdirSync(cwd)).toEqual(['feature_flags.json']);
  });

  it('keeps backfill from starting: exit 2 and no database file created', async () => {
    const { cwd, file, before, cli } = corruptSetup();
    const db = join(cwd, 'x.db');
    const result = await cli(['backfill', '--db', db, '--flags', file, '--leagues', '1', '--seasons', '2023', '--no-progress']);
    expectRefused(result, file, before);
    expect(existsSync(db)).toBe(false);
    expect(readdirSync(cwd)).toEqual(['feature_flags.json']);
  });
});

describe('an unknown flag name', () => {
  it('fails with exit 2, lists the valid names, suggests wal_mode and creates no file', async () => {
    const { cwd, file, cli } = setup();
    const result = await cli(['flags', 'enable', 'wal', '--flags', file]);
    expect(result.code).toBe(2);
    for (const name of FLAG_NAMES) expect(result.stderr).toContain(name);
    expect(result.stderr).toMatch(/Did you mean wal_mode\?/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('changes nothing in an existing file even when other names are valid', async () => {
    const { file, cli } = setup();
    expect((await cli(['flags', 'profile', 'baseline', '--flags', file])).code).toBe(0);
    const before = readFileSync(file);
    const result = await cli(['flags', 'enable', 'retry_logic', 'wal', '--flags', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"wal"');
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe('bad usage of flags', () => {
  it.each([
    [['flags', 'profile', 'nope'], /one profile name: baseline, recommended, full/],
    [['flags', 'profile', 'toString'], /one profile name: baseline, recommended, full/],
    [['flags', 'bogus'], /one of list, enable, disable, profile, reset/],
    [['flags', 'list', '--nope'], /unknown option '--nope'/],
    [['flags', 'enable'], /one or more flag names/],
  ])('%j exits 2 with a message and writes nothing', async (args, message) => {
    const { cwd, file, cli } = setup();
    const result = await cli([...args, '--flags', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('prints the usage for --help and exits 0', async () => {
    const { cwd, cli } = setup();
    const result = await cli(['flags', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: league-backfill flags');
    expect(result.stdout).toContain('Flag profiles: baseline, recommended, full');
    for (const workload of ['mixed', 'read-heavy', 'write-heavy']) expect(result.stdout).toContain(workload);
    for (const name of FLAG_NAMES) expect(result.stdout).toContain(name);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('bad common options', () => {
  // backfill and flags enable would create data/ and files in it if the options were taken.
  const COMMANDS = [
    ['backfill', '--leagues', '1', '--seasons', '2023', '--no-progress'],
    ['flags', 'enable', 'wal_mode'],
  ];

  it.each([
    { what: '--env staging', args: ['--env', 'staging'], env: {}, named: '`--env`', value: '"staging"' },
    { what: '--log-level loud', args: ['--log-level', 'loud'], env: {}, named: '`--log-level`', value: '"loud"' },
    { what: 'LEAGUE_BACKFILL_ENV=staging', args: [], env: { LEAGUE_BACKFILL_ENV: 'staging' }, named: '`LEAGUE_BACKFILL_ENV`', value: '"staging"' },
  ])('$what is refused by backfill and flags with exit 2, naming it, and nothing is created', async ({ args, env, named, value }) => {
    await Promise.all(COMMANDS.map(async (command) => {
      const { cwd, cli } = setup();
      const result = await cli([...command, ...args], { env });
      expect(result.code, command.join(' ')).toBe(2);
      expect(result.stderr).toContain(named);
      expect(result.stderr).toContain(value);
      expect(readdirSync(cwd)).toEqual([]);
    }));
  });
});
