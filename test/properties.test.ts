/**
 * Properties of the parsers of user input, beyond test/cli-parse.test.ts and
 * test/flags.test.ts (which check ranges, unions, reversed ranges, in-range integers, and
 * that arbitrary text never throws another error type): round-trips through a canonical
 * form, invariance under the spacing and order users type, and that every error names the
 * option (or file, or variable) it is about and shows the value received.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveContext, type CliIo } from '../src/cli/context.js';
import { MAX_SEASON, MIN_SEASON, parseInteger, parseLeagueKey, parseNumber, parseSeasons } from '../src/cli/parse.js';
import { BackfillError, FlagsFileError, InvalidOptionError, describe as describeValue } from '../src/errors.js';
import { DEFAULT_FLAGS, FLAG_NAMES, formatFlags, parseFlagsText, type FlagName, type Flags } from '../src/flags/index.js';

/** What `fn` threw, or undefined when it returned. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** An InvalidOptionError that names `option` and shows `received` as the error messages render it. */
function expectNamesOption(error: unknown, option: string, received: unknown): void {
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as BackfillError).code).toBe('ERR_INVALID_OPTION');
  expect((error as InvalidOptionError).option).toBe(option);
  expect((error as Error).message).toContain(`Expected \`${option}\``);
  expect((error as Error).message).toContain(`got ${describeValue(received)}`);
}

/** Option names as commands spell them. */
const optionName = fc.stringMatching(/^--[a-z][a-z-]{0,15}$/);
const year = fc.integer({ min: MIN_SEASON, max: MAX_SEASON });
/** Spaces and tabs: what users put around numbers, commas and dashes. */
const blank = fc.stringMatching(/^[ \t]{0,3}$/);

/** The canonical text of a set of seasons: runs of consecutive years as ranges, joined by commas. */
function formatSeasons(seasons: number[]): string {
  const parts: string[] = [];
  let index = 0;
  while (index < seasons.length) {
    let end = index;
    while (end + 1 < seasons.length && seasons[end + 1] === seasons[end]! + 1) end++;
    parts.push(end === index ? `${seasons[index]}` : `${seasons[index]}-${seasons[end]}`);
    index = end + 1;
  }
  return parts.join(',');
}

