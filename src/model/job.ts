/** The job as every layer names it, and what a committed batch adds to its counts. */

/** Every state a job goes through, in the order of its life. */
export const JOB_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** One job of a source: the transactions of one league in one season. */
export interface JobRef {
  /** Stable id of the job (`job_log.job_id`, `transactions.job_id`). */
  jobId: string;
  /** The league key the user named (for Yahoo: the newest season's key, `{game_key}.l.{id}`). */
  leagueKey: string;
  season: number;
}

/**
 * What one committed batch adds to its job's counts. The writer's batch result carries these
 * fields and more; the job model needs only these, so it does not depend on the writer.
 */
export interface BatchCounts {
  rowCount: number;
  inserted: number;
  ignored: number;
  rejected: number;
  /** Attempts the transaction that committed this batch needed (1 = no retry). */
  attempts: number;
}
