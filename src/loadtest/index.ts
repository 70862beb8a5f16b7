/** The load-test harness: what the `loadtest` command and the benchmarks use. */
export { runLoadTest, recommend } from './run.js';
export type { LoadTestOptions, LoadTestReport } from './run.js';
export { LOADTEST_CONFIGURATIONS, LOADTEST_BUSY_TIMEOUT_MS, lockBudgetOf } from './configurations.js';
export type { LoadTestConfiguration } from './configurations.js';
export { runScenario, DEFAULT_CONTENTION } from './scenario.js';
export type { ContentionOptions, ScenarioOptions, ScenarioOutcome, ScenarioResult } from './scenario.js';
export { formatResultsTable } from './table.js';
export { renderHtmlReport } from './report-html.js';
