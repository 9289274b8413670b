// Revocations of access tokens (RFC 7009 §2.1): durable in the SQL store, served hot from the grid.
//
// A revocation acknowledged to a caller must survive the loss of any grid member and a full grid
// restart (issue 11), while introspection and ext_authz Check must not touch SQL on success
// (DESIGN.md §7). One grid entry per revoked jti cannot give both: once lost, a revoked jti's
// entry looks exactly like a jti never revoked, and absence is the answer "active". So:
//
// - The grid holds revocations in BUCKETS buckets. Each bucket is ONE entry of the 'revocations'
//   map holding every revocation of that bucket still in force, and it exists even when empty: it
//   is created from SQL and never expires. An entry is lost whole or not at all (it lives in one
//   partition, whose backup copy holds it whole), so a bucket absent from the grid means "lost, or
//   not loaded since the grid started", never "nothing revoked": the reader then loads that bucket
//   from SQL, puts it back, and answers from what it loaded.
// - This works per bucket, so it covers a full restart (every bucket gone) and a partial loss (a
//   member killed before its backups were copied: exactly the buckets of the partitions that lost
//   both copies are gone) the same way. It needs no marker entry, which could survive the data it
//   vouches for when the two sit in different partitions, and no cluster events (hazelcast-client
//   for Node has no partition-lost listener, and an event arrives after the reads it should stop).
//   SQL is read once per lost bucket, by the first request that needs it; concurrent readers in a
//   process share that one load.
// - What it relies on: a bucket is current or absent, never an older version. An acknowledged
//   grid write is on two members (backup-count 1, synchronous; the grid client fails a write whose
//   backup did not acknowledge), so losing one member cannot roll a bucket back.
// - Revoking writes SQL first, then adds to the bucket by compare-and-set (GridMap.replace); only
//   then is the revocation acknowledged. A failure of either step is an error to the caller,
//   never an acknowledgement; a row written before a failed grid step is harmless (idempotent).
//
// Reads that the grid does not answer in time (issue 18: a member killed, the client failing over
// to the survivor, can hold a read for up to the grid's operation timeout, far past an ext_authz
// deadline of 250 ms): after `storeHedgeMs`, or at once when the grid read fails, the same bucket
// is also read from SQL, and the first answer wins. This never accepts a revoked token: every
// acknowledged revocation was committed to SQL before it was acknowledged (revoke() below), and a
// row leaves SQL only once what it revokes has expired, so a SQL read started after an
// acknowledgement holds it, exactly as the grid's bucket does. Nothing is answered from memory: no
// view older than the read itself is ever used, so there is no window in which a revocation
// acknowledged by another instance could be missed. When neither answers, the read fails
// (TemporarilyUnavailable): fail closed.
//
// A bucket absent from the grid is loaded from SQL, so a Check during a SQL outage fails for a
// bucket nobody loaded yet; warm() loads every missing bucket once at start (the token service
// calls it), so that after start a Postgres restart alone is answered from the grid.
//
// Rows and bucket members live until what they revoke has expired (plus the clock tolerance);
// expired members are dropped from a bucket whenever it is rewritten, expired rows are pruned
// from SQL at most once an hour per process.
import { createHash } from 'node:crypto';
import { TemporarilyUnavailable } from '../errors/index.js';
import type { Grid } from '../grid/index.js';
import type { Logger } from '../log/index.js';
import type { RevocationKind, RevocationStore } from '../store/index.js';

/** The grid map of the buckets; hazelcast/hazelcast.xml configures it without TTL or eviction. */
export const REVOCATIONS_MAP = 'revocations';
/**
 * How many buckets: after a full grid loss at most this many SQL reads (one per bucket, on first
 * use); each bucket holds about 1/BUCKETS of the live revocations (a million live revocations:
 * ~1000 per bucket, ~40 kB read per check).
 */
export const REVOCATION_BUCKETS = 1024;

const PRUNE_INTERVAL_MS = 3_600_000;
const MAX_WRITE_ATTEMPTS = 50;
const KIND_PREFIX: Record<RevocationKind, string> = { access_token: 'at:', grant: 'g:' };

