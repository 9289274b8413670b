// The messages between createPgliteWorkerClient and pglite-worker.ts (see that file).

export type PgliteWorkerRequest =
  | { id: number; op: 'query'; sql: string; params?: unknown[]; tx?: number }
  | { id: number; op: 'exec'; script: string; tx?: number }
  | { id: number; op: 'begin' }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'close' };

/** What crosses from a failed statement: the fields the Postgres dialect maps, no values. */
export interface PgliteWorkerError {
  message: string;
  code?: string;
  constraint?: string;
  table?: string;
}

export type PgliteWorkerResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: PgliteWorkerError };

export type PgliteWorkerReady = { ready: true } | { ready: false; error: { message: string } };
