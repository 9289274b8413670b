// Authorization server metadata (RFC 8414), the same document as OpenID Provider metadata (OpenID
// Connect Discovery 1.0 §3), and the JWK Set (RFC 7517) that verifies our tokens.
// Both are public, cacheable for a few minutes, and readable cross-origin by configured origins.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CLAIM_SCOPES, DEVICE_CODE_GRANT, DPOP_SIGNING_ALGS, OFFLINE_ACCESS_SCOPE, OPENID_SCOPE, PROMPT_VALUES, REQUEST_OBJECT_SIGNING_ALGS, SUBJECT_TYPES, SUPPORTED_USER_CLAIMS, TOKEN_EXCHANGE_GRANT } from '../../services/core/oauth/index.js';
import { ADMIN_SCOPE, READ_SCOPE } from '../../services/core/rpc/index.js';
import { ASSERTION_ALGORITHMS } from '../../services/client/client-assertion.js';
import { registerEndpoint } from '../endpoint.js';
import type { GatewayContext, RouteModule } from '../gateway.js';

// Keys are published one rotation before they sign anything, so a JWKS a few minutes old still
// verifies every token; metadata changes only with a restart.
const CACHE_CONTROL = 'public, max-age=300';

const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;

/** RFC 9110 §13.1.2: If-None-Match matches a listed entity tag (weak comparison) or "*". */
function notModified(req: FastifyRequest, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

function sendCacheable(req: FastifyRequest, reply: FastifyReply, body: string, contentType: string) {
  const etag = etagOf(body);
  reply.header('cache-control', CACHE_CONTROL).header('etag', etag);
  // RFC 9110 §15.4.5: 304 carries the validators but no body.
  if (notModified(req, etag)) return reply.code(304).send();
  return reply.type(contentType).send(body);
}

export function authorizationServerMetadata(config: GatewayContext['config']): Record<string, unknown> {
  const issuer = config.issuer;
  // RFC 8705 §2: the mutual-TLS methods, when the edge forwards client certificates (AUTHMESH_MTLS_EDGE_SECRET).
  const mtls = config.mtlsEdgeSecret !== undefined;
  const authMethods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', ...(mtls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : [])];
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    registration_endpoint: `${issuer}/oauth2/register`,
    // RFC 8628 §4: where devices start the device authorization grant.
    device_authorization_endpoint: `${issuer}/oauth2/device_authorization`,
    // RFC 8414 §2 lets a server list only some of its scopes: per-service scopes live in the
    // admin-only service registry and are granted per client, so only the server's own are public.
    // OpenID Connect Discovery §3: openid is listed; offline_access too (OIDC Core §11), and the
    // scopes that release standard claims (OIDC Core §5.4).
    scopes_supported: [OPENID_SCOPE, OFFLINE_ACCESS_SCOPE, ...CLAIM_SCOPES, ADMIN_SCOPE, READ_SCOPE],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [
      'authorization_code',
      'client_credentials',
      'refresh_token',
      TOKEN_EXCHANGE_GRANT,
      // RFC 8628 §4.
      DEVICE_CODE_GRANT,
      // DESIGN.md §6: the password grant is off unless the operator enables it.
      ...(config.passwordGrantEnabled ? ['password'] : []),
    ],
    token_endpoint_auth_methods_supported: authMethods,
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    // RFC 7662 §2.1: the caller must be authenticated; public clients (none) may not introspect.
    introspection_endpoint_auth_methods_supported: authMethods.filter((m) => m !== 'none'),
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    // RFC 7009 §2.1: public clients may revoke their own tokens.
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    // RFC 7636 §4.2 / RFC 9700 §2.1.1: plain is not offered.
    code_challenge_methods_supported: ['S256'],
    // RFC 9449 §5.1: the algorithms accepted in DPoP proofs.
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    // RFC 9207 §3: every authorization response carries iss.
    authorization_response_iss_parameter_supported: true,
    // OpenID Connect Discovery 1.0 §3 (OpenID Provider metadata).
    subject_types_supported: [...SUBJECT_TYPES],
    // OIDC Discovery §3: ID Tokens (and signed UserInfo responses) are signed by the key service's
    // active key, of AUTHMESH_SIGNING_ALG; registration accepts exactly that algorithm, so only it is listed.
    id_token_signing_alg_values_supported: [config.signingAlg],
    userinfo_signing_alg_values_supported: [config.signingAlg],
    // The claims of the ID Token this server issues (OIDC Core §2).
    // and the user claims UserInfo can return (OIDC Core §5.1).
    claims_supported: [...new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'azp', 'at_hash', 'amr', 'sid', ...SUPPORTED_USER_CLAIMS])],
    prompt_values_supported: [...PROMPT_VALUES],
    // RFC 9126 §5: pushed authorization requests, required of every client when AUTHMESH_PAR_REQUIRED.
    pushed_authorization_request_endpoint: `${issuer}/oauth2/par`,
    require_pushed_authorization_requests: config.parRequired,
    // RFC 9101 §10.5 / OIDC Discovery §3: signed request objects by value; request_uri only as a
    // pushed request's URN, never fetched, so false in the OIDC sense (remote request objects).
    request_parameter_supported: true,
    request_uri_parameter_supported: false,
    require_signed_request_object: false,
    request_object_signing_alg_values_supported: [...REQUEST_OBJECT_SIGNING_ALGS],
    claims_parameter_supported: true,
    // OIDC Discovery §3 (RFC 8414 §2 admits these): UserInfo and the claims it can return.
    userinfo_endpoint: `${issuer}/oauth2/userinfo`,
    // OpenID Connect RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1.
    end_session_endpoint: `${issuer}/oauth2/end_session`,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    ...mtlsMetadata(config),
  };
}

