/** Reader processes for the benchmarks: the same readers the load test runs (src/loadtest). */
import { ContenderGroup } from '../src/loadtest/contenders/spawn.js';

export interface Readers {
  stop(): Promise<{ queries: number; errors: number; p99Ms: number }>;
  kill(): void;
}

/** Starts `count` readers on `database` and resolves once each has run its first queries. */
export async function startReaders(database: string, count: number, pauseMs: number): Promise<Readers> {
  const group = new ContenderGroup();
  try {
    await group.startReaders(count, { database, maxMs: 10 * 60_000, pauseMs });
  } catch (error) {
    group.kill();
    throw error;
  }
  return {
    async stop() {
      const { readers } = await group.stop();
      return {
        queries: readers.reduce((sum, r) => sum + r.queries, 0),
        errors: readers.reduce((sum, r) => sum + r.errors, 0),
        p99Ms: Math.max(0, ...readers.map((r) => r.latency.p99)),
      };
    },
    kill: () => group.kill(),
  };
}
