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
import { DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT } from '../../services/core/oauth/index.js';
import { remoteAddress } from '../client-ip.js';
import { extractClientCredentials, type PresentedClient } from '../client-auth.js';
import { dpopHeader } from '../dpop-header.js';
import { clientCertificateOf, withClientCertificate } from '../forwarded-client-cert.js';
import { registerEndpoint } from '../endpoint.js';
import { readForm, requireFormBody, type FormParams } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendOAuthError } from '../oauth-errors.js';

/** RFC 6749 §2.3.1, RFC 7521 §4.2: client authentication in the body. */
const CLIENT_AUTH_PARAMETERS = ['client_id', 'client_secret', 'client_assertion_type', 'client_assertion'];
/** RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6, RFC 7636 §4.5, RFC 8707 §2, RFC 8693 §2.1. */
const TOKEN_PARAMETERS = [
  ...CLIENT_AUTH_PARAMETERS,
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'scope',
  'refresh_token',
  'username',
  'password',
  'resource',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  // RFC 8628 §3.4.
  'device_code',
];
/** RFC 7662 §2.1, RFC 7009 §2.1. */
const TOKEN_HINT_PARAMETERS = [...CLIENT_AUTH_PARAMETERS, 'token', 'token_type_hint'];

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
    case DEVICE_CODE_GRANT:
      // RFC 8628 §3.4: the device polls with its device_code.
      return { $case: 'deviceCode', value: { deviceCode: s('device_code'), resource } };
    default:
      // RFC 6749 §5.2: a grant type the server does not support.
      throw new UnsupportedGrantType('grant_type is not supported');
  }
}

/** RFC 6749 §5.1 (and RFC 8693 §2.2.1 for issued_token_type); empty optional members omitted, `scope` always present. */
function tokenJson(res: TokenResponse): Record<string, unknown> {
  return {
    access_token: res.accessToken,
    token_type: res.tokenType,
    expires_in: res.expiresIn,
    ...(res.refreshToken ? { refresh_token: res.refreshToken } : {}),
    // RFC 6749 §5.1 (§3.3): scope is REQUIRED when the grant differs from the request; the token
    // service always states the granted scope, so it is always sent, as "" when nothing was granted
    // (e.g. the admin-role rule removed every requested scope): an absent scope would tell the
    // client it got all it asked for.
    scope: res.scope,
    ...(res.issuedTokenType ? { issued_token_type: res.issuedTokenType } : {}),
    // OpenID Connect Core §3.1.3.3: the ID Token of an openid grant.
    ...(res.idToken ? { id_token: res.idToken } : {}),
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
  // RFC 9449 §6.2: cnf with the jkt of a DPoP-bound token.
  if (res.cnf?.jkt) out.cnf = { jkt: res.cnf.jkt };
  // RFC 8705 §3.2: cnf with the x5t#S256 of a certificate-bound token.
  if (res.cnf?.x5tS256) out.cnf = { ...(out.cnf as object | undefined), 'x5t#S256': res.cnf.x5tS256 };
  return out;
}

/** A client_id as the request log shows it: printable ASCII, at most 128 characters. */
function loggableClientId(clientId: string): string {
  return clientId.replace(/[^\x21-\x7e]/g, '?').slice(0, 128);
}

export const tokenRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  /**
   * Runs one client-authenticated form endpoint: errors are answered here rather than by the
   * global handler because a failed client authentication needs the Basic challenge (RFC 6749 §5.2).
   * `run` calls the token service and returns how to answer; only once that call succeeded has
   * the client authenticated, and only then does the request log name it: the client_id of a
   * failed request is whatever the caller typed, possibly a secret sent in the wrong place.
   */
  const clientEndpoint =
    (
      path: string,
      recognized: readonly string[],
      run: (form: FormParams, client: PresentedClient, req: FastifyRequest) => Promise<(reply: FastifyReply) => FastifyReply>,
      endpoint?: 'token',
    ) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const authorization = req.headers.authorization;
      try {
        const form = readForm(req.body, recognized);
        const client = withClientCertificate(extractClientCredentials(authorization, form, `${config.issuer}${path}`), req);
        const answer = await run(form, client, req);
        if (client.clientId !== undefined) (req as { clientId?: string }).clientId = loggableClientId(client.clientId);
        return answer(reply);
      } catch (err) {
        const domain = toAuthmeshError(err);
        if (domain.code === 'server_error') req.log.error({ err: domain.cause ?? err }, 'request failed');
        return sendOAuthError(reply, domain, { authorizationSent: authorization !== undefined, realm: config.issuer, authentication: 'client', ...(endpoint ? { endpoint } : {}) });
      }
    };

  // RFC 6749 §5.1: token responses must not be cached.
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

  registerEndpoint(app, {
    url: '/oauth2/token',
    corsOrigins: config.corsOrigins,
    onRequest: [requireFormBody],
    handlers: {
      POST: clientEndpoint('/oauth2/token', TOKEN_PARAMETERS, async (form, client, req) => {
        const grant = grantOf(form);
        const proof = dpopHeader(req);
        // RFC 9449 §4.3 steps 8-9: the proof names this request: its method, and the endpoint URI
        // clients are given (the issuer's, as in the metadata), whatever host the proxy forwarded.
        const dpop = proof === undefined ? undefined : { proof, htm: req.method, htu: `${config.issuer}/oauth2/token` };
        // RFC 8705 §3: the certificate of the TLS connection binds the tokens (cnf.x5t#S256).
        const cert = clientCertificateOf(req);
        const clientCertificate = cert === undefined ? undefined : { certificate: cert.certificate, chain: cert.chain };
        const res = await peers.token.token(TokenRequest.fromPartial({ client: client.credentials, grant, remoteIp: remoteAddress(req), dpop, clientCertificate }));
        return (reply) => {
          // RFC 9449 §8: the nonce the next proof must carry.
          if (res.dpopNonce) reply.header('dpop-nonce', res.dpopNonce);
          return noStore(reply).type('application/json').send(tokenJson(res));
        };
      }, 'token'),
    },
  });

  // No CORS: introspection is for resource servers, not browsers (issue #4).
  registerEndpoint(app, {
    url: '/oauth2/introspect',
    onRequest: [requireFormBody],
    handlers: {
      POST: clientEndpoint('/oauth2/introspect', TOKEN_HINT_PARAMETERS, async (form, client, req) => {
        // RFC 7662 §2.1: token is REQUIRED.
        const token = form.one('token');
        if (token === undefined) throw new InvalidRequest('token is required');
        const res = await peers.token.introspectToken(
          IntrospectTokenRequest.fromPartial({ client: client.credentials, token, tokenTypeHint: form.one('token_type_hint') ?? '', remoteIp: remoteAddress(req) }),
        );
        return (reply) => noStore(reply).type('application/json').send(introspectionJson(res));
      }),
    },
  });

  registerEndpoint(app, {
    url: '/oauth2/revoke',
    onRequest: [requireFormBody],
    handlers: {
      POST: clientEndpoint('/oauth2/revoke', TOKEN_HINT_PARAMETERS, async (form, client, req) => {
        // RFC 7009 §2.1: token is REQUIRED.
        const token = form.one('token');
        if (token === undefined) throw new InvalidRequest('token is required');
        await peers.token.revokeToken(RevokeTokenRequest.fromPartial({ client: client.credentials, token, tokenTypeHint: form.one('token_type_hint') ?? '', remoteIp: remoteAddress(req) }));
        // RFC 7009 §2.2: 200, the body is ignored.
        return (reply) => noStore(reply).code(200).send();
      }),
    },
  });
};
