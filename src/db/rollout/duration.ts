import { InvalidOptionError } from '../../errors.js';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration as operators write it: `500ms`, `2s`, `90m`, `24h`, `7d`, or combined (`1h30m`).
 * A bare number is seconds. Throws an `InvalidOptionError` naming `option`.
 */
export function parseDuration(text: string, option = '--min-observation'): number {
  const expected = 'a duration such as 2s, 30m, 24h or 7d';
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidOptionError(option, expected, text);
  const trimmed = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const part = /(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match !== null; match = part.exec(trimmed)) {
    total += Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN);
    consumed = part.lastIndex;
  }
  if (consumed !== trimmed.length || !Number.isFinite(total)) throw new InvalidOptionError(option, expected, text);
  if (total > 365 * 86_400_000) throw new InvalidOptionError(option, `${expected}, at most 365d`, text);
  return Math.round(total);
}

/** `90061000` -> `1d 1h 1m 1s`; under a second in ms. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.join(' ');
}
