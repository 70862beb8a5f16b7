/** The HTML report: the table, the recommendation, and charts over time, all inline (no script, nothing fetched). */
import { percentileShown, type ScenarioResult } from './results.js';
import type { LoadTestReport } from './run.js';
import { escapeXml, lineChart } from './svg.js';
import { RESULT_COLUMNS, tableNotes } from './table.js';

/** `1 reader`, `2 readers`. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? noun : nouns}`;
}

/** Counts by name as words (`SQLITE_BUSY x2, SQLITE_LOCKED x1`), `none` for none: never a raw `{}`. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).filter(([, count]) => count > 0);
  return entries.length === 0 ? 'none' : entries.map(([name, count]) => `${name} x${count}`).join(', ');
}

/** A latency for reading: one decimal under 10 ms, whole milliseconds above. */
const ms = (value: number): string => `${value < 10 ? Number(value.toFixed(1)) : Math.round(value).toLocaleString('en-US')} ms`;

function detailsOf(result: ScenarioResult): string {
  const { readers, legacyWriters: writers } = result;
  // A p99 of too few samples is the maximum under another name: say only the maximum then.
  const readerP99 = percentileShown(readers.p99Samples, 99) ? `p99 ${ms(readers.p99Ms)}, ` : '';
  const writerP99 = percentileShown(writers.p99Samples, 99) ? `p99 ${ms(writers.p99Ms)}, ` : '';
  const parts = [
    `jobs ${result.jobs.completed} completed, ${result.jobs.failed} failed, ${result.jobs.cancelled} cancelled${result.timedOut ? ' (time limit reached)' : ''}`,
    `${plural(result.locks, 'lock')} counted, ${plural(result.transactions, 'transaction')} (longest commit ${ms(result.maxCommitMs)})`,
    `${readers.count === 1 ? 'reader' : 'readers'}: ${plural(readers.queries, 'query', 'queries')}, ${readerP99}longest ${ms(readers.maxMs)}, errors ${formatCounts(readers.errorsByMessage)}`,
    `${writers.count === 1 ? 'legacy writer' : 'legacy writers'}: ${plural(writers.transactions, 'transaction')} (${writers.transactionsPerSecond}/s), ` +
      `p50 ${ms(writers.p50Ms)}, ${writerP99}longest wait ${ms(writers.maxMs)}, errors ${formatCounts(writers.errorsByMessage)}`,
    result.neighbours.ok ? 'neighbours: no error, no wait past 1 s' : `neighbours: ${result.neighbours.problems.join('; ')}`,
  ];
  return `<li><strong>${escapeXml(result.name)}</strong> (${escapeXml(result.description)}; journal mode ${escapeXml(result.journalMode)}): ${escapeXml(parts.join('; '))}` +
    `${result.errorSamples.length > 0 ? `<br><code>${escapeXml(result.errorSamples[0]!)}</code>` : ''}</li>`;
}

export function renderHtmlReport(report: LoadTestReport): string {
  const { settings, machine } = report;
  const head = RESULT_COLUMNS.map((column) => `<th>${escapeXml(column.title)}</th>`).join('');
  const rows = report.configs.map((result) => {
    const cells = RESULT_COLUMNS.map((column) => `<td class="${column.numeric ? 'num' : ''}">${escapeXml(column.value(result))}</td>`).join('');
    return `<tr${result.name === report.recommended ? ' class="recommended"' : ''}>${cells}</tr>`;
  }).join('\n');
  // Cumulative rows, not rows per bucket: group commits land in bursts, and the slope reads as throughput.
  const throughput = lineChart({
    title: 'Throughput: rows committed over time (steeper is faster)',
    xLabel: 'seconds since the backfill started',
    yLabel: 'rows committed',
    series: report.configs.map((result) => ({
      name: result.name,
      points: [[0, 0] as const, ...result.timeline.map((point) => [point.t + result.timelineBucketMs / 1000, point.rowsCommitted] as const)],
    })),
  });
  const lockWaits = lineChart({
    title: 'Lock waits over time',
    xLabel: 'seconds since the backfill started',
    yLabel: 'ms waited for the write lock per second',
    series: report.configs.map((result) => ({ name: result.name, points: result.timeline.map((point) => [point.t, point.lockWaitMsPerSecond] as const) })),
  });
  const details = report.configs.map(detailsOf).join('\n');
  const notes = tableNotes(report.configs).map((note) => `<p class="note">${escapeXml(note)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>league-backfill load test</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.recommended td { background: #e8f5e9; font-weight: bold; }
code { font-size: 90%; }
p.note { font-size: 90%; color: #555; }
</style>
</head>
<body>
<h1>league-backfill load test</h1>
<p>${escapeXml(report.generatedAt)}: Node ${escapeXml(machine.node)}, SQLite ${escapeXml(machine.sqlite)}, ${escapeXml(machine.platform)}, ${machine.cpus} CPUs.
Workload: ${settings.jobs} demo jobs (${settings.leagues} leagues x seasons ${settings.seasons[0]}-${settings.seasons.at(-1)}), ${settings.rowsOffered.toLocaleString('en-US')} rows offered, at most ${settings.durationS} s per configuration.
Contention: ${plural(settings.contention.readers, 'reader process', 'reader processes')}, ${plural(settings.contention.legacyWriters, 'legacy writer process', 'legacy writer processes')}
(${settings.contention.legacyRowsPerTransaction} rows a transaction, ${settings.contention.legacyPauseMs} ms apart); lock wait ${escapeXml(settings.lockWait)}.</p>
<p>Recommended configuration: <strong>${escapeXml(report.recommendation)}</strong>.</p>
<p>A configuration that loses rows, or makes a neighbour (a reader or a legacy writer) fail or wait past 1 s, is never recommended.
${settings.noise.rowsPerSecond.length === 2 ? `Noise: ${escapeXml(settings.noise.configuration)} ran twice, ${settings.noise.rowsPerSecond.map((rate) => rate.toLocaleString('en-US')).join(' and ')} rows/s (${(settings.noise.measuredSpread * 100).toFixed(0)} % apart); differences in throughput up to ${(settings.noise.used * 100).toFixed(0)} % are taken for noise.` : ''}</p>
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
${notes}
<figure>${throughput}</figure>
<figure>${lockWaits}</figure>
<h2>Details</h2>
<ul>
${details}
</ul>
</body>
</html>
`;
}
