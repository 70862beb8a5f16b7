/**
 * Starting and stopping contender processes from the load test: each is `node <entry>.js
 * <settings>`, ready once it prints its ready line, stopped by closing its stdin, and it
 * answers with one JSON report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { READY_LINE, type ContenderReport, type LegacyWriterReport, type LegacyWriterSettings, type ReaderReport, type ContenderSettings } from './protocol.js';

/** Node cannot run the .ts sources: contenders are started from the build, beside this file. */
const ENTRIES = {
  reader: fileURLToPath(new URL('./reader-process.js', import.meta.url)),
  'legacy-writer': fileURLToPath(new URL('./legacy-writer-process.js', import.meta.url)),
} as const;

export interface RunningContender<R extends ContenderReport> {
  readonly process: ChildProcess;
  /** Resolves once the contender has done its first round. */
  readonly ready: Promise<void>;
  /** Tells the contender to stop and resolves with its report. */
  stop(): Promise<R>;
  /** Ends the process at once (after a failure elsewhere). */
  kill(): void;
}

function start<R extends ContenderReport>(kind: keyof typeof ENTRIES, settings: ContenderSettings): RunningContender<R> {
  const child = spawn(process.execPath, [ENTRIES[kind], JSON.stringify(settings)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  // A contender that already exited has closed its stdin: writing to it must not crash us.
  child.stdin.on('error', () => {});
  const exited = new Promise<R>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as R);
      else reject(new Error(`${kind} contender exited with ${signal ?? code}: ${stderr.trim() || stdout.trim() || 'no output'}`));
    });
  });
  // Never an unhandled rejection: whoever awaits `ready` or `stop()` sees the failure.
  exited.catch(() => {});
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes(`${READY_LINE}\n`)) resolve();
    });
    exited.then(() => reject(new Error(`${kind} contender ended before it was ready`)), reject);
  });
  ready.catch(() => {});
  return {
    process: child,
    ready,
    stop: () => {
      child.stdin.end();
      return exited;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export function startReader(settings: ContenderSettings): RunningContender<ReaderReport> {
  return start<ReaderReport>('reader', settings);
}

export function startLegacyWriter(settings: LegacyWriterSettings): RunningContender<LegacyWriterReport> {
  return start<LegacyWriterReport>('legacy-writer', settings);
}

/** The contenders of one configuration, started and stopped together. */
export class ContenderGroup {
  readonly readers: Array<RunningContender<ReaderReport>> = [];
  readonly writers: Array<RunningContender<LegacyWriterReport>> = [];

  /** Starts `count` readers; resolves once each has run its first queries. */
  async startReaders(count: number, settings: ContenderSettings): Promise<void> {
    const started = Array.from({ length: count }, () => startReader(settings));
    this.readers.push(...started);
    await Promise.all(started.map((reader) => reader.ready));
  }

  /** Starts `count` legacy writers; resolves once each has tried its first transaction. */
  async startWriters(count: number, settingsOf: (index: number) => LegacyWriterSettings): Promise<void> {
    const started = Array.from({ length: count }, (_, index) => startLegacyWriter(settingsOf(this.writers.length + index)));
    this.writers.push(...started);
    await Promise.all(started.map((writer) => writer.ready));
  }

  async stop(): Promise<{ readers: ReaderReport[]; writers: LegacyWriterReport[] }> {
    const [readers, writers] = await Promise.all([
      Promise.all(this.readers.map((reader) => reader.stop())),
      Promise.all(this.writers.map((writer) => writer.stop())),
    ]);
    return { readers, writers };
  }

  kill(): void {
    for (const contender of [...this.readers, ...this.writers]) contender.kill();
  }
}
