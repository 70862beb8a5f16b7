import { describe, expect, it } from 'vitest';
import { InvalidOptionError, SourceError } from '../src/errors.js';
import {
  createDemoSource,
  demoLeagueKeys,
  demoSource,
  generateDemoSeason,
  seasonLeagueKey,
} from '../src/source/demo/index.js';
import type { DemoSourceOptions } from '../src/source/demo/index.js';
import type { JobRef, ParsedPage, TransactionRow } from '../src/model/index.js';
import type { Source } from '../src/source/types.js';

const [LEAGUE = '', OTHER_LEAGUE = ''] = demoLeagueKeys(2, 1);
const job = (leagueKey = LEAGUE, season = 2024): JobRef => ({ jobId: `${leagueKey}:${season}`, leagueKey, season });

/** Every page of a season, in order, until the first short page. */
async function allPages(source: Source, target: JobRef, pageSize = 25): Promise<ParsedPage[]> {
  const pages: ParsedPage[] = [];
  for (let start = 0; ; start += pageSize) {
    const page = await source.fetchPage({ job: target, start, pageSize });
    pages.push(page);
    if (page.recordCount < pageSize) return pages;
  }
}

function expectInvalidOption(run: () => unknown, option: string, message?: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidOptionError);
  expect((caught as InvalidOptionError).code).toBe('ERR_INVALID_OPTION');
  expect((caught as InvalidOptionError).option).toBe(option);
  expect((caught as Error).message).toContain(`\`${option}\``);
  if (message) expect((caught as Error).message).toMatch(message);
}

/** Transactions of a whole season grouped by key, in page order. */
function byTransaction(rows: readonly TransactionRow[]): Map<string, TransactionRow[]> {
  const groups = new Map<string, TransactionRow[]>();
  for (const row of rows) {
    const group = groups.get(row.transactionKey);
    if (group) group.push(row);
    else groups.set(row.transactionKey, [row]);
  }
  return groups;
}

describe('demo source: determinism', () => {
  it('gives identical pages for the same seed, from separate sources', async () => {
    const a = createDemoSource({ seed: 42 });
    const b = createDemoSource({ seed: 42 });
    for (const start of [0, 25, 500]) {
      const request = { job: job(), start, pageSize: 25 };
      expect(await a.fetchPage(request)).toEqual(await b.fetchPage(request));
    }
  });

  it('gives different leagues and pages for different seeds', async () => {
    expect(demoLeagueKeys(5, 1)).not.toEqual(demoLeagueKeys(5, 2));
    const request = { job: job(), start: 0, pageSize: 25 };
    const one = await createDemoSource({ seed: 1 }).fetchPage(request);
    const two = await createDemoSource({ seed: 2 }).fetchPage(request);
    expect(one.rows).not.toEqual(two.rows);
  });

  it('gives different content to different leagues and seasons of one seed', () => {
    const a = generateDemoSeason(LEAGUE, 2024);
    const b = generateDemoSeason(OTHER_LEAGUE, 2024);
    const c = generateDemoSeason(LEAGUE, 2023);
    const shape = (p: ParsedPage) => p.rows.map((r) => `${r.type}|${r.playerId}|${r.timestamp}`);
    expect(shape(a)).not.toEqual(shape(b));
    expect(shape(a)).not.toEqual(shape(c));
  });

  it('returns copies: changing a returned row does not change the next fetch', async () => {
    const source = createDemoSource();
    const request = { job: job(), start: 0, pageSize: 25 };
    const first = await source.fetchPage(request);
    const original = first.rows[0]?.playerName;
    first.rows[0]!.playerName = 'changed';
    expect((await source.fetchPage(request)).rows[0]?.playerName).toBe(original);
  });
});

