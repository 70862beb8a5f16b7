/**
 * One HTTP exchange with a time limit, over Node's global fetch. Failures that a retry may
 * cure (network errors, timeouts) come back as data; an abort by the caller is thrown.
 */

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The whole body as text: Yahoo's throttle and error bodies are not JSON, so parsing comes later. */
  text: string;
}

export type HttpOutcome =
  | { ok: true; response: HttpResponse }
  | { ok: false; problem: string };

/**
 * Sends `request` and reads its whole body within `timeoutMs`. Rejects with the caller's
 * `signal.reason` when the caller aborts; a timeout or a network failure is an outcome
 * (`ok: false`) with a problem text that holds no header values.
 */
export async function sendOnce(request: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<HttpOutcome> {
  signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      // A redirect would carry the bearer token to wherever it points: treat it as an answer instead.
      redirect: 'manual',
      signal: combined,
    });
    const text = await response.text();
    return { ok: true, response: { status: response.status, headers: response.headers, text } };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted) return { ok: false, problem: `timed out after ${timeoutMs} ms` };
    return { ok: false, problem: `network error (${networkProblem(error)})` };
  }
}

/**
 * undici reports "fetch failed" and puts the reason (ECONNREFUSED, ECONNRESET, ...) in
 * `cause`. Only codes and messages are read: never the request.
 */
function networkProblem(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const message = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return message.slice(0, 200);
}

/** Statuses worth retrying: Yahoo's throttle (999), 408, 429 and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 999 || status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** A few words for a status in messages. */
export function statusLabel(status: number): string {
  if (status === 999) return 'HTTP 999, Yahoo throttling';
  if (status === 429) return 'HTTP 429, too many requests';
  if (status === 408) return 'HTTP 408, request timeout';
  if (status >= 500) return `HTTP ${status}, server error`;
  return `HTTP ${status}`;
}
