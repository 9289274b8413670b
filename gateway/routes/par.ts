// The pushed authorization request endpoint (RFC 9126 §2): a client POSTs its authorization
// request, authenticated exactly as at the token endpoint, and receives a single-use request_uri
// to send the user agent to the authorization endpoint with. The code service authenticates the
// client, validates the request and keeps it in the grid; this module parses and answers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthorizationRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { toAuthmeshError } from '../../services/core/errors/index.js';
import { MAX_CLAIMS_PARAMETER_LENGTH, MAX_REQUEST_OBJECT_LENGTH, PAR_PATH } from '../../services/core/oauth/index.js';
import { extractClientCredentials } from '../client-auth.js';
import { remoteAddress } from '../client-ip.js';
import { withClientCertificate } from '../forwarded-client-cert.js';
import { dpopHeader } from '../dpop-header.js';
import { registerEndpoint } from '../endpoint.js';
import { MAX_PARAMETER_LENGTH, readForm, requireFormBody, type FormParams } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendOAuthError } from '../oauth-errors.js';
import { AUTHORIZATION_PARAM_NAMES, RESOURCE_PARAM } from '../pending-authorization.js';

export { PAR_PATH };

/** RFC 6749 §2.3.1, RFC 7521 §4.2: client authentication in the body. */
const CLIENT_AUTH_PARAMETERS = ['client_id', 'client_secret', 'client_assertion_type', 'client_assertion'];
/** RFC 9126 §2.1: the authorization request parameters plus the client's authentication. */
const PAR_PARAMETERS = [...new Set([...CLIENT_AUTH_PARAMETERS, ...AUTHORIZATION_PARAM_NAMES, RESOURCE_PARAM])];
/**
 * Longest value of each parameter, characters: the token endpoint's bounds for client
 * authentication, the authorization endpoint's for the request (services/code/authorization-check.ts),
 * and a request object's (RFC 9101, core/oauth MAX_REQUEST_OBJECT_LENGTH).
 */
const PAR_PARAMETER_LENGTH: Readonly<Record<string, number>> = {
  ...MAX_PARAMETER_LENGTH,
  response_type: 64,
  state: 2048,
  nonce: 512,
  code_challenge: 128,
  code_challenge_method: 32,
  prompt: 128,
  max_age: 32,
  login_hint: 512,
  id_token_hint: 8192,
  ui_locales: 512,
  claims_locales: 512,
  claims: MAX_CLAIMS_PARAMETER_LENGTH,
  request: MAX_REQUEST_OBJECT_LENGTH,
  request_uri: 512,
  // RFC 9449 §10: a base64url SHA-256 thumbprint is 43 characters.
  dpop_jkt: 64,
};

function requestOf(form: FormParams): AuthorizationRequest {
  const s = (name: string) => form.one(name) ?? '';
  return AuthorizationRequest.fromPartial({
    responseType: s('response_type'),
    clientId: s('client_id'),
    redirectUri: s('redirect_uri'),
    scope: s('scope'),
    state: s('state'),
    codeChallenge: s('code_challenge'),
    codeChallengeMethod: s('code_challenge_method'),
    nonce: s('nonce'),
    prompt: s('prompt'),
    maxAge: s('max_age'),
    loginHint: s('login_hint'),
    idTokenHint: s('id_token_hint'),
    uiLocales: s('ui_locales'),
    claimsLocales: s('claims_locales'),
    claims: s('claims'),
    dpopJkt: s('dpop_jkt'),
    request: s('request'),
    requestUri: s('request_uri'),
    // RFC 8707 §2.1: resource may repeat (readForm allows it); the code service bounds and checks the values.
    resource: form.many(RESOURCE_PARAM),
  });
}

export const parRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  async function push(req: FastifyRequest, reply: FastifyReply) {
    const authorization = req.headers.authorization;
    try {
      // RFC 9126 §2.1: form-encoded, each parameter at most once, bounded (form-params.ts).
      const form = readForm(req.body, PAR_PARAMETERS, PAR_PARAMETER_LENGTH);
      // RFC 9126 §2: the client authenticates as at the token endpoint.
      // RFC 8705 §2: over mutual TLS, a client_id alone authenticates with the certificate.
      const client = withClientCertificate(extractClientCredentials(authorization, form, `${config.issuer}${PAR_PATH}`), req);
      // RFC 9449 §10.1: a DPoP proof binds the code to its key (the code service verifies it).
      const dpopProof = dpopHeader(req) ?? '';
      const res = await peers.code.pushAuthorizationRequest({ client: client.credentials, request: requestOf(form), dpopProof, remoteIp: remoteAddress(req) });
      if (client.clientId !== undefined) (req as { clientId?: string }).clientId = client.clientId.replace(/[^\x21-\x7e]/g, '?').slice(0, 128);
      // RFC 9449 §8: the nonce for the client's next proof.
      if (res.dpopNonce) reply.header('dpop-nonce', res.dpopNonce);
      // RFC 9126 §2.2: 201 Created with request_uri and expires_in; never cached.
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .header('pragma', 'no-cache')
        .type('application/json')
        .send({ request_uri: res.requestUri, expires_in: res.expiresIn });
    } catch (err) {
      const domain = toAuthmeshError(err);
      if (domain.code === 'server_error') req.log.error({ err: domain.cause ?? err }, 'pushed authorization request failed');
      // RFC 9126 §2.3: the token endpoint's error responses (RFC 6749 §5.2), Basic challenge on invalid_client.
      return sendOAuthError(reply, domain, { authorizationSent: authorization !== undefined, realm: config.issuer, authentication: 'client' });
    }
  }

  registerEndpoint(app, {
    url: PAR_PATH,
    corsOrigins: config.corsOrigins,
    onRequest: [requireFormBody],
    // RFC 9126 §2: POST only; other methods get 405 with Allow.
    handlers: { POST: push },
  });
};