/** A bucket in the grid: member ("at:<jti>", "g:<gid>") → epoch second until which the revocation holds. */
type Bucket = Record<string, number>;

export interface RevocationList {
  /**
   * Whether `id` of `kind` is revoked now. Reads one grid entry; reads SQL only when that entry
   * is missing (grid restarted or lost it). Rejects with TemporarilyUnavailable when the grid or
   * the store cannot answer: never "not revoked" by default.
   */
  isRevoked(kind: RevocationKind, id: string): Promise<boolean>;
  /**
   * Revokes `id` of `kind` until `untilEpochSeconds` (the expiry of what it revokes): in SQL
   * first, then in the grid. Resolves only once both hold it. Idempotent.
   * @throws TemporarilyUnavailable when either step fails (the caller may retry).
   */
  revoke(kind: RevocationKind, id: string, untilEpochSeconds: number): Promise<void>;
  /**
   * Loads every bucket the grid does not hold yet from SQL into the grid, one at a time, so
   * later reads need SQL only for buckets the grid loses. Resolves with the number of buckets
   * loaded; stops at the first failure (rejects with it), leaving the rest to the reads.
   */
  warm(): Promise<number>;
  /** Reads answered from SQL because the grid was slow or failing (since start). */
  storeAnswers(): number;
}

/**
 * Every revocation that ends an access token, as [kind, id] pairs to check with isRevoked: its
 * own jti (RFC 7009 §2.1), the jti chain it was exchanged from (RFC 8693 §5, src_jti), and the
 * grant it was issued from (gid: a replayed code, RFC 6749 §4.1.2; a reused refresh token,
 * RFC 9700 §4.14.2; a revoked refresh token, RFC 7009 §2.1). One revocation entry per grant
 * replaces one per access token the grant produced.
 */
export function revocationsOf(claims: { jti: string; src_jti?: readonly string[] | undefined; gid?: string | undefined }): Array<[RevocationKind, string]> {
  const checks: Array<[RevocationKind, string]> = [['access_token', claims.jti]];
  for (const jti of claims.src_jti ?? []) checks.push(['access_token', jti]);
  if (claims.gid !== undefined) checks.push(['grant', claims.gid]);
  return checks;
}

export interface RevocationListOptions {
  grid: Grid;
  store: RevocationStore;
  log?: Logger | undefined;
  now?: () => Date;
  /**
   * How long a read waits for the grid before it also reads SQL (ms, default
   * DEFAULT_STORE_HEDGE_MS). Well inside an ext_authz deadline (250 ms), well above a grid read
   * (under 1 ms on loopback, a few ms on a loaded host).
   */
  storeHedgeMs?: number;
}

/** Default of RevocationListOptions.storeHedgeMs. */
export const DEFAULT_STORE_HEDGE_MS = 40;

/** The bucket of a revocation: the first 32 bits of SHA-256 over kind and id, modulo BUCKETS. */
export function revocationBucket(kind: RevocationKind, id: string): number {
  return createHash('sha256').update(KIND_PREFIX[kind]).update(id).digest().readUInt32BE(0) % REVOCATION_BUCKETS;
}

