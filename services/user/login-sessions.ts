// Server-side login sessions of the authorization endpoint. The gateway's signed cookie names a
// session; the session itself lives here, in the grid, so that ending it (logout, an admin's
// revocation) or outdating it (password change or reset) takes effect on every instance at once,
// and a cookie copied before that is refused. The grid holds only a hash of the session id, never
// the id itself; that hash is the public session id, `sid` (OpenID Connect Front/Back-Channel
// Logout 1.0 §2.1 / §2.4: the ID Token's and logout token's sid, the admin API's session id).
// Losing the grid ends every session (users log in again): the safe direction.
//
// Per-user index (admin listing and revocation): a user has at most MAX_SESSIONS_PER_USER slots,
// `<slot>:<user_id>` → sid, each claimed with putIfAbsent (race-free: two logins never share a
// slot) and written with the session's own TTL, so the index never outlives the sessions. A login
// beyond the cap ends the user's oldest session (it is returned as evicted, so the caller can send
// its back-channel logout). The clients that received an ID Token in a session are recorded the
// same way: at most MAX_CLIENTS_PER_SESSION slots `<sid>#<n>` → client_id, plus a marker
// `<sid>|<client_id>` that makes recording an already recorded client one grid operation.
import { TemporarilyUnavailable } from '../core/errors/index.js';
import type { Grid } from '../core/grid/index.js';
import { generateSecret, hashToken } from '../core/oauth/index.js';

/** The longest a login session lives, whatever its use (the gateway's absolute session lifetime). */
export const LOGIN_SESSION_MAX_SECONDS = 24 * 3600;
/** Live login sessions per user; a login beyond it ends the user's oldest session. */
export const MAX_SESSIONS_PER_USER = 10;
/** Clients recorded per session for back-channel logout; later clients of the same session are not recorded. */
export const MAX_CLIENTS_PER_SESSION = 16;
// Generated ids are 43 characters; anything much longer was never issued here.
const MAX_SESSION_ID_CHARS = 512;
// A public sid is a SHA-256 hex digest.
const SID = /^[0-9a-f]{64}$/;
// Rounds of "claim a free slot, else evict the oldest" before a login gives up (only concurrent
// logins of the same user at the cap can make a round fail).
const CLAIM_ROUNDS = 4;

interface StoredSession {
  userId: string;
  /** When the user authenticated, epoch milliseconds (compared with the password's change time). */
  startedAt: number;
  /** The user's index slot this session holds. */
  slot?: number;
}

interface IndexEntry {
  sid: string;
  startedAt: number;
}

export interface LoginSession {
  userId: string;
  startedAt: Date;
}

/** A live session as the admin API shows it. */
export interface LoginSessionInfo {
  /** The public session id: SHA-256 hex of the session id. */
  sid: string;
  userId: string;
  /** When the user authenticated. */
  startedAt: Date;
  /** When the session ends at the latest (startedAt + LOGIN_SESSION_MAX_SECONDS). */
  expiresAt: Date;
  /** Clients that received an ID Token in this session, in the order they were recorded. */
  clientIds: string[];
}

/** A session that was just ended (and by whom it was ended exactly once). */
export interface EndedSession {
  sid: string;
  userId: string;
  clientIds: string[];
}

export interface LoginSessions {
  /**
   * Starts a session for userId authenticated at startedAt. Resolves its id (256 random bits) and
   * the session ended to make room when the user already had MAX_SESSIONS_PER_USER.
   * @throws TemporarilyUnavailable when no index slot could be claimed (grid unreachable, or
   * concurrent logins of the same user kept taking the slots)
   */
  start(userId: string, startedAt: Date): Promise<{ sessionId: string; evicted: EndedSession[] }>;
  /** The live session with this id, or undefined (unknown, ended, expired or malformed id). */
  get(sessionId: string): Promise<LoginSession | undefined>;
  /** Ends the session named by its (secret) id; resolves what was ended, undefined for an unknown id. */
  end(sessionId: string): Promise<EndedSession | undefined>;
  /** Ends the session named by its public sid; undefined when unknown or already ended. */
  endBySid(sid: string): Promise<EndedSession | undefined>;
  /** The live sessions of a user, oldest first. */
  listByUser(userId: string): Promise<LoginSessionInfo[]>;
  /** The live session with this public sid, or undefined. */
  getBySid(sid: string): Promise<LoginSessionInfo | undefined>;
  /**
   * Records that clientId received (or is about to receive) an ID Token in the session, so its
   * back-channel logout endpoint is called when the session ends. Resolves false when the session
   * is unknown or its MAX_CLIENTS_PER_SESSION slots are taken (nothing recorded).
   */
  recordClient(sessionId: string, clientId: string): Promise<boolean>;
}

/** The public session id (`sid`) of a session id. */
export function publicSessionId(sessionId: string): string {
  return hashToken(sessionId);
}

