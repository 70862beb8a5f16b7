/**
 * Parsers for what users type: season ranges, league keys, numbers. Pure, so they are
 * property-tested, and each error names the option, what was expected and what was given.
 */
import { InvalidOptionError } from '../index.js';

export const MIN_SEASON = 1990;
export const MAX_SEASON = 2100;
const MAX_SEASONS = 200;

/** `2019-2024`, `2021,2023`, `2023`, or a mix such as `2015,2019-2021`. Sorted, without duplicates. */
export function parseSeasons(text: string, option = '--seasons'): number[] {
  const expected = 'years such as 2019-2024, 2021,2023 or 2023';
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidOptionError(option, expected, text);
  const seasons = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$/.exec(part);
    if (!match) throw new InvalidOptionError(option, expected, text, `"${part.trim()}" is not a year or a range of years`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (const year of [from, to]) {
      if (year < MIN_SEASON || year > MAX_SEASON) {
        throw new InvalidOptionError(option, `${expected} (seasons from ${MIN_SEASON} to ${MAX_SEASON})`, text, `${year} is out of range`);
      }
    }
    if (to < from) throw new InvalidOptionError(option, expected, text, `the range ${from}-${to} is reversed; write ${to}-${from}`);
    for (let year = from; year <= to; year++) seasons.add(year);
    if (seasons.size > MAX_SEASONS) throw new InvalidOptionError(option, `at most ${MAX_SEASONS} seasons`, text);
  }
  return [...seasons].sort((a, b) => a - b);
}

const LEAGUE_KEY = /^(\d+|[a-z]+)\.l\.\d+$/;

/** A Yahoo league key, `{game_key}.l.{league_id}` such as `423.l.12345`. */
export function parseLeagueKey(text: string, option = '--league'): string {
  const key = typeof text === 'string' ? text.trim() : text;
  if (typeof key !== 'string' || !LEAGUE_KEY.test(key)) {
    throw new InvalidOptionError(option, 'a league key of the form {game_key}.l.{league_id}, such as 423.l.12345', text);
  }
  return key;
}

/** A whole number written in plain decimal digits, within [min, max]. */
export function parseInteger(text: string, option: string, min: number, max: number): number {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  const value = /^[-+]?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `an integer from ${min} to ${max}`, text);
  }
  // `Number('-0')` is -0, which prints as 0 and compares unequal under Object.is.
  return value === 0 ? 0 : value;
}

/** A decimal number within [min, max] (for rates and probabilities). */
export function parseNumber(text: string, option: string, min: number, max: number): number {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  const value = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `a number from ${min} to ${max}`, text);
  }
  return value === 0 ? 0 : value;
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(text: string, option: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new InvalidOptionError(option, `one of ${choices.join(', ')}`, text);
  }
  return text as T;
}
