/**
 * The writer thread's entry: it builds the writer (thread/writer.ts) and serves the main
 * thread's messages one at a time, in order. Statements of the open interactive transaction and
 * an abort are served at once.
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import type { WriterConfig, WriterNotice, WriterRequest } from './protocol.js';
import { WriterThread } from './thread/writer.js';

const port = parentPort;
if (!port) throw new Error('writer-thread.js must run as a worker thread');
const notify = (notice: WriterNotice): void => port.postMessage(notice);

// ---- message loop ----------------------------------------------------------------------------

let writer: WriterThread;
try {
  writer = new WriterThread(workerData as WriterConfig, notify);
} catch (error) {
  notify({ type: 'fatal', error: serializeError(error) });
  process.exit(1);
}

let queue: Promise<void> = Promise.resolve();
const reply = (id: number, run: () => unknown): void => {
  try {
    notify({ type: 'result', id, ok: true, value: run() });
  } catch (error) {
    notify({ type: 'result', id, ok: false, error: serializeError(error) });
  }
};
port.on('message', (request: WriterRequest) => {
  // Statements of the open interactive transaction are served at once: the queue is waiting
  // for that transaction to end. So is an abort: it must reach a writer that is waiting.
  if (request.type === 'tx:run') return reply(request.id, () => writer.runInSession(request.sessionId, request.sql, request.params, request.returnRows));
  if (request.type === 'tx:end') return reply(request.id, () => writer.endSession(request.sessionId, request.commit));
  if (request.type === 'abort') return reply(request.id, () => { writer.abort(); return null; });
  queue = queue.then(async () => {
    try {
      if (request.type === 'tx:begin') {
        const { ended } = await writer.beginSession(request.id, request.mode, request.timeoutMs);
        notify({ type: 'result', id: request.id, ok: true, value: { sessionId: request.id } });
        await ended;
        return;
      }
      const value = await writer.handle(request);
      notify({ type: 'result', id: request.id, ok: true, value });
      if (request.type === 'close') port.close();
    } catch (error) {
      notify({ type: 'result', id: request.id, ok: false, error: serializeError(error) });
    }
  });
});
