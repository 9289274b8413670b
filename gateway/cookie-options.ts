// Attributes shared by the gateway's browser cookies.
import type { CookieSerializeOptions } from '@fastify/cookie';

/** The pages and their forms all live under /oauth2; no other path needs these cookies. */
export const COOKIE_PATH = '/oauth2';

/** Secure whenever the issuer is https (plain http is only allowed for loopback development). */
export function baseCookieOptions(issuer: string): CookieSerializeOptions {
  return { path: COOKIE_PATH, httpOnly: true, secure: issuer.startsWith('https:'), signed: true };
}
