#!/usr/bin/env node
/**
 * The executable. The first SIGINT or SIGTERM asks the running command to stop cleanly
 * (commit what is queued, checkpoint, close: exit 130); a second SIGINT exits at once, which
 * is still safe because every batch is its own transaction.
 */
import { main } from './main.js';

const controller = new AbortController();
let interrupted = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  interrupted++;
  if (interrupted > 1 && signal === 'SIGINT') {
    process.stderr.write('league-backfill: second interrupt, exiting now\n');
    process.exit(130);
  }
  process.stderr.write(`league-backfill: ${signal} received, finishing cleanly (press Ctrl-C again to exit at once)\n`);
  controller.abort(new Error(`stopped by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
process.exitCode = code;