describe('demo source: paging', () => {
  it('pages of 25 concatenate to the whole season, newest first, with no duplicate (transactionKey, playerId)', async () => {
    const source = createDemoSource();
    const pages = await allPages(source, job());
    const rows = pages.flatMap((p) => p.rows);
    const whole = generateDemoSeason(LEAGUE, 2024);
    expect(rows).toEqual(whole.rows);
    expect(pages.flatMap((p) => p.rejected)).toEqual(whole.rejected);
    expect(pages.reduce((n, p) => n + p.recordCount, 0)).toBe(whole.recordCount);

    const pairs = new Set(rows.map((r) => `${r.transactionKey}\u0000${r.playerId}`));
    expect(pairs.size).toBe(rows.length);

    const ids = [...byTransaction(rows).values()].map((group) => group[0]!.transactionId!);
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeLessThan(ids[i - 1]!);
    const times = [...byTransaction(rows).values()].map((group) => group[0]!.timestamp!);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeLessThan(times[i - 1]!);
  });

  it('ends with a short page, and a page past the end is empty', async () => {
    const source = createDemoSource({ transactionsPerSeason: { min: 110, max: 110 } });
    const pages = await allPages(source, job());
    expect(pages.map((p) => p.recordCount)).toEqual([25, 25, 25, 25, 10]);
    const past = await source.fetchPage({ job: job(), start: 200, pageSize: 25 });
    expect(past).toEqual({ rows: [], rejected: [], recordCount: 0 });
  });

  it('counts each page\'s transactions, commissioner moves included, in recordCount', async () => {
    const page = await createDemoSource().fetchPage({ job: job(), start: 0, pageSize: 100 });
    expect(page.recordCount).toBe(100);
    expect(byTransaction(page.rows).size + page.rejected.length).toBe(100);
  });

  it('draws the season size from transactionsPerSeason, and 0 gives an empty season', async () => {
    for (const key of demoLeagueKeys(10, 3)) {
      const { recordCount } = generateDemoSeason(key, 2022, { seed: 3 });
      expect(recordCount).toBeGreaterThanOrEqual(700);
      expect(recordCount).toBeLessThanOrEqual(1100);
    }
    const empty = createDemoSource({ transactionsPerSeason: { min: 0, max: 0 } });
    expect(await empty.fetchPage({ job: job(), start: 0, pageSize: 25 })).toEqual({ rows: [], rejected: [], recordCount: 0 });
  });
});

