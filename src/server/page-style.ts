/** The dashboard's stylesheet, inlined in the page (no external file, works offline). */
export const PAGE_STYLE = String.raw`
:root {
  --bg: #0f1115; --panel: #171a1f; --panel-2: #1d2127; --border: #2a2f37; --text: #d9dce1; --muted: #8b93a1; --faint: #5b6270;
  --green: #73bf69; --yellow: #f2cc0c; --red: #f2495c; --blue: #5794f2; --orange: #ff9830; --purple: #b877d9; --cyan: #4fc3d9; --grey: #8b93a1;
  --radius: 6px;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text); }
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; -webkit-font-smoothing: antialiased; }
.num, td.n, .kpi .value, .legend .count { font-variant-numeric: tabular-nums; }
a { color: var(--blue); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--text); background: var(--panel-2); padding: 1px 4px; border-radius: 3px; }

header.top { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: var(--panel); border-bottom: 1px solid var(--border); position: sticky; top: 0; z-index: 2; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 600; font-size: 15px; white-space: nowrap; }
.brand svg { flex: none; }
.brand .sub { color: var(--muted); font-weight: 400; }
.dbpath { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; flex: 1; }
.dbpath code { background: transparent; padding: 0; color: var(--text); }
.status { display: inline-flex; align-items: center; gap: 8px; padding: 4px 10px; border-radius: 999px; border: 1px solid var(--border); background: var(--panel-2); white-space: nowrap; font-weight: 500; }
.status .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--grey); }
.status.running .dot { background: var(--green); box-shadow: 0 0 0 0 rgba(115,191,105,.7); animation: pulse 1.6s infinite; }
.status.idle .dot { background: var(--grey); }
.status.warn .dot { background: var(--yellow); }
.status.error .dot { background: var(--red); }
@keyframes pulse { 0% { box-shadow: 0 0 0 0 rgba(115,191,105,.6); } 70% { box-shadow: 0 0 0 7px rgba(115,191,105,0); } 100% { box-shadow: 0 0 0 0 rgba(115,191,105,0); } }
.updated { color: var(--muted); white-space: nowrap; }
.links { display: flex; gap: 12px; white-space: nowrap; }

main { padding: 16px 20px 8px; max-width: 1680px; margin: 0 auto; }
.banner { display: none; margin: 0 0 12px; padding: 10px 14px; border-radius: var(--radius); border: 1px solid; }
.banner.show { display: block; overflow-wrap: anywhere; }
.banner.error { border-color: rgba(242,73,92,.5); background: rgba(242,73,92,.1); }
.banner.warn { border-color: rgba(242,204,12,.45); background: rgba(242,204,12,.08); }
.banner.info { border-color: rgba(87,148,242,.45); background: rgba(87,148,242,.08); }

.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 12px; }
.kpi { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 12px 14px 10px; position: relative; overflow: hidden; }
.kpi::before { content: ""; position: absolute; left: 0; top: 0; bottom: 0; width: 3px; background: var(--accent, var(--blue)); }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 26px; font-weight: 600; line-height: 1.25; margin-top: 2px; white-space: nowrap; }
.kpi .value .unit { font-size: 14px; color: var(--muted); font-weight: 500; margin-left: 3px; }
.kpi .note { color: var(--muted); font-size: 12px; line-height: 1.35; min-height: 2.7em; overflow-wrap: anywhere; }
.kpi .progress { height: 4px; background: var(--panel-2); border-radius: 2px; margin-top: 6px; overflow: hidden; }
.kpi .progress > div { height: 100%; background: var(--green); width: 0; transition: width .4s; }

.grid { display: grid; grid-template-columns: repeat(12, minmax(0, 1fr)); gap: 12px; }
.panel { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); display: flex; flex-direction: column; min-width: 0; }
.panel > h2 { margin: 0; padding: 10px 14px 0; font-size: 14px; font-weight: 600; display: flex; align-items: baseline; gap: 8px; }
.panel > h2 .total { margin-left: auto; color: var(--muted); font-weight: 400; font-size: 12px; }
.panel > p.desc { margin: 2px 14px 6px; color: var(--muted); font-size: 12px; }
.panel .body { padding: 6px 14px 12px; flex: 1; min-height: 60px; }
.span-3 { grid-column: span 3; } .span-4 { grid-column: span 4; } .span-5 { grid-column: span 5; } .span-6 { grid-column: span 6; } .span-7 { grid-column: span 7; } .span-8 { grid-column: span 8; } .span-12 { grid-column: span 12; }
@media (max-width: 1200px) { .span-3, .span-4, .span-5 { grid-column: span 6; } .span-7, .span-8 { grid-column: span 12; } }
@media (max-width: 800px) { .grid > .panel { grid-column: span 12; } header.top { flex-wrap: wrap; } }

.empty { display: flex; align-items: center; justify-content: center; text-align: center; min-height: 120px; color: var(--muted); border: 1px dashed var(--border); border-radius: var(--radius); padding: 12px 18px; }
.empty b { color: var(--text); font-weight: 500; }

svg.chart { display: block; width: 100%; overflow: visible; }
svg.chart text { fill: var(--muted); font-size: 11px; font-family: inherit; }
svg.chart .grid-line { stroke: var(--border); stroke-width: 1; shape-rendering: crispEdges; }
svg.chart .axis-line { stroke: #3a404a; shape-rendering: crispEdges; }
svg.chart .bar { transition: opacity .15s; }
svg.chart .bar:hover, svg.chart .hit:hover + .bar { opacity: .75; }
svg.chart .threshold { stroke-dasharray: 4 3; stroke-width: 1.2; }
svg.chart text.threshold-label { font-size: 10.5px; font-weight: 600; }
svg.chart text.idle-note { font-size: 12px; fill: var(--faint); }
svg.chart .line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .line.raw { stroke-width: 1; opacity: .35; }
.chart-legend { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); font-size: 12px; margin: 2px 0 4px; }
.chart-legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }

.stack { display: flex; height: 14px; border-radius: 3px; overflow: hidden; background: var(--panel-2); margin: 6px 0 12px; }
.stack > div { height: 100%; transition: width .4s; }
.legend { display: grid; grid-template-columns: 1fr auto auto; gap: 4px 14px; align-items: center; }
.legend .name { display: flex; align-items: center; gap: 8px; }
.legend .swatch { width: 10px; height: 10px; border-radius: 2px; }
.legend .count { text-align: right; font-weight: 600; }
.legend .pct { text-align: right; color: var(--muted); min-width: 52px; }

table { width: 100%; border-collapse: collapse; }
th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; padding: 4px 8px; border-bottom: 1px solid var(--border); white-space: nowrap; }
td { padding: 5px 8px; border-bottom: 1px solid #22262d; vertical-align: top; }
tr:last-child td { border-bottom: 0; }
td.n, th.n { text-align: right; white-space: nowrap; }
td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
td.err { color: var(--red); font-size: 12px; }
td.clip { max-width: 340px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 3px; font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; color: #0f1115; }
.badge.queued, .badge.cancelled { background: var(--grey); }
.badge.running { background: var(--blue); }
.badge.completed { background: var(--green); }
.badge.failed, .badge.critical { background: var(--red); }
.badge.cancelled { background: var(--orange); }
.badge.warning { background: var(--yellow); }
.badge.info { background: var(--blue); }

.alerts { list-style: none; margin: 0; padding: 0; }
.alerts li { display: grid; grid-template-columns: 64px 78px 1fr; gap: 8px; padding: 6px 0; border-bottom: 1px solid #22262d; align-items: baseline; }
.alerts li:last-child { border-bottom: 0; }
.alerts li > span { min-width: 0; overflow-wrap: anywhere; }
.alerts .when { color: var(--muted); font-size: 12px; }
.alerts .figures { color: var(--muted); font-size: 12px; }

.facts { display: grid; grid-template-columns: auto 1fr; gap: 5px 16px; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.big { font-size: 22px; font-weight: 600; }
.split { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 10px; margin-bottom: 8px; }
.split .label { color: var(--muted); font-size: 12px; }
.muted { color: var(--muted); }
.mini { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px 12px; margin-top: 16px; padding-top: 12px; border-top: 1px solid var(--border); }
.mini .label { color: var(--muted); font-size: 12px; }
.mini .num { font-size: 15px; font-weight: 600; }
.pin { overflow-wrap: anywhere; margin: 4px 0 10px; padding: 8px 10px; border-radius: var(--radius); background: rgba(242,204,12,.08); border: 1px solid rgba(242,204,12,.4); }
.ok-line { margin: 4px 0 10px; color: var(--muted); }
.ok-line::before { content: "●"; color: var(--green); margin-right: 6px; }
footer { color: var(--faint); font-size: 12px; padding: 6px 20px 18px; max-width: 1680px; margin: 0 auto; }
`;
