/** The data model every layer shares: rows, rejected records, pages, jobs. It imports nothing. */
export { TRANSACTION_COLUMNS, rowToTuple, tupleToRow } from './transaction.js';
export type { ParsedPage, RejectedRecord, RowTuple, TransactionRow } from './transaction.js';
export type { BatchCounts, JobRef } from './job.js';
