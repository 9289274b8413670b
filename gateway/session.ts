// The login sessions of the authorization endpoint: a signed cookie naming, for each account
// signed in with this browser (at most MAX_BROWSER_ACCOUNTS, the current one first), the user,
// when they authenticated and the server-side session (user service, CheckSession), so a
// logged-in user is not asked for their password again and can switch accounts (the account
// chooser). It holds no password and no token; the signature (HMAC-SHA256 with the cookie secret)
// makes it unforgeable, and the server-side session makes it revocable: after logout or a password
// change a saved copy of the cookie is worth nothing.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGIN_SESSION_MAX_SECONDS } from '../services/user/login-sessions.js';
import { baseCookieOptions } from './cookie-options.js';

export const SESSION_COOKIE = 'authmesh_session';
/** A session unused for this long ends (sliding: every authorization refreshes it). */
export const SESSION_IDLE_SECONDS = 8 * 3600;
/** A session ends this long after the login whatever its use: the password is asked again. */
export const SESSION_ABSOLUTE_SECONDS = LOGIN_SESSION_MAX_SECONDS;
/** Accounts one browser keeps signed in at once; a further login forgets the least recently current one. */
export const MAX_BROWSER_ACCOUNTS = 5;
// Distinguishes a session value from any other value signed with the same secret (the CSRF cookie).
// s3 holds a list of accounts; s2 (one account) is still read, so an upgrade signs no one out.
const PREFIX = 's3.';
const PREFIX_V2 = 's2.';

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

function entry(p: Partial<SessionPayload> | null | undefined): SessionPayload | undefined {
  if (p === null || typeof p !== 'object') return undefined;
  if (typeof p.u !== 'string' || p.u === '' || typeof p.at !== 'number' || typeof p.ls !== 'number') return undefined;
  if (typeof p.sid !== 'string' || p.sid === '') return undefined;
  return { u: p.u, at: p.at, ls: p.ls, sid: p.sid };
}

interface Decoded {
  list: SessionPayload[];
  /** Whether the first account is the current one (false after an account signed out: the others are offered, none is used). */
  current: boolean;
}

function decode(raw: string): Decoded {
  const none = { list: [], current: false };
  const v3 = raw.startsWith(PREFIX);
  if (!v3 && !raw.startsWith(PREFIX_V2)) return none;
  try {
    const parsed = JSON.parse(Buffer.from(raw.slice(PREFIX.length), 'base64url').toString('utf8')) as { a?: unknown; c?: unknown };
    const list = v3 ? (Array.isArray(parsed.a) ? (parsed.a as Partial<SessionPayload>[]) : []) : [parsed as Partial<SessionPayload>];
    return {
      list: list
        .slice(0, MAX_BROWSER_ACCOUNTS)
        .map(entry)
        .filter((e): e is SessionPayload => e !== undefined),
      current: v3 ? parsed.c === true : true,
    };
  } catch {
    return none;
  }
}

const toSession = (p: SessionPayload): Session => ({ userId: p.u, authTime: new Date(p.at * 1000), sessionId: p.sid });

export function createSessions(issuer: string, now: () => Date = () => new Date()) {
  const options = { ...baseCookieOptions(issuer), sameSite: 'lax' as const };
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  /** The cookie's accounts still within their idle and absolute lifetimes, current first. */
  function decoded(req: FastifyRequest): Decoded {
    const cookie = req.cookies[SESSION_COOKIE];
    if (cookie === undefined) return { list: [], current: false };
    const unsigned = req.unsignCookie(cookie);
    if (!unsigned.valid || unsigned.value === null) return { list: [], current: false };
    const t = nowSeconds();
    const d = decode(unsigned.value);
    // The expiry is checked here, not left to the browser's Max-Age: a copied cookie is refused too.
    const live = (p: SessionPayload) => !(t - p.ls > SESSION_IDLE_SECONDS || t - p.at > SESSION_ABSOLUTE_SECONDS || p.at > t + 60);
    return { list: d.list.filter(live), current: d.current && d.list[0] !== undefined && live(d.list[0]) };
  }
  const entries = (req: FastifyRequest) => decoded(req).list;

  function write(reply: FastifyReply, list: SessionPayload[], current = true): void {
    if (list.length === 0) {
      reply.clearCookie(SESSION_COOKIE, { ...options, signed: false });
      return;
    }
    const t = nowSeconds();
    // The cookie lives as long as its longest-lived account.
    const maxAge = Math.max(...list.map((p) => Math.min(p.ls + SESSION_IDLE_SECONDS, p.at + SESSION_ABSOLUTE_SECONDS) - t));
    const value = PREFIX + Buffer.from(JSON.stringify({ a: list.slice(0, MAX_BROWSER_ACCOUNTS), c: current }), 'utf8').toString('base64url');
    reply.setCookie(SESSION_COOKIE, value, { ...options, maxAge: Math.max(0, Math.min(SESSION_IDLE_SECONDS, maxAge)) });
  }

  return {
    /**
     * The current session of this request's cookie, or undefined (absent, forged, idle or too old).
     * Only the cookie is checked here: the caller asks the user service whether the server-side
     * session is still active before acting on it.
     */
    read(req: FastifyRequest): Session | undefined {
      const d = decoded(req);
      return d.current && d.list[0] !== undefined ? toSession(d.list[0]) : undefined;
    },
    /** Every account of the cookie (current first), checked like read. */
    accounts(req: FastifyRequest): Session[] {
      return entries(req).map(toSession);
    },
    /**
     * Starts a session after a successful login, naming the server-side session sessionId; it
     * becomes current, replaces an earlier session of the same user, and pushes out the least
     * recently current account beyond MAX_BROWSER_ACCOUNTS. Resolves the sessions no longer kept.
     */
    start(req: FastifyRequest, reply: FastifyReply, userId: string, authTime: Date, sessionId: string): Session[] {
      const t = nowSeconds();
      const fresh: SessionPayload = { u: userId, at: Math.min(t, Math.floor(authTime.getTime() / 1000)), ls: t, sid: sessionId };
      const others = entries(req).filter((p) => p.u !== userId && p.sid !== sessionId);
      const all = [fresh, ...others];
      write(reply, all);
      const replaced = entries(req).filter((p) => p.u === userId && p.sid !== sessionId);
      return [...replaced, ...all.slice(MAX_BROWSER_ACCOUNTS)].map(toSession);
    },
    /** Marks the session used now (the idle timeout restarts; the absolute one does not) and makes it current. */
    touch(req: FastifyRequest, reply: FastifyReply, session: Session): void {
      const list = entries(req);
      const mine = list.find((p) => p.sid === session.sessionId);
      const updated: SessionPayload = { u: session.userId, at: mine?.at ?? Math.floor(session.authTime.getTime() / 1000), ls: nowSeconds(), sid: session.sessionId };
      write(reply, [updated, ...list.filter((p) => p.sid !== session.sessionId)]);
    },
    /**
     * Forgets one account (after its server-side session ended). The others stay signed in but
     * none becomes current: the next authorization offers them in the account chooser instead of
     * silently continuing as someone else.
     */
    remove(req: FastifyRequest, reply: FastifyReply, sessionId: string): void {
      write(
        reply,
        entries(req).filter((p) => p.sid !== sessionId),
        false,
      );
    },
    /** Forgets every account of this browser. */
    clear(reply: FastifyReply): void {
      reply.clearCookie(SESSION_COOKIE, { ...options, signed: false });
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
