// Sends domain errors to HTTP clients exactly as the RFCs shape them (RFC 6749 §5.2 JSON,
// RFC 6750 §3 WWW-Authenticate), through the one OAuth JSON mapping in core/errors, and holds the
// one challenge rule every 401 leaving the gateway follows (RFC 9110 §15.5.2: a 401 always
// carries WWW-Authenticate).
import type { FastifyReply } from 'fastify';
import { toAuthmeshError, toOAuthJson, type AuthmeshError } from '../services/core/errors/index.js';
import { bearerChallenge, quoteAuthParam } from '../services/core/oauth/index.js';

/** How an endpoint authenticates its caller. */
export type CallerAuthentication =
  /** OAuth client authentication (RFC 6749 §2.3): token, introspection, revocation endpoints. */
  | 'client'
  /** A Bearer access token (RFC 6750): registration, admin RPCs. */
  | 'bearer';

export interface ErrorContext {
  /** Realm for challenges (the issuer). */
  realm: string;
  /** The request carried an Authorization header (of any scheme). */
  authorizationSent: boolean;
  /** Default 'bearer'. */
  authentication?: CallerAuthentication;
  /** The token endpoint (RFC 6749 §5.2 statuses, see toOAuthJson). */
  endpoint?: 'token';
}

/** The Basic challenge of the token endpoints (RFC 6749 §2.3.1, RFC 7617 §2). */
export function basicChallenge(realm: string): string {
  return `Basic realm="${quoteAuthParam(realm)}", charset="UTF-8"`;
}

/**
 * The WWW-Authenticate value for an error answered with `status`, or undefined when none is due.
 * - invalid_client (401): the Basic challenge, whether or not the client used the Authorization
 *   header (RFC 6749 §5.2; RFC 9110 §15.5.2 wants a challenge on every 401).
 * - invalid_token, insufficient_scope, or any other 401 of a Bearer-protected endpoint: a Bearer
 *   challenge (RFC 6750 §3), without an error code when the request sent no credentials
 *   (RFC 6750 §3.1).
 */
export function challengeFor(error: AuthmeshError, status: number, ctx: ErrorContext): string | undefined {
  const authentication = ctx.authentication ?? 'bearer';
  if (error.code === 'invalid_client' || (status === 401 && authentication === 'client')) return basicChallenge(ctx.realm);
  if (error.code === 'invalid_token' || error.code === 'insufficient_scope' || status === 401) {
    // RFC 6750 §3.1: a request that carried no credentials gets no error code.
    if (!ctx.authorizationSent) return bearerChallenge({ realm: ctx.realm });
    return bearerChallenge({ realm: ctx.realm, error: error.code === 'insufficient_scope' ? error.code : 'invalid_token', description: error.description, scope: error.metadata.scope });
  }
  return undefined;
}

/**
 * The challenge for a 401 that some other component produced without one (the last line of the
 * rule, for answers not built by sendOAuthError).
 */
export function fallbackChallenge(realm: string, authorizationSent: boolean): string {
  // RFC 6750 §3.1: no error code without credentials; with credentials, they were not accepted.
  return authorizationSent ? bearerChallenge({ realm, error: 'invalid_token', description: 'the access token was not accepted' }) : bearerChallenge({ realm });
}

export function sendOAuthError(reply: FastifyReply, err: unknown, ctx: ErrorContext): FastifyReply {
  const error: AuthmeshError = toAuthmeshError(err);
  const { status, body } = toOAuthJson(error, ctx.endpoint);
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  const challenge = challengeFor(error, status, ctx);
  if (challenge !== undefined) reply.header('www-authenticate', challenge);
  if (error.code === 'temporarily_unavailable') reply.header('retry-after', '1');
  // RFC 6585 §4: a 429 may say how long to wait; the throttle sends whole seconds.
  if (error.code === 'slow_down' && /^\d{1,6}$/.test(error.metadata.retry_after ?? '')) reply.header('retry-after', error.metadata.retry_after);
  // RFC 9449 §8: use_dpop_nonce comes with the nonce to use (nonce = 1*NQCHAR).
  if (error.code === 'use_dpop_nonce' && /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(error.metadata.dpop_nonce ?? '')) reply.header('dpop-nonce', error.metadata.dpop_nonce);
  return reply.code(status).type('application/json').send(body);
}