describe('demo source: league content', () => {
  it('has 10 to 14 teams per league, keyed {seasonLeagueKey}.t.N, stable across seasons', () => {
    const counts = new Set<number>();
    for (const key of demoLeagueKeys(30, 5)) {
      const teamsOf = (season: number) => {
        const teams = new Map<string, string>();
        for (const row of generateDemoSeason(key, season, { seed: 5 }).rows) {
          if (row.sourceTeamKey !== null) teams.set(row.sourceTeamKey, row.sourceTeamName ?? '');
          if (row.destinationTeamKey !== null) teams.set(row.destinationTeamKey, row.destinationTeamName ?? '');
        }
        return teams;
      };
      const teams = teamsOf(2025);
      expect(teams.size).toBeGreaterThanOrEqual(10);
      expect(teams.size).toBeLessThanOrEqual(14);
      counts.add(teams.size);
      for (const [teamKey, name] of teams) {
        expect(teamKey).toMatch(new RegExp(`^${seasonLeagueKey(key, 2025).replaceAll('.', '\\.')}\\.t\\.(\\d+)$`));
        expect(Number(teamKey.split('.t.')[1])).toBeLessThanOrEqual(teams.size);
        expect(name.length).toBeGreaterThan(3);
      }
      const earlier = teamsOf(2021);
      expect([...earlier.values()].sort()).toEqual([...teams.values()].sort());
    }
    expect(counts.size).toBeGreaterThan(1);
  });

  it('generates the mix: add, drop, add/drop, trades of 2 or more players, and commissioner moves as rejected records', () => {
    const season = generateDemoSeason(LEAGUE, 2024);
    const groups = byTransaction(season.rows);
    const share = (n: number) => n / season.recordCount;
    const ofType = (type: string) => [...groups.values()].filter((g) => g[0]!.type === type);

    const adds = ofType('add');
    const drops = ofType('drop');
    const addDrops = ofType('add/drop');
    const trades = ofType('trade');
    expect(adds.length + drops.length + addDrops.length + trades.length + season.rejected.length).toBe(season.recordCount);
    expect(share(addDrops.length)).toBeGreaterThan(0.28);
    expect(share(adds.length)).toBeGreaterThan(0.22);
    expect(share(drops.length)).toBeGreaterThan(0.16);
    expect(trades.length).toBeGreaterThan(5);
    expect(share(season.rejected.length)).toBeGreaterThan(0.03);
    expect(share(season.rejected.length)).toBeLessThan(0.12);

    for (const [add] of adds) {
      expect(add).toMatchObject({ sourceTeamKey: null, sourceTeamName: null });
      expect(add!.destinationTeamKey).not.toBeNull();
    }
    for (const [drop] of drops) {
      expect(drop).toMatchObject({ destinationTeamKey: null, destinationTeamName: null });
      expect(drop!.sourceTeamKey).not.toBeNull();
    }
    for (const group of addDrops) {
      expect(group).toHaveLength(2);
      const [added, dropped] = group as [TransactionRow, TransactionRow];
      expect(added.sourceTeamKey).toBeNull();
      expect(dropped.destinationTeamKey).toBeNull();
      expect(added.destinationTeamKey).toBe(dropped.sourceTeamKey);
    }
    expect(Math.max(...trades.map((t) => t.length))).toBeGreaterThan(2);
    for (const trade of trades) {
      expect(trade.length).toBeGreaterThanOrEqual(2);
      expect(trade.length).toBeLessThanOrEqual(6);
      const teams = new Set(trade.flatMap((r) => [r.sourceTeamKey, r.destinationTeamKey]));
      expect(teams.size).toBe(2);
      expect(teams.has(null)).toBe(false);
      for (const row of trade) expect(row.sourceTeamKey).not.toBe(row.destinationTeamKey);
    }
    for (const record of season.rejected) {
      expect(record.reason).toMatch(/^commish transaction \d+\.l\.\d+\.tr\.\d+ moves no players$/);
      const parsed = JSON.parse(record.raw) as { transaction: [Record<string, string>, unknown[]] };
      expect(parsed.transaction[0]).toMatchObject({ type: 'commish', status: 'successful' });
      expect(parsed.transaction[1]).toEqual([]);
      expect(record.reason).toContain(parsed.transaction[0].transaction_key);
    }
  });

  it('fills every row like the Yahoo parser does: season league key, successful status, keys and ids that agree', () => {
    const leagueKey = seasonLeagueKey(LEAGUE, 2020);
    const season = generateDemoSeason(LEAGUE, 2020);
    const start = Date.UTC(2020, 7, 1) / 1000;
    const end = Date.UTC(2021, 1, 1) / 1000;
    for (const row of season.rows) {
      expect(row.leagueKey).toBe(leagueKey);
      expect(row.status).toBe('successful');
      expect(row.transactionKey).toBe(`${leagueKey}.tr.${row.transactionId}`);
      expect(row.playerId).toMatch(/^\d+$/);
      expect(row.playerName).toMatch(/^\S+ \S/);
      expect(Number.isInteger(row.timestamp)).toBe(true);
      expect(row.timestamp!).toBeGreaterThan(start);
      expect(row.timestamp!).toBeLessThan(end);
    }
  });

  it('leaves occasional gaps in transaction ids, as the real API does', () => {
    const season = generateDemoSeason(LEAGUE, 2024);
    const ids = [
      ...season.rows.map((r) => r.transactionId!),
      ...season.rejected.map((r) => Number(r.raw.match(/"transaction_id":"(\d+)"/)?.[1])),
    ];
    const distinct = new Set(ids);
    expect(distinct.size).toBe(season.recordCount);
    const highest = Math.max(...distinct);
    expect(highest).toBeGreaterThan(season.recordCount);
    expect(highest).toBeLessThan(season.recordCount * 1.3);
  });

  it('keeps player ids and names stable across the seasons of a league', () => {
    const names = new Map<string, string | null>();
    const players2025 = new Set<string>();
    for (const row of generateDemoSeason(LEAGUE, 2025).rows) {
      names.set(row.playerId, row.playerName);
      players2025.add(row.playerId);
    }
    let shared = 0;
    for (const row of generateDemoSeason(LEAGUE, 2019).rows) {
      if (!names.has(row.playerId)) continue;
      shared++;
      expect(row.playerName).toBe(names.get(row.playerId));
    }
    expect(shared).toBeGreaterThan(100);
    expect(players2025.size).toBeGreaterThan(200);
  });
});

