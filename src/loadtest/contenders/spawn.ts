/**
 * Starting and stopping contender processes: each is `<command> <entry> <settings as JSON>`,
 * ready once it prints its `ready` line, stopped by closing its stdin, and it answers with one
 * `result` line. The Node entries are built JavaScript; any other program that speaks the same
 * lines (the neighbours benchmark's Python writer) starts through `startContenderProcess`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  ContenderEvent, ContenderReport, ContenderSettings, LegacyWriterReport, LegacyWriterSettings, NotebookReport, NotebookSettings, ReaderReport, ReaderSettings,
} from './protocol.js';

const ENTRY_NAMES = {
  reader: 'reader-process',
  'legacy-writer': 'legacy-writer-process',
  notebook: 'notebook-process',
} as const;

export type ContenderKind = keyof typeof ENTRY_NAMES;

/**
 * The built entry of a contender. Node cannot run the .ts sources: beside this file when it
 * runs from the build, else (this module loaded from the sources, as vitest does) in dist/.
 */
export function contenderEntry(kind: ContenderKind): string {
  const beside = fileURLToPath(new URL(`./${ENTRY_NAMES[kind]}.js`, import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL(`../../../dist/src/loadtest/contenders/${ENTRY_NAMES[kind]}.js`, import.meta.url));
}

export interface RunningContender<R extends ContenderReport> {
  readonly process: ChildProcess;
  /** The contender's process id. */
  readonly pid: number;
  /** Resolves once the contender's connection is open and its first round is about to start. */
  readonly ready: Promise<void>;
  /** Resolves with its report once it has exited (by itself, or after `stop()`). */
  readonly result: Promise<R>;
  /** Tells the contender to stop after its current round and resolves with its report. */
  stop(): Promise<R>;
  /** Ends the process at once (after a failure elsewhere). */
  kill(): void;
  /** Called with each line the contender prints (`ready`, `open`, `released`, `result`). */
  onEvent(listener: (event: ContenderEvent) => void): void;
}

/** Starts `command args...` as a contender that speaks the JSON lines of protocol.ts. */
export function startContenderProcess<R extends ContenderReport>(label: string, command: string, args: readonly string[]): RunningContender<R> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let report: R | undefined;
  const listeners: Array<(event: ContenderEvent) => void> = [];
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  // A contender that already exited has closed its stdin: writing to it must not crash us.
  child.stdin.on('error', () => {});
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    let newline: number;
    while ((newline = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, newline).trim();
      stdout = stdout.slice(newline + 1);
      if (!line.startsWith('{')) continue;
      let event: ContenderEvent;
      try {
        event = JSON.parse(line) as ContenderEvent;
      } catch {
        continue;
      }
      if (event.event === 'ready') markReady();
      if (event.event === 'result') {
        const { event: _event, ...rest } = event;
        report = rest as unknown as R;
      }
      for (const listener of listeners) listener(event);
    }
  });
  const result = new Promise<R>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0 && report) resolve(report);
      else reject(new Error(`${label} contender (pid ${child.pid}) exited with ${signal ?? code}: ${stderr.trim() || stdout.trim() || 'no output'}`));
    });
  });
  // Never an unhandled rejection: whoever awaits `ready`, `result` or `stop()` sees the failure.
  result.catch(() => {});
  const readyOrFailed = Promise.race([
    ready,
    result.then(() => { throw new Error(`${label} contender ended before it was ready`); }),
  ]);
  readyOrFailed.catch(() => {});
  return {
    process: child,
    pid: child.pid ?? -1,
    ready: readyOrFailed,
    result,
    stop: () => {
      child.stdin.end();
      return result;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    onEvent: (listener) => { listeners.push(listener); },
  };
}

function start<R extends ContenderReport>(kind: ContenderKind, settings: object): RunningContender<R> {
  return startContenderProcess<R>(kind, process.execPath, [contenderEntry(kind), JSON.stringify(settings)]);
}

export function startReader(settings: ReaderSettings): RunningContender<ReaderReport> {
  return start<ReaderReport>('reader', settings);
}

export function startLegacyWriter(settings: LegacyWriterSettings): RunningContender<LegacyWriterReport> {
  return start<LegacyWriterReport>('legacy-writer', settings);
}

export function startNotebook(settings: NotebookSettings): RunningContender<NotebookReport> {
  return start<NotebookReport>('notebook', settings);
}

/** The contenders of one configuration, started and stopped together. */
export class ContenderGroup {
  readonly readers: Array<RunningContender<ReaderReport>> = [];
  readonly writers: Array<RunningContender<LegacyWriterReport>> = [];

  /** Starts `count` readers; resolves once each is ready. */
  async startReaders(count: number, settings: ContenderSettings | ReaderSettings): Promise<void> {
    const started = Array.from({ length: count }, () => startReader(settings));
    this.readers.push(...started);
    await Promise.all(started.map((reader) => reader.ready));
  }

  /** Starts `count` legacy writers; resolves once each is ready. */
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
