/**
 * Connections to Redis: the URL's check, a form of it that is safe to print, a probe that
 * fails fast when the server is not there, and the long-lived client that reconnects.
 */
import type { Redis } from 'ioredis';
import { loadRedisLibraries, type RedisLibraries } from './libraries.js';
import { BackfillError, InvalidOptionError } from '../errors.js';

/** Longest pause between two reconnection attempts once a connection was lost. */
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * Checks a Redis URL (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS)
 * and returns it trimmed. `option` names where it came from, for the message.
 */
export function checkRedisUrl(value: unknown, option: string): string {
  const text = typeof value === 'string' ? value.trim() : value;
  let url: URL | null = null;
  if (typeof text === 'string') {
    try {
      url = new URL(text);
    } catch {
      url = null;
    }
  }
  if (url === null || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '' || !/^(\/\d{0,2})?$/.test(url.pathname)) {
    throw new InvalidOptionError(option, 'a Redis URL such as redis://127.0.0.1:6379 (redis:// or rediss://, optional /DB number)',
      typeof text === 'string' ? redactRedisUrl(text) : text);
  }
  return text as string;
}

/** The URL with its password (if any) replaced, for messages and logs. */
export function redactRedisUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') url.password = '***';
    return url.toString().replace(/\/$/, '');
  } catch {
    // Not a URL: hide anything between "://" and "@", where a password would sit.
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/**
 * Connects once, without retrying, and pings: resolves when the server answers within
 * `timeoutMs`, else throws `ERR_INVALID_OPTION` naming the URL (an unreachable Redis at start
 * is a setting to fix, like a wrong path). Nothing is left open either way.
 */
export async function probeRedis(url: string, timeoutMs: number, option: string): Promise<void> {
  const { Redis } = await loadRedisLibraries();
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
  });
  let lastError: Error | undefined;
  probe.on('error', (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await probe.connect();
        await probe.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    const reason = describeConnectionError(lastError ?? error);
    throw new BackfillError('ERR_INVALID_OPTION',
      `Cannot reach Redis at ${redactRedisUrl(url)} (${reason}). Start redis-server there, or give the right URL with ${option}.`,
      { cause: error });
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/**
 * The long-lived client: blocking commands need `maxRetriesPerRequest: null` (BullMQ requires
 * it), so commands wait in the offline queue through an outage and are sent on reconnection;
 * reconnection is tried every 200 ms to 2 s, for ever. Whoever owns the client decides how
 * long an outage may last.
 */
export function createRedisClient(libraries: RedisLibraries, url: string, connectionName: string): Redis {
  const client = new libraries.Redis(url, {
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    connectTimeout: 5000,
    connectionName,
    retryStrategy: (times: number) => Math.min(times * 200, MAX_RECONNECT_DELAY_MS),
  });
  return client;
}

/** A short reason for a failed connection: the system error code when there is one. */
export function describeConnectionError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 200);
}

/** Errors of a lost connection: expected during an outage, which is reported once on its own. */
export function isConnectionError(error: Error): boolean {
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|connect ETIMEDOUT/.test(error.message);
}

/** Runs `step` but gives up after `ms`: closing must finish even when Redis is gone. */
export async function withTimeout<T>(step: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([step, new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