describe('demo source: league keys', () => {
  it('maps a league key and a season to that season\'s key with the real game keys', () => {
    expect(seasonLeagueKey('461.l.12345', 2025)).toBe('461.l.12345');
    expect(seasonLeagueKey('461.l.12345', 2020)).toBe('399.l.12345');
    expect(seasonLeagueKey('461.l.12345', 2015)).toBe('348.l.12345');
    expect(seasonLeagueKey('449.l.9', 2002)).toBe('49.l.9');
    expect(seasonLeagueKey('nfl.l.5', 2023)).toBe('423.l.5');
    // NHL game keys keep NHL: 403 is NHL 2020.
    expect(seasonLeagueKey('403.l.7', 2019)).toBe('396.l.7');
    expect(seasonLeagueKey('nhl.l.7', 2024)).toBe('453.l.7');
    expect(seasonLeagueKey('396.l.7', 2021)).toBe('411.l.7');
  });

  it('extrapolates seasons outside the table to keys of their own, and maps them back', () => {
    const keys = new Set<string>();
    for (let season = 1950; season <= 2150; season++) keys.add(seasonLeagueKey('461.l.1', season));
    expect(keys.size).toBe(201);
    expect(seasonLeagueKey('461.l.1', 2026)).toBe('473.l.1');
    const future = seasonLeagueKey('nhl.l.1', 2030);
    expect(seasonLeagueKey(future, 2020)).toBe('403.l.1');
    const past = seasonLeagueKey('nhl.l.1', 1990);
    expect(seasonLeagueKey(past, 2020)).toBe('403.l.1');
  });

  it('rejects a key not of the form {game_key}.l.{league_id}, naming it and the form', () => {
    for (const bad of ['461.12345', '461.l.', 'NFL.l.1', '461.l.12a', '461.l.1.t.2', '']) {
      expectInvalidOption(() => seasonLeagueKey(bad, 2024), 'leagueKey', /\{game_key\}\.l\.\{league_id\}/);
      expect(() => seasonLeagueKey(bad, 2024)).toThrow(JSON.stringify(bad));
    }
    expectInvalidOption(() => seasonLeagueKey('461.l.1', 1800), 'season');
    expectInvalidOption(() => seasonLeagueKey('461.l.1', 2024.5), 'season');
  });

  it('lists distinct demo league keys of the newest season, fixed by the seed', () => {
    const keys = demoLeagueKeys(1000, 9);
    expect(keys).toHaveLength(1000);
    expect(new Set(keys).size).toBe(1000);
    for (const key of keys) expect(key).toMatch(/^461\.l\.\d{6}$/);
    expect(demoLeagueKeys(1000, 9)).toEqual(keys);
    expect(demoLeagueKeys(3, 9, 2020).every((key) => key.startsWith('399.l.'))).toBe(true);
    expect(demoLeagueKeys(0)).toEqual([]);
    expectInvalidOption(() => demoLeagueKeys(-1), 'count');
    expectInvalidOption(() => demoLeagueKeys(2, 1.5), 'seed');
    expectInvalidOption(() => demoLeagueKeys(2, 1, 3000), 'newestSeason');
  });
});

