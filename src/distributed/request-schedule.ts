/**
 * One request schedule for every worker on every machine: the time of the next free request
 * slot, in a Redis key, advanced atomically by a script on Redis's own clock (so the machines'
 * clocks do not matter). Each HTTP request of a fetch thread reserves the next slot and waits
 * for it: the in-process SharedRateLimiter's rule, held in Redis instead of shared memory.
 * The key expires a minute after the last reservation, so nothing stays once a run is over.
 */
import type { Redis } from 'ioredis';

/** Reserves the next slot: returns how long (ms) the caller waits for it. */
const RESERVE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local nextSlot = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(nextSlot, now)
redis.call('SET', KEYS[1], string.format('%d', slot + tonumber(ARGV[1])), 'PX', ARGV[2])
return slot - now
`;

/** Moves the next slot at least `ARGV[1]` ms into the future: every worker pauses. */
const PAUSE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local nextSlot = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], string.format('%d', math.max(nextSlot, now + tonumber(ARGV[1]))), 'PX', ARGV[2])
return 1
`;

const IDLE_TTL_MS = 60_000;

interface ScheduleCommands {
  lbReserveRequestSlot(key: string, intervalMs: number, ttlMs: number): Promise<number>;
  lbPauseRequests(key: string, pauseMs: number, ttlMs: number): Promise<number>;
}

export class RequestSchedule {
  readonly #client: Redis & ScheduleCommands;
  readonly #key: string;

  constructor(client: Redis, prefix: string) {
    client.defineCommand('lbReserveRequestSlot', { numberOfKeys: 1, lua: RESERVE });
    client.defineCommand('lbPauseRequests', { numberOfKeys: 1, lua: PAUSE });
    this.#client = client as Redis & ScheduleCommands;
    this.#key = requestScheduleKey(prefix);
  }

  /** Milliseconds to wait for the next request slot at `requestsPerSecond` (rounded up to whole ms, so never faster). */
  reserve(requestsPerSecond: number): Promise<number> {
    const intervalMs = Math.max(1, Math.ceil(1000 / requestsPerSecond));
    return this.#client.lbReserveRequestSlot(this.#key, intervalMs, intervalMs + IDLE_TTL_MS);
  }

  /** No request anywhere for `ms`: what the API asks for when it throttles. */
  async pause(ms: number): Promise<void> {
    await this.#client.lbPauseRequests(this.#key, ms, ms + IDLE_TTL_MS);
  }
}

export function requestScheduleKey(prefix: string): string {
  return `${prefix}:request-schedule`;
}