describe('parseSeasons', () => {
  const part = fc.oneof(year.map((y) => `${y}`), fc.tuple(year, year).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`));
  const parts = fc.array(part, { minLength: 1, maxLength: 6 });

  it('round-trips through its canonical form: parse(format(parse(x))) equals parse(x), and format(parse(x)) is a fixed point', () => {
    fc.assert(
      fc.property(parts, (list) => {
        const seasons = parseSeasons(list.join(','));
        const canonical = formatSeasons(seasons);
        expect(parseSeasons(canonical)).toEqual(seasons);
        expect(formatSeasons(parseSeasons(canonical))).toBe(canonical);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same seasons whatever the order of the parts and the spacing around them', () => {
    fc.assert(
      fc.property(parts, fc.array(fc.tuple(blank, blank, blank), { minLength: 6, maxLength: 6 }), fc.nat(), (list, spaces, seed) => {
        const shuffled = [...list].sort((a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7));
        const spaced = shuffled.map((text, i) => {
          const [before, middle, after] = spaces[i % spaces.length]!;
          return `${before}${text.replace('-', `${middle}-${middle}`)}${after}`;
        });
        expect(parseSeasons(spaced.join(','))).toEqual(parseSeasons(list.join(',')));
      }),
      { numRuns: 300 },
    );
  });

  it('names the option it was given for, and shows the text, in every error', () => {
    const text = fc.oneof(fc.string(), fc.stringMatching(/^[0-9, \-]{0,12}$/), fc.tuple(year, year).map(([a, b]) => `${Math.max(a, b) + 1}-${Math.min(a, b)}`));
    fc.assert(
      fc.property(text, optionName, (input, option) => {
        const error = thrownBy(() => parseSeasons(input, option));
        if (error !== undefined) expectNamesOption(error, option, input);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every year outside the supported seasons, saying which one', () => {
    const outside = fc.oneof(fc.integer({ min: 1000, max: MIN_SEASON - 1 }), fc.integer({ min: MAX_SEASON + 1, max: 9999 }));
    fc.assert(
      fc.property(outside, year, fc.boolean(), (bad, good, first) => {
        const text = first ? `${bad},${good}` : `${good},${bad}`;
        const error = thrownBy(() => parseSeasons(text));
        expectNamesOption(error, '--seasons', text);
        expect((error as Error).message).toContain(`${bad} is out of range`);
      }),
    );
  });
});

describe('parseLeagueKey', () => {
  const game = fc.oneof(fc.nat({ max: 999_999 }).map(String), fc.stringMatching(/^[a-z]{1,6}$/));
  const key = fc.tuple(game, fc.nat({ max: 99_999_999 })).map(([g, id]) => `${g}.l.${id}`);

  it('is idempotent and ignores the spacing around a key', () => {
    fc.assert(
      fc.property(key, fc.stringMatching(/^[ \t\n]{0,3}$/), fc.stringMatching(/^[ \t\n]{0,3}$/), (k, before, after) => {
        const parsed = parseLeagueKey(`${before}${k}${after}`);
        expect(parsed).toBe(k);
        expect(parseLeagueKey(parsed)).toBe(parsed);
      }),
    );
  });

  it('returns a trimmed key of the right form or throws an InvalidOptionError naming the option and the text, for any string', () => {
    const text = fc.oneof(fc.string(), key.map((k) => k.toUpperCase()), fc.tuple(key, fc.string({ maxLength: 4 })).map(([k, s]) => k + s), fc.tuple(fc.string({ maxLength: 4 }), key).map(([s, k]) => s + k));
    fc.assert(
      fc.property(text, optionName, (input, option) => {
        let parsed: string | undefined;
        const error = thrownBy(() => { parsed = parseLeagueKey(input, option); });
        if (error !== undefined) {
          expectNamesOption(error, option, input);
          expect((error as Error).message).toContain('{game_key}.l.{league_id}');
        } else {
          expect(parsed).toBe(input.trim());
          expect(parsed).toMatch(/^(\d+|[a-z]+)\.l\.\d+$/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseInteger and parseNumber', () => {
  const bounds = fc.tuple(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: -1_000_000, max: 1_000_000 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);

  it('reads back any integer in range however it is written: sign, leading zeros, spacing', () => {
    fc.assert(
      fc.property(bounds.chain(([min, max]) => fc.tuple(fc.constant(min), fc.constant(max), fc.integer({ min, max }))), fc.nat({ max: 3 }), fc.boolean(), blank, blank,
        ([min, max, n], zeros, plus, before, after) => {
          const digits = `${'0'.repeat(zeros)}${Math.abs(n)}`;
          const text = `${before}${n < 0 ? '-' : plus ? '+' : ''}${digits}${after}`;
          expect(parseInteger(text, '--n', min, max)).toBe(n === 0 ? 0 : n);
        }),
      { numRuns: 300 },
    );
  });

  it('for any text, returns an integer within [min, max] that reads back the same, or names the option and the text', () => {
    const text = fc.oneof(fc.string(), fc.integer().map(String), fc.double().map(String), fc.stringMatching(/^[ +\-0-9.e]{0,8}$/));
    fc.assert(
      fc.property(text, bounds, optionName, (input, [min, max], option) => {
        let value: number | undefined;
        const error = thrownBy(() => { value = parseInteger(input, option, min, max); });
        if (error !== undefined) {
          expectNamesOption(error, option, input);
          expect((error as Error).message).toContain(`an integer from ${min} to ${max}`);
        } else {
          expect(Number.isSafeInteger(value)).toBe(true);
          expect(value).toBeGreaterThanOrEqual(min);
          expect(value).toBeLessThanOrEqual(max);
          expect(parseInteger(String(value), option, min, max)).toBe(value);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reads back any finite double in range from its JavaScript text, exponent forms included', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }), (x) => {
        const value = parseNumber(String(x), '--rate', -1e9, 1e9);
        expect(value).toBe(x === 0 ? 0 : x);
      }),
      { numRuns: 500 },
    );
  });

  it('for any text, returns a finite number within [min, max] or names the option and the text', () => {
    const text = fc.oneof(fc.string(), fc.double().map(String), fc.stringMatching(/^[ +\-0-9.eE]{0,8}$/), fc.constantFrom('Infinity', '-Infinity', 'NaN', '1e400', '0x10', '1_000'));
    fc.assert(
      fc.property(text, optionName, (input, option) => {
        let value: number | undefined;
        const error = thrownBy(() => { value = parseNumber(input, option, 0, 1); });
        if (error !== undefined) {
          expectNamesOption(error, option, input);
        } else {
          expect(Number.isFinite(value)).toBe(true);
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseFlagsText', () => {
  const flags = fc.record(Object.fromEntries(FLAG_NAMES.map((name) => [name, fc.boolean()])) as Record<FlagName, fc.Arbitrary<boolean>>);
  const fileName = fc.stringMatching(/^[a-z][a-z0-9_./-]{0,20}\.json$/);

  it('round-trips the saved form, in any key order, with any indentation, with or without a byte-order mark', () => {
    fc.assert(
      fc.property(flags, fc.nat(), fc.nat({ max: 4 }), fc.boolean(), (written, seed, indent, bom) => {
        expect(parseFlagsText(formatFlags(written), 'f.json').flags).toEqual(written);
        const keys = [...FLAG_NAMES].sort((a, b) => ((a.length * 17 + seed) % 11) - ((b.length * 17 + seed) % 11));
        const reordered = JSON.stringify(Object.fromEntries(keys.map((name) => [name, written[name]])), null, indent);
        const { flags: parsed, sources } = parseFlagsText(`${bom ? '\uFEFF' : ''}${reordered}\n`, 'f.json');
        expect(parsed).toEqual(written);
        expect(Object.values(sources).every((source) => source === 'file')).toBe(true);
        expect(formatFlags(parsed)).toBe(formatFlags(written));
      }),
    );
  });

  it('names the file in every error, the unknown name when a flag is unknown, and the flag when a value is not a boolean', () => {
    const unknownName = fc.string({ minLength: 1, maxLength: 12 }).filter((name) => !(FLAG_NAMES as readonly string[]).includes(name));
    const notBoolean = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }), fc.constantFrom('true', 'false', 0, 1));
    const text = fc.oneof(
      fc.tuple(unknownName, flags).map(([name, base]) => ({ text: JSON.stringify({ ...base, [name]: true }), kind: 'unknown' as const, name })),
      fc.tuple(fc.constantFrom(...FLAG_NAMES), notBoolean, flags).map(([name, value, base]) => ({ text: JSON.stringify({ ...base, [name]: value }), kind: 'type' as const, name })),
      fc.string().map((body) => ({ text: body, kind: 'any' as const, name: '' })),
      fc.jsonValue().map((value) => ({ text: JSON.stringify(value), kind: 'any' as const, name: '' })),
    );
    fc.assert(
      fc.property(text, fileName, ({ text: body, kind, name }, file) => {
        const error = thrownBy(() => parseFlagsText(body, file));
        if (kind !== 'any') expect(error, body).toBeDefined();
        if (error === undefined) return;
        expect(error).toBeInstanceOf(FlagsFileError);
        expect((error as FlagsFileError).code).toBe('ERR_FLAGS_FILE');
        expect((error as FlagsFileError).file).toBe(file);
        expect((error as Error).message.startsWith(`Flags file ${file}: `)).toBe(true);
        expect((error as Error).message).toContain('The file was left unchanged.');
        if (kind === 'unknown') expect((error as Error).message).toContain(`unknown flag ${JSON.stringify(name)}`);
        if (kind === 'type') expect((error as Error).message).toContain(`flag ${name} must be true or false`);
      }),
      { numRuns: 500 },
    );
  });

  it('merges any subset with the defaults, whatever the spacing', () => {
    const subset = fc.subarray([...FLAG_NAMES]).chain((names) => fc.tuple(fc.constant(names), fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length })));
    fc.assert(
      fc.property(subset, fc.nat({ max: 8 }), ([names, values], indent) => {
        const written = Object.fromEntries(names.map((name, i) => [name, values[i]]));
        const { flags: parsed } = parseFlagsText(JSON.stringify(written, null, indent), 'f.json');
        const expected: Flags = { ...DEFAULT_FLAGS, ...written };
        expect(parsed).toEqual(expected);
      }),
    );
  });
});

describe('the environment variables of the command line', () => {
  const io = (env: NodeJS.ProcessEnv): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env, signal: new AbortController().signal });
  const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('production', 'test', 'Production', 'TEST', ' test', 'info', 'debug', 'WARN', 'silent', ''));

  it('take any value of LEAGUE_BACKFILL_ENV and LEAGUE_BACKFILL_LOG_LEVEL, or refuse it naming the variable and the value', () => {
    fc.assert(
      fc.property(fc.constantFrom('LEAGUE_BACKFILL_ENV', 'LEAGUE_BACKFILL_LOG_LEVEL'), value, (variable, text) => {
        const env = { LEAGUE_BACKFILL_ENV: '', LEAGUE_BACKFILL_LOG_LEVEL: 'silent', LEAGUE_BACKFILL_DB: 'x.db', LEAGUE_BACKFILL_FLAGS: '', [variable]: text };
        const error = thrownBy(() => resolveContext({}, io(env)));
        if (error !== undefined) {
          expectNamesOption(error, variable, text);
        } else if (variable === 'LEAGUE_BACKFILL_ENV') {
          // An empty variable is unset: the default environment.
          expect(['production', 'test', '']).toContain(text);
        } else {
          expect(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', '']).toContain(text);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('name --db or LEAGUE_BACKFILL_DB, whichever gave the blank path', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ \t]{1,4}$/), fc.boolean(), (spaces, fromOption) => {
        const env = { LEAGUE_BACKFILL_LOG_LEVEL: 'silent', LEAGUE_BACKFILL_DB: fromOption ? '' : spaces };
        const error = thrownBy(() => resolveContext(fromOption ? { db: spaces } : {}, io(env)));
        expectNamesOption(error, fromOption ? '--db' : 'LEAGUE_BACKFILL_DB', spaces);
      }),
    );
  });
});
