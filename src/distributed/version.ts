/**
 * The package version a fetch task carries (util/package-version.ts). A worker serves only
 * tasks of exactly its own version: a task is a contract between the
 * writer and the worker, and a worker of another version may read it differently.
 */
import { packageVersion } from '../util/package-version.js';

/** This installation's version of league-backfill. */
export const PACKAGE_VERSION: string = packageVersion();
