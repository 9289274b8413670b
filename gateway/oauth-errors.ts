// Sends domain errors to HTTP clients exactly as the RFCs shape them (RFC 6749 §5.2 JSON,
// RFC 6750 §3 WWW-Authenticate), through the one OAuth JSON mapping in core/errors.
import type { FastifyReply } from 'fastify';
import { toAuthmeshError, toOAuthJson, type AuthmeshError } from '../services/core/errors/index.js';
import { bearerChallenge, quoteAuthParam } from '../services/core/oauth/index.js';

export interface ErrorContext {
  /** The client tried HTTP Basic: a failed client authentication answers 401 with a Basic challenge (RFC 6749 §5.2). */
  basicAttempted?: boolean;
  /** Realm for challenges. */
  realm: string;
}

export function sendOAuthError(reply: FastifyReply, err: unknown, ctx: ErrorContext): FastifyReply {
  const error: AuthmeshError = toAuthmeshError(err);
  const { status, body } = toOAuthJson(error);
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  if (error.code === 'invalid_client') {
    // RFC 6749 §5.2: 401 with WWW-Authenticate when the client tried an Authorization header;
    // otherwise 400 is allowed, but 401 is what every client library handles, so we use it too.
    if (ctx.basicAttempted) reply.header('www-authenticate', `Basic realm="${quoteAuthParam(ctx.realm)}", charset="UTF-8"`);
    return reply.code(401).type('application/json').send(body);
  }
  if (error.code === 'invalid_token' || error.code === 'insufficient_scope') {
    // RFC 6750 §3: protected-resource errors carry a Bearer challenge.
    reply.header('www-authenticate', bearerChallenge({ realm: ctx.realm, error: error.code, description: error.description, scope: error.metadata.scope }));
  }
  if (error.code === 'temporarily_unavailable') reply.header('retry-after', '1');
  // RFC 6585 §4: a 429 may say how long to wait; the throttle sends whole seconds.
  if (error.code === 'slow_down' && /^\d{1,6}$/.test(error.metadata.retry_after ?? '')) reply.header('retry-after', error.metadata.retry_after);
  return reply.code(status).type('application/json').send(body);
}
