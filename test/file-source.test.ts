import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillError, SourceError } from '../src/errors.js';
import { jobIdOf } from '../src/queue/job.js';
import { readJsonResponse } from '../src/source/file/records.js';
import { createFileSource, fileSource, planFileJobs } from '../src/source/file/source.js';
import { createSource } from '../src/source/index.js';
import type { RejectedRecord, TransactionRow } from '../src/model/index.js';
import type { Source } from '../src/source/types.js';
import { parseTransactionsResponse } from '../src/source/yahoo-format/index.js';
import { SharedRateLimiter } from '../src/util/rate-limiter.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/yahoo/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);
const SEASON = fixture('yfantasy-api-league-transactions-2020-nhl.json');
const PENDING = fixture('yahoo_fantasy_api-league-transactions-pending_trade-2019-nhl.json');
const SETTINGS = fixture('yfantasy-api-league-settings-2020-nhl.json');
const EMPTY_SEASON = fixture('yfantasy-api-league-transactions-empty-2020-nhl.json');
const XML_ADD_DROP = fixture('yahoo-fantasy-ruby-transactions-add-drop-2021-nfl.xml');
const XML_ERROR = fixture('yahoo-fantasy-ruby-error-401-token-expired.xml');
const PAGE = 25;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-source-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pageAll(source: Source, leagueKey: string, season: number): Promise<{ rows: TransactionRow[]; rejected: RejectedRecord[]; pages: number }> {
  const rows: TransactionRow[] = [];
  const rejected: RejectedRecord[] = [];
  let pages = 0;
  for (let start = 0; ; start += PAGE) {
    const page = await source.fetchPage({ job: { jobId: jobIdOf(leagueKey, season), leagueKey, season }, start, pageSize: PAGE });
    pages += 1;
    rows.push(...page.rows);
    rejected.push(...page.rejected);
    if (page.recordCount < PAGE) break;
  }
  return { rows, rejected, pages };
}

async function inputError(input: string): Promise<BackfillError> {
  try {
    await planFileJobs(input);
  } catch (error) {
    return error as BackfillError;
  }
  throw new Error(`expected planFileJobs(${input}) to fail`);
}

function parsedFixture(path: string): ReturnType<typeof parseTransactionsResponse> {
  return parseTransactionsResponse(JSON.parse(readFileSync(path, 'utf8')));
}

describe('a saved season', () => {
  it('plans one job: league 403.l.17457, season 2020 (from the league metadata)', async () => {
    await expect(planFileJobs(SEASON)).resolves.toEqual([{ leagueKey: '403.l.17457', season: 2020 }]);
  });

  it('pages through 584 rows and 35 rejected records, the parser\'s own, in the file\'s order', async () => {
    const { rows, rejected, pages } = await pageAll(createFileSource({ input: SEASON }), '403.l.17457', 2020);
    expect(rows).toHaveLength(584);
    expect(rejected).toHaveLength(35);
    expect(pages).toBe(18);
    const whole = parsedFixture(SEASON);
    expect(rows).toEqual(whole.rows);
    expect(rejected).toEqual(whole.rejected);
  });

  it('runs through createSource, the registry the fetch workers use', async () => {
    const source = await createSource(fileSource({ input: SEASON }), { rateLimiter: new SharedRateLimiter(0) });
    expect(source.kind).toBe('file');
    const page = await source.fetchPage({ job: { jobId: 'j', leagueKey: '403.l.17457', season: 2020 }, start: 425, pageSize: PAGE });
    expect(page.recordCount).toBe(13);
  });

  it('reads every saved response scope record by record exactly as the parser reads the whole', () => {
    const names = [
      'yfantasy-api-league-transactions-2020-nhl.json', 'yfantasy-api-league-transactions-empty-2020-nhl.json',
      'yfar-leagues-transactions-trade-start0-count2-2021-nhl.json', 'yfar-teams-transactions-2021-nhl.json',
      'yfar-team-transactions-count5-type-add-2021-nhl.json', 'yfar-league-transactions-count1-type-drop-2021-nhl.json',
      'yahoo_fantasy_api-league-transactions-trade-2020-nfl.json', 'yahoo_fantasy_api-league-transactions-pending_trade-2019-nhl.json',
      'yahoo_fantasy_ex-league-transactions-2022-nhl-anonymized.json',
    ];
    for (const name of names) {
      const body: unknown = JSON.parse(readFileSync(fixture(name), 'utf8'));
      const { records } = readJsonResponse(body);
      const whole = parseTransactionsResponse(body);
      expect(records.length, name).toBe(whole.recordCount);
      expect(records.flatMap((record) => record.rows), name).toEqual(whole.rows);
      expect(records.flatMap((record) => record.rejected), name).toEqual(whole.rejected);
    }
  });

  it('refuses a job the input does not hold, saying what it holds', async () => {
    const source = createFileSource({ input: SEASON });
    const job = { jobId: 'j', leagueKey: '403.l.17457', season: 2019 };
    const error = await source.fetchPage({ job, start: 0, pageSize: PAGE }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).transient).toBe(false);
    expect((error as Error).message).toMatch(/has no transactions of league 403\.l\.17457 season 2019; it has: 403\.l\.17457 2020/);
  });
});

