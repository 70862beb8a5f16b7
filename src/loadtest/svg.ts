/**
 * Line charts as inline SVG, written out as text: the HTML report opens offline, with no
 * script and nothing fetched.
 */

export interface ChartSeries {
  name: string;
  /** [x, y] points, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
}

/** Colours that stay apart for the colour-blind (Okabe-Ito). */
export const SERIES_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#000000', '#F0E442'];

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A round upper bound and tick step for an axis from 0 to `max` (steps of 1, 2 or 5 x 10^n). */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  return { max: Math.ceil(max / step) * step, step };
}

function formatTick(value: number): string {
  if (value >= 1000) return `${Number((value / 1000).toFixed(1))}k`;
  return String(Number(value.toFixed(2)));
}

export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 300;
  const margin = { top: 36, right: 170, bottom: 44, left: 64 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const all = options.series.flatMap((series) => series.points);
  const x = niceScale(Math.max(0, ...all.map(([px]) => px)), 6);
  const y = niceScale(Math.max(0, ...all.map(([, py]) => py)), 5);
  const sx = (value: number): number => margin.left + (value / x.max) * plotWidth;
  const sy = (value: number): number => margin.top + plotHeight - (value / y.max) * plotHeight;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}" font-family="sans-serif" font-size="11">`);
  parts.push(`<text x="${margin.left}" y="20" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`);
  for (let value = 0; value <= y.max + y.step / 2; value += y.step) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${sy(value).toFixed(1)}" y2="${sy(value).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${(sy(value) + 4).toFixed(1)}" text-anchor="end">${formatTick(value)}</text>`);
  }
  for (let value = 0; value <= x.max + x.step / 2; value += x.step) {
    parts.push(`<text x="${sx(value).toFixed(1)}" y="${margin.top + plotHeight + 16}" text-anchor="middle">${formatTick(value)}</text>`);
  }
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#333"/>`);
  parts.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}" stroke="#333"/>`);
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  options.series.forEach((series, index) => {
    const colour = SERIES_COLOURS[index % SERIES_COLOURS.length]!;
    if (series.points.length > 0) {
      const path = series.points.map(([px, py]) => `${sx(px).toFixed(1)},${sy(py).toFixed(1)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path}"><title>${escapeXml(series.name)}</title></polyline>`);
    }
    const legendY = margin.top + 6 + index * 18;
    parts.push(`<line x1="${width - margin.right + 16}" x2="${width - margin.right + 36}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${width - margin.right + 42}" y="${legendY + 4}">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
