#!/usr/bin/env node
/**
 * The executable. The first SIGINT or SIGTERM asks the running command to stop cleanly
 * (commit what is queued, checkpoint, close: exit 130); a second SIGINT exits at once, which
 * is still safe because every batch is its own transaction.
 */
import { main } from './main.js';
import { guardOutput, terminalLines } from './output.js';

// Once, for every command: a reader that closes the pipe early (`jobs | head -1`) ends the
// output, not the process; any other write error is said once, on the other stream.
guardOutput({ stdout: process.stdout, stderr: process.stderr }, {
  onError: (name, error) => {
    const other = name === 'stdout' ? process.stderr : process.stdout;
    other.write(`league-backfill: cannot write to ${name}: ${error.message}\n`);
    process.exitCode = 1;
  },
});

// Messages go through the same lines as the progress bar and the logs, so each is on its own line.
const stderr = terminalLines(process.stderr);
const controller = new AbortController();
let interrupted = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  interrupted++;
  if (interrupted > 1 && signal === 'SIGINT') {
    stderr.endStatus(true);
    stderr.write('league-backfill: second interrupt, exiting now\n');
    process.exit(130);
  }
  stderr.write(`league-backfill: ${signal} received, finishing cleanly (press Ctrl-C again to exit at once)\n`);
  controller.abort(new Error(`stopped by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
// A broken stdout already set exitCode to 1; the command's own failure code still wins.
if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
