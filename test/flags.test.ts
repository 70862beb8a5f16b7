import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackfillError, FlagsFileError, InvalidOptionError } from '../src/errors.js';
import {
  DEFAULT_FLAGS,
  FLAG_DESCRIPTIONS,
  FLAG_NAMES,
  PROFILES,
  assertFlagName,
  describeFlags,
  effectiveFlags,
  flagsStatus,
  isFlagName,
  loadFlags,
  loadFlagsSync,
  parseFlagsText,
  resolveFlagsPath,
  saveFlags,
  updateFlags,
} from '../src/flags/index.js';
import type { FlagName, Flags } from '../src/flags/index.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'league-backfill-flags-'));
  file = path.join(dir, 'feature_flags.json');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const allFlags = (value: boolean): Flags =>
  Object.fromEntries(FLAG_NAMES.map((name) => [name, value])) as Record<FlagName, boolean>;

/** Runs `fn` and returns what it threw, failing the test when it returns. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('flag names and profiles', () => {
  it('names the seven flags in a fixed order, each with a description', () => {
    expect(FLAG_NAMES).toEqual([
      'pragma_optimizations',
      'aggressive_caching',
      'wal_mode',
      'explicit_transactions',
      'retry_logic',
      'connection_pooling',
      'isolation_levels',
    ]);
    for (const name of FLAG_NAMES) expect(FLAG_DESCRIPTIONS[name]).toMatch(/^[A-Z].+\.$/);
  });

  it('has baseline all off, recommended all on but aggressive_caching, full all on', () => {
    expect(PROFILES.baseline).toEqual(allFlags(false));
    expect(PROFILES.full).toEqual(allFlags(true));
    expect(PROFILES.recommended).toEqual({
      pragma_optimizations: true,
      aggressive_caching: false,
      wal_mode: true,
      explicit_transactions: true,
      retry_logic: true,
      connection_pooling: true,
      isolation_levels: true,
    });
    expect(DEFAULT_FLAGS).toEqual(PROFILES.recommended);
  });

  it('keeps profiles from being changed by callers', () => {
    expect(Object.isFrozen(PROFILES)).toBe(true);
    expect(Object.isFrozen(PROFILES.recommended)).toBe(true);
  });

  it('accepts exact flag names only', () => {
    expect(isFlagName('wal_mode')).toBe(true);
    expect(isFlagName('WAL_MODE')).toBe(false);
    expect(isFlagName('toString')).toBe(false);
    expect(assertFlagName('retry_logic')).toBe('retry_logic');
  });

  it('rejects an unknown name with the list of valid names and the closest one', () => {
    const error = thrown(() => assertFlagName('wal'));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as BackfillError).code).toBe('ERR_INVALID_OPTION');
    const message = (error as Error).message;
    expect(message).toContain(`Expected \`flag\` to be one of ${FLAG_NAMES.join(', ')}, got "wal" (string)`);
    expect(message).toContain('Did you mean wal_mode?');
  });

  it.each([
    ['wal-mode', 'wal_mode'],
    ['retry_logc', 'retry_logic'],
    ['Connection_Pooling', 'connection_pooling'],
    ['pragma', 'pragma_optimizations'],
  ])('suggests the flag %s most likely meant', (input, expected) => {
    expect((thrown(() => assertFlagName(input)) as Error).message).toContain(`Did you mean ${expected}?`);
  });

  it('suggests nothing when no name is close', () => {
    expect((thrown(() => assertFlagName('banana')) as Error).message).not.toContain('Did you mean');
  });
});

describe('effectiveFlags, describeFlags, flagsStatus', () => {
  it('drops aggressive_caching without pragma_optimizations and leaves the input alone', () => {
    const input: Flags = { ...PROFILES.full, pragma_optimizations: false };
    expect(effectiveFlags(input)).toEqual({ ...input, aggressive_caching: false });
    expect(input.aggressive_caching).toBe(true);
    expect(effectiveFlags(PROFILES.full)).toEqual(PROFILES.full);
  });

  it('describes the flags that are on and those that are off', () => {
    expect(describeFlags(PROFILES.recommended)).toBe(
      'pragma_optimizations, wal_mode, explicit_transactions, retry_logic, connection_pooling, isolation_levels on; aggressive_caching off',
    );
    expect(describeFlags(PROFILES.full)).toBe('all on');
    expect(describeFlags(PROFILES.baseline)).toBe('all off');
  });

  it('lists every flag with its value, source and description', async () => {
    fs.writeFileSync(file, '{"wal_mode": false}');
    const status = flagsStatus(await loadFlags(file));
    expect(status.map((row) => row.name)).toEqual([...FLAG_NAMES]);
    expect(status.find((row) => row.name === 'wal_mode')).toEqual({
      name: 'wal_mode',
      enabled: false,
      source: 'file',
      description: FLAG_DESCRIPTIONS.wal_mode,
    });
    expect(status.find((row) => row.name === 'retry_logic')).toMatchObject({ enabled: true, source: 'default' });
  });
});

describe('loading a flags file', () => {
  it('uses the recommended profile when the file is missing', async () => {
    for (const state of [await loadFlags(file), loadFlagsSync(file)]) {
      expect(state).toEqual({
        path: file,
        exists: false,
        flags: PROFILES.recommended,
        sources: Object.fromEntries(FLAG_NAMES.map((name) => [name, 'default'])),
        workload: 'mixed',
        workloadSource: 'default',
      });
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  it('merges a file that lacks some flags with the defaults and says which came from where', async () => {
    fs.writeFileSync(file, JSON.stringify({ wal_mode: false, aggressive_caching: true }));
    for (const state of [await loadFlags(file), loadFlagsSync(file)]) {
      expect(state.exists).toBe(true);
      expect(state.flags).toEqual({ ...DEFAULT_FLAGS, wal_mode: false, aggressive_caching: true });
      expect(state.sources).toEqual({
        pragma_optimizations: 'default',
        aggressive_caching: 'file',
        wal_mode: 'file',
        explicit_transactions: 'default',
        retry_logic: 'default',
        connection_pooling: 'default',
        isolation_levels: 'default',
      });
    }
  });

  it('reads a file saved with a byte-order mark', () => {
    expect(parseFlagsText('\uFEFF{"wal_mode": false}', file).flags.wal_mode).toBe(false);
  });

  it.each([
    ['an empty file', '', /is empty/],
    ['a file of whitespace', ' \n\t', /is empty/],
    ['invalid JSON', '{"wal_mode": true,}', /is not valid JSON \(.+\)/],
    ['an array at the top level', '[true, false]', /expected a JSON object of flag names to true or false, got \[true,false\] \(array\)/],
    ['null at the top level', 'null', /got null \(null\)/],
    ['an unknown flag', '{"wal": true}', /unknown flag "wal" \(did you mean wal_mode\?\); valid flags are pragma_optimizations, aggressive_caching, wal_mode, explicit_transactions, retry_logic, connection_pooling, isolation_levels/],
    ['a string "true"', '{"retry_logic": "true"}', /flag retry_logic must be true or false, got "true" \(string\)/],
    ['a number', '{"wal_mode": 1}', /flag wal_mode must be true or false, got 1 \(number\)/],
    ['null for a flag', '{"wal_mode": null}', /flag wal_mode must be true or false, got null \(null\)/],
  ])('rejects %s with a FlagsFileError naming the file and the problem', async (_, text, problem) => {
    fs.writeFileSync(file, text);
    for (const load of [() => loadFlags(file), async () => loadFlagsSync(file)]) {
      const error: unknown = await load().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(FlagsFileError);
      expect((error as FlagsFileError).code).toBe('ERR_FLAGS_FILE');
      expect((error as FlagsFileError).file).toBe(file);
      expect((error as Error).message).toContain(`Flags file ${file}: `);
      expect((error as Error).message).toMatch(problem);
    }
  });

  it('includes the JSON parser message and keeps the parser error as the cause', () => {
    const error = thrown(() => parseFlagsText('{"wal_mode": tru}', file)) as FlagsFileError;
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.message).toContain((error.cause as Error).message);
  });

  it('rejects a path that is a directory instead of treating it as missing', async () => {
    const error: unknown = await loadFlags(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlagsFileError);
    expect((error as Error).message).toContain(`Flags file ${dir}: the path is a directory`);
    expect(() => loadFlagsSync(dir)).toThrow(FlagsFileError);
  });
});

describe('saving a flags file', () => {
  it('writes pretty JSON with every flag in order and a trailing newline, and leaves no temporary file', async () => {
    const flags: Flags = { ...PROFILES.baseline, wal_mode: true };
    await saveFlags(file, flags);
    expect(fs.readFileSync(file, 'utf8')).toBe(
      '{\n' +
        '  "pragma_optimizations": false,\n' +
        '  "aggressive_caching": false,\n' +
        '  "wal_mode": true,\n' +
        '  "explicit_transactions": false,\n' +
        '  "retry_logic": false,\n' +
        '  "connection_pooling": false,\n' +
        '  "isolation_levels": false\n' +
        '}\n',
    );
    expect(fs.readdirSync(dir)).toEqual(['feature_flags.json']);
    const state = await loadFlags(file);
    expect(state.flags).toEqual(flags);
    expect(Object.values(state.sources).every((source) => source === 'file')).toBe(true);
  });

  it('creates the parent folder', async () => {
    const nested = path.join(dir, 'a', 'b', 'flags.json');
    await saveFlags(nested, PROFILES.full);
    expect(loadFlagsSync(nested).flags).toEqual(PROFILES.full);
  });

  it('replaces an existing file', async () => {
    await saveFlags(file, PROFILES.full);
    await saveFlags(file, PROFILES.baseline);
    expect((await loadFlags(file)).flags).toEqual(PROFILES.baseline);
    expect(fs.readdirSync(dir)).toEqual(['feature_flags.json']);
  });

  it('removes the temporary file when the rename fails', async () => {
    const target = path.join(dir, 'taken');
    fs.mkdirSync(path.join(target, 'inside'), { recursive: true });
    const error: unknown = await saveFlags(target, PROFILES.full).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlagsFileError);
    expect((error as Error).message).toContain(`Flags file ${target}: the file could not be saved`);
    expect(fs.readdirSync(dir)).toEqual(['taken']);
  });

  it('rejects flags that are not all booleans, naming the flag', async () => {
    const bad = { ...PROFILES.full, wal_mode: 'yes' } as unknown as Flags;
    await expect(saveFlags(file, bad)).rejects.toThrow('Expected `flags.wal_mode` to be true or false, got "yes" (string)');
    const extra = { ...PROFILES.full, wal: true } as unknown as Flags;
    await expect(saveFlags(file, extra)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('round-trips any set of flags through save and load', async () => {
    const flagsArbitrary = fc.record(
      Object.fromEntries(FLAG_NAMES.map((name) => [name, fc.boolean()])) as Record<FlagName, fc.Arbitrary<boolean>>,
    );
    await fc.assert(
      fc.asyncProperty(flagsArbitrary, async (flags) => {
        await saveFlags(file, flags);
        const state = await loadFlags(file);
        expect(state.flags).toEqual(flags);
        expect(loadFlagsSync(file).flags).toEqual(flags);
      }),
      { numRuns: 60 },
    );
    expect(fs.readdirSync(dir)).toEqual(['feature_flags.json']);
  });

  it('reads any partial object of flags as those values over the defaults', () => {
    const partial = fc.record(
      Object.fromEntries(FLAG_NAMES.map((name) => [name, fc.boolean()])) as Record<FlagName, fc.Arbitrary<boolean>>,
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(partial, (written) => {
        const { flags, sources } = parseFlagsText(JSON.stringify(written), file);
        for (const name of FLAG_NAMES) {
          expect(flags[name]).toBe(written[name] ?? DEFAULT_FLAGS[name]);
          expect(sources[name]).toBe(name in written ? 'file' : 'default');
        }
      }),
    );
  });

  it('parses any text or throws a FlagsFileError, never another error', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.json(),
      fc.dictionary(fc.oneof(fc.constantFrom(...FLAG_NAMES), fc.string()), fc.jsonValue()).map((value) => JSON.stringify(value)),
    );
    fc.assert(
      fc.property(text, (input) => {
        try {
          parseFlagsText(input, file);
        } catch (error) {
          expect(error).toBeInstanceOf(FlagsFileError);
          expect((error as FlagsFileError).code).toBe('ERR_FLAGS_FILE');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('updating a flags file', () => {
  it('creates the file from the defaults when it is missing', async () => {
    const state = await updateFlags(file, { wal_mode: false });
    expect(state.flags).toEqual({ ...DEFAULT_FLAGS, wal_mode: false });
    expect(state.exists).toBe(true);
    expect(Object.values(state.sources)).toEqual(FLAG_NAMES.map(() => 'file'));
    expect((await loadFlags(file)).flags).toEqual(state.flags);
  });

  it('applies a function to the current flags', async () => {
    await saveFlags(file, PROFILES.full);
    const state = await updateFlags(file, () => PROFILES.baseline);
    expect(state.flags).toEqual(PROFILES.baseline);
    expect(loadFlagsSync(file).flags).toEqual(PROFILES.baseline);
  });

  it('writes out flags that came from the defaults, so the file holds every flag', async () => {
    fs.writeFileSync(file, '{"wal_mode": false}');
    await updateFlags(file, { retry_logic: false });
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ ...DEFAULT_FLAGS, wal_mode: false, retry_logic: false });
  });

  it.each([
    ['not JSON', '{"wal_mode": tru'],
    ['an unknown flag', '{"wal_mode": true, "turbo": true}\n'],
    ['a non-boolean', '{"wal_mode": "false"}'],
    ['empty', ''],
  ])('throws on a file that is %s and leaves it byte for byte as it was', async (_, text) => {
    fs.writeFileSync(file, text);
    const before = fs.readFileSync(file);
    await expect(updateFlags(file, { wal_mode: false })).rejects.toMatchObject({ code: 'ERR_FLAGS_FILE' });
    await expect(updateFlags(file, () => PROFILES.full)).rejects.toBeInstanceOf(FlagsFileError);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['feature_flags.json']);
  });

  it('rejects an unknown flag name in the change without writing', async () => {
    await saveFlags(file, PROFILES.full);
    const before = fs.readFileSync(file);
    const change = { wal: false } as unknown as Partial<Record<FlagName, boolean>>;
    await expect(updateFlags(file, change)).rejects.toThrow(/Did you mean wal_mode\?/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('keeps every change when updates of one file overlap', async () => {
    await saveFlags(file, PROFILES.baseline);
    await Promise.all(FLAG_NAMES.map((name) => updateFlags(file, { [name]: true })));
    expect((await loadFlags(file)).flags).toEqual(PROFILES.full);
  });
});

describe('resolveFlagsPath', () => {
  const databasePath = path.join('data', 'league_analytics.db');

  it('prefers --flags, then LEAGUE_BACKFILL_FLAGS, then the file beside the database', () => {
    const env = { LEAGUE_BACKFILL_FLAGS: '/etc/league/flags.json' };
    expect(resolveFlagsPath({ flagsPath: 'mine.json', databasePath, env })).toBe('mine.json');
    expect(resolveFlagsPath({ databasePath, env })).toBe('/etc/league/flags.json');
    expect(resolveFlagsPath({ flagsPath: undefined, databasePath, env: {} })).toBe(
      path.join('data', 'feature_flags.json'),
    );
    expect(resolveFlagsPath({ databasePath: 'league_analytics.db', env: {} })).toBe('feature_flags.json');
  });

  it('ignores an empty LEAGUE_BACKFILL_FLAGS and rejects an empty --flags', () => {
    expect(resolveFlagsPath({ databasePath, env: { LEAGUE_BACKFILL_FLAGS: '' } })).toBe(
      path.join('data', 'feature_flags.json'),
    );
    expect(() => resolveFlagsPath({ flagsPath: '', databasePath, env: {} })).toThrow(InvalidOptionError);
  });
});