/**
 * RFC 8705 §3.3: certificate-bound access tokens are issued (and enforced by ext_authz); §5: the
 * endpoints clients reach over mutual TLS, when that listener has its own URL (AUTHMESH_MTLS_BASE_URL).
 */
function mtlsMetadata(config: GatewayContext['config']): Record<string, unknown> {
  if (config.mtlsEdgeSecret === undefined) return {};
  const out: Record<string, unknown> = { tls_client_certificate_bound_access_tokens: true };
  const base = config.mtlsBaseUrl;
  if (base !== undefined) {
    out.mtls_endpoint_aliases = {
      token_endpoint: `${base}/oauth2/token`,
      introspection_endpoint: `${base}/oauth2/introspect`,
      revocation_endpoint: `${base}/oauth2/revoke`,
      userinfo_endpoint: `${base}/oauth2/userinfo`,
      pushed_authorization_request_endpoint: `${base}/oauth2/par`,
      device_authorization_endpoint: `${base}/oauth2/device_authorization`,
    };
  }
  return out;
}

export const discoveryRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  const metadata = JSON.stringify(authorizationServerMetadata(config));

  // RFC 8414 §3: the metadata lives at /.well-known/oauth-authorization-server; OpenID Connect
  // Discovery §4 puts the same document at /.well-known/openid-configuration (RFC 8414 §5: the two
  // must not disagree, so they are one).
  for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    registerEndpoint(app, {
      url,
      corsOrigins: config.corsOrigins,
      handlers: { GET: async (req, reply) => sendCacheable(req, reply, metadata, 'application/json') },
    });
  }

  registerEndpoint(app, {
    url: '/.well-known/jwks.json',
    corsOrigins: config.corsOrigins,
    handlers: {
      GET: async (req, reply) => {
        const { keys } = await peers.key.getJwks({});
        // RFC 7517 §4: members without a value (proto3 empty strings) are absent, not "".
        const jwks = { keys: keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== '' && v !== undefined))) };
        // RFC 7517 §8.5: application/jwk-set+json is the registered type.
        return sendCacheable(req, reply, JSON.stringify(jwks), 'application/jwk-set+json');
      },
    },
  });
};
