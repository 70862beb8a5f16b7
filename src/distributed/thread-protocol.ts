/** What crosses between a worker process's main thread and its fetch threads. */
import type { FetchTask } from '../workers/protocol.js';

export interface FetchThreadData {
  /** The BroadcastChannel on which threads ask for request slots and the main thread grants them. */
  channel: string;
}

export interface ThreadTask {
  task: FetchTask;
  /** The writer's --rate: requests per second across every worker; 0 for no limit. */
  requestsPerSecond: number;
}

export interface SlotRequest {
  type: 'slot';
  /** Unique across the process's threads: the grant names it. */
  id: string;
  requestsPerSecond: number;
}

export interface SlotGrant {
  type: 'grant';
  id: string;
  /** How long to wait for the slot (ms). */
  waitMs: number;
  /** Set when no slot could be had: the request fails as transient. */
  error?: string;
}
