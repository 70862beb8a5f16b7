/** The load test's results as a text table, for the terminal and for the docs. */
import type { ScenarioResult } from './scenario.js';

export interface Column {
  title: string;
  value: (result: ScenarioResult) => string;
  /** Numbers are right-aligned. */
  numeric: boolean;
}

const integer = (value: number): string => Math.round(value).toLocaleString('en-US');

export const RESULT_COLUMNS: readonly Column[] = [
  { title: 'Configuration', value: (r) => r.name, numeric: false },
  { title: 'Success', value: (r) => `${(r.successRate * 100).toFixed(1)} %`, numeric: true },
  { title: 'Lock errors', value: (r) => integer(r.lockErrors), numeric: true },
  { title: 'Retries', value: (r) => integer(r.retries), numeric: true },
  { title: 'Rows/s', value: (r) => integer(r.rowsPerSecond), numeric: true },
  { title: 'Commit p50/p95/p99 ms', value: (r) => `${r.p50CommitMs.toFixed(0)} / ${r.p95CommitMs.toFixed(0)} / ${r.p99CommitMs.toFixed(0)}`, numeric: true },
  { title: 'Mem +MB', value: (r) => r.memoryDeltaMB.toFixed(0), numeric: true },
  { title: 'Reader q/s', value: (r) => integer(r.readerQueriesPerSecond), numeric: true },
  { title: 'Reader err', value: (r) => integer(r.readerErrors), numeric: true },
  { title: 'Legacy err', value: (r) => integer(r.legacyWriterErrors), numeric: true },
  { title: 'Rows lost', value: (r) => integer(r.rowsLost), numeric: true },
];

export function formatResultsTable(results: readonly ScenarioResult[]): string {
  const cells = results.map((result) => RESULT_COLUMNS.map((column) => column.value(result) + (column === RESULT_COLUMNS[0] && result.timedOut ? ' (timed out)' : '')));
  const widths = RESULT_COLUMNS.map((column, index) => Math.max(column.title.length, ...cells.map((row) => row[index]!.length)));
  const line = (values: readonly string[]): string => values
    .map((value, index) => (RESULT_COLUMNS[index]!.numeric ? value.padStart(widths[index]!) : value.padEnd(widths[index]!)))
    .join('  ')
    .trimEnd();
  return [line(RESULT_COLUMNS.map((column) => column.title)), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}
