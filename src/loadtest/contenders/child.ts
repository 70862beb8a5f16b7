/**
 * The life of a contender process: read its settings, say when it is ready, run rounds until
 * the parent closes its stdin (or `maxMs` passes), then print its report. Only contender entry
 * files use this.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { READY_LINE, type ContenderReport, type ContenderSettings } from './protocol.js';

export function readSettings<T extends ContenderSettings>(): T {
  const text = process.argv[2];
  if (!text) throw new Error('a contender needs its settings as a JSON argument');
  return JSON.parse(text) as T;
}

/** Tallies errors by SQLite code and keeps a few distinct messages. */
export class ErrorTally {
  readonly codes: Record<string, number> = {};
  readonly #messages = new Set<string>();
  count = 0;
  add(error: unknown): void {
    const code = String((error as { code?: unknown }).code ?? 'unknown');
    this.count++;
    this.codes[code] = (this.codes[code] ?? 0) + 1;
    if (this.#messages.size < 5) this.#messages.add(`${code}: ${(error as Error).message}`);
  }
  get messages(): string[] {
    return [...this.#messages];
  }
}

/**
 * Runs `round` until told to stop. Each round is synchronous (better-sqlite3), so the loop
 * yields between rounds: that is when the parent's "stop" (stdin closing) gets through.
 */
export async function runRounds(settings: ContenderSettings, round: () => void): Promise<number> {
  let stopping = false;
  process.stdin.on('end', () => { stopping = true; }).on('error', () => { stopping = true; }).resume();
  const deadline = Date.now() + settings.maxMs;
  round();
  process.stdout.write(`${READY_LINE}\n`);
  const started = performance.now();
  while (!stopping && Date.now() < deadline) {
    if (settings.pauseMs > 0) await sleep(settings.pauseMs);
    else await new Promise((resolve) => setImmediate(resolve));
    if (stopping) break;
    round();
  }
  process.stdin.pause();
  return performance.now() - started;
}

export function printReport(report: ContenderReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
