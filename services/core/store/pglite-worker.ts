// The embedded database on its own thread: a worker_thread that owns one PGlite and answers the
// requests of createPgliteWorkerClient (pglite-worker-client.ts). Postgres in WASM runs
// synchronously; here its work does not hold the event loop that serves requests.
//
// Protocol (structured clone over the worker's port), one reply per request, matched by id; both
// sides send arrays of these, gathered over one turn of their event loop:
//   → { id, op: 'query', sql, params?, tx? } | { id, op: 'exec', script, tx? }
//   → { id, op: 'begin' } (replies { tx } once the transaction holds the session)
//   → { id, op: 'end', tx, commit } (COMMIT, or ROLLBACK when commit is false)
//   → { id, op: 'close' } (closes PGlite; the thread then ends)
//   ← { id, ok: true, value } | { id, ok: false, error: { message, code?, constraint?, table? } }
// First message from the worker: { ready: true } or { ready: false, error }.

import { parentPort, workerData } from 'node:worker_threads';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { openPglite } from './pglite-cluster.js';
import type { PgliteWorkerError, PgliteWorkerRequest, PgliteWorkerResponse } from './pglite-worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('pglite-worker runs as a worker_thread');

// What the Postgres dialect maps (SQLSTATE, constraint, table); driver messages stay here too,
// as they can quote values.
function errorOf(err: unknown): PgliteWorkerError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const pick = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : undefined);
  const code = pick('code');
  return {
    message: code === undefined ? 'the embedded database failed' : `postgres error ${code}`,
    ...(code === undefined ? {} : { code }),
    ...(pick('constraint') === undefined ? {} : { constraint: pick('constraint') }),
    ...(pick('table') === undefined ? {} : { table: pick('table') }),
  };
}

const ROLLBACK = Symbol('rollback');

async function serve(pg: PGlite): Promise<void> {
  const txs = new Map<number, { tx: Transaction; end: (commit: boolean) => void }>();
  let nextTx = 1;
  let outbox: PgliteWorkerResponse[] = [];
  const flush = () => {
    if (outbox.length === 0) return;
    const batch = outbox;
    outbox = [];
    try {
      port!.postMessage(batch);
    } catch {
      // A value that cannot be cloned fails its own statement, not the batch.
      for (const message of batch) {
        try {
          port!.postMessage([message]);
        } catch (err) {
          port!.postMessage([{ id: message.id, ok: false, error: errorOf(err) }]);
        }
      }
    }
  };
  const reply = (message: PgliteWorkerResponse) => {
    if (outbox.push(message) === 1) setImmediate(flush);
  };
  const target = (tx: number | undefined): Pick<PGlite, 'query' | 'exec'> | Transaction => {
    if (tx === undefined) return pg;
    const open = txs.get(tx);
    if (open === undefined) throw Object.assign(new Error('no such transaction'), { code: '25P01' });
    return open.tx;
  };

  port!.on('message', (requests: PgliteWorkerRequest[]) => {
    for (const request of requests) handle(request);
  });

  function handle(request: PgliteWorkerRequest): void {
    const { id } = request;
    const fail = (err: unknown) => reply({ id, ok: false, error: errorOf(err) });
    switch (request.op) {
      case 'query':
        void (async () => {
          try {
            const result = await target(request.tx).query<Record<string, unknown>>(request.sql, request.params);
            reply({ id, ok: true, value: { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length } });
          } catch (err) {
            fail(err);
          }
        })();
        return;
      case 'exec':
        void (async () => {
          try {
            await target(request.tx).exec(request.script);
            reply({ id, ok: true, value: null });
          } catch (err) {
            fail(err);
          }
        })();
        return;
      case 'begin': {
        const tx = nextTx++;
        // PGlite's transaction holds the session until its callback settles: statements of
        // other requests wait for it (query and exec take the same lock), none interleave.
        pg.transaction(
          (handle) =>
            new Promise<void>((resolve, reject) => {
              txs.set(tx, { tx: handle, end: (commit) => (commit ? resolve() : reject(ROLLBACK)) });
              reply({ id, ok: true, value: tx });
            }),
        ).then(
          () => settle(tx, null),
          (err: unknown) => settle(tx, err === ROLLBACK ? null : err),
        );
        return;
      }
      case 'end': {
        const open = txs.get(request.tx);
        if (open === undefined) {
          fail(Object.assign(new Error('no such transaction'), { code: '25P01' }));
          return;
        }
        ends.set(request.tx, id);
        open.end(request.commit);
        return;
      }
      case 'close':
        void pg.close().then(
          () => {
            reply({ id, ok: true, value: null });
            flush();
            port!.close();
          },
          fail,
        );
        return;
    }
  }

  // The reply to 'end' waits for COMMIT/ROLLBACK to finish.
  const ends = new Map<number, number>();
  function settle(tx: number, err: unknown): void {
    txs.delete(tx);
    const id = ends.get(tx);
    ends.delete(tx);
    if (id === undefined) return;
    if (err === null) reply({ id, ok: true, value: null });
    else reply({ id, ok: false, error: errorOf(err) });
  }
}

const { dataDir, template } = workerData as { dataDir?: string; template?: Uint8Array };
openPglite(dataDir, template).then(
  async (pg) => {
    await serve(pg);
    port.postMessage({ ready: true });
  },
  (err: unknown) => {
    // Open failures carry no SQL values; their message (a path, initdb's stderr) is what start-up reports.
    port.postMessage({ ready: false, error: { message: err instanceof Error ? err.message : String(err) } });
  },
);
