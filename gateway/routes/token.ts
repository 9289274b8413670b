// The token (RFC 6749 §3.2), introspection (RFC 7662) and revocation (RFC 7009) endpoints: parse
// the form, extract the client credentials, call the token service, shape its answer as the
// RFCs say. Every grant rule lives in the token service.
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  IntrospectTokenRequest,
  RevokeTokenRequest,
  TokenRequest,
  type IntrospectTokenResponse,
  type TokenResponse,
} from '../../gen/ts/authmesh/token/v1/token.js';
import { toAuthmeshError, UnsupportedGrantType, InvalidRequest } from '../../services/core/errors/index.js';
import { TOKEN_EXCHANGE_GRANT } from '../../services/core/oauth/index.js';
import { extractClientCredentials, type PresentedClient } from '../client-auth.js';
import { registerEndpoint } from '../endpoint.js';
import { readForm, requireFormBody, type FormParams } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendOAuthError } from '../oauth-errors.js';

/** Parameters RFC 8707 §2 (resource) and RFC 8693 §2.1 (audience) allow more than once. */
const REPEATABLE = ['resource', 'audience'];

type Grant = TokenRequest['grant'];

function grantOf(form: FormParams): Grant {
  const grantType = form.one('grant_type');
  // RFC 6749 §4.1.3, §4.4.2, §6: grant_type is REQUIRED.
  if (grantType === undefined) throw new InvalidRequest('grant_type is required');
  const s = (name: string) => form.one(name) ?? '';
  const resource = form.many('resource');
  switch (grantType) {
    case 'authorization_code':
      return { $case: 'authorizationCode', value: { code: s('code'), redirectUri: s('redirect_uri'), codeVerifier: s('code_verifier'), resource } };
    case 'client_credentials':
      return { $case: 'clientCredentials', value: { scope: s('scope'), resource } };
    case 'refresh_token':
      return { $case: 'refreshToken', value: { refreshToken: s('refresh_token'), scope: s('scope'), resource } };
    case 'password':
      return { $case: 'password', value: { username: s('username'), password: s('password'), scope: s('scope'), resource } };
    case TOKEN_EXCHANGE_GRANT:
      return {
        $case: 'tokenExchange',
        value: {
          subjectToken: s('subject_token'),
          subjectTokenType: s('subject_token_type'),
          actorToken: s('actor_token'),
          actorTokenType: s('actor_token_type'),
          requestedTokenType: s('requested_token_type'),
          scope: s('scope'),
          audience: form.many('audience'),
          resource,
        },
      };
    default:
      // RFC 6749 §5.2: a grant type the server does not support.
      throw new UnsupportedGrantType('grant_type is not supported');
  }
}

/** RFC 6749 §5.1 (and RFC 8693 §2.2.1 for issued_token_type); empty optional members omitted. */
function tokenJson(res: TokenResponse): Record<string, unknown> {
  return {
    access_token: res.accessToken,
    token_type: res.tokenType,
    expires_in: res.expiresIn,
    ...(res.refreshToken ? { refresh_token: res.refreshToken } : {}),
    ...(res.scope ? { scope: res.scope } : {}),
    ...(res.issuedTokenType ? { issued_token_type: res.issuedTokenType } : {}),
  };
}

/** RFC 7662 §2.2: only `active` when inactive; otherwise the members that have a value. */
function introspectionJson(res: IntrospectTokenResponse): Record<string, unknown> {
  if (!res.active) return { active: false };
  const out: Record<string, unknown> = { active: true };
  const str: [string, string][] = [
    ['scope', res.scope],
    ['client_id', res.clientId],
    ['username', res.username],
    ['token_type', res.tokenType],
    ['sub', res.sub],
    ['iss', res.iss],
    ['jti', res.jti],
  ];
  for (const [k, v] of str) if (v) out[k] = v;
  for (const [k, v] of [['exp', res.exp], ['iat', res.iat], ['nbf', res.nbf]] as const) if (v) out[k] = v;
  // RFC 7519 §4.1.3: a single audience may be a string.
  if (res.aud.length === 1) out.aud = res.aud[0];
  else if (res.aud.length > 1) out.aud = [...res.aud];
  if (res.act && Object.keys(res.act).length > 0) out.act = res.act;
  return out;
}

export const tokenRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  /**
   * Runs one client-authenticated form endpoint: errors are answered here rather than by the
   * global handler because a failed Basic authentication needs its challenge (RFC 6749 §5.2).
   */
  const clientEndpoint =
    (path: string, run: (form: FormParams, client: PresentedClient, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const authorization = req.headers.authorization;
      try {
        const form = readForm(req.body, REPEATABLE);
        const client = extractClientCredentials(authorization, form, `${config.issuer}${path}`);
        if (client.clientId) (req as { clientId?: string }).clientId = client.clientId.slice(0, 128);
        return await run(form, client, req, reply);
      } catch (err) {
        const domain = toAuthmeshError(err);
        if (domain.code === 'server_error') req.log.error({ err: domain.cause ?? err }, 'request failed');
        return sendOAuthError(reply, domain, { basicAttempted: authorization !== undefined, realm: config.issuer });
      }
    };

  // RFC 6749 §5.1: token responses must not be cached.
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

  registerEndpoint(app, {
    url: '/oauth2/token',
    corsOrigins: config.corsOrigins,
    onRequest: [requireFormBody],
    handlers: {
      POST: clientEndpoint('/oauth2/token', async (form, client, req, reply) => {
        const grant = grantOf(form);
        const res = await peers.token.token(TokenRequest.fromPartial({ client: client.credentials, grant, remoteIp: req.ip }));
        return noStore(reply).type('application/json').send(tokenJson(res));
      }),
    },
  });

  // No CORS: introspection is for resource servers, not browsers (issue #4).
  registerEndpoint(app, {
    url: '/oauth2/introspect',
    onRequest: [requireFormBody],
    handlers: {
      POST: clientEndpoint('/oauth2/introspect', async (form, client, req, reply) => {
        // RFC 7662 §2.1: token is REQUIRED.
        const token = form.one('token');
        if (token === undefined) throw new InvalidRequest('token is required');
        const res = await peers.token.introspectToken(
          IntrospectTokenRequest.fromPartial({ client: client.credentials, token, tokenTypeHint: form.one('token_type_hint') ?? '', remoteIp: req.ip }),
        );
        return noStore(reply).type('application/json').send(introspectionJson(res));
      }),
    },
  });

  registerEndpoint(app, {
    url: '/oauth2/revoke',
    onRequest: [requireFormBody],
    handlers: {
      POST: clientEndpoint('/oauth2/revoke', async (form, client, req, reply) => {
        // RFC 7009 §2.1: token is REQUIRED.
        const token = form.one('token');
        if (token === undefined) throw new InvalidRequest('token is required');
        await peers.token.revokeToken(RevokeTokenRequest.fromPartial({ client: client.credentials, token, tokenTypeHint: form.one('token_type_hint') ?? '', remoteIp: req.ip }));
        // RFC 7009 §2.2: 200, the body is ignored.
        return noStore(reply).code(200).send();
      }),
    },
  });
};
