/**
 * What crosses Redis between the writer's process and the fetch workers: a task envelope on
 * the tasks queue, a result envelope on the writer's own results queue. Both are job data
 * (JSON); results never travel as BullMQ return values or through its events stream, which
 * copies return values and is trimmed only approximately.
 */
import type { FetchTask, FetchTaskOutcome } from '../workers/protocol.js';

/** Bumped when the envelopes change shape; the package version is checked as well. */
export const PROTOCOL = 1;

/** The one queue every worker of a prefix takes tasks from. */
export const TASKS_QUEUE = 'tasks';

/** BullMQ job names, for anyone reading the queue with other tools. */
export const TASK_JOB_NAME = 'fetch';
export const RESULT_JOB_NAME = 'result';

export interface TaskEnvelope {
  protocol: number;
  /** The writer's package version: a worker of another version refuses the task. */
  version: string;
  /** Unique in the run and free of `:` (BullMQ job ids may not hold one): the BullMQ job id of the task and of its result. */
  taskId: string;
  /** The writer's run: its heartbeat key and results queue derive from it. */
  runId: string;
  /** The results queue to put the outcome on (same key prefix as the tasks queue). */
  replyTo: string;
  /** The fetch task, with every credential removed from its source. */
  task: FetchTask;
  /**
   * The writer's --rate: requests per second across every worker; 0 for no limit. Every HTTP
   * request of the task takes a slot of the prefix's request schedule at this rate.
   */
  requestsPerSecond: number;
}

export interface ResultEnvelope {
  protocol: number;
  /** The worker's package version. */
  version: string;
  taskId: string;
  /** Which worker process ran it (`host:pid`), for logs. */
  worker: string;
  outcome: FetchTaskOutcome;
}

/** The results queue of one writer run. */
export function resultsQueueName(runId: string): string {
  return `results-${runId}`;
}

/** The run id in a results queue's name, or null for another queue. */
export function runIdOfResultsQueue(name: string): string | null {
  return /^results-([0-9a-f]{16})$/.exec(name)?.[1] ?? null;
}

/**
 * A key that exists while the writer of `runId` runs (it is refreshed with an expiry). Workers
 * skip tasks of a run whose writer is gone, and a writer that starts removes the results queues
 * of runs whose writer died.
 */
export function heartbeatKey(prefix: string, runId: string): string {
  return `${prefix}:writers:${runId}`;
}