describe('a folder of saved responses', () => {
  it('reads its .json files in name order, numbers as numbers, and ignores other files', async () => {
    const folder = join(dir, 'responses');
    await mkdir(join(folder, 'nested'), { recursive: true });
    await copyFile(PENDING, join(folder, 'page-2.json'));
    await copyFile(SEASON, join(folder, 'page-10.json'));
    await copyFile(SETTINGS, join(folder, 'page-11-settings.json'));
    await writeFile(join(folder, 'notes.txt'), 'saved by hand\n');
    await copyFile(SEASON, join(folder, 'nested', 'ignored.json'));

    await expect(planFileJobs(folder)).resolves.toEqual([
      { leagueKey: '396.l.49770', season: 2019 },
      { leagueKey: '403.l.17457', season: 2020 },
    ]);
    const source = createFileSource({ input: folder });
    const pending = await pageAll(source, '396.l.49770', 2019);
    expect(pending.rows).toEqual(parsedFixture(PENDING).rows);
    const season = await pageAll(source, '403.l.17457', 2020);
    expect(season.rows).toHaveLength(584);
  });
});

describe('an XML response', () => {
  it('is parsed by the XML parser; its season comes from the game key', async () => {
    await expect(planFileJobs(XML_ADD_DROP)).resolves.toEqual([{ leagueKey: '406.l.117376', season: 2021 }]);
    const { rows, rejected } = await pageAll(createFileSource({ input: XML_ADD_DROP }), '406.l.117376', 2021);
    expect(rows.map((row) => [row.transactionKey, row.type])).toEqual([['406.l.117376.tr.584', 'add/drop'], ['406.l.117376.tr.584', 'add/drop']]);
    expect(rejected).toEqual([]);
  });

  it('pages an XML collection one <transaction> at a time', async () => {
    // Built from the real response: its transaction, then a copy under another key, then a
    // commissioner move (no players), as a league log would hold them.
    const xml = readFileSync(XML_ADD_DROP, 'utf8');
    const transaction = /<transaction>[\s\S]*<\/transaction>/.exec(xml)?.[0] ?? '';
    const copy = transaction.replaceAll('tr.584', 'tr.583').replace('<transaction_id>584', '<transaction_id>583');
    const commish = '<transaction><transaction_key>406.l.117376.tr.582</transaction_key><transaction_id>582</transaction_id>' +
      '<type>commish</type><status>successful</status><timestamp>1638224000</timestamp></transaction>';
    const input = join(dir, 'three.xml');
    await writeFile(input, xml.replace(transaction, `${transaction}${copy}${commish}`));

    const source = createFileSource({ input });
    const job = { jobId: 'j', leagueKey: '406.l.117376', season: 2021 };
    const pages = await Promise.all([0, 1, 2, 3].map((start) => source.fetchPage({ job, start, pageSize: 1 })));
    expect(pages.map((page) => page.recordCount)).toEqual([1, 1, 1, 0]);
    expect(pages.map((page) => page.rows.map((row) => row.transactionKey))).toEqual([
      ['406.l.117376.tr.584', '406.l.117376.tr.584'], ['406.l.117376.tr.583', '406.l.117376.tr.583'], [], [],
    ]);
    expect(pages[2]?.rejected.map((entry) => entry.reason)).toEqual(['commish transaction 406.l.117376.tr.582 moves no players']);
  });
});

