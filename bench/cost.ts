/**
 * The cost of a row: bytes the process caused to be written to disk and CPU time, read around
 * a piece of work. Both are process-wide (every thread of the process), which is what a user
 * comparing tools sees, and what makes the engine (main thread, fetch workers, writer thread)
 * comparable with a raw insert on one thread.
 */
import { readFileSync } from 'node:fs';

export interface CostSample {
  /** `write_bytes` of /proc/self/io: bytes sent (or to be sent) to the block device, counted when pages are dirtied. */
  writeBytes: number;
  /** `cancelled_write_bytes`: dirtied bytes never written because the file was deleted or truncated first (a WAL reset, a temp file). */
  cancelledWriteBytes: number;
  /** User + system CPU of the whole process (ms). */
  cpuMs: number;
  wallMs: number;
}

export interface RowCost {
  rows: number;
  writeBytesPerRow: number;
  cpuMsPer1000Rows: number;
  /** CPU time over wall time: 2 means both cores were busy throughout. */
  cores: number;
}

function readIo(): { writeBytes: number; cancelledWriteBytes: number } {
  let text: string;
  try {
    text = readFileSync('/proc/self/io', 'utf8');
  } catch {
    // Not Linux, or /proc hidden: CPU is still measured, bytes are reported as NaN.
    return { writeBytes: Number.NaN, cancelledWriteBytes: Number.NaN };
  }
  const value = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { writeBytes: value('write_bytes'), cancelledWriteBytes: value('cancelled_write_bytes') };
}

export function sampleCost(): CostSample {
  const io = readIo();
  const cpu = process.cpuUsage();
  return { ...io, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() };
}

export function costSince(before: CostSample, rows: number): RowCost & { writeBytes: number; cancelledWriteBytes: number; cpuMs: number } {
  const after = sampleCost();
  const writeBytes = after.writeBytes - before.writeBytes;
  const cpuMs = after.cpuMs - before.cpuMs;
  return {
    rows,
    writeBytes,
    cancelledWriteBytes: after.cancelledWriteBytes - before.cancelledWriteBytes,
    cpuMs,
    writeBytesPerRow: Number((writeBytes / rows).toFixed(1)),
    cpuMsPer1000Rows: Number(((cpuMs * 1000) / rows).toFixed(2)),
    cores: Number((cpuMs / (after.wallMs - before.wallMs)).toFixed(2)),
  };
}

/** Runs `work` and returns its result with what it cost per row. */
export async function withCost<T>(rows: number | ((value: T) => number), work: () => T | Promise<T>): Promise<{ value: T; cost: RowCost }> {
  const before = sampleCost();
  const value = await work();
  const count = typeof rows === 'function' ? rows(value) : rows;
  const { writeBytesPerRow, cpuMsPer1000Rows, cores } = costSince(before, count);
  return { value, cost: { rows: count, writeBytesPerRow, cpuMsPer1000Rows, cores } };
}

export function formatCost(cost: RowCost): string {
  return `${Math.round(cost.writeBytesPerRow).toLocaleString('en-US')} B written/row, ${cost.cpuMsPer1000Rows.toFixed(1)} CPU ms/1,000 rows (${cost.cores.toFixed(2)} cores)`;
}
