/**
 * The fetch workers run below the engine's other threads (`workerNice`), so that their parsing
 * yields the CPU to the writer thread, which holds the lock everyone else waits on, and to the
 * other processes on the machine. Checked on the real threads, in /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, demoLeagueKeys, demoSource, PROFILES, type Engine } from '../dist/src/index.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-priority-');
const linux = process.platform === 'linux';

/** Each thread of this process with its nice value (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNice(): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(Number(tid), Number(fields[16]));
    } catch {
      // a thread that ended while we read
    }
  }
  return threads;
}

/** The nice values of the threads the engine started, after it has backfilled one season. */
async function engineThreadNice(options: { workerNice?: number }): Promise<number[]> {
  const before = new Set(threadNice().keys());
  const engine: Engine = await createEngine({
    database: join(tempDir(), 'league.db'), source: demoSource({ seed: 3 }), flags: PROFILES.recommended, ...options,
  });
  try {
    await engine.enqueue({ leagueKey: demoLeagueKeys(1, 3)[0]!, season: 2020 }).done;
    return [...threadNice()].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice);
  } finally {
    await engine.close();
  }
}

describe.skipIf(!linux)('the fetch workers\' CPU priority', () => {
  it('runs the fetch workers at nice 10 by default, and the engine\'s other threads as they were', async () => {
    const own = threadNice().get(process.pid);
    const started = await engineThreadNice({});
    // One fetch worker on two cores (more on more): each at nice 10.
    expect(started.filter((nice) => nice === 10).length).toBeGreaterThanOrEqual(1);
    // The writer thread (and every other thread the engine started) keeps the process's priority.
    expect(started.filter((nice) => nice === own).length).toBeGreaterThanOrEqual(1);
    expect(started.every((nice) => nice === 10 || nice === own)).toBe(true);
  });

  it('keeps every thread at the process\'s priority with workerNice 0', async () => {
    const own = threadNice().get(process.pid);
    const started = await engineThreadNice({ workerNice: 0 });
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(started.every((nice) => nice === own)).toBe(true);
  });

  it('refuses a nice increment outside 0 to 19, naming the option', async () => {
    for (const workerNice of [-1, 20, 2.5]) {
      await expect(createEngine({ database: join(tempDir(), 'league.db'), source: demoSource({ seed: 3 }), workerNice }))
        .rejects.toThrow(/workerNice/);
    }
  });
});
