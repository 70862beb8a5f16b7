/** Percentiles and medians of measured samples. */

/** The nearest-rank percentile `p` (0 to 100) of `values`; 0 for no values. (`p * n / 100`, not `p / 100 * n`: 99.9 / 100 * 1000 is 999.0000000000001.) */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p * sorted.length) / 100) - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** The usual percentiles of latency samples (ms), rounded to 0.01 ms. */
export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const round = (value: number): number => Math.round(value * 100) / 100;
  return {
    count: samples.length,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    p99: round(percentile(samples, 99)),
    p999: round(percentile(samples, 99.9)),
    max: round(samples.reduce((max, value) => Math.max(max, value), 0)),
  };
}
