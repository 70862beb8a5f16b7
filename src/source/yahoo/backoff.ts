/** Retry timing for the Yahoo client: exponential backoff with jitter, and `Retry-After`. */

/** A server may ask for a long pause; past this we stop waiting and let the attempt count decide. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

export interface BackoffPolicy {
  /** Delay before the first retry, in milliseconds. */
  baseDelayMs: number;
  /** Longest delay, in milliseconds. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `retry` (1 for the first): `base * 2^(retry-1)`, times a jitter
 * from 0.5 to 1.5 so that workers throttled together do not come back together, capped.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, retry - 1);
  return Math.round(Math.min(policy.maxDelayMs, exponential * (0.5 + random())));
}

/**
 * Reads a `Retry-After` header: delay-seconds (`"120"`) or an HTTP date. Returns the delay in
 * milliseconds (0 for a date in the past, at most `MAX_RETRY_AFTER_MS`), or null when the
 * header is absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | null {
  if (header === null || header === undefined) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(MAX_RETRY_AFTER_MS, Number(value) * 1000);
  if (!/[a-z]/i.test(value)) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, time - now));
}
