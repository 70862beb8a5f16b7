/**
 * The demo source: a deterministic generator of Yahoo-style leagues, for trying the tool
 * without credentials and for load tests. Pages come newest first, as the Yahoo API serves
 * them: `start = 0` is the season's latest transaction.
 */
import { InvalidOptionError, SourceError } from '../../errors.js';
import type { JobRef, ParsedPage, RejectedRecord, TransactionRow } from '../../model/index.js';
import type { PageRequest, Source, SourceSpec } from '../types.js';
import { assertSeason, gameKeyFor, parseLeagueKey, seasonLeagueKey } from './game-keys.js';
import { generateLeague, generateSeason } from './generate.js';
import type { DemoLeague, DemoSeason } from './generate.js';
import { resolveDemoSourceOptions } from './options.js';
import type { DemoSourceOptions, ResolvedDemoSourceOptions } from './options.js';
import { hashSeed } from './prng.js';
import { sleep } from '../../util/sleep.js';

export { seasonLeagueKey } from './game-keys.js';
export { resolveDemoSourceOptions } from './options.js';
export type { DemoSourceOptions, ResolvedDemoSourceOptions } from './options.js';

/** Seasons (and leagues) kept generated per source, so that paging does not regenerate them. */
const CACHE_ENTRIES = 16;
/** Demo league ids are 6-digit: 100000 + a seeded permutation of 0..899999. */
const LEAGUE_ID_BASE = 100_000;
const LEAGUE_ID_SPAN = 900_000;
/** Coprime with 900000 (not divisible by 2, 3 or 5), so i -> i * STRIDE mod SPAN is a permutation. */
const LEAGUE_ID_STRIDE = 387_683;

/**
 * A serialisable description of a demo source, for the fetch workers. The options are
 * validated here, so bad options fail in the calling thread.
 */
export function demoSource(options?: DemoSourceOptions): SourceSpec {
  const resolved = resolveDemoSourceOptions(options);
  return {
    kind: 'demo',
    options: { ...resolved, transactionsPerSeason: { ...resolved.transactionsPerSeason } },
  };
}

/**
 * The league keys of `count` demo leagues for `newestSeason` (NFL game keys,
 * `{game_key}.l.{league_id}`), distinct and fixed by `seed`. Earlier seasons of each league
 * are reached with `seasonLeagueKey(key, season)`.
 */
export function demoLeagueKeys(count: number, seed = 1, newestSeason = 2025): string[] {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > LEAGUE_ID_SPAN) {
    throw new InvalidOptionError('count', `an integer from 0 to ${LEAGUE_ID_SPAN}`, count);
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new InvalidOptionError('seed', 'a safe integer', seed);
  assertSeason(newestSeason, 'newestSeason');
  const gameKey = gameKeyFor('nfl', newestSeason);
  const offset = hashSeed(seed) % LEAGUE_ID_SPAN;
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    keys.push(`${gameKey}.l.${LEAGUE_ID_BASE + ((i * LEAGUE_ID_STRIDE + offset) % LEAGUE_ID_SPAN)}`);
  }
  return keys;
}

/** A Map used as a least-recently-used cache of fixed size. */
class Lru<V> {
  readonly #entries = new Map<string, V>();
  constructor(readonly capacity: number) {}
  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }
}

/** Generates seasons for one set of options, keeping the latest in an LRU. */
class DemoGenerator {
  readonly #options: ResolvedDemoSourceOptions;
  readonly #seedHash: number;
  readonly #leagues = new Lru<DemoLeague>(CACHE_ENTRIES);
  readonly #seasons = new Lru<DemoSeason>(CACHE_ENTRIES);

  constructor(options: ResolvedDemoSourceOptions) {
    this.#options = options;
    this.#seedHash = hashSeed(options.seed);
  }

