import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { TemporarilyUnavailable } from '../errors/index.js';
import { freshClusterTarball } from './pglite-cluster.js';
import type { SqlClient, SqlExecutor, SqlResult } from './sql-client.js';
import type { PgliteWorkerError, PgliteWorkerReady, PgliteWorkerRequest, PgliteWorkerResponse } from './pglite-worker-protocol.js';

// Production runs the compiled pglite-worker.js beside this file; tests and tsx run the .ts
// sources, where the worker first registers tsx's loader (resolved from here, not from the
// working directory; on Node 20 an `--import tsx` in a worker's execArgv does not reach its entry).
function startWorker(workerData: unknown, resourceLimits: ResourceLimits | undefined): Worker {
  const options = { workerData, stdout: false, stderr: false, ...(resourceLimits === undefined ? {} : { resourceLimits }) };
  const js = new URL('./pglite-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, options);
  const ts = new URL('./pglite-worker.ts', import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(ts)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/**
 * The thread's young generation, MB. V8's default lets a busy thread's semispaces grow to tens of
 * MB that stay resident; the thread's garbage is short-lived result rows, so a small young
 * generation costs nothing measurable. Measured (compiled JS, 20,000 audit events in batches of
 * 50, data directory reopened): thread RSS after 205–237 MB with the default, 190 MB with 4 MB;
 * the same on the main thread 207–213 MB; insert time the same within noise.
 */
const WORKER_YOUNG_GENERATION_MB = 4;

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

type Pending = { resolve: (value: unknown) => void; reject: (err: unknown) => void };

// The dialect maps errors by these fields (mapPostgresError), as it does PGlite's own.
function rebuild(error: PgliteWorkerError): Error {
  const { message, ...fields } = error;
  return Object.assign(new Error(message), fields);
}

export interface PgliteWorkerClientOptions {
  /** A PGlite data directory (made by initdb in a child process when fresh); in memory when undefined. */
  dataDir?: string;
  /**
   * Bounds of the thread's JavaScript heap (not of Postgres's WASM memory); a thread that
   * exceeds maxOldGenerationSizeMb is ended like a crash. Default: only the young generation is
   * bounded (WORKER_YOUNG_GENERATION_MB), the old generation is not.
   */
  resourceLimits?: ResourceLimits;
}

/**
 * A SqlClient whose PGlite runs on a worker_thread (pglite-worker.ts), opened as openPglite opens
 * it: the statements' WASM work runs beside the event loop instead of on it. A transaction holds
 * PGlite's session from BEGIN to COMMIT/ROLLBACK: other statements wait, none interleave.
 *
 * The worker dying (a WASM trap, out of memory, terminate) fails every pending and later
 * statement with TemporarilyUnavailable; the process goes on. close() closes the database and
 * ends the thread (terminating it when it does not end within 5 s).
 *
 * @throws TemporarilyUnavailable when the database cannot be opened (the cause says why).
 */
export async function createPgliteWorkerClient(options: PgliteWorkerClientOptions = {}): Promise<SqlClient> {
  // In memory: the template is made (once) here, so that each thread does not run initdb again.
  const workerData = options.dataDir === undefined ? { template: await freshClusterTarball() } : { dataDir: options.dataDir };
  const worker = startWorker(workerData, { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, ...options.resourceLimits });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closing: Promise<void> | undefined;
  let down: TemporarilyUnavailable | undefined;

  const stop = (reason: TemporarilyUnavailable) => {
    down ??= reason;
    for (const p of pending.values()) p.reject(down);
    pending.clear();
  };

  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number) => reject(new TemporarilyUnavailable(`the embedded database's thread ended while opening (exit code ${code})`));
    const onError = (err: Error) => reject(new TemporarilyUnavailable("the embedded database's thread failed while opening", { cause: err }));
    worker.once('exit', onExit);
    worker.once('error', onError);
    worker.once('message', (message: PgliteWorkerReady) => {
      worker.off('exit', onExit);
      worker.off('error', onError);
      if (message.ready) resolve();
      else {
        void worker.terminate();
        reject(new TemporarilyUnavailable('the embedded database could not be opened', { cause: new Error(message.error.message) }));
      }
    });
  });

  worker.on('message', (replies: PgliteWorkerResponse[]) => {
    for (const message of replies) {
      const p = pending.get(message.id);
      if (p === undefined) continue;
      pending.delete(message.id);
      if (message.ok) p.resolve(message.value);
      else p.reject(rebuild(message.error));
    }
    if (pending.size === 0) worker.unref();
  });
  // An uncaught exception in the worker: the thread ends after this.
  worker.on('error', (err) => stop(new TemporarilyUnavailable("the embedded database's thread failed", { cause: err })));
  worker.on('exit', (code) => stop(new TemporarilyUnavailable(closing === undefined ? `the embedded database's thread ended (exit code ${code})` : 'the database is closed')));
  // Idle, the thread does not keep the process alive; a pending statement does.
  worker.unref();

  // Requests go out in batches, one postMessage per turn of the event loop: a message costs
  // ~10 µs of the main thread (it was 8% of its busy time under token load, one per statement).
  let outbox: PgliteWorkerRequest[] = [];
  const failed = (id: number, err: unknown) => {
    pending.get(id)?.reject(err);
    pending.delete(id);
  };
  const flush = () => {
    const batch = outbox;
    outbox = [];
    try {
      worker.postMessage(batch);
    } catch {
      // A parameter that cannot be cloned (a function, a symbol): that statement never runs, the
      // others of the batch go on their own.
      for (const request of batch) {
        try {
          worker.postMessage([request]);
        } catch (err) {
          failed(request.id, err);
        }
      }
      if (pending.size === 0) worker.unref();
    }
  };

  const call = <T>(request: WithoutId<PgliteWorkerRequest>): Promise<T> => {
    if (down !== undefined) return Promise.reject(down);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (pending.size === 1) worker.ref();
      outbox.push({ ...request, id } as PgliteWorkerRequest);
      if (outbox.length === 1) setImmediate(flush);
    });
  };

  const executor = (tx?: number): SqlExecutor => ({
    query: (sql, params) => call<SqlResult>({ op: 'query', sql, ...(params === undefined ? {} : { params: [...params] }), ...(tx === undefined ? {} : { tx }) }),
    exec: async (script) => {
      await call({ op: 'exec', script, ...(tx === undefined ? {} : { tx }) });
    },
  });

  return {
    ...executor(),
    async transaction(fn) {
      const tx = await call<number>({ op: 'begin' });
      let result;
      try {
        result = await fn(executor(tx));
      } catch (err) {
        // ROLLBACK; a failure to roll back (the thread is gone) changes nothing for the caller.
        await call({ op: 'end', tx, commit: false }).catch(() => undefined);
        throw err;
      }
      await call({ op: 'end', tx, commit: true });
      return result;
    },
    close() {
      closing ??= (async () => {
        if (down === undefined) {
          const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
          const timer = setTimeout(() => void worker.terminate(), 5_000);
          try {
            await call({ op: 'close' });
          } catch {
            void worker.terminate();
          }
          await ended;
          clearTimeout(timer);
        }
        stop(new TemporarilyUnavailable('the database is closed'));
      })();
      return closing;
    },
  };
}
