import { BackfillError, InvalidOptionError } from '../errors.js';
import type { BatchCounts, JobRef, JobState } from '../model/index.js';

export type { JobState };

export interface JobRequest {
  /** The league, as `{game_key}.l.{league_id}` (for Yahoo: the newest season's key). */
  leagueKey: string;
  season: number;
  /** Redo the job even when job_log says it is completed. @default false */
  force?: boolean;
  /**
   * The league holds rows written from another source (say, made-up demo rows under a real
   * league key): delete this season's rows of it and fetch it again from this engine's
   * source. Without it such a job fails with ERR_SOURCE_MISMATCH. @default false
   */
  replaceSource?: boolean;
}

export interface JobSummary {
  jobId: string;
  leagueKey: string;
  season: number;
  status: JobState;
  /** True when the job was already completed and was not run again. */
  skipped: boolean;
  cursor: number;
  pagesCommitted: number;
  rowsFetched: number;
  rowsInserted: number;
  rowsIgnored: number;
  rowsRejected: number;
  maxAttempts: number;
  durationMs: number;
  error?: string;
}

export interface JobHandle {
  readonly id: string;
  readonly leagueKey: string;
  readonly season: number;
  readonly state: JobState;
  /** Resolves with the summary when the job completes; rejects with a typed error when it fails or is cancelled. */
  readonly done: Promise<JobSummary>;
}

const LEAGUE_KEY = /^(\d+|[a-z]+)\.l\.\d+$/;

/** The job id: one league, one season. It is `job_log.job_id` and `transactions.job_id`. */
export function jobIdOf(leagueKey: string, season: number): string {
  return `${leagueKey}:${season}`;
}

export function validateJobRequest(request: JobRequest): JobRequest {
  if (request === null || typeof request !== 'object') throw new InvalidOptionError('job', 'an object with leagueKey and season', request);
  if (typeof request.leagueKey !== 'string' || !LEAGUE_KEY.test(request.leagueKey)) {
    throw new InvalidOptionError('leagueKey', 'a league key of the form {game_key}.l.{league_id}, e.g. 423.l.12345', request.leagueKey);
  }
  if (!Number.isInteger(request.season) || request.season < 1900 || request.season > 2200) {
    throw new InvalidOptionError('season', 'a year such as 2023', request.season);
  }
  if (request.force !== undefined && typeof request.force !== 'boolean') throw new InvalidOptionError('force', 'a boolean', request.force);
  if (request.replaceSource !== undefined && typeof request.replaceSource !== 'boolean') throw new InvalidOptionError('replaceSource', 'a boolean', request.replaceSource);
  return request;
}

/**
 * One job's state in this process. Its durable state (cursor, counters, status) is in job_log,
 * written by the writer in the same transactions as its rows; this mirrors it for events.
 */
export class Job {
  readonly id: string;
  readonly request: JobRequest;
  readonly sourceKind: string;
  readonly handle: JobHandle;
  readonly settled: Promise<void>;
  #state: JobState = 'queued';
  #error: BackfillError | undefined;
  #cursor = 0;
  #pages = 0;
  #fetched = 0;
  #inserted = 0;
  #ignored = 0;
  #rejected = 0;
  #maxAttempts = 0;
  #startedAt: number | undefined;
  #final: JobSummary | undefined;
  #inFlight = 0;
  #quiet: Array<() => void> = [];
  #resolve!: (summary: JobSummary) => void;
  #reject!: (error: Error) => void;
  #settle!: () => void;

  constructor(request: JobRequest, sourceKind: string) {
    this.request = validateJobRequest(request);
    this.sourceKind = sourceKind;
    this.id = jobIdOf(request.leagueKey, request.season);
    const done = new Promise<JobSummary>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers that only listen to events need not await `done`: never an unhandled rejection.
    done.catch(() => undefined);
    this.settled = new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
    const job = this;
    this.handle = {
      id: this.id,
      leagueKey: request.leagueKey,
      season: request.season,
      get state() {
        return job.#state;
      },
      done,
    };
  }

  get ref(): JobRef {
    return { jobId: this.id, leagueKey: this.request.leagueKey, season: this.request.season };
  }

  get state(): JobState {
    return this.#state;
  }

  get ended(): boolean {
    return this.#state === 'completed' || this.#state === 'failed' || this.#state === 'cancelled';
  }

  get error(): BackfillError | undefined {
    return this.#error;
  }

  markRunning(cursor: number): void {
    this.#state = 'running';
    this.#cursor = cursor;
    this.#startedAt = performance.now();
  }

  /** Time since the job started running (0 before). */
  get elapsedMs(): number {
    return this.#startedAt === undefined ? 0 : performance.now() - this.#startedAt;
  }

  /** Counts a batch handed to the queue; `quiesce()` waits until every one is settled. */
  track<T>(commit: Promise<T>): Promise<T> {
    this.#inFlight++;
    const settle = (): void => {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const wake of this.#quiet.splice(0)) wake();
    };
    commit.then(settle, settle);
    return commit;
  }

  quiesce(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#quiet.push(resolve));
  }

  /** Records the first failure; the job's loop stops at its next step. */
  fail(error: Error): void {
    this.#error ??= error instanceof BackfillError ? error : new BackfillError('ERR_INTERNAL', error.message, { cause: error });
  }

  /** Counts the attempts of the job's start or end (its batches' come with addCommitted). */
  addAttempts(attempts: number): void {
    this.#maxAttempts = Math.max(this.#maxAttempts, attempts);
  }

  addCommitted(result: BatchCounts, cursor: number | null): void {
    if (cursor !== null) {
      this.#cursor = cursor;
      this.#pages++;
    }
    this.#fetched += result.rowCount;
    this.#inserted += result.inserted;
    this.#ignored += result.ignored;
    this.#rejected += result.rejected;
    this.#maxAttempts = Math.max(this.#maxAttempts, result.attempts);
  }

  summary(durationMs: number, skipped = false): JobSummary {
    const summary: JobSummary = {
      jobId: this.id,
      leagueKey: this.request.leagueKey,
      season: this.request.season,
      status: this.#state,
      skipped,
      cursor: this.#cursor,
      pagesCommitted: this.#pages,
      rowsFetched: this.#fetched,
      rowsInserted: this.#inserted,
      rowsIgnored: this.#ignored,
      rowsRejected: this.#rejected,
      maxAttempts: this.#maxAttempts,
      durationMs,
    };
    if (this.#error && this.#state !== 'completed') summary.error = this.#error.message;
    return summary;
  }

  /** Settles the job. Idempotent: a job ends once, and a second call returns the first summary. */
  end(state: 'completed' | 'failed' | 'cancelled', durationMs: number, extra: { skipped?: boolean; error?: BackfillError } = {}): JobSummary {
    if (this.#final) return this.#final;
    this.#state = state;
    if (extra.error) this.#error ??= extra.error;
    const summary = this.summary(durationMs, extra.skipped ?? false);
    if (state === 'completed') {
      this.#resolve(summary);
    } else {
      const error = new BackfillError(state === 'failed' ? 'ERR_JOB_FAILED' : 'ERR_ABORTED',
        `Job ${this.id} ${state}: ${this.#error?.message ?? 'no reason recorded'}`, { cause: this.#error });
      Object.assign(error, { summary });
      this.#reject(error);
    }
    this.#settle();
    this.#final = summary;
    return summary;
  }
}
