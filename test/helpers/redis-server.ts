/**
 * A real Redis for the distributed tests and benchmarks: Debian's `redis-server` on 127.0.0.1
 * and a free port, in a temporary --dir, with no persistence (`--save '' --appendonly no`), so
 * a restart starts empty as a crashed server without persistence would.
 *
 * Every process started here dies with the process that started it, even when that one is
 * killed: each runs under a small guard that stops its child when the guard's stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * The guard: spawns the command with the same stdio, reports the child's pid on its first
 * stdout line, forwards SIGTERM and SIGINT, exits with the child, and SIGKILLs the child when
 * its own stdin ends (the parent is gone).
 */
const GUARD = `
const { spawn } = require('node:child_process');
const [command, ...args] = JSON.parse(process.argv[1]);
const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
process.stdout.write('guarded-pid ' + child.pid + '\\n');
child.stdout.pipe(process.stdout);
child.stderr.pipe(process.stderr);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
process.stdin.on('end', () => child.kill('SIGKILL'));
process.stdin.on('error', () => child.kill('SIGKILL'));
process.stdin.resume();
child.on('exit', (code, signal) => {
  process.stdin.destroy();
  process.exitCode = code ?? (signal ? 128 : 1);
  if (signal) process.stderr.write('guarded child ended by ' + signal + '\\n');
});
`;

export interface GuardedProcess {
  /** The guard (its stdout and stderr carry the child's). */
  readonly guard: ChildProcess;
  /** The real process's pid, for signals that must not go through the guard (SIGKILL). */
  readonly pid: number;
  /** Output so far. */
  readonly output: { stdout: string; stderr: string };
  /** Resolves with the exit code when the process has ended. */
  readonly exited: Promise<number | null>;
  /** SIGTERM (or the given signal) to the real process, then waits for it to end (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Starts `command args` under the guard; resolves once its pid is known. */
export async function spawnGuarded(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<GuardedProcess> {
  const guard = spawn(process.execPath, ['-e', GUARD, JSON.stringify([command, ...args])], { stdio: ['pipe', 'pipe', 'pipe'], env });
  const output = { stdout: '', stderr: '' };
  let resolvePid!: (pid: number) => void;
  let rejectPid!: (error: Error) => void;
  const pidKnown = new Promise<number>((resolve, reject) => {
    resolvePid = resolve;
    rejectPid = reject;
  });
  guard.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    const match = /^guarded-pid (\d+)$/m.exec(output.stdout);
    if (match) resolvePid(Number(match[1]));
  });
  guard.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => guard.on('close', (code) => resolve(code)));
  guard.on('error', rejectPid);
  void exited.then(() => rejectPid(new Error(`${command} ended before it started: ${output.stderr}`)));
  const pid = await pidKnown;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<number | null> => {
    if (guard.exitCode !== null || guard.signalCode !== null) return exited;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { guard, pid, output, exited, stop };
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** A new client for inspecting the server (INFO, SCAN); closed by `stop()`. */
  client(): Redis;
  /** Stops the server (it loses everything: no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  readonly running: boolean;
  /** Stops the server, closes the clients made by `client()`, removes its folder. */
  close(): Promise<void>;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'league-backfill-redis-'));
  const clients: Redis[] = [];
  let process_: GuardedProcess | null = null;
  const launch = async (): Promise<void> => {
    process_ = await spawnGuarded('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'warning', '--protected-mode', 'yes',
    ]);
    const until = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        if (Date.now() > until) throw new Error(`redis-server did not answer on port ${port}: ${process_.output.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        probe.disconnect();
      }
    }
  };
  await launch();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return process_ !== null;
    },
    client() {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: (times) => (times > 50 ? null : 100) });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    async start() {
      if (process_ === null) await launch();
    },
    async stop() {
      if (process_ !== null) {
        const stopping = process_;
        process_ = null;
        await stopping.stop('SIGTERM', 5000);
      }
    },
    async close() {
      for (const client of clients.splice(0)) client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Waits until the process has printed a line matching `pattern` (on stdout or stderr). */
export async function waitForOutput(process_: GuardedProcess, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(process_.output.stderr) && !pattern.test(process_.output.stdout)) {
    if (process_.guard.exitCode !== null) throw new Error(`the process ended before printing ${pattern}:\n${process_.output.stderr}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}:\n${process_.output.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface WorkerProcess extends GuardedProcess {
  /** SIGTERM, waits for the exit, and returns the `--json` summary the worker printed. */
  finish(): Promise<{ code: number | null; stats: Record<string, number> | null }>;
}

/**
 * Starts `node <bin> worker --redis URL ...args` (the built command line) under the guard;
 * resolves once the worker says it is taking tasks. Logs are JSON lines on stderr.
 */
export async function startWorkerProcess(bin: string, redisUrl: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const started = await spawnGuarded(process.execPath, [bin, 'worker', '--redis', redisUrl, '--json', ...args], {
    ...process.env, LEAGUE_BACKFILL_LOG_LEVEL: 'info', ...env,
  });
  await waitForOutput(started, /fetch worker ready/);
  return {
    ...started,
    async finish() {
      const code = await started.stop('SIGTERM');
      const json = started.output.stdout.slice(started.output.stdout.indexOf('{'));
      let stats: Record<string, number> | null = null;
      try {
        stats = JSON.parse(json) as Record<string, number>;
      } catch {
        stats = null;
      }
      return { code, stats };
    },
  };
}

/** Every key left in Redis and what it holds, as text: to show that no row stayed behind. */
export async function dumpRedis(client: Redis): Promise<Record<string, string>> {
  const dump: Record<string, string> = {};
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await client.type(key);
      let value: unknown;
      if (type === 'string') value = await client.get(key);
      else if (type === 'hash') value = await client.hgetall(key);
      else if (type === 'list') value = await client.lrange(key, 0, -1);
      else if (type === 'set') value = await client.smembers(key);
      else if (type === 'zset') value = await client.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'stream') value = await client.xrange(key, '-', '+');
      dump[key] = `${type} ${JSON.stringify(value)}`;
    }
  } while (cursor !== '0');
  return dump;
}