describe('demo source: options', () => {
  it('resolves the defaults into a serialisable spec', () => {
    const spec = demoSource();
    expect(spec).toEqual({
      kind: 'demo',
      options: { seed: 1, latencyMs: 0, failureRate: 0, transactionsPerSeason: { min: 700, max: 1100 } },
    });
    expect(structuredClone(spec)).toEqual(spec);
    expect(demoSource({ seed: 7, latencyMs: 5 }).options).toMatchObject({ seed: 7, latencyMs: 5 });
  });

  it('creates a source from a spec\'s options that pages like the original', async () => {
    const spec = demoSource({ seed: 11 });
    const request = { job: job(), start: 50, pageSize: 25 };
    expect(await createDemoSource(spec.options as DemoSourceOptions).fetchPage(request))
      .toEqual(await createDemoSource({ seed: 11 }).fetchPage(request));
  });

  it('rejects bad values, naming the option', () => {
    const cases: Array<[unknown, string]> = [
      [{ latencyMs: -1 }, 'latencyMs'],
      [{ latencyMs: Number.NaN }, 'latencyMs'],
      [{ failureRate: 2 }, 'failureRate'],
      [{ failureRate: -0.1 }, 'failureRate'],
      [{ seed: 1.5 }, 'seed'],
      [{ seed: '1' }, 'seed'],
      [{ transactionsPerSeason: 800 }, 'transactionsPerSeason'],
      [{ transactionsPerSeason: { min: -1, max: 10 } }, 'transactionsPerSeason.min'],
      [{ transactionsPerSeason: { min: 10, max: 5 } }, 'transactionsPerSeason.max'],
      [{ transactionsPerSeason: { min: 10 } }, 'transactionsPerSeason.max'],
    ];
    for (const [options, option] of cases) {
      expectInvalidOption(() => demoSource(options as DemoSourceOptions), option);
      expectInvalidOption(() => createDemoSource(options as DemoSourceOptions), option);
    }
  });

  it('rejects unknown option names, suggesting the nearest', () => {
    expectInvalidOption(() => demoSource({ latency: 5 } as DemoSourceOptions), 'latency', /Did you mean `latencyMs`\?/);
    expectInvalidOption(() => demoSource({ pageSize: 5 } as DemoSourceOptions), 'pageSize', /known option/);
    expectInvalidOption(
      () => demoSource({ transactionsPerSeason: { min: 1, max: 2, mx: 3 } } as DemoSourceOptions),
      'transactionsPerSeason.mx',
    );
  });

  it('rejects a job whose league key is malformed, naming the key', async () => {
    const source = createDemoSource();
    const fetching = source.fetchPage({ job: job('league-1'), start: 0, pageSize: 25 });
    await expect(fetching).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(source.fetchPage({ job: job('league-1'), start: 0, pageSize: 25 }))
      .rejects.toThrow(/`job\.leagueKey`.*"league-1"/);
    await expect(source.fetchPage({ job: job(), start: -1, pageSize: 25 })).rejects.toThrow(/`start`/);
    await expect(source.fetchPage({ job: job(), start: 0, pageSize: 0 })).rejects.toThrow(/`pageSize`/);
  });
});

describe('demo source: latency, abort and failures', () => {
  it('rejects with the signal\'s reason when already aborted', async () => {
    const reason = new Error('stop');
    const source = createDemoSource();
    await expect(source.fetchPage({ job: job(), start: 0, pageSize: 25, signal: AbortSignal.abort(reason) }))
      .rejects.toBe(reason);
  });

  it('cuts the simulated latency short on abort, rejecting with the reason', async () => {
    const source = createDemoSource({ latencyMs: 10_000 });
    const controller = new AbortController();
    const began = performance.now();
    const fetching = source.fetchPage({ job: job(), start: 0, pageSize: 25, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 20);
    await expect(fetching).rejects.toThrow('user gave up');
    expect(performance.now() - began).toBeLessThan(2_000);
  });

  it('waits latencyMs before answering', async () => {
    const source = createDemoSource({ latencyMs: 40 });
    const began = performance.now();
    const page = await source.fetchPage({ job: job(), start: 0, pageSize: 25 });
    expect(performance.now() - began).toBeGreaterThanOrEqual(35);
    expect(page.recordCount).toBe(25);
  });

  it('fails every fetch with a transient SourceError at failureRate 1', async () => {
    const source = createDemoSource({ failureRate: 1 });
    const error: unknown = await source.fetchPage({ job: job(), start: 25, pageSize: 25 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).transient).toBe(true);
    expect((error as SourceError).code).toBe('ERR_SOURCE');
    expect((error as Error).message).toContain(LEAGUE);
  });
});