describe('NDJSON rows', () => {
  const camel: TransactionRow = {
    transactionKey: '403.l.17457.tr.463', transactionId: 463, type: 'add/drop', timestamp: 1618161779, status: 'successful',
    playerId: '6743', playerName: 'Jakob Chychrun', sourceTeamKey: null, sourceTeamName: null,
    destinationTeamKey: '403.l.17457.t.3', destinationTeamName: 'Team 3', leagueKey: '403.l.17457',
  };
  const snake = {
    transaction_key: '403.l.17457.tr.462', transaction_id: 462, type: 'drop', timestamp: 1618161000, status: 'successful',
    player_id: '7000', player_name: 'Someone Else', source_team_key: '403.l.17457.t.3', source_team_name: 'Team 3',
    destination_team_key: null, destination_team_name: null, league_key: '403.l.17457', job_id: '403.l.17457:2020',
  };

  it('accepts camelCase and snake_case rows, and rejects a bad line with its number and reason', async () => {
    const input = join(dir, 'rows.ndjson');
    const { playerId: _dropped, ...withoutPlayer } = camel;
    await writeFile(input, [
      JSON.stringify(camel),
      JSON.stringify(snake),
      '{"transaction_key": "403.l.17457.tr.461", oops',
      '',
      JSON.stringify({ ...withoutPlayer, transactionKey: '403.l.17457.tr.460' }),
      JSON.stringify({ ...camel, transactionKey: '403.l.17457.tr.459', timestamp: 'yesterday' }),
      '[1, 2]',
      JSON.stringify({ ...camel, playerId: 7001, leagueKey: undefined, transactionId: '458', transactionKey: '403.l.17457.tr.458' }),
    ].join('\n'));

    await expect(planFileJobs(input)).resolves.toEqual([{ leagueKey: '403.l.17457', season: 2020 }]);
    const { rows, rejected } = await pageAll(createFileSource({ input }), '403.l.17457', 2020);
    expect(rows).toEqual([
      camel,
      {
        transactionKey: '403.l.17457.tr.462', transactionId: 462, type: 'drop', timestamp: 1618161000, status: 'successful',
        playerId: '7000', playerName: 'Someone Else', sourceTeamKey: '403.l.17457.t.3', sourceTeamName: 'Team 3',
        destinationTeamKey: null, destinationTeamName: null, leagueKey: '403.l.17457',
      },
      { ...camel, playerId: '7001', transactionId: 458, transactionKey: '403.l.17457.tr.458' },
    ]);
    expect(rejected.map((entry) => entry.reason)).toEqual([
      expect.stringMatching(/^line 3: not valid JSON/),
      'line 5: playerId is missing, not a non-empty string',
      'line 6: timestamp is "yesterday" (string), not whole Unix seconds or null',
      'line 7: an array, not an object of row columns',
    ]);
    expect(rejected[0]?.raw).toBe('{"transaction_key": "403.l.17457.tr.461", oops');
  });

  it('takes the season from the earliest timestamp when the game key is not in the table', async () => {
    const input = join(dir, 'future.jsonl');
    await writeFile(input, [
      JSON.stringify({ ...camel, transactionKey: '999.l.5.tr.2', leagueKey: '999.l.5', timestamp: Date.UTC(2031, 0, 15) / 1000 }),
      JSON.stringify({ ...camel, transactionKey: '999.l.5.tr.1', leagueKey: '999.l.5', timestamp: Date.UTC(2030, 9, 1) / 1000 }),
    ].join('\n'));
    await expect(planFileJobs(input)).resolves.toEqual([{ leagueKey: '999.l.5', season: 2030 }]);
  });
});

describe('bad input', () => {
  it('a path that does not exist', async () => {
    const missing = join(dir, 'no-such-file.json');
    const error = await inputError(missing);
    expect(error.code).toBe('ERR_INPUT');
    expect(error.message).toContain(missing);
    expect(error.message).toMatch(/does not exist/);
  });

  it('a relative path is resolved against the current directory and named as given', async () => {
    const error = await inputError(relative(process.cwd(), join(dir, 'missing-too')));
    expect(error.code).toBe('ERR_INPUT');
    expect(error.message).toContain(join(dir, 'missing-too'));
    expect(fileSource({ input: relative(process.cwd(), SEASON) }).options).toEqual({ input: SEASON });
  });

  it('a text file', async () => {
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'not a response\n');
    const error = await inputError(text);
    expect(error.code).toBe('ERR_INPUT');
    expect(error.message).toMatch(/notes\.txt is not a saved API response \(\.json or \.xml\), an NDJSON file/);
  });

  it('a .json file that is not JSON', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"fantasy_content": ');
    const error = await inputError(broken);
    expect(error.code).toBe('ERR_INPUT');
    expect(error.message).toMatch(/broken\.json is not valid JSON/);
  });

  it('JSON that is not a Yahoo response', async () => {
    const other = join(dir, 'package.json');
    await writeFile(other, '{"name": "x"}');
    await expect(inputError(other)).resolves.toMatchObject({ code: 'ERR_INPUT', message: expect.stringMatching(/has no fantasy_content/) });
  });

  it('a response with no transactions: league settings, an empty season', async () => {
    await expect(inputError(SETTINGS)).resolves.toMatchObject({ code: 'ERR_INPUT', message: expect.stringMatching(/settings-2020-nhl\.json holds no transactions/) });
    await expect(inputError(EMPTY_SEASON)).resolves.toMatchObject({ code: 'ERR_INPUT', message: expect.stringMatching(/holds no transactions/) });
  });

  it('a saved Yahoo error', async () => {
    await expect(inputError(XML_ERROR)).resolves.toMatchObject({ code: 'ERR_INPUT', message: expect.stringMatching(/is a saved Yahoo error, not transactions: .*token_expired/) });
  });

  it('a folder with nothing to read', async () => {
    const folder = join(dir, 'empty-folder');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'readme.md'), '# nothing\n');
    await expect(inputError(folder)).resolves.toMatchObject({ code: 'ERR_INPUT', message: expect.stringMatching(/holds no \.json, \.xml, \.ndjson or \.jsonl files/) });
  });

  it('NDJSON in which no line names a league', async () => {
    const input = join(dir, 'garbage.ndjson');
    await writeFile(input, 'not json\n{"also": "no"}\n');
    await expect(inputError(input)).resolves.toMatchObject({ code: 'ERR_INPUT', message: expect.stringMatching(/holds no record that names its league; the first problem: line 1: not valid JSON/) });
  });

  it('options of the wrong shape', () => {
    expect(() => fileSource({ input: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => fileSource({ input: SEASON, inptu: 'x' } as unknown as { input: string })).toThrow(/Did you mean `input`\?/);
  });
});
