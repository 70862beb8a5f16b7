/**
 * A model of the neighbour gap (src/writer/thread/neighbours.ts) against writers waiting in
 * SQLite's default busy handler, without threads, files or a CPU: what share of the time the
 * engine can hold the lock (its duty) for a given bound on its neighbours' commit latency.
 *
 *   node dist/bench/gap-model.js [--seconds N] [--writers N]
 *
 * The engine holds the lock about a budget (100 ms, +-10 %), then leaves a gap of `gapMs`
 * that goes on for `extendMs` after each neighbour commit seen in it, up to `maxGapMs`. Each
 * legacy writer commits 20 rows (holding the lock 0.5 ms), sleeps 10 ms, and waits for the
 * lock as SQLite's busy handler does: tries at once, then after sleeps of 1, 2, 5, 10, 15, 20,
 * 25, 25, 25, 50, 50 and then 100 ms. The real machine adds what this leaves out: the CPU the
 * neighbours and the engine share (on two cores, a backfill beside the neighbours bench's
 * processes ran at 0.82 of its speed alone with no gap at all), and scheduling delays that
 * lengthen every wait. So the duty here is an upper bound of what the gap leaves the engine.
 */
import { fileURLToPath } from 'node:url';

const BUSY_HANDLER_SLEEPS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

export interface GapPolicy {
  gapMs: number;
  extendMs: number;
  maxGapMs: number;
  /** Extend after each neighbour commit seen in the gap, or after the first only. @default 'each' */
  extendAfter?: 'each' | 'first';
}

export interface ModelOptions {
  writers: number;
  seconds: number;
  seed: number;
  holdMs?: number;
  writerHoldMs?: number;
  writerIntervalMs?: number;
  /** A writer that waits this long gives up: "database is locked". @default 5000 */
  timeoutMs?: number;
}

export interface ModelResult {
  duty: number;
  commitsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Commits that waited past the timeout ("database is locked"). */
  errors: number;
}

