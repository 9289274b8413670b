// The OpenID Connect UserInfo endpoint (OIDC Core §5.3): takes the Bearer access token as RFC 6750
// allows (Authorization header; form body on POST), or a DPoP-bound one with `Authorization: DPoP`
// and its proof (RFC 9449 §7: the user service verifies the proof for the request this endpoint
// received, which the gateway names as a mesh member), and answers with the user service's
// GetUserInfo, which holds the one rule of what is released. A certificate-bound token (RFC 8705
// §3) is usable only over mutual TLS with its certificate: the forwarded certificate and its edge
// proof go to the user service, which checks the binding. Never cached, readable cross-origin
// by configured origins (RPs in browsers call it).
import { Metadata } from '@grpc/grpc-js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidDpopProof, InvalidRequest, InvalidToken, toAuthmeshError, toOAuthJson } from '../../services/core/errors/index.js';
import { bearerChallenge, DPOP_SIGNING_ALGS, dpopChallenge, parseBearer, parseDpopAuthorization } from '../../services/core/oauth/index.js';
import { DPOP_HTM_METADATA_KEY, DPOP_HTU_METADATA_KEY } from '../../services/core/rpc/index.js';
import { mediaTypeOf, registerEndpoint } from '../endpoint.js';
import { forwardedCertificateHeaders } from '../forwarded-client-cert.js';
import { bodyPairs, collectParameters, MAX_PARAMETER_LENGTH, queryPairs } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendOAuthError } from '../oauth-errors.js';

export const USERINFO_PATH = '/oauth2/userinfo';

const MAX_TOKEN_LENGTH = MAX_PARAMETER_LENGTH.token ?? 16_384;

/**
 * The access token of a UserInfo request (RFC 6750 §2, RFC 9449 §7.1) and the scheme it came with
 * ('body' for the form parameter), or InvalidToken when none was sent.
 * @throws InvalidRequest when the token comes in the query string (§2.3 is not supported: URIs end
 *   up in logs and Referer headers), in more than one way, or more than once (§2, §3.1).
 */
export function accessTokenOf(req: FastifyRequest): { token: string; scheme: 'bearer' | 'dpop' } {
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
  let scheme: 'bearer' | 'dpop' = 'bearer';
  if (header !== undefined) {
    // RFC 6750 §2.1: Authorization: Bearer b64token; RFC 9449 §7.1: Authorization: DPoP token68.
    token = parseBearer(header);
    if (token === undefined) {
      token = parseDpopAuthorization(header);
      scheme = 'dpop';
    }
    if (token === undefined) throw new InvalidToken('the Authorization header is not a Bearer or DPoP token');
  } else {
    token = fromBody;
  }
  // RFC 6750 §3.1: a request without credentials gets a bare challenge (no error code).
  if (token === undefined) throw new InvalidToken('UserInfo requires a Bearer access token');
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken('the access token is too long');
  return { token, scheme };
}

/**
 * The metadata of a GetUserInfo call for a DPoP-scheme request (RFC 9449 §7.1): the token, its
 * proof, and the HTTP request the proof must name (htm, htu = this endpoint's public URL).
 * @throws InvalidDpopProof when the request does not carry exactly one DPoP header (§4.3 step 1).
 */
function dpopMetadata(req: FastifyRequest, token: string, htu: string): Metadata {
  const proof = req.headers.dpop;
  if (typeof proof !== 'string' || proof === '' || proof.includes(',')) throw new InvalidDpopProof('exactly one DPoP proof is required with the DPoP scheme');
  const md = new Metadata();
  md.set('authorization', `DPoP ${token}`);
  md.set('dpop', proof);
  md.set(DPOP_HTM_METADATA_KEY, req.method);
  md.set(DPOP_HTU_METADATA_KEY, htu);
  return md;
}

/**
 * A refusal of a DPoP-scheme UserInfo request (RFC 9449 §7.1, §9): 401 with the DPoP challenge
 * carrying the error, a bare Bearer challenge, and DPoP-Nonce when a nonce is due.
 */
function sendDpopError(reply: FastifyReply, err: unknown, realm: string): FastifyReply | undefined {
  const error = toAuthmeshError(err);
  if (error.code !== 'invalid_token' && error.code !== 'invalid_dpop_proof' && error.code !== 'use_dpop_nonce' && error.code !== 'insufficient_scope') return undefined;
  const status = error.code === 'insufficient_scope' ? 403 : 401;
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  reply.header('www-authenticate', `${dpopChallenge({ error: error.code, description: error.description, scope: error.metadata.scope, algs: DPOP_SIGNING_ALGS })}, ${bearerChallenge({ realm })}`);
  // RFC 9449 §9: use_dpop_nonce comes with the nonce to use (nonce = 1*NQCHAR).
  if (error.code === 'use_dpop_nonce' && /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(error.metadata.dpop_nonce ?? '')) reply.header('dpop-nonce', error.metadata.dpop_nonce);
  return reply.code(status).type('application/json').send(toOAuthJson(error).body);
}

export const userinfoRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    let credentialSent = req.headers.authorization !== undefined;
    let scheme: 'bearer' | 'dpop' = 'bearer';
    try {
      const presented = accessTokenOf(req);
      scheme = presented.scheme;
      credentialSent = true;
      const metadata = presented.scheme === 'dpop' ? dpopMetadata(req, presented.token, `${config.issuer}${USERINFO_PATH}`) : new Metadata();
      // RFC 8705 §3: the client certificate as Envoy forwarded it (with its edge proof), for the
      // user service's check of certificate-bound tokens.
      for (const [name, value] of Object.entries(forwardedCertificateHeaders(req.headers))) metadata.set(name, value);
      const { claims, jwt } = await peers.user.getUserInfo({}, presented.scheme === 'dpop' ? { metadata } : { metadata, bearer: presented.token });
      // Responses carrying personal data are not stored by caches (RFC 9111 §5.2.2.5).
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      // OIDC Core §5.3.2: a signed response is application/jwt, otherwise a JSON object.
      if (jwt !== '') return reply.type('application/jwt').send(jwt);
      return reply.type('application/json').send(JSON.stringify(claims ?? {}));
    } catch (err) {
      if (scheme === 'dpop') {
        const sent = sendDpopError(reply, err, config.issuer);
        if (sent !== undefined) return sent;
      }
      // OIDC Core §5.3.3: errors are RFC 6750 §3 (WWW-Authenticate with error=...).
      return sendOAuthError(reply, err, { realm: config.issuer, authorizationSent: credentialSent, authentication: 'bearer' });
    }
  };
  // OIDC Core §5.3.1: the UserInfo endpoint supports GET and POST.
  registerEndpoint(app, { url: USERINFO_PATH, corsOrigins: config.corsOrigins, handlers: { GET: handler, POST: handler } });
};
