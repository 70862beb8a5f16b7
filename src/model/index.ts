/** The data model every layer shares: rows, rejected records, pages, jobs. It imports nothing. */
export { TRANSACTION_COLUMNS, rowToTuple, tupleToRow } from './transaction.js';
export type { ParsedPage, RejectedRecord, RowTuple, TransactionRow } from './transaction.js';
export { JOB_STATES } from './job.js';
export type { BatchCounts, JobRef, JobState } from './job.js';
