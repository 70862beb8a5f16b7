/** The load-test harness: what the `loadtest` command and the benchmarks use. */
export { runLoadTest, recommend, DEFAULT_CONFIGURATION, THROUGHPUT_NOISE } from './run.js';
export type { LoadTestOptions, LoadTestReport } from './run.js';
export { LOADTEST_CONFIGURATIONS, LOADTEST_BUSY_TIMEOUT_MS, lockBudgetOf } from './configurations.js';
export type { LoadTestConfiguration } from './configurations.js';
export { runScenario, DEFAULT_CONTENTION } from './scenario.js';
export type { ContentionOptions, ScenarioOptions, ScenarioOutcome, ScenarioResult } from './scenario.js';
export { formatResultsTable } from './table.js';
export { renderHtmlReport, plural, formatCounts } from './report-html.js';
export { NEIGHBOUR_WAIT_LIMIT_MS, neighbourVerdict, percentileShown } from './results.js';
export type { NeighbourVerdict, LegacyWriterFigures, ReaderFigures } from './results.js';
export * from './workloads/index.js';
