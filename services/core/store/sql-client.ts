// The seam between the repositories and a database driver. PGlite, pg and mysql2 each supply
// a SqlClient; everything above it (statements aside) is shared.

export type SqlRow = Record<string, unknown>;

export interface SqlResult {
  rows: SqlRow[];
  /**
   * Rows returned, or matched by an INSERT/UPDATE/DELETE: matched, not changed, since an UPDATE
   * that rewrites equal values still found its row (mysql2 needs the FOUND_ROWS flag for this).
   */
  rowCount: number;
}

export interface SqlExecutor {
  /** One statement with positional parameters in the engine's own placeholder syntax. */
  query(sql: string, params?: readonly unknown[]): Promise<SqlResult>;
  /** A script of several statements without parameters; migrations need it. */
  exec(script: string): Promise<void>;
}

export interface SqlClient extends SqlExecutor {
  /** Commits when fn resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
