// Server-side login sessions of the authorization endpoint. The gateway's signed cookie names a
// session; the session itself lives here, in the grid, so that ending it (logout) or outdating
// it (password change or reset) takes effect on every instance at once, and a cookie copied
// before that is refused. The grid holds only a hash of the session id, never the id itself.
// Losing the grid ends every session (users log in again): the safe direction.
import type { Grid } from '../core/grid/index.js';
import { generateSecret, hashToken } from '../core/oauth/index.js';

/** The longest a login session lives, whatever its use (the gateway's absolute session lifetime). */
export const LOGIN_SESSION_MAX_SECONDS = 24 * 3600;
// Generated ids are 43 characters; anything much longer was never issued here.
const MAX_SESSION_ID_CHARS = 512;

interface StoredSession {
  userId: string;
  /** When the user authenticated, epoch milliseconds (compared with the password's change time). */
  startedAt: number;
}

export interface LoginSession {
  userId: string;
  startedAt: Date;
}

export interface LoginSessions {
  /** Starts a session for userId authenticated at startedAt; resolves its id (256 random bits). */
  start(userId: string, startedAt: Date): Promise<string>;
  /** The live session with this id, or undefined (unknown, ended, expired or malformed id). */
  get(sessionId: string): Promise<LoginSession | undefined>;
  /** Ends the session; an unknown id is not an error. */
  end(sessionId: string): Promise<void>;
}

export function createLoginSessions(grid: Grid): LoginSessions {
  const map = grid.map<StoredSession>('login-sessions');
  const keyOf = (sessionId: string) => (sessionId === '' || sessionId.length > MAX_SESSION_ID_CHARS ? undefined : hashToken(sessionId));
  return {
    async start(userId, startedAt) {
      const sessionId = generateSecret();
      await map.set(hashToken(sessionId), { userId, startedAt: startedAt.getTime() }, LOGIN_SESSION_MAX_SECONDS * 1000);
      return sessionId;
    },
    async get(sessionId) {
      const key = keyOf(sessionId);
      if (key === undefined) return undefined;
      const s = await map.get(key);
      if (s === undefined || typeof s.userId !== 'string' || typeof s.startedAt !== 'number') return undefined;
      return { userId: s.userId, startedAt: new Date(s.startedAt) };
    },
    async end(sessionId) {
      const key = keyOf(sessionId);
      if (key !== undefined) await map.delete(key);
    },
  };
}
