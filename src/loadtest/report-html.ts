/** The HTML report: the table, the recommendation, and charts over time, all inline (no script, nothing fetched). */
import type { LoadTestReport } from './run.js';
import { escapeXml, lineChart } from './svg.js';
import { RESULT_COLUMNS } from './table.js';

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
      points: [[0, 0] as const, ...result.timeline.map((point) => [point.t + report.settings.bucketMs / 1000, point.rowsCommitted] as const)],
    })),
  });
  const lockWaits = lineChart({
    title: 'Lock waits over time',
    xLabel: 'seconds since the backfill started',
    yLabel: 'ms waited for the write lock per second',
    series: report.configs.map((result) => ({ name: result.name, points: result.timeline.map((point) => [point.t, point.lockWaitMsPerSecond] as const) })),
  });
  const details = report.configs.map((result) => `<li><strong>${escapeXml(result.name)}</strong> (${escapeXml(result.description)}; journal mode ${escapeXml(result.journalMode)}):
    jobs ${result.jobs.completed} completed, ${result.jobs.failed} failed, ${result.jobs.cancelled} cancelled${result.timedOut ? ' (time limit reached)' : ''};
    ${result.locks} locks counted, ${result.transactions} transactions; readers ${result.readers.queries} queries, p99 ${result.readers.p99Ms} ms;
    legacy writers ${result.legacyWriters.transactions} transactions, p99 ${result.legacyWriters.p99Ms} ms, errors ${escapeXml(JSON.stringify(result.legacyWriters.errorCodes))}
    ${result.errorSamples.length > 0 ? `<br><code>${escapeXml(result.errorSamples[0]!)}</code>` : ''}</li>`).join('\n');
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
</style>
</head>
<body>
<h1>league-backfill load test</h1>
<p>${escapeXml(report.generatedAt)}: Node ${escapeXml(machine.node)}, SQLite ${escapeXml(machine.sqlite)}, ${escapeXml(machine.platform)}, ${machine.cpus} CPUs.
Workload: ${settings.jobs} demo jobs (${settings.leagues} leagues x seasons ${settings.seasons[0]}-${settings.seasons.at(-1)}), ${settings.rowsOffered.toLocaleString('en-US')} rows offered, at most ${settings.durationS} s per configuration.
Contention: ${settings.contention.readers} reader processes, ${settings.contention.legacyWriters} legacy writer processes; lock wait ${escapeXml(settings.lockWait)}.</p>
<p>Recommended configuration: <strong>${escapeXml(report.recommendation)}</strong>.</p>
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
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
