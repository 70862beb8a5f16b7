import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SEASON, MIN_SEASON, parseChoice, parseInteger, parseLeagueKey, parseNumber, parseSeasons } from '../src/cli/parse.js';
import { BackfillError, InvalidOptionError } from '../src/errors.js';

/** Runs `fn` and returns what it threw, failing the test when it returns. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

function expectInvalid(fn: () => unknown, option: string, message?: RegExp): InvalidOptionError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as BackfillError).code).toBe('ERR_INVALID_OPTION');
  expect((error as InvalidOptionError).option).toBe(option);
  expect(error.message).toContain(`\`${option}\``);
  if (message) expect(error.message).toMatch(message);
  return error as InvalidOptionError;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('parseSeasons', () => {
  it('expands a range into every year of it', () => {
    expect(parseSeasons('2019-2024')).toEqual([2019, 2020, 2021, 2022, 2023, 2024]);
  });

  it('takes a list, a single year, and a mix of years and ranges, sorted and without duplicates', () => {
    expect(parseSeasons('2021,2023')).toEqual([2021, 2023]);
    expect(parseSeasons('2023')).toEqual([2023]);
    expect(parseSeasons('2023,2015,2019-2021')).toEqual([2015, 2019, 2020, 2021, 2023]);
    expect(parseSeasons('2020-2022,2021,2022-2023')).toEqual([2020, 2021, 2022, 2023]);
  });

  it('allows whitespace around years, dashes and commas', () => {
    expect(parseSeasons(' 2019 - 2021 ,  2023 ')).toEqual([2019, 2020, 2021, 2023]);
    expect(parseSeasons('\t2022\n')).toEqual([2022]);
  });

  it('accepts the first and last supported seasons', () => {
    expect(parseSeasons(`${MIN_SEASON}`)).toEqual([MIN_SEASON]);
    expect(parseSeasons(`${MAX_SEASON}`)).toEqual([MAX_SEASON]);
    expect(parseSeasons(`${MIN_SEASON}-${MAX_SEASON}`)).toEqual(range(MIN_SEASON, MAX_SEASON));
  });

  it('refuses a reversed range and says how to write it', () => {
    const error = expectInvalid(() => parseSeasons('2024-2019'), '--seasons', /reversed/);
    expect(error.message).toContain('write 2019-2024');
  });

  it.each([['20x'], [''], ['   '], ['2019-'], ['-2019'], ['2019,'], ['2019-2020-2021'], ['19'], ['20190'], ['2019..2020']])(
    'refuses %j naming --seasons',
    (text) => {
      expectInvalid(() => parseSeasons(text), '--seasons');
    },
  );

  it.each([[`${MIN_SEASON - 1}`], [`${MAX_SEASON + 1}`], ['2019-2101'], ['1000-2020']])('refuses the out-of-range %j', (text) => {
    expectInvalid(() => parseSeasons(text), '--seasons', /out of range/);
  });

  it('names the option it was given for', () => {
    expectInvalid(() => parseSeasons('abc', '--years'), '--years');
  });

  it('gives to - from + 1 sorted unique years for any range in bounds', () => {
    const year = fc.integer({ min: MIN_SEASON, max: MAX_SEASON });
    fc.assert(
      fc.property(year, year, (a, b) => {
        const from = Math.min(a, b);
        const to = Math.max(a, b);
        const seasons = parseSeasons(`${from}-${to}`);
        expect(seasons).toHaveLength(to - from + 1);
        expect(seasons).toEqual(range(from, to));
        expect(new Set(seasons).size).toBe(seasons.length);
      }),
    );
  });

  it('gives the sorted union of any list of years and ranges', () => {
    const year = fc.integer({ min: MIN_SEASON, max: MAX_SEASON });
    const part = fc.oneof(
      year.map((y) => ({ text: `${y}`, years: [y] })),
      fc.tuple(year, year).map(([a, b]) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        return { text: `${from}-${to}`, years: range(from, to) };
      }),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        const expected = [...new Set(parts.flatMap((p) => p.years))].sort((x, y) => x - y);
        expect(parseSeasons(parts.map((p) => p.text).join(','))).toEqual(expected);
      }),
    );
  });

  it('refuses every reversed range', () => {
    const year = fc.integer({ min: MIN_SEASON, max: MAX_SEASON });
    fc.assert(
      fc.property(year, year, (a, b) => {
        fc.pre(a !== b);
        const text = `${Math.max(a, b)}-${Math.min(a, b)}`;
        expectInvalid(() => parseSeasons(text), '--seasons', /reversed/);
      }),
    );
  });

  it('returns in-range years or throws InvalidOptionError, and nothing else, for arbitrary strings', () => {
    const seasonish = fc.stringMatching(/^[0-9, \-x]{0,20}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string(), seasonish), (text) => {
        let seasons: number[];
        try {
          seasons = parseSeasons(text);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidOptionError);
          expect((error as BackfillError).code).toBe('ERR_INVALID_OPTION');
          return;
        }
        expect(seasons.length).toBeGreaterThan(0);
        expect([...seasons].sort((x, y) => x - y)).toEqual(seasons);
        expect(new Set(seasons).size).toBe(seasons.length);
        for (const season of seasons) {
          expect(Number.isInteger(season)).toBe(true);
          expect(season).toBeGreaterThanOrEqual(MIN_SEASON);
          expect(season).toBeLessThanOrEqual(MAX_SEASON);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseLeagueKey', () => {
  it('accepts {game_key}.l.{league_id} keys and trims them', () => {
    expect(parseLeagueKey('423.l.12345')).toBe('423.l.12345');
    expect(parseLeagueKey('nfl.l.7')).toBe('nfl.l.7');
    expect(parseLeagueKey('  423.l.12345 ')).toBe('423.l.12345');
  });

  it.each([[''], ['423'], ['423.l.'], ['.l.5'], ['423.12345'], ['423.t.5'], ['NFL.l.5'], ['423.l.5.t.1'], ['423.l.5;drop']])(
    'refuses %j naming --league',
    (text) => {
      expectInvalid(() => parseLeagueKey(text), '--league', /\{game_key\}\.l\.\{league_id\}/);
    },
  );

  it('accepts every key made of a game key and a league id', () => {
    const game = fc.oneof(fc.nat().map(String), fc.stringMatching(/^[a-z]{1,5}$/));
    fc.assert(
      fc.property(game, fc.nat(), (g, id) => {
        expect(parseLeagueKey(`${g}.l.${id}`)).toBe(`${g}.l.${id}`);
      }),
    );
  });
});

describe('parseInteger', () => {
  it('reads plain decimal integers, with whitespace and a sign', () => {
    expect(parseInteger('4', '--workers', 1, 64)).toBe(4);
    expect(parseInteger(' 7 ', '--workers', 1, 64)).toBe(7);
    expect(parseInteger('+3', '--workers', 1, 64)).toBe(3);
    expect(parseInteger('-1', '--offset', -10, 10)).toBe(-1);
    expect(parseInteger('064', '--workers', 1, 64)).toBe(64);
  });

  it('reads "-0" as 0, not -0, so that the value prints and compares as the zero it is', () => {
    expect(parseInteger('-0', '--offset', -10, 10)).toBe(0);
    expect(parseInteger('-000', '--offset', 0, 10)).toBe(0);
  });

  it.each([
    ['0', 'below the minimum'],
    ['65', 'above the maximum'],
    ['-1', 'negative'],
    ['1e3', 'in exponent form'],
    ['12abc', 'followed by letters'],
    ['1.5', 'a fraction'],
    ['0x10', 'hexadecimal'],
    ['', 'empty'],
    ['   ', 'blank'],
    ['9'.repeat(20), 'too large to be exact'],
  ])('refuses %j (%s) for --workers from 1 to 64', (text) => {
    expectInvalid(() => parseInteger(text, '--workers', 1, 64), '--workers', /an integer from 1 to 64/);
  });

  it('returns the integer itself for every integer in range and refuses every one outside', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (n) => {
        if (n >= 1 && n <= 100) expect(parseInteger(String(n), '--batch-size', 1, 100)).toBe(n);
        else expectInvalid(() => parseInteger(String(n), '--batch-size', 1, 100), '--batch-size');
      }),
    );
  });
});

describe('parseNumber', () => {
  it('reads decimals, exponents and integers', () => {
    expect(parseNumber('2.5', '--rate', 0, 10_000)).toBe(2.5);
    expect(parseNumber('0', '--rate', 0, 10_000)).toBe(0);
    expect(parseNumber('.5', '--failure-rate', 0, 1)).toBe(0.5);
    expect(parseNumber('1e3', '--rate', 0, 10_000)).toBe(1000);
    expect(parseNumber(' 3 ', '--rate', 0, 10_000)).toBe(3);
  });

  it('reads "-0" and "-0.0" as 0, not -0', () => {
    expect(parseNumber('-0', '--rate', 0, 10_000)).toBe(0);
    expect(parseNumber('-0.0e5', '--failure-rate', 0, 1)).toBe(0);
  });

  it.each([['-1'], ['-0.5'], ['10001'], ['abc'], ['1.2.3'], [''], ['Infinity'], ['NaN'], ['0x10']])(
    'refuses %j for --rate from 0 to 10000',
    (text) => {
      expectInvalid(() => parseNumber(text, '--rate', 0, 10_000), '--rate', /a number from 0 to 10000/);
    },
  );

  it('refuses a probability above 1', () => {
    expectInvalid(() => parseNumber('1.01', '--failure-rate', 0, 1), '--failure-rate');
  });
});

describe('parseChoice', () => {
  it('accepts one of the choices and refuses anything else, listing them', () => {
    expect(parseChoice('demo', '--source', ['demo', 'yahoo', 'file'])).toBe('demo');
    expectInvalid(() => parseChoice('Demo', '--source', ['demo', 'yahoo', 'file']), '--source', /one of demo, yahoo, file/);
  });
});
