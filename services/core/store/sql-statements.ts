// Every statement the repositories run, by name. Each engine supplies one object of this shape
// (postgres-statements.ts, mysql-statements.ts), so SQL text lives in one file per engine.
//
// Placeholders are `:name`; the dialect compiles them to `$n` or `?`. Rows come back with the
// snake_case column names of the migrations.

export interface SqlStatements {
  migrations: {
    createTable: string;
    /**
     * Serialises concurrent runners (several services starting at once). A row with a `locked`
     * column other than 1 means the lock was not obtained (MySQL's GET_LOCK timing out).
     */
    lock: string;
    /** Releases `lock` where it outlives the transaction (MySQL's GET_LOCK is session-scoped). */
    unlock?: string;
    applied: string;
    record: string;
  };
  clients: {
    insert: string;
    get: string;
    getForUpdate: string;
    list: string;
    update: string;
    delete: string;
  };
  users: {
    insert: string;
    get: string;
    getForUpdate: string;
    getByUsername: string;
    list: string;
    update: string;
    delete: string;
    /** Returns failed_login_count and locked_until of the row it changed, unless readLoginFailures is set. */
    recordLoginFailure: string;
    /**
     * For engines without UPDATE ... RETURNING (MariaDB): read back failed_login_count and
     * locked_until after recordLoginFailure, in the same transaction.
     */
    readLoginFailures?: string;
    resetLoginFailures: string;
    exists: string;
  };
  services: {
    insert: string;
    get: string;
    getForUpdate: string;
    getByAudience: string;
    list: string;
    update: string;
    delete: string;
  };
  keys: {
    insert: string;
    get: string;
    getForUpdate: string;
    list: string;
    updateStatus: string;
    deleteExpired: string;
  };
  refreshTokens: {
    insert: string;
    get: string;
    getForUpdate: string;
    markRotated: string;
    /**
     * One statement that exchanges a live token (:tokenHash, presented by :clientId, at :now, of
     * no user or of a user whose account is not disabled) for its successor (:nextHash), copied
     * from it, and returns the old row as updated; no row otherwise (the caller then classifies
     * it in a transaction).
     * Absent (MariaDB: no data-modifying CTE): rotation is always the locking transaction.
     */
    rotateLive?: string;
    /** Whether the token's user account is disabled (:userId): a disabled account's grants do not refresh. */
    userDisabled: string;
    revoke: string;
    revokeFamily: string;
    revokeByUser: string;
    revokeByClient: string;
    listByUser: string;
    listByClient: string;
    deleteExpired: string;
  };
  consents: {
    get: string;
    /** Returns the stored row, unless readUpserted is set. */
    upsert: string;
    /** For engines without INSERT ... RETURNING (MySQL): the row after upsert, same transaction. */
    readUpserted?: string;
    delete: string;
    listByUser: string;
  };
  revocations: {
    /** Inserts, or on a repeat keeps revoked_at and the later expires_at. */
    upsert: string;
    listBucket: string;
    deleteExpired: string;
  };
  grantTokens: {
    /** Inserts; a repeat of the same (grant, jti) changes nothing. */
    insert: string;
    /** The grant's rows locked for the removal that follows (same transaction). */
    listForUpdate: string;
    /** Removes one row of the grant: exactly what was listed, never a row added meanwhile. */
    deleteOne: string;
    deleteExpired: string;
  };
  audit: {
    /** Returns the stored row, unless readInserted is set. */
    insert: string;
    /** For engines without INSERT ... RETURNING (MySQL): the row just inserted, same transaction. */
    readInserted?: string;
    /** Inserts every element of the JSON array :events in one statement; absent = one by one. */
    insertMany?: string;
    /** Newest first, ids below :before (the page token); filters as AuditFilter. */
    list: string;
    /** Oldest first, ids above :after (the tail cursor); same filters. */
    listAfter: string;
  };
}
