/**
 * `--rate N` across every worker on every machine: one BullMQ global rate limit on the tasks
 * queue (`Queue.setGlobalRateLimit`), kept in the queue's metadata in Redis, so every worker
 * obeys the same settings without being told them.
 *
 * BullMQ counts jobs started in a window that opens with the first job and lasts `duration`.
 * One job per 1/N s, rather than N per second, keeps any one-second window at the server to
 * N requests plus one at a window's edge (N per second could put N at the end of one window
 * and N at the start of the next). Above 10 a second, max grows so windows stay >= 100 ms.
 */
export interface LimiterSettings {
  max: number;
  duration: number;
}

/**
 * With no rate limit the queue still gets a limiter, one too large to matter: BullMQ applies
 * a manual `Queue.rateLimit(ms)` (what a worker does on HTTP 999/429) only to a queue that
 * has a limiter.
 */
export const UNLIMITED: LimiterSettings = { max: 1_000_000_000, duration: 1000 };

export function limiterFor(requestsPerSecond: number): LimiterSettings {
  if (!(requestsPerSecond > 0) || !Number.isFinite(requestsPerSecond)) return UNLIMITED;
  const max = Math.max(1, Math.floor(requestsPerSecond / 10));
  // Rounded up, so the rate is never exceeded by rounding.
  const duration = Math.max(1, Math.ceil((1000 * max) / requestsPerSecond));
  return { max, duration };
}

/** True when the limiter is the stand-in for "no limit". */
export function isUnlimited(settings: LimiterSettings): boolean {
  return settings.max >= UNLIMITED.max;
}
