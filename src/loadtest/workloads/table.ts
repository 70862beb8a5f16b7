/** The comparison as one text table, a row per profile and mix, for the terminal and the docs. */
import { percentileShown } from '../results.js';
import type { WorkloadCell } from './cells.js';

interface Column {
  title: string;
  value: (cell: WorkloadCell) => string;
  numeric: boolean;
}

const integer = (value: number): string => Math.round(value).toLocaleString('en-US');
/** A p99 from fewer than 100 samples is the maximum under another name: shown as `-`. */
const p99 = (value: number, samples: number): string => (percentileShown(samples, 99) ? integer(value) : '-');

const COLUMNS: readonly Column[] = [
  { title: 'Mix', value: (c) => c.mix, numeric: false },
  { title: 'Profile', value: (c) => `${c.profile}${c.timedOut ? ' (timed out)' : ''}`, numeric: false },
  { title: 'Rows/s', value: (c) => integer(c.engineRowsPerSecond), numeric: true },
  { title: 'Reader q/s', value: (c) => integer(c.readerQueriesPerSecond), numeric: true },
  { title: 'Reader p99 ms', value: (c) => p99(c.readerP99Ms, c.readerP99Samples), numeric: true },
  { title: 'Writer tx/s', value: (c) => c.writerCommitsPerSecond.toFixed(1), numeric: true },
  { title: 'Writer p99/max ms', value: (c) => `${p99(c.writerP99Ms, c.writerP99Samples)} / ${integer(c.writerMaxMs)}`, numeric: true },
  { title: 'Writer err', value: (c) => integer(c.writerErrors), numeric: true },
  { title: 'Lock errors', value: (c) => integer(c.lockErrors), numeric: true },
  { title: 'WAL max MB', value: (c) => (c.walMaxBytes / (1024 * 1024)).toFixed(1), numeric: true },
  { title: 'Pragmas', value: (c) => (c.pragmasInForce ? 'in force' : 'NOT in force'), numeric: false },
];

export function formatWorkloadTable(cells: readonly WorkloadCell[]): string {
  const rows = cells.map((cell) => COLUMNS.map((column) => column.value(cell)));
  const widths = COLUMNS.map((column, index) => Math.max(column.title.length, ...rows.map((row) => row[index]!.length)));
  const line = (values: readonly string[]): string => values
    .map((value, index) => (COLUMNS[index]!.numeric ? value.padStart(widths[index]!) : value.padEnd(widths[index]!)))
    .join('  ')
    .trimEnd();
  const lines = [line(COLUMNS.map((column) => column.title)), line(widths.map((width) => '-'.repeat(width)))];
  cells.forEach((cell, index) => {
    // A blank line between mixes: each mix is compared on its own.
    if (index > 0 && cells[index - 1]!.mix !== cell.mix) lines.push('');
    lines.push(line(rows[index]!));
  });
  const dashed = rows.some((row) => row.some((value) => value === '-' || value.startsWith('- /')));
  if (dashed) lines.push('', '-: too few samples for a p99 that differs from the maximum (p99 needs 100).');
  if (cells.some((cell) => cell.runs > 1)) lines.push(`Medians of ${Math.max(...cells.map((cell) => cell.runs))} runs; errors and lock errors are totals, max is the largest.`);
  return lines.join('\n');
}
