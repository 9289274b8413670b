// Pushed authorization requests (RFC 9126) and request objects (RFC 9101) in the code service:
// pushed requests are kept in the grid (map par-request-uri, under the hash of their reference, so a
// grid dump yields no usable request_uri) for AUTHMESH_PAR_TTL_SECONDS and taken atomically when
// the authorization endpoint accepts one; request objects' jti are remembered in the grid (map
// par-request-object-jti) until they expire. The rules themselves are core/oauth's.
import { AuthorizationRequest, type PushAuthorizationRequestRequest, type PushAuthorizationRequestResponse } from '../../gen/ts/authmesh/code/v1/code.js';
import { InvalidRequest, InvalidRequestObject, InvalidRequestUri, ServerError, toAuthmeshError } from '../core/errors/index.js';
import {
  checkPushedRequest,
  checkRequestObjectQuery,
  checkRequestUriClient,
  hashToken,
  newPushedRequestUri,
  PAR_PATH,
  parseDpopJkt,
  pushedDpopJkt,
  pushedRequestReference,
  pushedRequestRequired,
  REQUEST_OBJECT_CLOCK_SKEW_SECONDS,
  type RequestObjectParameter,
  verifyRequestObject,
} from '../core/oauth/index.js';
import { createDpopProofs } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { checkAuthorizationRequest, shownToUser } from './authorization-check.js';
import { type CodeClient, lookUpClient, toCodeClient } from './client-lookup.js';

export const PAR_REQUEST_URI_MAP = 'par-request-uri';
export const PAR_REQUEST_OBJECT_JTI_MAP = 'par-request-object-jti';

/** A pushed request as the grid keeps it. */
interface StoredPushedRequest {
  clientId: string;
  /** AuthorizationRequest.toJSON of the request to serve. */
  request: unknown;
}

export interface ResolvedAuthorizationRequest {
  request: AuthorizationRequest;
  /** The parameters came from a pushed request or a request object. */
  resolved: boolean;
}

/** The request object's parameters as the AuthorizationRequest message. */
function requestOf(params: Partial<Record<RequestObjectParameter, string>>, resource: string[]): AuthorizationRequest {
  return AuthorizationRequest.fromPartial({
    responseType: params.response_type,
    clientId: params.client_id,
    redirectUri: params.redirect_uri,
    scope: params.scope,
    state: params.state,
    codeChallenge: params.code_challenge,
    codeChallengeMethod: params.code_challenge_method,
    nonce: params.nonce,
    prompt: params.prompt,
    maxAge: params.max_age,
    loginHint: params.login_hint,
    idTokenHint: params.id_token_hint,
    uiLocales: params.ui_locales,
    claimsLocales: params.claims_locales,
    claims: params.claims,
    dpopJkt: params.dpop_jkt,
    // RFC 8707 §2.1: a request object names its resources as a string or an array (request-object.ts).
    resource,
  });
}

