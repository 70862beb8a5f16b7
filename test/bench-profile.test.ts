/**
 * bench/profile.ts: a real backfill under `--cpu-prof`, one profile per thread, summed by
 * activity. The mapping from functions to activities follows the code's names, so this fails
 * when the writer's or the fetch side's code moves out from under it.
 */
import { describe, expect, it } from 'vitest';
import { ACTIVITIES, classify, formatReport, profileBackfill } from '../dist/bench/profile.js';
import { defaultFetchWorkers } from '../dist/src/index.js';

const frame = (functionName: string, path: string): { functionName: string; url: string; lineNumber: number } =>
  ({ functionName, url: path === '' ? '' : `file:///work/main/dist/${path}`, lineNumber: 0 });

describe('the activity of a sample', () => {
  it('follows the stack to the nearest own function, and the leaf for V8 and thread plumbing', () => {
    expect(classify([frame('(garbage collector)', '')])).toBe('GC');
    expect(classify([frame('atomicsWaitLoop', 'node_modules/piscina/dist/worker.js')])).toBe('idle');
    expect(classify([frame('postMessage', ''), frame('notify', 'src/writer/writer-thread.js')])).toBe('moving between threads');
    expect(classify([frame('#writeBatch', 'src/writer/thread/writer.js'), frame('', 'src/writer/thread/writer.js')])).toBe('binding and inserting');
    expect(classify([frame('run', 'node_modules/better-sqlite3/lib/index.js'), frame('#stageRows', 'src/writer/thread/staging.js')])).toBe('binding and inserting');
    expect(classify([frame('move', 'src/writer/thread/staging.js'), frame('#writeBatch', 'src/writer/thread/writer.js')])).toBe('binding and inserting');
    expect(classify([frame('exec', 'node_modules/better-sqlite3/lib/methods/wrappers.js'), frame('', 'src/writer/writer-thread.js')])).toBe('committing (BEGIN, COMMIT)');
    expect(classify([frame('generateSeason', 'src/source/demo/generate.js'), frame('fetchPages', 'src/workers/fetch-pages.js')])).toBe('generating or fetching');
    expect(classify([frame('readNdjsonLine', 'src/source/file/records.js')])).toBe('parsing');
    expect(classify([frame('fetchPages', 'src/workers/fetch-pages.js')])).toBe('encoding');
  });
});

describe('a profiled backfill', () => {
  it('has a profile for the main thread, each fetch worker and the writer, the writer\'s time mostly inserting', async () => {
    // Three leagues, not one: over one league's 11,784 rows the writer's start (modules, open,
    // migrate) took as long as its inserting (148 against 145 ms), so which came first was chance.
    // Over three the inserting is about five times the start.
    const report = await profileBackfill({ scenario: 'throughput', leagues: 3 });
    expect(report.rows).toBeGreaterThan(30_000);
    // The engine's default fetch workers: one on two cores (defaultFetchWorkers).
    const workers = defaultFetchWorkers('demo');
    expect(report.threads.map((thread) => thread.thread)).toEqual(['main', ...Array<string>(workers).fill('fetch worker'), 'writer']);
    const writer = report.threads.find((thread) => thread.thread === 'writer')!;
    const busiest = ACTIVITIES.filter((activity) => activity !== 'idle').sort((a, b) => writer.activities[b] - writer.activities[a])[0];
    expect(busiest).toBe('binding and inserting');
    expect(writer.activities['committing (BEGIN, COMMIT)']).toBeGreaterThan(0);
    for (const worker of report.threads.filter((thread) => thread.thread === 'fetch worker')) {
      expect(worker.activities['generating or fetching'] + worker.activities.encoding).toBeGreaterThan(0);
      expect(worker.activities['binding and inserting']).toBe(0);
    }
    const table = formatReport(report);
    expect(table).toContainEqual(expect.stringMatching(new RegExp(`^\\| binding and inserting (\\| 0\\.0 ){${1 + workers}}\\| [1-9]`)));
  }, 60_000);
});
