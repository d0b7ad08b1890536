// Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the WAL back into the
// database file and waits for the disk (fsync); run from a commit, as SQLite does by default, it
// stalls every request for milliseconds. A worker thread with a connection of its own checkpoints
// instead, without blocking the writer; the main connection checkpoints itself only as a fallback.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker copies the WAL back; the WAL then holds about this long's writes. */
export const CHECKPOINT_INTERVAL_MS = 200;
/** SQLite's own threshold (pages) while the worker runs: reached only if the worker falls far behind. */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;
/** SQLite's default threshold (pages), restored if the worker stops. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

// CommonJS run by the worker: the project's modules are ES modules compiled from TypeScript, which
// a worker cannot load from source under the test runner; this small script needs neither.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let db;
let timer;
// SQLite's errors do not cross threads intact; a failure is sent as text, and the worker ends.
const fail = (error) => {
  clearInterval(timer);
  parentPort.postMessage({ failed: String(error && error.message || error) });
  try { db?.close(); } catch {}
  parentPort.close();
};
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.path, { fileMustExist: true });
  // PASSIVE never waits for readers or writers: it copies what it can and leaves the rest for next time.
  const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');
  timer = setInterval(() => {
    try { checkpoint.get(); } catch (error) { fail(error); }
  }, workerData.intervalMs);
} catch (error) {
  fail(error);
}
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db?.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker and closes its connection; resolves when it has exited. */
  close(): Promise<void>;
}

/**
 * Starts checkpointing `path` from a worker thread. `onStopped` runs if the worker ends by itself
 * (it could not open the database, say); the caller then restores SQLite's own checkpoints.
 */
export function startCheckpointer(path: string, onStopped: (error?: unknown) => void, intervalMs = CHECKPOINT_INTERVAL_MS): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, intervalMs } });
  // The worker's timer must not keep an otherwise finished process alive.
  worker.unref();
  let closing = false;
  let failure: unknown;
  worker.on('message', (message: { failed?: string }) => {
    if (message.failed !== undefined) failure = new Error(message.failed);
  });
  worker.on('error', (error) => {
    failure = error;
  });
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      if (!closing) onStopped(failure);
      resolve();
    });
  });
  return {
    async close() {
      closing = true;
      // Held by the process until it has closed its connection: a command that ends right after
      // closing the database must not exit before the worker has let go of the file.
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}
