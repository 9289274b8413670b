// The OpenID Connect UserInfo endpoint (OIDC Core §5.3): takes the Bearer access token as RFC 6750
// allows (Authorization header; form body on POST), and answers with the user service's
// GetUserInfo, which holds the one rule of what is released. Never cached, readable cross-origin
// by configured origins (RPs in browsers call it).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequest, InvalidToken } from '../../services/core/errors/index.js';
import { parseBearer } from '../../services/core/oauth/index.js';
import { mediaTypeOf, registerEndpoint } from '../endpoint.js';
import { bodyPairs, collectParameters, MAX_PARAMETER_LENGTH, queryPairs } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendOAuthError } from '../oauth-errors.js';

export const USERINFO_PATH = '/oauth2/userinfo';

const MAX_TOKEN_LENGTH = MAX_PARAMETER_LENGTH.token ?? 16_384;

/**
 * The access token of a UserInfo request (RFC 6750 §2), or InvalidToken when none was sent.
 * @throws InvalidRequest when the token comes in the query string (§2.3 is not supported: URIs end
 *   up in logs and Referer headers), in more than one way, or more than once (§2, §3.1).
 */
export function accessTokenOf(req: FastifyRequest): string {
  const header = req.headers.authorization;
  const fromQuery = collectParameters(queryPairs(req.url), new Set(['access_token']), []);
  // RFC 6750 §2.3 is optional and unsafe (RFC 9700 §2.4.1 forbids it for new deployments).
  if (fromQuery.values.has('access_token')) throw new InvalidRequest('the access token must not be sent in the URI; use the Authorization header');
  let fromBody: string | undefined;
  // RFC 6750 §2.2: a form-encoded body of a POST may carry access_token.
  if (req.method === 'POST' && mediaTypeOf(req) === 'application/x-www-form-urlencoded') {
    const { values, repeated } = collectParameters(bodyPairs(req.body), new Set(['access_token']), []);
    // RFC 6750 §3.1: more than one access token is an invalid_request.
    if (repeated.size > 0) throw new InvalidRequest('access_token is repeated');
    fromBody = values.get('access_token')?.[0];
  }
  // RFC 6750 §2: clients MUST NOT use more than one method per request.
  if (fromBody !== undefined && header !== undefined) throw new InvalidRequest('the access token must be sent in one way only (RFC 6750 §2)');
  let token: string | undefined;
  if (header !== undefined) {
    // RFC 6750 §2.1: Authorization: Bearer b64token.
    token = parseBearer(header);
    if (token === undefined) throw new InvalidToken('the Authorization header is not a Bearer token');
  } else {
    token = fromBody;
  }
  // RFC 6750 §3.1: a request without credentials gets a bare challenge (no error code).
  if (token === undefined) throw new InvalidToken('UserInfo requires a Bearer access token');
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken('the access token is too long');
  return token;
}

export const userinfoRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    let credentialSent = req.headers.authorization !== undefined;
    try {
      const token = accessTokenOf(req);
      credentialSent = true;
      const { claims, jwt } = await peers.user.getUserInfo({}, { bearer: token });
      // Responses carrying personal data are not stored by caches (RFC 9111 §5.2.2.5).
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      // OIDC Core §5.3.2: a signed response is application/jwt, otherwise a JSON object.
      if (jwt !== '') return reply.type('application/jwt').send(jwt);
      return reply.type('application/json').send(JSON.stringify(claims ?? {}));
    } catch (err) {
      // OIDC Core §5.3.3: errors are RFC 6750 §3 (WWW-Authenticate with error=...).
      return sendOAuthError(reply, err, { realm: config.issuer, authorizationSent: credentialSent, authentication: 'bearer' });
    }
  };
  // OIDC Core §5.3.1: the UserInfo endpoint supports GET and POST.
  registerEndpoint(app, { url: USERINFO_PATH, corsOrigins: config.corsOrigins, handlers: { GET: handler, POST: handler } });
};
