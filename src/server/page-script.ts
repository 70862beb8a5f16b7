/**
 * The dashboard's browser code, inlined in the page: it polls `api/snapshot` and draws every
 * panel, the charts as SVG made here (no library, no CDN, works offline). Plain ES2019 in a
 * string, written without template literals so it can sit in this one; text from the
 * database is only ever set as `textContent`, never parsed as HTML.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var COLORS = { green: '#73bf69', yellow: '#f2cc0c', red: '#f2495c', blue: '#5794f2', orange: '#ff9830', purple: '#b877d9', cyan: '#4fc3d9', grey: '#8b93a1' };
  var STATE_COLORS = { queued: COLORS.grey, running: COLORS.blue, completed: COLORS.green, failed: COLORS.red, cancelled: COLORS.orange };
  var STATES = ['running', 'queued', 'completed', 'failed', 'cancelled'];
  var POLL_MS = 1000;
  var last = null;
  var failures = 0;

  // ---- small helpers ----------------------------------------------------------------------
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.setAttribute('class', value);
      else node.setAttribute(key, String(value));
    });
  }
  function append(node, children) {
    if (children === null || children === undefined) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    });
  }
  function fill(host, children) {
    while (host.firstChild) host.removeChild(host.firstChild);
    append(host, children);
  }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function int(n) { return n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'); }
  function dec(n, digits) {
    if (n === null || n === undefined) return '–';
    return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function compact(n) {
    if (n === null || n === undefined) return '–';
    var a = Math.abs(n);
    if (a >= 1e9) return dec(n / 1e9, a >= 1e10 ? 0 : 1) + 'G';
    if (a >= 1e6) return dec(n / 1e6, a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return dec(n / 1e3, 0) + 'k';
    if (a >= 1e3) return dec(n / 1e3, 1) + 'k';
    if (a === 0 || a >= 10) return dec(n, 0);
    return dec(n, a >= 1 ? 1 : 2);
  }
  function bytes(b) {
    if (b === null || b === undefined) return '–';
    if (b < 1024) return int(b) + ' B';
    if (b < 1048576) return dec(b / 1024, 1) + ' KB';
    if (b < 1073741824) return dec(b / 1048576, b < 10485760 ? 2 : 1) + ' MB';
    return dec(b / 1073741824, 2) + ' GB';
  }
  function ms(v) {
    if (v === null || v === undefined) return '–';
    if (v < 10) return dec(v, 2) + ' ms';
    if (v < 1000) return dec(v, 1) + ' ms';
    return dec(v / 1000, v < 10000 ? 2 : 1) + ' s';
  }
  function clock(date) { return pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds()); }
  function minuteLabel(minute) { var d = new Date(minute * 60000); return pad(d.getHours()) + ':' + pad(d.getMinutes()); }
  function isoLabel(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    var today = new Date();
    var sameDay = d.toDateString() === today.toDateString();
    return (sameDay ? '' : d.toISOString().slice(0, 10) + ' ') + clock(d);
  }
  function ago(iso) {
    var d = new Date(iso).getTime();
    if (isNaN(d)) return '';
    var s = Math.max(0, Math.round((Date.now() - d) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return dec(s / 3600, 1) + ' h ago';
    return dec(s / 86400, 1) + ' days ago';
  }
  /** A command line cut to fit a line; the full text goes in the element's title. */
  function short(text, max) {
    if (!text) return '';
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }
  function pinOf(p) {
    return 'pid ' + (p.pid === null ? '?' : p.pid) + (p.command ? ' (' + short(p.command, 70) + ')' : '');
  }
  function empty(message, detail) {
    return el('div', { class: 'empty' }, el('div', null, [el('b', { text: message }), detail ? el('div', { text: detail }) : null]));
  }
  function v2Note(state, what) {
    var v = state.database.schemaVersion;
    return empty('Not recorded in this database yet', what + ' is recorded from schema version 2' + (v !== null ? ' (this file is at version ' + v + ')' : '') + ': the next backfill with this version records it.');
  }
  function noWriterMetrics() {
    return empty('No writer_metrics table yet', 'No backfill has written to this database: figures appear with the first commit.');
  }

  // ---- charts -----------------------------------------------------------------------------
  function niceStep(raw, integer) {
    if (raw <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / p;
    var step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 && !(integer && p < 10) ? 2.5 : f <= 5 ? 5 : 10) * p;
    return integer ? Math.max(1, Math.round(step)) : step;
  }
  /** Ticks from 0 to a round top; counts (integer) get whole-number ticks. */
  function axis(maxValue, ticks, integer) {
    var step = niceStep((maxValue > 0 ? maxValue : integer ? ticks : 1) / ticks, integer);
    var top = Math.max(step, Math.ceil(maxValue / step) * step);
    var values = [];
    for (var v = 0; v <= top + step / 1000; v += step) values.push(v);
    return { top: top, values: values };
  }
  function chartFrame(host, id, title, height) {
    var width = Math.max(260, Math.floor(host.clientWidth || 480));
    var root = svg('svg', { class: 'chart', 'data-chart': id, width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': title });
    return { root: root, width: width, height: height };
  }
  function yAxis(frame, m, scale, format) {
    var plotH = frame.height - m.t - m.b;
    scale.values.forEach(function (v) {
      var y = m.t + plotH - (v / scale.top) * plotH;
      frame.root.appendChild(svg('line', { class: 'grid-line', x1: m.l, x2: frame.width - m.r, y1: Math.round(y) + 0.5, y2: Math.round(y) + 0.5 }));
      frame.root.appendChild(svg('text', { x: m.l - 6, y: y + 3.5, 'text-anchor': 'end', text: format(v) }));
    });
    frame.root.appendChild(svg('line', { class: 'axis-line', x1: m.l, x2: frame.width - m.r, y1: m.t + plotH + 0.5, y2: m.t + plotH + 0.5 }));
  }
  function thresholdLines(frame, m, scale, thresholds) {
    var plotH = frame.height - m.t - m.b;
    (thresholds || []).forEach(function (t) {
      if (t.value > scale.top) return;
      var y = Math.round(m.t + plotH - (t.value / scale.top) * plotH) + 0.5;
      frame.root.appendChild(svg('line', { class: 'threshold', x1: m.l, x2: frame.width - m.r, y1: y, y2: y, stroke: t.color }));
      frame.root.appendChild(svg('text', { class: 'threshold-label', x: frame.width - m.r - 2, y: y - 4, 'text-anchor': 'end', fill: t.color, style: null, text: t.label }));
    });
  }
  /**
   * Bars per bucket: series side by side, or stacked. opts: id, title, labels[], series[{name,
   * color, values[]}], stacked, thresholds[{value, label, color}], format(v), tooltip(i).
   */
  function barChart(host, opts) {
    var frame = chartFrame(host, opts.id, opts.title, opts.height || 170);
    var m = { l: 50, r: 10, t: 12, b: 22 };
    var n = opts.labels.length;
    var maxValue = 0;
    for (var i = 0; i < n; i++) {
      var sum = 0;
      opts.series.forEach(function (s) { var v = s.values[i] || 0; sum = opts.stacked ? sum + v : Math.max(sum, v); });
      maxValue = Math.max(maxValue, sum);
    }
    (opts.thresholds || []).forEach(function (t) { if (t.always) maxValue = Math.max(maxValue, t.value * 1.15); });
    var scale = axis(maxValue, 4, opts.integer);
    yAxis(frame, m, scale, opts.format);
    thresholdLines(frame, m, scale, opts.thresholds);
    var plotW = frame.width - m.l - m.r;
    var plotH = frame.height - m.t - m.b;
    var slot = plotW / Math.max(n, 1);
    var groups = opts.stacked ? 1 : opts.series.length;
    var barW = Math.max(1, Math.min(38, slot * 0.72) / groups);
    var bars = 0;
    for (var j = 0; j < n; j++) {
      var x0 = m.l + slot * j + (slot - barW * groups) / 2;
      var base = 0;
      opts.series.forEach(function (s, k) {
        var v = s.values[j] || 0;
        if (v <= 0) return;
        var h = Math.max(1, (v / scale.top) * plotH);
        var y = m.t + plotH - (opts.stacked ? (base / scale.top) * plotH : 0) - h;
        var x = opts.stacked ? x0 : x0 + k * barW;
        var rect = svg('rect', { class: 'bar', x: x.toFixed(1), y: y.toFixed(1), width: Math.max(1, barW - (groups > 1 ? 1 : 0)).toFixed(1), height: h.toFixed(1), rx: barW > 6 ? 1.5 : 0, fill: s.color, 'data-series': s.name, 'data-value': v });
        rect.appendChild(svg('title', { text: (opts.tooltip ? opts.tooltip(j, s, v) : opts.labels[j] + ' · ' + s.name + ': ' + opts.format(v)) }));
        frame.root.appendChild(rect);
        bars++;
        if (opts.stacked) base += v;
      });
    }
    var every = Math.max(1, Math.ceil(46 / slot));
    for (var q = 0; q < n; q++) {
      if ((n - 1 - q) % every !== 0) continue;
      frame.root.appendChild(svg('text', { x: (m.l + slot * q + slot / 2).toFixed(1), y: frame.height - 6, 'text-anchor': 'middle', text: opts.labels[q] }));
    }
    frame.root.setAttribute('data-points', String(n));
    frame.root.setAttribute('data-bars', String(bars));
    var legend = opts.series.length > 1 || opts.legend ? el('div', { class: 'chart-legend' }, opts.series.map(function (s) {
      return el('span', null, [el('i', { style: null }), s.name]);
    })) : null;
    if (legend) Array.prototype.forEach.call(legend.querySelectorAll('i'), function (node, k) { node.style.background = opts.series[k].color; });
    fill(host, [legend, frame.root]);
  }
  /** A line over time: points[{t, y}] over the last windowMs. */
  function lineChart(host, opts) {
    var frame = chartFrame(host, opts.id, opts.title, opts.height || 170);
    var m = { l: 50, r: 10, t: 12, b: 22 };
    var now = opts.now;
    var from = now - opts.windowMs;
    var maxValue = 0;
    opts.points.forEach(function (p) { maxValue = Math.max(maxValue, p.y); });
    var scale = axis(maxValue, 4, true);
    yAxis(frame, m, scale, opts.format);
    var plotW = frame.width - m.l - m.r;
    var plotH = frame.height - m.t - m.b;
    if (maxValue === 0) frame.root.appendChild(svg('text', { x: m.l + plotW / 2, y: m.t + plotH / 2, 'text-anchor': 'middle', class: 'idle-note', text: opts.idleText }));
    function X(t) { return m.l + ((t - from) / opts.windowMs) * plotW; }
    function Y(v) { return m.t + plotH - (v / scale.top) * plotH; }
    var pts = opts.points.filter(function (p) { return p.t >= from; });
    if (pts.length > 0) {
      var d = '';
      pts.forEach(function (p, i) { d += (i === 0 ? 'M' : 'L') + X(p.t).toFixed(1) + ',' + Y(p.y).toFixed(1); });
      var area = d + 'L' + X(pts[pts.length - 1].t).toFixed(1) + ',' + Y(0).toFixed(1) + 'L' + X(pts[0].t).toFixed(1) + ',' + Y(0).toFixed(1) + 'Z';
      var gradient = svg('linearGradient', { id: opts.id + '-fill', x1: 0, x2: 0, y1: 0, y2: 1 }, [
        svg('stop', { offset: '0%', 'stop-color': opts.color, 'stop-opacity': 0.35 }),
        svg('stop', { offset: '100%', 'stop-color': opts.color, 'stop-opacity': 0.02 }),
      ]);
      frame.root.appendChild(svg('defs', null, gradient));
      frame.root.appendChild(svg('path', { d: area, fill: 'url(#' + opts.id + '-fill)' }));
      // Commits come in bursts: the raw samples are drawn faint, their moving average over
      // opts.smoothMs on top, so the trend reads at a glance and every sample is still there.
      if (opts.smoothMs > 0 && pts.length > 4) {
        frame.root.appendChild(svg('path', { class: 'line raw', d: d, stroke: opts.color }));
        var smooth = '';
        var from0 = 0;
        var total = 0;
        pts.forEach(function (p, i) {
          total += p.y;
          while (pts[from0].t < p.t - opts.smoothMs) { total -= pts[from0].y; from0++; }
          var mean = total / (i - from0 + 1);
          smooth += (i === 0 ? 'M' : 'L') + X(p.t).toFixed(1) + ',' + Y(mean).toFixed(1);
        });
        frame.root.appendChild(svg('path', { class: 'line', d: smooth, stroke: opts.color }));
      } else {
        frame.root.appendChild(svg('path', { class: 'line', d: d, stroke: opts.color }));
      }
      var lastPoint = pts[pts.length - 1];
      frame.root.appendChild(svg('circle', { cx: X(lastPoint.t).toFixed(1), cy: Y(lastPoint.y).toFixed(1), r: 3, fill: opts.color }));
      pts.forEach(function (p) {
        var hit = svg('circle', { cx: X(p.t).toFixed(1), cy: Y(p.y).toFixed(1), r: 5, fill: 'transparent' });
        hit.appendChild(svg('title', { text: clock(new Date(p.t)) + ' · ' + opts.format(p.y) + ' ' + opts.unit }));
        frame.root.appendChild(hit);
      });
    }
    var tickMs = opts.windowMs <= 60000 ? 10000 : opts.windowMs <= 120000 ? 20000 : 60000;
    var ticks = Math.round(opts.windowMs / tickMs);
    for (var k = 0; k <= ticks; k++) {
      var t = from + k * tickMs;
      var back = (ticks - k) * tickMs;
      var text = back === 0 ? 'now' : back < 60000 ? '-' + back / 1000 + ' s' : back % 60000 === 0 ? '-' + back / 60000 + ' min' : '-' + back / 1000 + ' s';
      frame.root.appendChild(svg('text', { x: X(t).toFixed(1), y: frame.height - 6, 'text-anchor': k === 0 ? 'start' : k === ticks ? 'end' : 'middle', text: text }));
    }
    frame.root.setAttribute('data-points', String(pts.length));
    fill(host, frame.root);
  }

  // ---- panels -----------------------------------------------------------------------------
  function kpi(id, value, unit, note, accent) {
    var card = $('kpi-' + id);
    if (!card) return;
    if (accent) card.style.setProperty('--accent', accent);
    var valueNode = card.querySelector('.value');
    fill(valueNode, [el('span', { class: 'v', text: value }), unit ? el('span', { class: 'unit', text: unit }) : null]);
    fill(card.querySelector('.note'), note || ' ');
  }
  function minuteRate(state, m) {
    // The current minute has not ended: its rate is over the seconds gone so far.
    var current = Math.floor(Date.now() / 60000);
    var seconds = m.minute === current ? Math.max(1, (Date.now() % 60000) / 1000) : 60;
    return m.rows / seconds;
  }

  function renderHeader(state) {
    fill($('dbpath'), [el('span', { class: 'muted', text: 'Database ' }), el('code', { text: state.database.path })]);
    var status = $('status');
    var label;
    var cls;
    var lease = state.lease;
    var liveRate = state.live.length > 0 ? state.live[state.live.length - 1].rowsPerSecond : 0;
    var currentMinute = Math.floor(Date.now() / 60000);
    if (state.database.error) { cls = 'error'; label = 'Cannot read the database'; }
    else if (!state.database.exists) { cls = 'idle'; label = 'Waiting for the database'; }
    else if (lease && lease.alive) { cls = 'running'; label = 'Backfill running · pid ' + lease.pid; }
    else if (liveRate > 0 || (state.jobs && state.jobs.byState.running > 0 && state.writer && state.writer.lastMinute !== null && state.writer.lastMinute >= currentMinute - 1)) { cls = 'running'; label = 'Writing'; }
    else if (state.jobs && state.jobs.byState.running > 0) { cls = 'warn'; label = 'Jobs marked running, no writer seen'; }
    else { cls = 'idle'; label = state.writer && state.writer.lastMinute !== null ? 'Idle · last write ' + minuteLabel(state.writer.lastMinute) : 'Idle'; }
    status.className = 'status ' + cls;
    status.setAttribute('data-status', cls);
    fill(status, [el('span', { class: 'dot' }), label]);
    fill($('updated'), 'Updated ' + clock(new Date(state.takenAt)) + ' · every ' + dec(state.intervalMs / 1000, state.intervalMs % 1000 === 0 ? 0 : 1) + ' s');
    var banner = $('banner');
    if (state.database.error) {
      banner.className = 'banner show error';
      fill(banner, [el('b', { text: 'The database could not be read: ' }), state.database.error, ' The figures below are from the last successful read; the dashboard keeps trying.']);
    } else if (!state.database.exists) {
      banner.className = 'banner show info';
      fill(banner, [el('b', { text: 'Waiting for ' + state.database.path + '. ' }), 'No such file yet: the page fills in as soon as a backfill creates it.']);
    } else if (state.walPin && state.walPin.alive !== false) {
      banner.className = 'banner show warn';
      var p = state.walPin;
      banner.title = p.command || '';
      fill(banner, [el('b', { text: 'A reader pins the WAL: ' }), pinOf(p) + (p.since ? ' since ' + isoLabel(p.since) : '') + (p.walBytes !== null ? ', WAL ' + bytes(p.walBytes) : '') + '. Checkpoints cannot finish until it ends its read transaction.']);
    } else {
      banner.className = 'banner';
      fill(banner, null);
    }
  }

  function renderKpis(state) {
    var jobs = state.jobs;
    var writer = state.writer;
    kpi('rows-inserted', jobs ? int(jobs.rowsInserted) : '–', null, jobs ? int(jobs.rowsIgnored) + ' ignored · ' + int(jobs.rowsRejected) + ' rejected' : 'no job_log table yet', COLORS.green);
    var live = state.live;
    var now = live.length > 0 ? live[live.length - 1].rowsPerSecond : null;
    var peak = 0;
    live.forEach(function (p) { peak = Math.max(peak, p.rowsPerSecond); });
    var minutes = state.minutes;
    kpi('rows-per-second', now === null ? '–' : int(now), 'rows/s', live.length > 1 ? 'peak ' + int(peak) + '/s (last 5 min)' : 'sampled every ' + dec(state.intervalMs / 1000, 1) + ' s', COLORS.cyan);
    if (jobs) {
      var done = jobs.byState.completed || 0;
      kpi('jobs', int(done) + ' / ' + int(jobs.jobs), null, int(jobs.byState.running || 0) + ' running · ' + int(jobs.byState.failed || 0) + ' failed', COLORS.blue);
      var bar = $('kpi-jobs').querySelector('.progress > div');
      bar.style.width = (jobs.jobs > 0 ? (100 * done) / jobs.jobs : 0).toFixed(1) + '%';
    } else {
      kpi('jobs', '–', null, 'no job_log table yet', COLORS.blue);
    }
    kpi('transactions', writer ? int(writer.transactions) : '–', null, writer ? int(writer.batches) + ' batches · ' + int(writer.failedBatches) + ' failed' : 'no writer_metrics yet', COLORS.purple);
    var lastMinute = minutes.length > 0 ? minutes[minutes.length - 1] : null;
    var locksNow = lastMinute && lastMinute.minute >= Math.floor(Date.now() / 60000) - 1 ? lastMinute.locks : 0;
    kpi('locks', writer ? int(writer.locks) : '–', null, writer ? int(locksNow) + ' this minute · ' + int(writer.retries) + ' retries' : 'no writer_metrics yet', writer && writer.locks > 0 ? COLORS.orange : COLORS.green);
    kpi('wal', bytes(state.database.walBytes), null, (state.database.journalMode ? 'journal mode ' + state.database.journalMode : 'journal mode unknown') +
      ' · ' + bytes(state.database.walUncheckpointedBytes) + ' not yet checkpointed', state.walPin ? COLORS.yellow : COLORS.cyan);
    var counts = state.alertCounts;
    var totalAlerts = counts ? (counts.info || 0) + (counts.warning || 0) + (counts.critical || 0) : null;
    kpi('alerts', counts ? int(totalAlerts) : '–', null, counts ? int(counts.critical || 0) + ' crit · ' + int(counts.warning || 0) + ' warn · ' + int(counts.info || 0) + ' info' : 'recorded from schema 2', counts && counts.critical > 0 ? COLORS.red : counts && counts.warning > 0 ? COLORS.yellow : COLORS.green);
  }

  function renderJobsByState(state) {
    var host = $('body-jobs-state');
    var jobs = state.jobs;
    if (!jobs) return fill(host, empty('No job_log table yet', 'Jobs appear here once a backfill has started.'));
    if (jobs.jobs === 0) return fill(host, empty('No jobs yet', 'The job log is empty.'));
    $('total-jobs-state').textContent = int(jobs.jobs) + ' jobs';
    var stack = el('div', { class: 'stack', 'data-chart': 'jobs-by-state' });
    var legend = el('div', { class: 'legend' });
    STATES.forEach(function (s) {
      var count = jobs.byState[s] || 0;
      var part = el('div', { title: s + ': ' + int(count) });
      part.style.width = ((100 * count) / jobs.jobs).toFixed(3) + '%';
      part.style.background = STATE_COLORS[s];
      stack.appendChild(part);
      var swatch = el('span', { class: 'swatch' });
      swatch.style.background = STATE_COLORS[s];
      legend.appendChild(el('div', { class: 'name' }, [swatch, s]));
      legend.appendChild(el('div', { class: 'count', 'data-state': s, text: int(count) }));
      legend.appendChild(el('div', { class: 'pct', text: dec((100 * count) / jobs.jobs, 1) + ' %' }));
    });
    Object.keys(jobs.byState).forEach(function (s) {
      if (STATES.indexOf(s) >= 0 || !jobs.byState[s]) return;
      legend.appendChild(el('div', { class: 'name', text: s }));
      legend.appendChild(el('div', { class: 'count', 'data-state': s, text: int(jobs.byState[s]) }));
      legend.appendChild(el('div', { class: 'pct', text: dec((100 * jobs.byState[s]) / jobs.jobs, 1) + ' %' }));
    });
    var mini = el('div', { class: 'mini' }, [
      ['Pages fetched', int(jobs.pagesFetched)], ['Rows fetched', int(jobs.rowsFetched)], ['Ignored (stored before)', int(jobs.rowsIgnored)],
      ['Rejected records', int(jobs.rowsRejected)], ['Most retries of one operation', int(jobs.maxRetryCount)], ['Time in lock retries', ms(jobs.totalRetryTime * 1000)],
    ].map(function (pair) { return el('div', null, [el('div', { class: 'label', text: pair[0] }), el('div', { class: 'num', text: pair[1] })]); }));
    fill(host, [stack, legend, mini]);
  }

  function renderLive(state) {
    var host = $('body-live');
    if (state.live.length < 2) return fill(host, empty('Collecting samples…', 'This chart starts when the dashboard does: one point per sample, every ' + dec(state.intervalMs / 1000, 1) + ' s.'));
    // The window grows with the samples, from one minute to five, so a short run is not a sliver at the edge.
    var newest = state.live[state.live.length - 1].t;
    var span = newest - state.live[0].t;
    var windowMs = span <= 60000 ? 60000 : span <= 120000 ? 120000 : 300000;
    lineChart(host, {
      id: 'rows-live', title: 'Rows inserted per second, live', color: COLORS.cyan, unit: 'rows/s', windowMs: windowMs, now: newest,
      points: state.live.map(function (p) { return { t: p.t, y: p.rowsPerSecond }; }), format: compact,
      idleText: 'No rows inserted in this window', smoothMs: 5000,
    });
  }

  function minuteLabels(state) { return state.minutes.map(function (m) { return minuteLabel(m.minute); }); }

  function renderRowsPerMinute(state) {
    var host = $('body-rows-minute');
    if (!state.writer) return fill(host, noWriterMetrics());
    if (state.minutes.length === 0) return fill(host, empty('No writes recorded', 'writer_metrics has no minute with writes yet.'));
    barChart(host, {
      id: 'rows-per-minute', title: 'Rows written per second, per minute', labels: minuteLabels(state), format: compact,
      series: [{ name: 'rows/s', color: COLORS.green, values: state.minutes.map(function (m) { return minuteRate(state, m); }) }],
      tooltip: function (i) { var m = state.minutes[i]; return minuteLabel(m.minute) + ' · ' + int(minuteRate(state, m)) + ' rows/s · ' + int(m.rows) + ' rows in ' + int(m.transactions) + ' transactions'; },
    });
    $('total-rows-minute').textContent = int(state.writer.rows) + ' rows in ' + int(state.writer.transactions) + ' transactions';
  }

  function renderLocks(state) {
    var host = $('body-locks');
    if (!state.writer) return fill(host, noWriterMetrics());
    $('total-locks').textContent = int(state.writer.locks) + ' locks · ' + ms(state.writer.lockWaitMs) + ' waited';
    if (state.minutes.length === 0) return fill(host, empty('No minutes recorded yet', ''));
    barChart(host, {
      id: 'locks-per-minute', title: 'Lock waits per minute', labels: minuteLabels(state), format: compact, integer: true,
      series: [{ name: 'locks', color: COLORS.orange, values: state.minutes.map(function (m) { return m.locks; }) }],
      thresholds: [{ value: 5, label: 'warning > 5', color: COLORS.yellow, always: true }, { value: 10, label: 'critical > 10', color: COLORS.red, always: true }],
      tooltip: function (i) { var m = state.minutes[i]; return minuteLabel(m.minute) + ' · ' + int(m.locks) + ' locks, ' + ms(m.lockWaitMs) + ' waited, ' + int(m.retries) + ' retries'; },
    });
  }

  function renderHolders(state) {
    var host = $('body-holders');
    var note = $('desc-holders');
    note.textContent = state.lockHoldersSource === 'job_log.lock_operations'
      ? 'Processes that held the write lock while the writer waited · from job_log.lock_operations (counts only: wait times are recorded from schema 2)'
      : 'Processes that held the write lock while the writer waited · writer_lock_holders';
    if (!state.jobs && !state.writer) return fill(host, empty('Nothing recorded yet', ''));
    if (state.lockHolders.length === 0) {
      return fill(host, empty('No other process held the lock', state.writer && state.writer.locks > 0 ? 'Locks were counted, but the holder could not be named (it had let go when the writer looked).' : 'The writer never had to wait for another process.'));
    }
    var rows = state.lockHolders.map(function (h) {
      return el('tr', null, [
        el('td', { class: 'n mono', text: h.pid }),
        el('td', { class: 'clip mono', title: h.command, text: short(h.command, 90) || '(unknown)' }),
        el('td', { class: 'n', text: int(h.waits) }),
        el('td', { class: 'n', text: h.waitMs === null ? '–' : ms(h.waitMs) }),
        el('td', { class: 'n muted', text: h.lastMinute === null ? '–' : minuteLabel(h.lastMinute) }),
      ]);
    });
    fill(host, el('table', { 'data-table': 'lock-holders' }, [
      el('thead', null, el('tr', null, [el('th', { class: 'n', text: 'PID' }), el('th', { text: 'Command' }), el('th', { class: 'n', text: 'Waits' }), el('th', { class: 'n', text: 'Waited' }), el('th', { class: 'n', text: 'Last seen' })])),
      el('tbody', null, rows),
    ]));
  }

  function renderHolds(state) {
    var host = $('body-holds');
    if (!state.writer) return fill(host, noWriterMetrics());
    $('total-holds').textContent = 'longest ' + ms(state.writer.maxHoldMs);
    if (state.minutes.length === 0) return fill(host, empty('No transactions recorded yet', ''));
    var chart = el('div');
    var list = el('table', { 'data-table': 'longest-holds' }, [
      el('thead', null, el('tr', null, [el('th', { text: 'Minute' }), el('th', { class: 'n', text: 'Longest hold' }), el('th', { class: 'n', text: 'Transactions' })])),
      el('tbody', null, state.longestHolds.map(function (h) {
        return el('tr', null, [el('td', { text: minuteLabel(h.minute) }), el('td', { class: 'n', text: ms(h.maxHoldMs) }), el('td', { class: 'n', text: int(h.transactions) })]);
      })),
    ]);
    fill(host, [chart, state.longestHolds.length > 0 ? list : null]);
    barChart(chart, {
      id: 'longest-holds', title: 'Longest lock hold per minute', labels: minuteLabels(state), format: function (v) { return compact(v) + ' ms'; }, height: 150,
      series: [{ name: 'longest hold', color: COLORS.purple, values: state.minutes.map(function (m) { return m.maxHoldMs; }) }],
      thresholds: [{ value: 100, label: 'budget 100 ms', color: COLORS.yellow, always: true }],
      tooltip: function (i) { var m = state.minutes[i]; return minuteLabel(m.minute) + ' · longest hold ' + ms(m.maxHoldMs) + ' over ' + int(m.transactions) + ' transactions'; },
    });
  }

  /**
   * Checkpoints blocked in the current and the previous minute, unless the writer has said
   * since the last of those minutes began that no reader pins the WAL any more.
   */
  function recentBlocked(state) {
    var current = Math.floor(Date.now() / 60000);
    var blocked = 0;
    var lastMinute = null;
    state.minutes.forEach(function (m) {
      if (m.minute >= current - 1 && m.checkpointsBlocked) { blocked += m.checkpointsBlocked; lastMinute = m.minute; }
    });
    var cleared = state.walPinClearedAt ? new Date(state.walPinClearedAt).getTime() : NaN;
    if (lastMinute !== null && !isNaN(cleared) && cleared >= lastMinute * 60000) return 0;
    return blocked;
  }
  function renderWal(state) {
    var host = $('body-wal');
    var w = state.writer;
    var facts = el('div', { class: 'split' }, [
      el('div', null, [el('div', { class: 'label', text: 'WAL now' }), el('div', { class: 'big', 'data-figure': 'wal-bytes', text: bytes(state.database.walBytes) })]),
      el('div', null, [el('div', { class: 'label', text: 'Not yet checkpointed' }), el('div', { class: 'big', 'data-figure': 'wal-uncheckpointed-bytes', text: bytes(state.database.walUncheckpointedBytes) })]),
      el('div', null, [el('div', { class: 'label', text: 'Checkpoints' }), el('div', { class: 'big', 'data-figure': 'checkpoints', text: w && w.checkpoints !== null ? int(w.checkpoints) : '–' })]),
      el('div', null, [el('div', { class: 'label', text: 'Blocked by a reader' }), el('div', { class: 'big', 'data-figure': 'checkpoints-blocked', text: w && w.checkpointsBlocked !== null ? int(w.checkpointsBlocked) : '–' })]),
    ]);
    var wp = state.walPin;
    var pin = wp && wp.alive !== false
      ? el('div', { class: 'pin', title: wp.command || '' }, ['WAL pinned by ' + pinOf(wp) + (wp.since ? ', since ' + isoLabel(wp.since) + ' (' + ago(wp.since) + ')' : '')])
      : recentBlocked(state) > 0
        ? el('div', { class: 'pin', text: int(recentBlocked(state)) + ' checkpoints were blocked in the last two minutes: a reader holds an old snapshot. The writer names it once it has held the WAL for a while.' })
        : wp
          ? el('div', { class: 'ok-line', title: wp.command || '', text: 'The last reader that pinned the WAL, ' + pinOf(wp) + ', has ended: checkpoints can finish.' })
          : state.walPinClearedAt && w && w.checkpointsBlocked
            ? el('div', { class: 'ok-line', text: 'No reader pins the WAL since ' + isoLabel(state.walPinClearedAt) + ': checkpoints can finish.' })
            : el('div', { class: 'ok-line', text: state.database.schemaVersion !== null && state.database.schemaVersion >= 2 ? 'No reader pins the WAL: checkpoints can finish.' : 'WAL pins are recorded from schema version 2.' });
    if (!w) return fill(host, [facts, noWriterMetrics()]);
    if (w.checkpoints === null) return fill(host, [facts, pin, v2Note(state, 'The largest WAL size and checkpoints per minute')]);
    var chart = el('div');
    fill(host, [facts, pin, chart]);
    if (state.minutes.length === 0) return fill(chart, empty('No minutes recorded yet', ''));
    barChart(chart, {
      id: 'wal-per-minute', title: 'Largest WAL per minute', labels: minuteLabels(state), format: bytes, height: 150,
      series: [{ name: 'largest WAL', color: COLORS.cyan, values: state.minutes.map(function (m) { return m.maxWalBytes || 0; }) }],
      tooltip: function (i) { var m = state.minutes[i]; return minuteLabel(m.minute) + ' · largest WAL ' + bytes(m.maxWalBytes) + ' · ' + int(m.checkpoints) + ' checkpoints, ' + int(m.checkpointsBlocked) + ' blocked'; },
    });
  }

  function renderNeighbours(state) {
    var host = $('body-neighbours');
    var w = state.writer;
    if (!w) return fill(host, noWriterMetrics());
    if (w.yields === null && w.neighbourCommits === null) return fill(host, v2Note(state, 'What neighbours experienced (yields, their commits)'));
    var facts = el('div', { class: 'split' }, [
      el('div', null, [el('div', { class: 'label', text: 'Yields to neighbours' }), el('div', { class: 'big', 'data-figure': 'yields', text: int(w.yields) })]),
      el('div', null, [el('div', { class: 'label', text: 'Time left free' }), el('div', { class: 'big', 'data-figure': 'yield-ms', text: ms(w.yieldMs) })]),
      el('div', null, [el('div', { class: 'label', text: 'Neighbour commits' }), el('div', { class: 'big', 'data-figure': 'neighbour-commits', text: int(w.neighbourCommits) })]),
    ]);
    var chart = el('div');
    fill(host, [facts, chart]);
    if (state.minutes.length === 0) return fill(chart, empty('No minutes recorded yet', ''));
    barChart(chart, {
      id: 'neighbours-per-minute', title: 'Yields and neighbour commits per minute', labels: minuteLabels(state), format: compact, height: 140, integer: true,
      series: [
        { name: 'yields', color: COLORS.blue, values: state.minutes.map(function (m) { return m.yields || 0; }) },
        { name: 'neighbour commits', color: COLORS.yellow, values: state.minutes.map(function (m) { return m.neighbourCommits || 0; }) },
      ],
      tooltip: function (i, s, v) { var m = state.minutes[i]; return minuteLabel(m.minute) + ' · ' + s.name + ': ' + int(v) + (s.name === 'yields' ? ' (' + ms(m.yieldMs) + ' left free)' : ''); },
    });
    if (w.yields === 0 && w.neighbourCommits === 0) chart.appendChild(el('div', { class: 'muted', text: 'No other process wrote while the writer ran: it ran at full speed.' }));
  }

  function renderAlerts(state) {
    var host = $('body-alerts');
    if (state.alertCounts === null) return fill(host, v2Note(state, 'The alert history'));
    var counts = state.alertCounts;
    $('total-alerts').textContent = int((counts.critical || 0) + (counts.warning || 0) + (counts.info || 0)) + ' recorded';
    if (state.alerts.length === 0) return fill(host, empty('No alerts', 'No lock storm, no operation that needed more than 3 attempts, no starved checkpoint.'));
    fill(host, el('ul', { class: 'alerts', 'data-list': 'alerts' }, state.alerts.map(function (a) {
      var figures = Object.keys(a.figures || {}).map(function (k) { return k + ' ' + a.figures[k]; }).join(' · ');
      return el('li', null, [
        el('span', { class: 'when', title: a.at, text: isoLabel(a.at) }),
        el('span', null, el('span', { class: 'badge ' + a.level, text: a.level })),
        el('span', null, [el('div', { text: a.message }), figures ? el('div', { class: 'figures', text: figures }) : null]),
      ]);
    })));
  }

  function renderJobList(state) {
    var host = $('body-jobs');
    if (!state.jobs) return fill(host, empty('No job_log table yet', ''));
    if (state.jobList.length === 0) return fill(host, empty('No jobs yet', ''));
    fill(host, el('table', { 'data-table': 'jobs' }, [
      el('thead', null, el('tr', null, [
        el('th', { text: 'Job' }), el('th', { text: 'State' }), el('th', { class: 'n', text: 'Rows inserted' }), el('th', { class: 'n', text: 'Pages' }),
        el('th', { class: 'n', text: 'Locks' }), el('th', { class: 'n', text: 'Updated' }), el('th', { text: 'Error' }),
      ])),
      el('tbody', null, state.jobList.map(function (j) {
        return el('tr', null, [
          el('td', { class: 'mono', text: j.jobId }),
          el('td', null, el('span', { class: 'badge ' + j.status, text: j.status })),
          el('td', { class: 'n', text: int(j.rowsInserted) }),
          el('td', { class: 'n', text: int(j.pagesFetched) }),
          el('td', { class: 'n', text: int(j.lockCount) }),
          el('td', { class: 'n muted', title: j.updatedAt || '', text: isoLabel(j.updatedAt) }),
          el('td', { class: 'err clip', title: j.error || '', text: j.error || '' }),
        ]);
      })),
    ]));
  }

  function renderWriter(state) {
    var host = $('body-writer');
    var d = state.database;
    var lease = state.lease;
    var leaseText = lease
      ? 'pid ' + lease.pid + (lease.command ? ' · ' + lease.command : '') + (lease.startedAt ? ' · since ' + isoLabel(lease.startedAt) : '') + (lease.alive === false ? ' · not running now' : lease.alive ? ' · running' : '')
      : d.schemaVersion !== null && d.schemaVersion >= 2 ? 'none: no engine holds the lease' : 'recorded from schema version 2';
    var missing = d.missing.length > 0 ? d.missing.join(', ') : 'none';
    fill(host, el('dl', { class: 'facts' }, [
      el('dt', { text: 'Writer lease' }), el('dd', { 'data-figure': 'lease', text: leaseText }),
      el('dt', { text: 'Schema version' }), el('dd', { 'data-figure': 'schema-version', text: d.schemaVersion === null ? '–' : String(d.schemaVersion) }),
      el('dt', { text: 'Journal mode' }), el('dd', { text: d.journalMode || '–' }),
      el('dt', { text: 'Database size' }), el('dd', { text: bytes(d.databaseBytes) + (d.pageCount !== null ? ' · ' + int(d.pageCount) + ' pages of ' + int(d.pageSize) + ' B, ' + int(d.freePages) + ' free' : '') }),
      el('dt', { text: 'Minutes recorded' }), el('dd', { text: state.writer ? int(state.writer.minutes) + (state.writer.firstMinute !== null ? ' · since ' + new Date(state.writer.firstMinute * 60000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '') : '–' }),
      el('dt', { text: 'Not in this file' }), el('dd', { class: 'muted', text: missing }),
      el('dt', { text: 'Dashboard read' }), el('dd', { class: 'muted', text: ms(d.readMs) + ' per sample, one read transaction' }),
    ]));
  }

  function render(state) {
    last = state;
    POLL_MS = Math.max(250, state.intervalMs || 1000);
    renderHeader(state);
    renderKpis(state);
    renderJobsByState(state);
    renderLive(state);
    renderRowsPerMinute(state);
    renderLocks(state);
    renderHolders(state);
    renderHolds(state);
    renderWal(state);
    renderNeighbours(state);
    renderAlerts(state);
    renderJobList(state);
    renderWriter(state);
    document.body.setAttribute('data-ready', 'true');
    document.body.setAttribute('data-taken-at', state.takenAt);
  }

  function poll() {
    fetch('api/snapshot', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (state) {
        failures = 0;
        render(state);
      })
      .catch(function (error) {
        failures++;
        var status = $('status');
        status.className = 'status error';
        fill(status, [el('span', { class: 'dot' }), 'Dashboard server unreachable']);
        var banner = $('banner');
        banner.className = 'banner show error';
        fill(banner, [el('b', { text: 'No answer from the dashboard server' }), ' (' + error.message + '). Is league-backfill dashboard still running? Retrying…']);
      })
      .then(function () {
        setTimeout(poll, failures > 0 ? Math.min(10000, POLL_MS * (1 + failures)) : POLL_MS);
      });
  }

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (last) render(last); }, 150);
  });
  poll();
})();
`;
