/**
 * The dashboard page: one self-contained HTML document (style and script inline, no CDN, no
 * external file), served with a Content-Security-Policy that allows exactly that inline
 * style and script by their hashes and nothing from elsewhere.
 */
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page's Content-Security-Policy: its own inline style and script, and fetches to itself. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(PAGE_SCRIPT)}`,
  `style-src ${hash(PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface PanelSpec {
  id: string;
  title: string;
  description: string;
  span: number;
  total?: boolean;
}

/** Every panel: its title, what it shows, and where its figures come from (docs/dashboard.md). */
const PANELS: readonly PanelSpec[] = [
  { id: 'jobs-state', title: 'Jobs by state', description: 'One job is one league and one season; a job appears when it starts · job_log.status', span: 4, total: true },
  { id: 'live', title: 'Rows per second · live', description: 'Rows inserted per second between this dashboard\'s samples (faint) and their 5-second average, over the last 1 to 5 minutes · job_log.rows_inserted', span: 8 },
  { id: 'rows-minute', title: 'Rows per second · per-minute average', description: 'Rows the writer committed, per second, averaged over each minute · writer_metrics.rows', span: 6, total: true },
  { id: 'locks', title: 'Lock waits per minute', description: 'Times another process held the write lock when the writer wanted it; the engine warns above 5 a minute, critical above 10 · writer_metrics.locks', span: 6, total: true },
  { id: 'holders', title: 'Who held the lock', description: 'Processes that held the write lock while the writer waited · writer_lock_holders', span: 5 },
  { id: 'holds', title: 'Longest lock holds', description: 'The longest one writer transaction held the write lock, per minute, against the default 100 ms budget · writer_metrics.max_hold_ms', span: 7, total: true },
  { id: 'wal', title: 'WAL and checkpoints', description: 'Size of the -wal file, its largest size per minute, checkpoints run and those a reader blocked · writer_metrics, writer_state', span: 6 },
  { id: 'neighbours', title: 'Neighbours', description: 'What other processes on the file experienced: gaps the writer left them (yields) and their commits it saw · writer_metrics', span: 6 },
  { id: 'alerts', title: 'Recent alerts', description: 'Lock rate (warning > 5/min, critical > 10/min), operations that needed more than 3 attempts (info), a pinned WAL · writer_alerts', span: 5, total: true },
  { id: 'jobs', title: 'Jobs', description: 'Running first, then failed, then the most recently updated · job_log', span: 7 },
  { id: 'writer', title: 'Writer and database', description: 'The engine holding the single-writer lease, and the file itself · writer_state, PRAGMA', span: 12 },
];

const KPIS: ReadonlyArray<{ id: string; label: string; progress?: boolean }> = [
  { id: 'rows-inserted', label: 'Rows inserted' },
  { id: 'rows-per-second', label: 'Rows per second' },
  { id: 'jobs', label: 'Jobs completed', progress: true },
  { id: 'transactions', label: 'Transactions' },
  { id: 'locks', label: 'Lock waits' },
  { id: 'wal', label: 'WAL size' },
  { id: 'alerts', label: 'Alerts' },
];

const LOGO = '<svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true"><rect x="2" y="13" width="4" height="9" rx="1" fill="#5794f2"/>'
  + '<rect x="8" y="8" width="4" height="14" rx="1" fill="#73bf69"/><rect x="14" y="4" width="4" height="18" rx="1" fill="#f2cc0c"/>'
  + '<rect x="20" y="10" width="2" height="12" rx="1" fill="#ff9830"/></svg>';

/** The page for one database. `title` is shown in the browser tab. */
export function renderPage(options: { databasePath: string }): string {
  const name = options.databasePath.split(/[\\/]/).pop() ?? options.databasePath;
  const kpis = KPIS.map((k) => `<div class="kpi" id="kpi-${k.id}" data-kpi="${k.id}"><div class="label">${escapeHtml(k.label)}</div>`
    + `<div class="value">–</div><div class="note">&nbsp;</div>${k.progress ? '<div class="progress"><div></div></div>' : ''}</div>`).join('\n');
  const panels = PANELS.map((p) => `<section class="panel span-${p.span}" id="panel-${p.id}" data-panel="${p.id}">`
    + `<h2>${escapeHtml(p.title)}${p.total ? `<span class="total" id="total-${p.id}"></span>` : ''}</h2>`
    + `<p class="desc" id="desc-${p.id}">${escapeHtml(p.description)}</p>`
    + `<div class="body" id="body-${p.id}"><div class="empty">Loading…</div></div></section>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${escapeHtml(name)} · league-backfill dashboard</title>
<link rel="icon" href="data:image/svg+xml,${encodeURIComponent(LOGO.replace('width="22" height="22" ', 'xmlns="http://www.w3.org/2000/svg" '))}">
<style>${PAGE_STYLE}</style>
</head>
<body>
<header class="top">
  <div class="brand">${LOGO}<span>league-backfill</span><span class="sub">dashboard</span></div>
  <div class="dbpath" id="dbpath"><span class="muted">Database </span><code>${escapeHtml(options.databasePath)}</code></div>
  <span class="status idle" id="status" data-status="loading"><span class="dot"></span>Loading…</span>
  <span class="updated" id="updated"></span>
  <nav class="links"><a href="metrics">/metrics</a><a href="api/snapshot">JSON</a></nav>
</header>
<main>
<div class="banner" id="banner" role="status"></div>
<section class="kpis">
${kpis}
</section>
<div class="grid">
${panels}
</div>
</main>
<footer>Read-only: the dashboard reads the database through one query_only connection, in one short read transaction per sample, and never takes the write lock. Times are this browser's local time. Figures: docs/dashboard.md · metrics: docs/metrics.md</footer>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
