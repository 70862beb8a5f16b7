/**
 * The life of a contender process: read its settings, say when it is ready, run rounds until
 * the parent closes its stdin, the parent dies, or `maxMs` passes, then print its report. Only
 * contender entry files use this.
 */
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContenderEvent, ContenderSettings } from './protocol.js';

export function readSettings<T extends { database: string; maxMs: number }>(): T {
  const text = process.argv[2];
  if (!text) throw new Error('a contender needs its settings as a JSON argument');
  return JSON.parse(text) as T;
}

/** Tallies errors by SQLite code and by message, and keeps each message in order. */
export class ErrorTally {
  readonly codes: Record<string, number> = {};
  readonly byMessage: Record<string, number> = {};
  readonly ordered: string[] = [];
  readonly #messages = new Set<string>();
  count = 0;
  add(error: unknown): void {
    const code = String((error as { code?: unknown }).code ?? 'unknown');
    const message = String((error as { message?: unknown }).message ?? error);
    this.count++;
    this.codes[code] = (this.codes[code] ?? 0) + 1;
    this.byMessage[message] = (this.byMessage[message] ?? 0) + 1;
    if (this.ordered.length < 1000) this.ordered.push(message);
    if (this.#messages.size < 5) this.#messages.add(`${code}: ${message}`);
  }
  get messages(): string[] {
    return [...this.#messages];
  }
  /** The error fields every report carries. */
  fields(): { errors: number; errorCodes: Record<string, number>; errorsByMessage: Record<string, number>; errorMessages: string[]; messages: string[] } {
    return { errors: this.count, errorCodes: this.codes, errorsByMessage: this.byMessage, errorMessages: this.ordered, messages: this.messages };
  }
}

export function printEvent(event: ContenderEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** The size of the database's `-wal` file, 0 when there is none. */
export function walBytes(database: string): number {
  try {
    return statSync(`${database}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * A flag that turns true when the parent closes our stdin, when the parent dies (stdin
 * closes, or we are handed to another parent), or at `maxMs`: a contender never outlives the
 * run that started it by more than one round.
 */
export function stopSignal(maxMs: number): { readonly stopped: boolean; readonly deadline: number; dispose(): void } {
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const parent = process.ppid;
  process.stdin.on('end', () => { stopped = true; }).on('error', () => { stopped = true; }).resume();
  const watch = setInterval(() => {
    if (process.ppid !== parent || Date.now() >= deadline) stopped = true;
  }, 200);
  watch.unref();
  // A parent that is gone cannot read the report: exit quietly instead of crashing on EPIPE.
  process.stdout.on('error', () => process.exit(0));
  return {
    get stopped() {
      return stopped || Date.now() >= deadline;
    },
    deadline,
    dispose() {
      clearInterval(watch);
      process.stdin.pause();
    },
  };
}

/**
 * Says `ready`, then runs `round` until told to stop. Each round is synchronous
 * (better-sqlite3), so the loop yields between rounds: that is when the parent's "stop"
 * (stdin closing) gets through.
 */
export async function runRounds(settings: ContenderSettings, round: () => void): Promise<number> {
  const stop = stopSignal(settings.maxMs);
  printEvent({ event: 'ready', pid: process.pid });
  const started = performance.now();
  try {
    while (!stop.stopped) {
      round();
      if (stop.stopped) break;
      if (settings.pauseMs > 0) await sleep(settings.pauseMs);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    stop.dispose();
  }
  return performance.now() - started;
}