export function createLoginSessions(grid: Grid, now: () => Date = () => new Date()): LoginSessions {
  const map = grid.map<StoredSession>('login-sessions');
  const index = grid.map<IndexEntry>('login-sessions-by-user');
  const clients = grid.map<string | true>('login-session-clients');
  const maxMs = LOGIN_SESSION_MAX_SECONDS * 1000;
  const keyOf = (sessionId: string) => (sessionId === '' || sessionId.length > MAX_SESSION_ID_CHARS ? undefined : hashToken(sessionId));
  const slotKey = (userId: string, slot: number) => `${slot}:${userId}`;
  // What remains of a session's life, ms; at least 1 (a TTL must be positive).
  const remainingMs = (startedAt: number) => Math.max(1, startedAt + maxMs - now().getTime());
  const isLive = (s: StoredSession | undefined): s is StoredSession =>
    s !== undefined && s !== null && typeof s.userId === 'string' && typeof s.startedAt === 'number' && s.startedAt + maxMs > now().getTime();

  async function clientsOf(sid: string): Promise<string[]> {
    const values = await Promise.all(Array.from({ length: MAX_CLIENTS_PER_SESSION }, (_, n) => clients.get(`${sid}#${n}`)));
    return values.filter((v): v is string => typeof v === 'string');
  }

  async function endStored(sid: string, s: StoredSession): Promise<EndedSession> {
    const clientIds = await clientsOf(sid);
    if (typeof s.slot === 'number') {
      const key = slotKey(s.userId, s.slot);
      // Free the slot only while it still names this session (an eviction may have reused it).
      const entry = await index.take(key);
      if (entry !== undefined && entry.sid !== sid) await index.putIfAbsent(key, entry, remainingMs(entry.startedAt));
    }
    await Promise.all([
      ...Array.from({ length: MAX_CLIENTS_PER_SESSION }, (_, n) => clients.delete(`${sid}#${n}`)),
      ...clientIds.map((clientId) => clients.delete(`${sid}|${clientId}`)),
    ]);
    return { sid, userId: s.userId, clientIds };
  }

  async function endBySid(sid: string): Promise<EndedSession | undefined> {
    if (!SID.test(sid)) return undefined;
    // take: of concurrent enders exactly one gets the session, so it is ended (and announced) once.
    const s = await map.take(sid);
    if (s === undefined || s === null || typeof s.userId !== 'string') return undefined;
    return endStored(sid, s);
  }

  async function slotsOf(userId: string): Promise<(IndexEntry | undefined)[]> {
    return Promise.all(Array.from({ length: MAX_SESSIONS_PER_USER }, (_, slot) => index.get(slotKey(userId, slot))));
  }

  async function infoOf(sid: string, s: StoredSession): Promise<LoginSessionInfo> {
    return { sid, userId: s.userId, startedAt: new Date(s.startedAt), expiresAt: new Date(s.startedAt + maxMs), clientIds: await clientsOf(sid) };
  }

  return {
    async start(userId, startedAt) {
      const sessionId = generateSecret();
      const sid = hashToken(sessionId);
      const entry: IndexEntry = { sid, startedAt: startedAt.getTime() };
      const ttl = remainingMs(entry.startedAt);
      const evicted: EndedSession[] = [];
      for (let round = 0; round < CLAIM_ROUNDS; round++) {
        const slots = await slotsOf(userId);
        for (let slot = 0; slot < slots.length; slot++) {
          if (slots[slot] !== undefined) continue;
          if (await index.putIfAbsent(slotKey(userId, slot), entry, ttl)) {
            await map.set(sid, { userId, startedAt: entry.startedAt, slot }, ttl);
            return { sessionId, evicted };
          }
        }
        // Every slot taken: end the oldest session, whose slot the next round claims.
        let oldest = -1;
        slots.forEach((e, slot) => {
          if (e !== undefined && (oldest < 0 || e.startedAt < slots[oldest]!.startedAt)) oldest = slot;
        });
        if (oldest < 0) continue;
        const taken = await index.take(slotKey(userId, oldest));
        if (taken === undefined) continue;
        const s = await map.take(taken.sid);
        if (s !== undefined && s !== null && typeof s.userId === 'string') evicted.push(await endStored(taken.sid, { ...s, slot: undefined }));
      }
      throw new TemporarilyUnavailable('the login session could not be recorded; try again');
    },
    async get(sessionId) {
      const key = keyOf(sessionId);
      if (key === undefined) return undefined;
      const s = await map.get(key);
      if (!isLive(s)) return undefined;
      return { userId: s.userId, startedAt: new Date(s.startedAt) };
    },
    async end(sessionId) {
      const key = keyOf(sessionId);
      return key === undefined ? undefined : endBySid(key);
    },
    endBySid,
    async listByUser(userId) {
      const entries = (await slotsOf(userId)).filter((e): e is IndexEntry => e !== undefined && typeof e.sid === 'string');
      const found = await Promise.all(
        entries.map(async (e) => {
          const s = await map.get(e.sid);
          // A slot whose session ended without freeing it (a crash between the two writes) is skipped.
          return isLive(s) && s.userId === userId ? infoOf(e.sid, s) : undefined;
        }),
      );
      return found.filter((i): i is LoginSessionInfo => i !== undefined).sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
    },
    async getBySid(sid) {
      if (!SID.test(sid)) return undefined;
      const s = await map.get(sid);
      return isLive(s) ? infoOf(sid, s) : undefined;
    },
    async recordClient(sessionId, clientId) {
      const sid = keyOf(sessionId);
      if (sid === undefined || clientId === '') return false;
      const s = await map.get(sid);
      if (!isLive(s)) return false;
      const ttl = remainingMs(s.startedAt);
      if (!(await clients.putIfAbsent(`${sid}|${clientId}`, true, ttl))) return true;
      for (let n = 0; n < MAX_CLIENTS_PER_SESSION; n++) {
        if (await clients.putIfAbsent(`${sid}#${n}`, clientId, ttl)) return true;
      }
      return false;
    },
  };
}