/** Steps of 0.1 ms; deterministic for a seed. */
export function simulateGap(policy: GapPolicy, options: ModelOptions): ModelResult {
  const { writers, seconds, holdMs = 100, writerHoldMs = 0.5, writerIntervalMs = 10, timeoutMs = 5000 } = options;
  let errors = 0;
  let state = options.seed;
  const random = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const stepMs = 0.1;
  const endMs = seconds * 1000;
  /** Who holds the lock: 'engine', a writer's index, or null. */
  let owner: 'engine' | number | null = 'engine';
  let ownerUntil = holdMs;
  let engine: 'holding' | 'gap' | 'waiting' = 'holding';
  let gapStart = 0;
  let lastNeighbourCommit = Number.NEGATIVE_INFINITY;
  let firstNeighbourCommit = Number.NEGATIVE_INFINITY;
  let engineHeldMs = 0;
  let engineTook = 0;
  const legacyWriters = Array.from({ length: writers }, () => ({ state: 'sleeping' as 'sleeping' | 'trying' | 'holding', until: random() * writerIntervalMs, since: 0, tries: 0, nextTry: 0 }));
  const latencies: number[] = [];
  for (let now = 0; now < endMs; now += stepMs) {
    if (owner !== null && now >= ownerUntil) {
      if (owner === 'engine') {
        engine = 'gap';
        gapStart = now;
        engineHeldMs += now - engineTook;
      } else {
        const writer = legacyWriters[owner]!;
        latencies.push(now - writer.since);
        writer.state = 'sleeping';
        writer.until = now + writerIntervalMs;
        lastNeighbourCommit = now;
        if (firstNeighbourCommit < gapStart) firstNeighbourCommit = now;
      }
      owner = null;
    }
    if (engine === 'gap') {
      const commit = policy.extendAfter === 'first' ? firstNeighbourCommit : lastNeighbourCommit;
      const end = commit >= gapStart
        ? Math.min(gapStart + policy.maxGapMs, Math.max(gapStart + policy.gapMs, commit + policy.extendMs))
        : gapStart + policy.gapMs;
      if (now >= end) engine = 'waiting';
    }
    // The engine's own wait polls every millisecond or less: it takes the lock the moment it is free.
    if (engine === 'waiting' && owner === null) {
      owner = 'engine';
      engineTook = now;
      ownerUntil = now + holdMs * (0.9 + 0.2 * random());
      engine = 'holding';
    }
    for (let index = 0; index < writers; index++) {
      const writer = legacyWriters[index]!;
      if (writer.state === 'sleeping' && now >= writer.until) Object.assign(writer, { state: 'trying', since: now, tries: 0, nextTry: now });
      if (writer.state !== 'trying' || now < writer.nextTry) continue;
      if (now - writer.since >= timeoutMs) {
        errors++;
        Object.assign(writer, { state: 'sleeping', until: now + writerIntervalMs });
        continue;
      }
      if (owner === null) {
        owner = index;
        ownerUntil = now + writerHoldMs;
        writer.state = 'holding';
      } else {
        writer.nextTry = now + BUSY_HANDLER_SLEEPS_MS[Math.min(writer.tries, BUSY_HANDLER_SLEEPS_MS.length - 1)]!;
        writer.tries++;
      }
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (quantile: number): number => latencies[Math.min(latencies.length - 1, Math.floor(quantile * latencies.length))] ?? 0;
  return { duty: engineHeldMs / endMs, commitsPerSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0, errors };
}

export const MODELLED_POLICIES: Array<{ name: string; policy: GapPolicy }> = [
  { name: 'no gap', policy: { gapMs: 0, extendMs: 0, maxGapMs: 0 } },
  { name: '25 ms, no extension', policy: { gapMs: 25, extendMs: 0, maxGapMs: 25 } },
  { name: '25 ms, extended 25 ms after a commit, up to 37.5', policy: { gapMs: 25, extendMs: 25, maxGapMs: 37.5 } },
  { name: '25 ms, extended after the first commit only, up to 37.5', policy: { gapMs: 25, extendMs: 25, maxGapMs: 37.5, extendAfter: 'first' } },
  { name: '25 ms, up to 50', policy: { gapMs: 25, extendMs: 25, maxGapMs: 50 } },
  { name: '25 ms, up to 60 (the default: 2.4 gaps from the release)', policy: { gapMs: 25, extendMs: 25, maxGapMs: 60 } },
  { name: '20 ms, up to 30', policy: { gapMs: 20, extendMs: 20, maxGapMs: 30 } },
  { name: '15 ms, up to 22.5', policy: { gapMs: 15, extendMs: 15, maxGapMs: 22.5 } },
  { name: '12 ms, up to 37.5', policy: { gapMs: 12, extendMs: 12, maxGapMs: 37.5 } },
  { name: '110 ms (over the longest busy-handler sleep)', policy: { gapMs: 110, extendMs: 0, maxGapMs: 110 } },
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const seconds = value('--seconds', 120);
  const writers = value('--writers', 2);
  process.stdout.write(`Gap model: ${writers} legacy writers on SQLite's busy handler (timeout 5 s), ${seconds} s simulated, 3 seeds (medians; latencies in ms, of the commits that got through)\n`);
  process.stdout.write(`${'policy'.padEnd(62)} ${'duty'.padStart(6)} ${'commits/s'.padStart(10)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)} ${'errors'.padStart(7)}\n`);
  for (const { name, policy } of MODELLED_POLICIES) {
    const runs = [1, 2, 3].map((seed) => simulateGap(policy, { writers, seconds, seed }));
    const median = (pick: (result: ModelResult) => number): number => runs.map(pick).sort((a, b) => a - b)[1]!;
    process.stdout.write(`${name.padEnd(62)} ${median((r) => r.duty).toFixed(3).padStart(6)} ${median((r) => r.commitsPerSecond).toFixed(1).padStart(10)} ` +
      `${median((r) => r.p50).toFixed(1).padStart(8)} ${median((r) => r.p99).toFixed(1).padStart(8)} ${median((r) => r.max).toFixed(1).padStart(8)} ${String(median((r) => r.errors)).padStart(7)}\n`);
  }
}
