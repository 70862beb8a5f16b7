/**
 * Large NDJSON inputs: the file source keeps the file as bytes and each line's place, so a
 * bulk import fits a fetch worker's heap, and the records it pages are exactly the records of
 * the line-by-line reader.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createEngine, demoLeagueKeys, fileSource, planFileJobs, PROFILES, seasonLeagueKey } from '../dist/src/index.js';
import { generateDemoSeason } from '../src/source/demo/index.js';
import { createFileSource, fileSource as fileSourceOf, planFileJobs as planJobsOf } from '../src/source/file/source.js';
import { indexNdjson, readIndexedLine } from '../src/source/file/ndjson.js';
import { readNdjson } from '../src/source/file/records.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-source-bulk-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NDJSON line index', () => {
  const validRow = fc.record({
    transactionKey: fc.constantFrom('403.l.17457.tr.1', '403.l.17457.tr.2', '390.l.5.tr.9', 'nope'),
    type: fc.constantFrom('add', 'drop', ''),
    status: fc.constant('successful'),
    playerId: fc.oneof(fc.constantFrom('31', 'x'), fc.nat(99)),
    timestamp: fc.oneof(fc.constant(null), fc.nat(2_000_000_000), fc.constant('soon')),
    playerName: fc.oneof(fc.constant(null), fc.string({ maxLength: 8 }), fc.constant('Ünïcödé "quoted"\\')),
  }, { requiredKeys: ['transactionKey'] });
  const line = fc.oneof(
    validRow.map((row) => JSON.stringify(row)),
    fc.constantFrom('', '   ', '{not json', '[1, 2]', 'null', '"text"', '{}', '\t', '\uFEFF{"transactionKey":"403.l.1.tr.1"}'),
  );
  const text = fc.tuple(fc.array(line, { maxLength: 30 }), fc.array(fc.constantFrom('\n', '\r\n'), { minLength: 30, maxLength: 30 }), fc.boolean())
    .map(([lines, breaks, trailing]) => lines.map((entry, index) => entry + (index < lines.length - 1 || trailing ? breaks[index] : '')).join(''));

  it('gives the same records, leagues and line numbers as reading the text line by line', () => {
    fc.assert(fc.property(text, (input) => {
      const expected = readNdjson(input);
      const lines = indexNdjson(Buffer.from(input, 'utf8'));
      expect(lines.map((entry) => entry.leagueKey)).toEqual(expected.map((record) => record.leagueKey));
      expect(lines.map(readIndexedLine)).toEqual(expected);
    }), { numRuns: 300 });
  });

  it('gives fresh objects on every read, so a caller may change them', () => {
    const [entry] = indexNdjson(Buffer.from('{"transactionKey":"403.l.1.tr.1","type":"add","status":"successful","playerId":"7"}\n'));
    const first = readIndexedLine(entry!);
    first.rows[0]!.playerId = 'changed';
    expect(readIndexedLine(entry!).rows[0]!.playerId).toBe('7');
  });
});

describe('the planning thread\'s shared copy', () => {
  const row = (id: number, playerId: string): string =>
    JSON.stringify({ transactionKey: `403.l.17457.tr.${id}`, type: 'add', status: 'successful', playerId, leagueKey: '403.l.17457', timestamp: 1_600_000_000 + id });

  it('reaches the source in shared memory, is what it pages, and gives way to the file when the file changes', async () => {
    const input = join(dir, 'shared.ndjson');
    await writeFile(input, `${row(1, 'a')}\n\n${row(2, 'b')}\r\n{broken\n`);
    const [job] = await planJobsOf(input);
    expect(job).toEqual({ leagueKey: '403.l.17457', season: 2020 });
    const spec = fileSourceOf({ input });
    const shared = (spec.options as { sharedInput?: { bytes?: unknown } }).sharedInput;
    expect(shared?.bytes).toBeInstanceOf(SharedArrayBuffer);
    const page = async (options: unknown): Promise<unknown> =>
      createFileSource(options).fetchPage({ job: { jobId: '403.l.17457:2020', leagueKey: '403.l.17457', season: 2020 }, start: 0, pageSize: 25 });
    const fromShare = await page(structuredClone(spec.options));
    // A description that went through JSON (Redis) lost the shared memory: the file is read instead, to the same page.
    expect(await page(JSON.parse(JSON.stringify(spec.options)))).toEqual(fromShare);
    expect(fromShare).toMatchObject({ recordCount: 3, rows: [{ playerId: 'a' }, { playerId: 'b' }], rejected: [{ reason: expect.stringMatching(/^line 4: not valid JSON/) }] });

    // Changed after planning: the worker reads what the file holds now, not the stale copy.
    await writeFile(input, `${row(1, 'changed')}\n`);
    expect(await page(structuredClone(spec.options))).toMatchObject({ recordCount: 1, rows: [{ playerId: 'changed' }], rejected: [] });
    // And a description made now carries no copy of the old file.
    expect(fileSourceOf({ input }).options).toEqual({ input });
  });
});

describe('a bulk NDJSON import', () => {
  it('imports every row of a file whose parsed rows would not fit the fetch workers\' heap', async () => {
    // About 60,000 rows (19 MB): as row objects they took more than the 32 MB heap given below.
    const seasons = [2020, 2021, 2022, 2023, 2024];
    const input = join(dir, 'bulk.ndjson');
    const lines: string[] = [];
    const expected = new Map<string, number>();
    for (const newest of demoLeagueKeys(10, 4)) {
      for (const season of seasons) {
        const { rows } = generateDemoSeason(newest, season, { seed: 4 });
        for (const row of rows) lines.push(JSON.stringify(row));
        expected.set(`${seasonLeagueKey(newest, season)}:${season}`, rows.length);
      }
    }
    await writeFile(input, `${lines.join('\n')}\n`);
    const database = join(dir, 'bulk.db');
    const jobs = await planFileJobs(input);
    expect(jobs).toHaveLength(expected.size);
    await using engine = await createEngine({ database, source: fileSource({ input }), flags: PROFILES.recommended, workerHeapLimitMb: 32 });
    const summaries = await Promise.all(jobs.map((job) => engine.enqueue(job).done));
    expect(summaries.every((summary) => summary.status === 'completed')).toBe(true);
    expect(engine.totals.rowsInserted).toBe(lines.length);
    await engine.close();

    const db = new Database(database, { readonly: true });
    try {
      const stored = db.prepare('SELECT job_id AS jobId, count(*) AS rows FROM transactions GROUP BY job_id').all() as Array<{ jobId: string; rows: number }>;
      expect(new Map(stored.map(({ jobId, rows }) => [jobId, rows]))).toEqual(expected);
      expect(db.prepare('SELECT count(*) AS n FROM rejected_rows').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  }, 60_000);
});