export function createRequestResolution(deps: MeshDeps) {
  const pushed = deps.grid.map<StoredPushedRequest>(PAR_REQUEST_URI_MAP);
  const jtis = deps.grid.map<number>(PAR_REQUEST_OBJECT_JTI_MAP);
  const ttlSeconds = deps.config.parTtlSeconds;
  const proofs = createDpopProofs({ grid: deps.grid, config: deps.config, now: () => deps.now() });

  /**
   * The parameters of the request object in `request.request`, verified with the client's keys
   * (RFC 9101 §6), its jti consumed; only the object's parameters are used (§6.3).
   */
  async function fromRequestObject(client: CodeClient, request: AuthorizationRequest): Promise<AuthorizationRequest> {
    const now = deps.now();
    const verified = await verifyRequestObject(request.request, { client, issuer: deps.config.issuer, now });
    checkRequestObjectQuery({ client_id: request.clientId, response_type: request.responseType }, verified);
    const ttlMs = Math.max(1_000, (verified.exp + REQUEST_OBJECT_CLOCK_SKEW_SECONDS - Math.floor(now.getTime() / 1000)) * 1000);
    // RFC 9101 §10.x (replay): a request object is accepted once until it expires, on any instance.
    if (!(await jtis.putIfAbsent(`${client.clientId}:${verified.jti}`, 1, ttlMs))) throw new InvalidRequestObject('the request object was already used');
    return requestOf(verified.params, verified.resource);
  }

  return {
    /**
     * RFC 9126 §2: authenticates the client, resolves a request object, validates the request like
     * the authorization endpoint, stores it and names it by a new request_uri.
     * @throws INVALID_CLIENT, INVALID_REQUEST, INVALID_REQUEST_OBJECT, and the authorization request
     *   errors, never redirectable (RFC 9126 §2.3)
     */
    async push(req: PushAuthorizationRequestRequest): Promise<PushAuthorizationRequestResponse> {
      if (req.client === undefined || req.request === undefined) throw new InvalidRequest('client and request are required');
      // RFC 9126 §2: the client authenticates as at the token endpoint (every method it registered for).
      const { client: authenticated } = await deps.peers.client.authenticateClient({ credentials: req.client, remoteIp: req.remoteIp });
      const client = authenticated === undefined ? undefined : toCodeClient(authenticated);
      if (client === undefined) throw new ServerError('the client service returned no client');
      try {
        const clientId = checkPushedRequest(client.clientId, { client_id: req.request.clientId, request_uri: req.request.requestUri });
        let request = AuthorizationRequest.fromPartial({ ...req.request, clientId });
        if (request.request !== '') request = await fromRequestObject(client, request);
        // RFC 9101 §10.5: a client that must sign its requests pushes a request object too.
        else if (client.requireSignedRequestObject) throw new InvalidRequest('this client must send its authorization requests as signed request objects');
        // RFC 9126 §2.1: the pushed request is validated as the authorization endpoint would.
        await checkAuthorizationRequest(deps, request);
        // RFC 9449 §10: a malformed dpop_jkt is refused when pushed, like any other parameter.
        parseDpopJkt(request.dpopJkt);
        // RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key. It is
        // checked last, so a request refused for anything else spends no proof.
        let dpopNonce = '';
        if (req.dpopProof !== '') {
          const { verified, nonce } = await proofs.check(req.dpopProof, { htm: 'POST', htu: `${deps.config.issuer}${PAR_PATH}` });
          request = AuthorizationRequest.fromPartial({ ...request, dpopJkt: pushedDpopJkt(request.dpopJkt, verified.jkt) });
          dpopNonce = nonce;
        }
        const { requestUri, reference } = newPushedRequestUri();
        await pushed.set(hashToken(reference), { clientId, request: AuthorizationRequest.toJSON(request) }, ttlSeconds * 1000);
        return { requestUri, expiresIn: ttlSeconds, dpopNonce };
      } catch (err) {
        // RFC 9126 §2.3: errors of the pushed request are answered to the client, never redirected.
        throw shownToUser(toAuthmeshError(err));
      }
    },

    /**
     * The request the authorization endpoint serves for the parameters it received: a pushed
     * request (taken: single use, RFC 9126 §4), a request object's parameters (RFC 9101 §6.3), or
     * the parameters themselves when the client may send them so.
     * @throws INVALID_REQUEST_URI, INVALID_REQUEST_OBJECT, INVALID_REQUEST, never redirectable
     */
    async resolve(request: AuthorizationRequest): Promise<ResolvedAuthorizationRequest> {
      try {
        if (request.requestUri !== '') {
          // RFC 9101 §5: request and request_uri are alternatives.
          if (request.request !== '') throw new InvalidRequest('request and request_uri must not both be sent');
          const reference = pushedRequestReference(request.requestUri);
          // RFC 9126 §4 / RFC 9101 §5.2: only this server's own request_uri values; nothing is ever fetched.
          if (reference === undefined) throw new InvalidRequestUri('request_uri must be a request_uri issued by the pushed authorization request endpoint');
          // RFC 9126 §4: client_id is still required; checked before the request_uri is spent.
          if (request.clientId === '') throw new InvalidRequest('client_id is required with request_uri');
          // RFC 9126 §4: single use; of concurrent uses exactly one gets the request.
          const stored = await pushed.take(hashToken(reference));
          if (stored === undefined) throw new InvalidRequestUri('request_uri is unknown, expired or already used');
          checkRequestUriClient(stored.clientId, request.clientId);
          // RFC 9126 §4: only the pushed parameters count; everything else in the query is ignored.
          return { request: AuthorizationRequest.fromJSON(stored.request), resolved: true };
        }
        const client = await lookUpClient(deps.peers, request.clientId);
        // Unknown or missing client: the authorization endpoint's own validation says so.
        if (client === undefined) {
          if (request.request !== '') throw new InvalidRequest(request.clientId === '' ? 'client_id is required with request' : 'client_id is unknown');
          return { request, resolved: false };
        }
        // RFC 9126 §6: a client (or server) requiring PAR sends nothing but a request_uri.
        if (pushedRequestRequired(client, deps.config.parRequired)) throw new InvalidRequest('this client must use a pushed authorization request (request_uri)');
        if (request.request !== '') return { request: await fromRequestObject(client, request), resolved: true };
        // RFC 9101 §10.5: require_signed_request_object refuses plain parameters.
        if (client.requireSignedRequestObject) throw new InvalidRequest('this client must send its authorization requests as signed request objects');
        return { request, resolved: false };
      } catch (err) {
        // The client and redirect URI are not verified yet: shown to the user, never redirected.
        throw shownToUser(toAuthmeshError(err));
      }
    },
  };
}
