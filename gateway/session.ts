// The login session of the authorization endpoint: a signed cookie naming the user, when they
// authenticated and the server-side session (user service, CheckSession), so a logged-in user is
// not asked for their password again. It holds no password and no token; the signature
// (HMAC-SHA256 with the cookie secret) makes it unforgeable, and the server-side session makes it
// revocable: after logout or a password change a saved copy of the cookie is worth nothing.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGIN_SESSION_MAX_SECONDS } from '../services/user/login-sessions.js';
import { baseCookieOptions } from './cookie-options.js';

export const SESSION_COOKIE = 'authmesh_session';
/** A session unused for this long ends (sliding: every authorization refreshes it). */
export const SESSION_IDLE_SECONDS = 8 * 3600;
/** A session ends this long after the login whatever its use: the password is asked again. */
export const SESSION_ABSOLUTE_SECONDS = LOGIN_SESSION_MAX_SECONDS;
// Distinguishes a session value from any other value signed with the same secret (the CSRF cookie).
const PREFIX = 's2.';

export interface Session {
  userId: string;
  /** When the user authenticated (becomes auth_time of the grant). */
  authTime: Date;
  /** The server-side session (AuthenticateUser's session_id), checked on every use. */
  sessionId: string;
}

interface SessionPayload {
  u: string;
  /** auth_time, epoch seconds. */
  at: number;
  /** last use, epoch seconds. */
  ls: number;
  /** server-side session id */
  sid: string;
}

function decode(raw: string): SessionPayload | undefined {
  if (!raw.startsWith(PREFIX)) return undefined;
  try {
    const p = JSON.parse(Buffer.from(raw.slice(PREFIX.length), 'base64url').toString('utf8')) as Partial<SessionPayload>;
    if (typeof p.u !== 'string' || p.u === '' || typeof p.at !== 'number' || typeof p.ls !== 'number') return undefined;
    if (typeof p.sid !== 'string' || p.sid === '') return undefined;
    return { u: p.u, at: p.at, ls: p.ls, sid: p.sid };
  } catch {
    return undefined;
  }
}

export function createSessions(issuer: string, now: () => Date = () => new Date()) {
  const options = { ...baseCookieOptions(issuer), sameSite: 'lax' as const };
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  function write(reply: FastifyReply, payload: SessionPayload): void {
    const remaining = payload.at + SESSION_ABSOLUTE_SECONDS - payload.ls;
    const value = PREFIX + Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    reply.setCookie(SESSION_COOKIE, value, { ...options, maxAge: Math.max(0, Math.min(SESSION_IDLE_SECONDS, remaining)) });
  }

  return {
    /**
     * The session this request's cookie names, or undefined (absent, forged, idle or too old).
     * Only the cookie is checked here: the caller asks the user service whether the server-side
     * session is still active before acting on it.
     */
    read(req: FastifyRequest): Session | undefined {
      const cookie = req.cookies[SESSION_COOKIE];
      if (cookie === undefined) return undefined;
      const unsigned = req.unsignCookie(cookie);
      if (!unsigned.valid || unsigned.value === null) return undefined;
      const p = decode(unsigned.value);
      if (p === undefined) return undefined;
      const t = nowSeconds();
      // The expiry is checked here, not left to the browser's Max-Age: a copied cookie is refused too.
      if (t - p.ls > SESSION_IDLE_SECONDS || t - p.at > SESSION_ABSOLUTE_SECONDS || p.at > t + 60) return undefined;
      return { userId: p.u, authTime: new Date(p.at * 1000), sessionId: p.sid };
    },
    /** Starts a session after a successful login, naming the server-side session sessionId. */
    start(reply: FastifyReply, userId: string, authTime: Date, sessionId: string): void {
      const t = nowSeconds();
      write(reply, { u: userId, at: Math.min(t, Math.floor(authTime.getTime() / 1000)), ls: t, sid: sessionId });
    },
    /** Marks the session used now (the idle timeout restarts; the absolute one does not). */
    touch(reply: FastifyReply, session: Session): void {
      write(reply, { u: session.userId, at: Math.floor(session.authTime.getTime() / 1000), ls: nowSeconds(), sid: session.sessionId });
    },
    clear(reply: FastifyReply): void {
      reply.clearCookie(SESSION_COOKIE, { ...options, signed: false });
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
