/** The load test's results as a text table, for the terminal and for the docs. */
import { percentileShown } from './results.js';
import type { ScenarioResult } from './scenario.js';

export interface Column {
  title: string;
  value: (result: ScenarioResult) => string;
  /** Numbers are right-aligned. */
  numeric: boolean;
}

/** Shown in place of a percentile computed from too few samples to differ from the maximum. */
export const NOT_ENOUGH = '-';

const integer = (value: number): string => Math.round(value).toLocaleString('en-US');
const ms = (value: number): string => integer(value);
/** A percentile, or NOT_ENOUGH when `count` samples cannot give one that differs from their maximum. */
const shown = (value: number | null, count: number, p: number): string => (value === null || !percentileShown(count, p) ? NOT_ENOUGH : ms(value));

export const RESULT_COLUMNS: readonly Column[] = [
  { title: 'Configuration', value: (r) => r.name, numeric: false },
  { title: 'Success', value: (r) => `${(r.successRate * 100).toFixed(1)} %`, numeric: true },
  { title: 'Lock errors', value: (r) => integer(r.lockErrors), numeric: true },
  { title: 'Retries', value: (r) => integer(r.retries), numeric: true },
  { title: 'Rows/s', value: (r) => integer(r.rowsPerSecond), numeric: true },
  {
    title: 'Commit p50/p95/p99 ms',
    value: (r) => `${ms(r.p50CommitMs)} / ${shown(r.p95CommitMs, r.commitLatencyMs.count, 95)} / ${shown(r.p99CommitMs, r.commitLatencyMs.count, 99)}`,
    numeric: true,
  },
  { title: 'Mem +MB', value: (r) => r.memoryDeltaMB.toFixed(0), numeric: true },
  { title: 'Reader q/s', value: (r) => integer(r.readerQueriesPerSecond), numeric: true },
  { title: 'Reader p99 ms', value: (r) => shown(r.readers.p99Ms, r.readers.p99Samples, 99), numeric: true },
  { title: 'Reader err', value: (r) => integer(r.readerErrors), numeric: true },
  { title: 'Legacy tx/s', value: (r) => r.legacyWriters.transactionsPerSecond.toFixed(1), numeric: true },
  { title: 'Legacy err', value: (r) => integer(r.legacyWriterErrors), numeric: true },
  { title: 'Legacy p99/max ms', value: (r) => `${shown(r.legacyWriters.p99Ms, r.legacyWriters.p99Samples, 99)} / ${ms(r.legacyWriters.maxMs)}`, numeric: true },
  { title: 'Rows lost', value: (r) => integer(r.rowsLost), numeric: true },
];

export function formatResultsTable(results: readonly ScenarioResult[]): string {
  const cells = results.map((result) => RESULT_COLUMNS.map((column) => column.value(result) + (column === RESULT_COLUMNS[0] && result.timedOut ? ' (timed out)' : '')));
  const widths = RESULT_COLUMNS.map((column, index) => Math.max(column.title.length, ...cells.map((row) => row[index]!.length)));
  const line = (values: readonly string[]): string => values
    .map((value, index) => (RESULT_COLUMNS[index]!.numeric ? value.padStart(widths[index]!) : value.padEnd(widths[index]!)))
    .join('  ')
    .trimEnd();
  const lines = [line(RESULT_COLUMNS.map((column) => column.title)), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)];
  const notes = tableNotes(results);
  return [...lines, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}

/** Footnotes the table needs: what a dash means, when one is shown. */
export function tableNotes(results: readonly ScenarioResult[]): string[] {
  const dashed = results.some((r) => RESULT_COLUMNS.some((column) => column.value(r).split(' / ').includes(NOT_ENOUGH)));
  return dashed ? [`${NOT_ENOUGH}: too few samples for that percentile to differ from the maximum (p95 needs 20, p99 needs 100).`] : [];
}