export function createRevocationList(options: RevocationListOptions): RevocationList {
  const now = options.now ?? (() => new Date());
  const buckets = options.grid.map<Bucket>(REVOCATIONS_MAP);
  const loading = new Map<number, Promise<Bucket>>();
  const hedgeMs = options.storeHedgeMs ?? DEFAULT_STORE_HEDGE_MS;
  if (!Number.isSafeInteger(hedgeMs) || hedgeMs < 0) throw new RangeError('storeHedgeMs must be a whole number of ms >= 0');
  let storeAnswers = 0;
  let lastPrune = 0;

  const keyOf = (bucket: number) => `b${bucket}`;
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  async function fromStore(bucket: number): Promise<Bucket> {
    const rows = await options.store.listBucket(bucket, now());
    const loaded: Bucket = {};
    for (const r of rows) loaded[KIND_PREFIX[r.kind] + r.id] = Math.ceil(r.expiresAt.getTime() / 1000);
    return loaded;
  }

  /** A missing bucket, loaded from SQL and put back; one load per bucket at a time per process. */
  function reload(bucket: number): Promise<Bucket> {
    let pending = loading.get(bucket);
    if (pending === undefined) {
      pending = (async () => {
        const loaded = await fromStore(bucket);
        if (await buckets.putIfAbsent(keyOf(bucket), loaded)) {
          options.log?.debug({ bucket, revocations: Object.keys(loaded).length }, 'revocation bucket reloaded from the store into the grid');
          return loaded;
        }
        // Another process (or a revocation) put it back first: its copy is at least as recent.
        return (await buckets.get(keyOf(bucket))) ?? loaded;
      })().finally(() => loading.delete(bucket));
      loading.set(bucket, pending);
    }
    return pending;
  }

  function pruneStore(): void {
    const at = now();
    if (at.getTime() - lastPrune < PRUNE_INTERVAL_MS) return;
    lastPrune = at.getTime();
    options.store.deleteExpired(at).then(
      (count) => {
        if (count > 0) options.log?.debug({ count }, 'expired revocations pruned from the store');
      },
      (err: unknown) => options.log?.warn({ err }, 'pruning expired revocations failed; retried within the hour'),
    );
  }

  /**
   * The bucket as the grid holds it (loaded from SQL when absent), or as SQL holds it when the
   * grid has not answered within `hedgeMs` or failed: whichever answers first. Both hold every
   * acknowledged revocation (see the top of this file). Rejects only when both fail.
   */
  function heldBucket(bucket: number): Promise<Bucket> {
    return new Promise<Bucket>((resolve, reject) => {
      let settled = false;
      let pending = 1;
      let storeAsked = false;
      let firstError: unknown;
      const win = (held: Bucket) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(held);
      };
      const askStore = () => {
        if (storeAsked || settled) return;
        storeAsked = true;
        pending++;
        fromStore(bucket).then((held) => {
          if (!settled) storeAnswers++;
          win(held);
        }, lose);
      };
      function lose(err: unknown): void {
        firstError ??= err;
        pending--;
        // The grid failed before the hedge: ask SQL now rather than wait.
        if (!storeAsked) askStore();
        else if (pending === 0 && !settled) {
          settled = true;
          clearTimeout(timer);
          reject(firstError);
        }
      }
      const timer = setTimeout(askStore, hedgeMs);
      (async () => (await buckets.get(keyOf(bucket))) ?? (await reload(bucket)))().then(win, lose);
    });
  }

  return {
    async isRevoked(kind, id) {
      const held = await heldBucket(revocationBucket(kind, id));
      const until = held[KIND_PREFIX[kind] + id];
      return until !== undefined && until > nowSeconds();
    },

    async warm() {
      let loaded = 0;
      for (let bucket = 0; bucket < REVOCATION_BUCKETS; bucket++) {
        if ((await buckets.get(keyOf(bucket))) !== undefined) continue;
        await reload(bucket);
        loaded++;
      }
      return loaded;
    },

    storeAnswers: () => storeAnswers,

    async revoke(kind, id, untilEpochSeconds) {
      if (!Number.isSafeInteger(untilEpochSeconds)) throw new TypeError('untilEpochSeconds must be an integer');
      if (untilEpochSeconds <= nowSeconds()) return;
      const bucket = revocationBucket(kind, id);
      const member = KIND_PREFIX[kind] + id;
      // Durable first: from here on, any reload of this bucket includes the revocation.
      await options.store.add({ kind, id, bucket, expiresAt: new Date(untilEpochSeconds * 1000) });
      pruneStore();
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const current = await buckets.get(keyOf(bucket));
        if (current === undefined) {
          // Not reload(): a load already in flight may have read SQL before the row above.
          if (await buckets.putIfAbsent(keyOf(bucket), await fromStore(bucket))) return;
          continue;
        }
        if ((current[member] ?? 0) >= untilEpochSeconds) return;
        const at = nowSeconds();
        const next: Bucket = {};
        for (const [m, until] of Object.entries(current)) if (until > at) next[m] = until;
        next[member] = untilEpochSeconds;
        if (await buckets.replace(keyOf(bucket), current, next)) return;
        await sleep(Math.random() * 5 * (attempt + 1));
      }
      throw new TemporarilyUnavailable('the revocation could not be recorded in the grid, try again');
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
