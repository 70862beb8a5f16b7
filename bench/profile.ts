/**
 * Where the time goes, per thread: runs a backfill under `node --cpu-prof` (one profile per
 * thread: the main thread, each fetch worker, the writer), then sums each thread's samples by
 * activity, mapping the function and file of each sample's stack to one, per 1,000 rows.
 *
 *   node dist/bench/profile.js [--scenario throughput|import] [--leagues N] [--keep DIR] [--json]
 *
 * `throughput` is the throughput bench's demo backfill (N leagues x 10 seasons, default 25:
 * 303,719 rows); `import` is `backfill --source file` of an NDJSON file of the same rows.
 * docs/performance.md reads the table.
 *
 * V8 samples by wall time: a thread that the kernel took off its core keeps being charged to
 * the function it was in. On a busy machine the figures grow; the report prints the load
 * average and the profiles' busy time against the CPU time the process really used.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeNdjson } from './bulk-import.js';
import { BENCH_SEASONS, scratchDir } from './lib.js';

export const ACTIVITIES = [
  'generating or fetching',
  'parsing',
  'encoding',
  'moving between threads',
  'binding and inserting',
  'committing (BEGIN, COMMIT)',
  'checkpointing',
  'bookkeeping and events',
  'starting (modules, open, migrate)',
  'GC',
  'V8 and native, unattributed',
  'idle',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ThreadProfile {
  thread: string;
  file: string;
  wallMs: number;
  /** Milliseconds of samples per activity. */
  activities: Record<Activity, number>;
  /** The functions (own code first met up the stack) with the most samples outside idle, for the notes. */
  top: Array<{ frame: string; activity: Activity; ms: number }>;
}

/** Our own code: the package's source and the bench, as built into dist/. */
function ownPath(url: string): string | null {
  const match = /\/dist\/((?:src|bench)\/.*)$/.exec(url);
  return match ? match[1]! : null;
}

