// CSRF protection of the login, consent and logout forms: a signed double-submit token. A random
// token lives in a signed, HttpOnly, SameSite=Strict cookie and in a hidden field of each form;
// a POST is accepted only when both are present, the cookie's signature is valid and the two are
// equal (compared in constant time). A cross-site page can neither read the cookie nor, thanks to
// the signature, plant one of its own making.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../services/core/oauth/index.js';
import { baseCookieOptions } from './cookie-options.js';

export const CSRF_COOKIE = 'authmesh_csrf';
export const CSRF_FIELD = 'csrf_token';
// Distinguishes a CSRF value from any other value signed with the same secret (the session cookie).
const PREFIX = 'c1.';

export function createCsrf(issuer: string) {
  const options = { ...baseCookieOptions(issuer), sameSite: 'strict' as const };

  function current(req: FastifyRequest): string | undefined {
    const cookie = req.cookies[CSRF_COOKIE];
    if (cookie === undefined) return undefined;
    const unsigned = req.unsignCookie(cookie);
    if (!unsigned.valid || unsigned.value === null || !unsigned.value.startsWith(PREFIX)) return undefined;
    return unsigned.value.slice(PREFIX.length);
  }

  return {
    /**
     * The token for a form about to be rendered: the browser's current one when it sent it, a new
     * one (set in the cookie) otherwise. A top-level navigation from another site does not carry
     * the Strict cookie, so such a request always gets a fresh token.
     */
    issue(req: FastifyRequest, reply: FastifyReply): string {
      const existing = current(req);
      if (existing !== undefined) return existing;
      const token = randomBytes(32).toString('base64url');
      reply.setCookie(CSRF_COOKIE, PREFIX + token, options);
      return token;
    },
    /** True when the submitted field matches the signed cookie. */
    verify(req: FastifyRequest, submitted: string | undefined): boolean {
      const expected = current(req);
      if (expected === undefined || submitted === undefined || submitted === '') return false;
      return constantTimeEqual(expected, submitted);
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
