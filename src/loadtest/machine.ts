/** The machine a load test ran on, for its report. */
import { cpus, loadavg } from 'node:os';
import Database from 'better-sqlite3';

export interface MachineInfo {
  node: string;
  sqlite: string;
  platform: string;
  cpus: number;
}

export function machineInfo(): MachineInfo {
  return { node: process.versions.node, sqlite: sqliteVersion(), platform: `${process.platform} ${process.arch}`, cpus: cpus().length };
}

/** The 1, 5 and 15 minute load averages, rounded: how busy the machine was besides the test. */
export function loadAverage(): number[] {
  return loadavg().map((value) => Number(value.toFixed(2)));
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return String(db.prepare('SELECT sqlite_version()').pluck().get());
  } finally {
    db.close();
  }
}