/** The activity of one sample, from its stack (leaf first). */
export function classify(stack: readonly CallFrame[]): Activity {
  const leaf = stack[0]!;
  switch (leaf.functionName) {
    case '(idle)': return 'idle';
    case '(garbage collector)': return 'GC';
    case '(program)':
    case '(root)': return 'V8 and native, unattributed';
  }
  // piscina's worker waits for its next task in Atomics.wait.
  if (leaf.functionName === 'atomicsWaitLoop') return 'idle';
  if (['postMessage', 'receiveMessageOnPort', 'structuredClone', 'postTask'].includes(leaf.functionName)) return 'moving between threads';
  const ownIndex = stack.findIndex((frame) => ownPath(frame.url) !== null);
  if (ownIndex < 0) {
    if (stack.some((frame) => /node:internal\/(modules|bootstrap)/.test(frame.url) || frame.functionName === 'compileFunction')) return 'starting (modules, open, migrate)';
    if (stack.some((frame) => /piscina|node:internal\/worker|messageport/.test(frame.url))) return 'moving between threads';
    return 'V8 and native, unattributed';
  }
  // Inside the pool or Node's worker plumbing, called from our code: a task or a result crossing.
  if (stack.slice(0, ownIndex).some((frame) => /piscina|node:internal\/worker|messageport/.test(frame.url))) return 'moving between threads';
  const own = stack[ownIndex]!;
  const file = ownPath(own.url)!;
  const name = own.functionName;
  // The nearest named caller in our code, for anonymous callbacks.
  const caller = stack.slice(ownIndex + 1).find((frame) => ownPath(frame.url) !== null && frame.functionName !== '')?.functionName ?? '';
  if (/^src\/source\/demo\//.test(file)) return 'generating or fetching';
  if (/^src\/source\/yahoo\/(client|http|backoff|source)/.test(file)) return 'generating or fetching';
  if (/^src\/source\//.test(file)) return 'parsing';
  if (/^src\/model\//.test(file) || (/^src\/workers\/fetch-pages/.test(file))) return 'encoding';
  if (/^src\/writer\/thread\/checkpoint/.test(file) || /^src\/db\/doctor\/wal-index/.test(file)) return 'checkpointing';
  // The writer thread's code: its entry file and the modules under writer/thread/ (names, not
  // files, decide: the writer's concerns move between its files).
  if (/^src\/writer\/(writer-thread|thread\/)/.test(file)) {
    const bare = name.replace(/^#/, '');
    // Rows are bound into the staging table outside the lock (stage) and copied inside it (move).
    if (bare === 'writeBatch' || bare === 'stageRows' || bare === 'move') return 'binding and inserting';
    if (name === '' && caller.replace(/^#/, '') === 'commit') return 'parsing'; // the batches' JSON decoded before the lock
    // The only exec() of an anonymous function there is the COMMIT (or ROLLBACK) of a transaction's attempt.
    if (name === '' && leaf.functionName === 'exec') return 'committing (BEGIN, COMMIT)';
    if (/checkpoint|restart|walBytes|pinningReaders/i.test(bare)) return 'checkpointing';
    if (bare === 'notify') return 'moving between threads';
    if (name === 'WriterThread' || bare === 'prepareStatements' || caller === 'WriterThread') return 'starting (modules, open, migrate)';
    return 'bookkeeping and events';
  }
  if (/^src\/db\/locking\/lock-waiters/.test(file)) return 'committing (BEGIN, COMMIT)';
  if (/^src\/db\/(open|schema|lease|sqlite-version|filesystem)/.test(file)) return 'starting (modules, open, migrate)';
  if (stack.some((frame) => /node:internal\/modules/.test(frame.url))) return 'starting (modules, open, migrate)';
  return 'bookkeeping and events';
}

/** Sums one profile's samples by activity. */
export function summarize(profile: CpuProfile, thread: string, file: string): ThreadProfile {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const activities = Object.fromEntries(ACTIVITIES.map((activity) => [activity, 0])) as Record<Activity, number>;
  const frames = new Map<string, { activity: Activity; ms: number }>();
  for (const [id, micros] of selfMicros) {
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
    const activity = classify(stack);
    activities[activity] += micros / 1000;
    if (activity === 'idle') continue;
    const own = stack.find((frame) => ownPath(frame.url) !== null);
    const label = own ? `${own.functionName || `(anonymous, line ${own.lineNumber + 1})`} ${ownPath(own.url)}` : `${stack[0]!.functionName || '(anonymous)'} ${stack[0]!.url.replace(/^.*node_modules\//, '')}`;
    const entry = frames.get(label) ?? { activity, ms: 0 };
    entry.ms += micros / 1000;
    frames.set(label, entry);
  }
  const top = [...frames].map(([frame, entry]) => ({ frame, ...entry })).sort((a, b) => b.ms - a.ms).slice(0, 12);
  return { thread, file, wallMs: (profile.endTime - profile.startTime) / 1000, activities, top };
}

/** Which thread wrote a profile, from the code it ran. */
function threadOf(profile: CpuProfile): string {
  const urls = new Set(profile.nodes.map((node) => ownPath(node.callFrame.url) ?? ''));
  if (urls.has('bench/profile-child.js')) return 'main';
  if (urls.has('src/writer/writer-thread.js') || urls.has('src/writer/thread/writer.js')) return 'writer';
  if ([...urls].some((url) => url.startsWith('src/workers/fetch-') || url.startsWith('src/source/'))) return 'fetch worker';
  return 'other';
}

export interface ProfileReport {
  scenario: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  processCpuMs: number;
  /** Sum over threads of the profiles' time outside idle: above processCpuMs when threads waited for a core. */
  profiledBusyMs: number;
  loadAverage: number[];
  threads: ThreadProfile[];
}

export async function profileBackfill(options: { scenario: 'throughput' | 'import'; leagues: number; keep?: string }): Promise<ProfileReport> {
  const scratch = scratchDir();
  try {
    const profiles = options.keep ?? join(scratch.dir, 'profiles');
    rmSync(profiles, { recursive: true, force: true });
    mkdirSync(profiles, { recursive: true });
    let argument = String(options.leagues);
    if (options.scenario === 'import') {
      argument = join(scratch.dir, 'rows.ndjson');
      await writeNdjson(argument, options.leagues, BENCH_SEASONS);
    }
    const child = fileURLToPath(new URL('./profile-child.js', import.meta.url));
    const loadBefore = loadavg();
    const output = execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profiles}`, child, options.scenario, join(scratch.dir, 'profiled.db'), argument], { encoding: 'utf8' });
    const loadAfter = loadavg();
    const result = JSON.parse(output) as { rows: number; seconds: number; cpuMs: number };
    const threads = readdirSync(profiles).filter((name) => name.endsWith('.cpuprofile')).sort().map((name) => {
      const profile = JSON.parse(readFileSync(join(profiles, name), 'utf8')) as CpuProfile;
      return summarize(profile, threadOf(profile), name);
    });
    const order = ['main', 'fetch worker', 'writer', 'other'];
    threads.sort((a, b) => order.indexOf(a.thread) - order.indexOf(b.thread));
    const profiledBusyMs = threads.reduce((sum, thread) => sum + Object.entries(thread.activities).reduce((s, [activity, ms]) => s + (activity === 'idle' ? 0 : ms), 0), 0);
    return {
      scenario: options.scenario,
      rows: result.rows,
      seconds: result.seconds,
      rowsPerSecond: Math.round(result.rows / result.seconds),
      processCpuMs: Math.round(result.cpuMs),
      profiledBusyMs: Math.round(profiledBusyMs),
      loadAverage: [loadBefore[0]!, loadAfter[0]!].map((value) => Number(value.toFixed(2))),
      threads,
    };
  } finally {
    scratch.cleanup();
  }
}

/** The table: activities down, threads across, ms per 1,000 rows. */
export function formatReport(report: ProfileReport): string[] {
  const per1000 = (ms: number): string => ((ms * 1000) / report.rows).toFixed(1);
  const names = report.threads.map((thread, index) => (thread.thread === 'fetch worker'
    ? `worker ${report.threads.slice(0, index + 1).filter((t) => t.thread === 'fetch worker').length}`
    : thread.thread));
  const lines = [
    `Profile of ${report.scenario}: ${report.rows.toLocaleString('en-US')} rows in ${report.seconds.toFixed(2)} s (${report.rowsPerSecond.toLocaleString('en-US')} rows/s), ` +
      `load average ${report.loadAverage.join(' -> ')}; process CPU ${report.processCpuMs.toLocaleString('en-US')} ms, profiled busy time ${report.profiledBusyMs.toLocaleString('en-US')} ms ` +
      `(${(report.profiledBusyMs / report.processCpuMs).toFixed(2)}x: above 1 when threads waited for a core)`,
    '',
    `| ms per 1,000 rows | ${names.join(' | ')} | all threads |`,
    `| --- | ${names.map(() => '---:').join(' | ')} | ---: |`,
  ];
  const rowOf = (label: string, values: number[]): string => `| ${label} | ${values.map(per1000).join(' | ')} | ${per1000(values.reduce((a, b) => a + b, 0))} |`;
  for (const activity of ACTIVITIES) lines.push(rowOf(activity, report.threads.map((thread) => thread.activities[activity])));
  lines.push(rowOf('**busy (all but idle)**', report.threads.map((thread) => Object.entries(thread.activities).reduce((s, [a, ms]) => s + (a === 'idle' ? 0 : ms), 0))));
  lines.push(rowOf('wall time of the thread', report.threads.map((thread) => thread.wallMs)));
  lines.push('');
  for (const [index, thread] of report.threads.entries()) {
    lines.push(`${names[index]}: ${thread.top.slice(0, 8).map((entry) => `${entry.frame} ${per1000(entry.ms)} (${entry.activity})`).join('; ')}`);
  }
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const scenario = value('--scenario') ?? 'throughput';
  if (scenario !== 'throughput' && scenario !== 'import') throw new Error(`Expected --scenario throughput or import, got ${scenario}`);
  const keep = value('--keep');
  const report = await profileBackfill({ scenario, leagues: Number(value('--leagues') ?? 25), ...(keep ? { keep } : {}) });
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${formatReport(report).join('\n')}\n`);
}