  season(leagueKey: string, season: number): DemoSeason {
    const cacheKey = `${leagueKey}|${season}`;
    const cached = this.#seasons.get(cacheKey);
    if (cached !== undefined) return cached;
    const { leagueId, sport } = parseLeagueKey(leagueKey);
    assertSeason(season);
    let league = this.#leagues.get(leagueId);
    if (league === undefined) {
      league = generateLeague(this.#seedHash, leagueId);
      this.#leagues.set(leagueId, league);
    }
    const generated = generateSeason(league, {
      seedHash: this.#seedHash,
      leagueId,
      sport,
      season,
      leagueKey: seasonLeagueKey(leagueKey, season),
      minTransactions: this.#options.transactionsPerSeason.min,
      maxTransactions: this.#options.transactionsPerSeason.max,
    });
    this.#seasons.set(cacheKey, generated);
    return generated;
  }
}

/**
 * Transactions [start, start + count) of a season, newest first. Rows are copied so that a
 * caller may change them without touching the cache.
 */
function slice(season: DemoSeason, start: number, count: number): ParsedPage {
  const total = season.transactionCount;
  const end = Math.min(total, start + count);
  const rows: TransactionRow[] = [];
  const rejected: RejectedRecord[] = [];
  for (let i = start; i < end; i++) {
    const t = total - 1 - i;
    const record = season.rejected.get(t);
    if (record !== undefined) rejected.push({ ...record });
    const last = season.rowStart[t + 1]!;
    for (let r = season.rowStart[t]!; r < last; r++) rows.push({ ...season.rows[r]! });
  }
  return { rows, rejected, recordCount: Math.max(0, end - start) };
}

/**
 * A whole season as one page, newest first: what paging through it yields, concatenated.
 * For benchmarks and tests; the generation it measures is the one `fetchPage` caches.
 */
export function generateDemoSeason(leagueKey: string, season: number, options?: DemoSourceOptions): ParsedPage {
  const generated = new DemoGenerator(resolveDemoSourceOptions(options)).season(leagueKey, season);
  return slice(generated, 0, generated.transactionCount);
}


function checkRequest(request: PageRequest): JobRef {
  const { job, start, pageSize } = request;
  if (!Number.isInteger(start) || start < 0) {
    throw new InvalidOptionError('start', 'an integer of at least 0', start);
  }
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new InvalidOptionError('pageSize', 'an integer of at least 1', pageSize);
  }
  parseLeagueKey(job.leagueKey, 'job.leagueKey');
  assertSeason(job.season, 'job.season');
  return job;
}

/**
 * The demo source. `fetchPage` serves transactions [start, start + pageSize) of the job's
 * season, newest first (Yahoo's order); a page with fewer than `pageSize` records is the
 * last, and a page past the end is empty. Commissioner moves, which move no players, give no
 * row and one rejected record each, as the Yahoo parser reports them.
 *
 * @example
 * const source = createDemoSource({ seed: 7 });
 * const [leagueKey] = demoLeagueKeys(1, 7);
 * const page = await source.fetchPage({ job: { jobId: 'j1', leagueKey: leagueKey!, season: 2024 }, start: 0, pageSize: 25 });
 */
export function createDemoSource(options?: DemoSourceOptions): Source {
  const resolved = resolveDemoSourceOptions(options);
  const generator = new DemoGenerator(resolved);
  return {
    kind: 'demo',
    async fetchPage(request: PageRequest): Promise<ParsedPage> {
      const { signal } = request;
      signal?.throwIfAborted();
      const job = checkRequest(request);
      if (resolved.latencyMs > 0) await sleep(resolved.latencyMs, signal);
      signal?.throwIfAborted();
      if (resolved.failureRate > 0 && Math.random() < resolved.failureRate) {
        throw new SourceError(
          `Demo source: simulated failure fetching transactions ${request.start} to ${request.start + request.pageSize - 1} ` +
            `of ${job.leagueKey} season ${job.season} (job ${job.jobId}, failureRate ${resolved.failureRate}); a retry may succeed`,
          { transient: true },
        );
      }
      return slice(generator.season(job.leagueKey, job.season), request.start, request.pageSize);
    },
  };
}
