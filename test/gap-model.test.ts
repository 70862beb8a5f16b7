/**
 * The gap model (bench/gap-model.ts) behind the neighbour policy: with no gap, writers on
 * SQLite's busy handler starve into their timeout; a 25 ms gap extended after their commits
 * keeps their p99 near one budget while leaving the engine most of the lock; shorter gaps lose
 * the waiters that missed one. (The model's gaps start at the release, as the engine's maximum
 * does: docs/lock-wait.md.)
 */
import { describe, expect, it } from 'vitest';
import { simulateGap } from '../bench/gap-model.js';

const options = { writers: 2, seconds: 30, seed: 1 };

describe('gap model', () => {
  it('no gap starves the busy handler\'s waiters into their timeout', () => {
    const result = simulateGap({ gapMs: 0, extendMs: 0, maxGapMs: 0 }, options);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.commitsPerSecond).toBeLessThan(1);
  });

  it('a 25 ms gap extended after commits up to 37.5 ms bounds the waits and leaves the engine about three quarters of the lock', () => {
    const result = simulateGap({ gapMs: 25, extendMs: 25, maxGapMs: 37.5 }, options);
    expect(result.errors).toBe(0);
    expect(result.p99).toBeLessThan(250);
    expect(result.max).toBeLessThan(1000);
    expect(result.duty).toBeGreaterThan(0.7);
    expect(result.duty).toBeLessThan(0.75);
  });

  it('a gap shorter than the busy handler\'s 25 ms tries lets waits grow past a second', () => {
    const result = simulateGap({ gapMs: 15, extendMs: 15, maxGapMs: 22.5 }, options);
    expect(result.duty).toBeGreaterThan(0.8);
    expect(result.p99).toBeGreaterThan(250);
  });
});
