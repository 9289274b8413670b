// Envoy external authorization (envoy.service.auth.v3.Authorization/Check): Envoy asks, for each
// request to a protected upstream, whether its bearer token may call that route. We verify the
// JWT (allow-listed algorithms, cached JWKS), revocation, the audience of the route's service,
// and the endpoint's required scope from the service registry. Allowed requests reach the
// upstream with identity headers and without the Authorization header; denied ones get RFC 6750
// answers (401 + WWW-Authenticate, or 403 insufficient_scope).
import { HeaderValueOption, HeaderValueOption_HeaderAppendAction } from '../../gen/ts/envoy/config/core/v3/base.js';
import { AuthorizationService, CheckResponse, type CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { StatusCode } from '../../gen/ts/envoy/type/v3/http_status.js';
import { AuthmeshError, hasErrorCode } from '../core/errors/index.js';
import type { Logger } from '../core/log/index.js';
import { bearerChallenge, decideAccess, isAddressedTo } from '../core/oauth/index.js';
import { PUBLIC, registration } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { createDpopEdge, dpopRequiredBy, edgeChallenge, presentedToken, type DpopDenial, type TokenScheme } from './ext-authz-dpop.js';

export const EXT_AUTHZ_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';

/** Identity headers the upstream receives; any the caller sent are overwritten. */
export const IDENTITY_HEADERS = { subject: 'x-authmesh-sub', clientId: 'x-authmesh-client-id', scope: 'x-authmesh-scope', actor: 'x-authmesh-act' };

const GRPC_OK = 0;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAVAILABLE = 14;

function header(key: string, value: string) {
  return { header: { key, value, rawValue: Buffer.alloc(0) }, appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD, keepEmptyValue: false };
}

/** The parts of the forwarded request the DPoP check reads (RFC 9449 §4.3 steps 8-9). */
function dpopRequestOf(http: NonNullable<NonNullable<NonNullable<CheckRequest['attributes']>['request']>['http']> | undefined) {
  return { method: http?.method ?? '', host: http?.host ?? '', path: http?.path ?? '', scheme: http?.scheme ?? '', headers: http?.headers ?? {} };
}

/** A DPoP denial (RFC 9449 §7.1): 401, its challenge, and DPoP-Nonce when a nonce is due (§9). */
function dpopDenied(d: DpopDenial) {
  const res = deny(GRPC_UNAUTHENTICATED, StatusCode.Unauthorized, d.challenge, { error: d.error, error_description: d.description });
  if (d.nonce !== undefined && res.httpResponse?.$case === 'deniedResponse') res.httpResponse.value.headers.push(HeaderValueOption.fromPartial(header('dpop-nonce', d.nonce)));
  return res;
}

function deny(code: number, status: StatusCode, challenge: string, body: Record<string, string>) {
  return CheckResponse.fromPartial({
    status: { code, message: body.error ?? 'denied', details: [] },
    httpResponse: {
      $case: 'deniedResponse',
      value: {
        status: { code: status },
        headers: [header('www-authenticate', challenge), header('content-type', 'application/json'), header('cache-control', 'no-store')],
        body: JSON.stringify(body),
      },
    },
  });
}

export function createExtAuthz(deps: MeshDeps) {
  const realm = deps.config.issuer;
  const dpopEdge = createDpopEdge(deps);
  const unauthorized = (error?: string, description?: string, scheme: TokenScheme = 'bearer') =>
    deny(
      GRPC_UNAUTHENTICATED,
      StatusCode.Unauthorized,
      edgeChallenge(scheme, { realm, error, description }),
      error ? { error, error_description: description ?? '' } : { error: 'invalid_request', error_description: 'a bearer token is required' },
    );
  const forbidden = (scope: string, description: string, scheme: TokenScheme = 'bearer') =>
    deny(
      GRPC_PERMISSION_DENIED,
      StatusCode.Forbidden,
      edgeChallenge(scheme, { realm, error: 'insufficient_scope', description, scope }),
      { error: 'insufficient_scope', error_description: description },
    );

  const accessDenied = (description: string) =>
    deny(GRPC_PERMISSION_DENIED, StatusCode.Forbidden, bearerChallenge({ realm }), { error: 'access_denied', error_description: description });
  const badRequest = (description: string) =>
    deny(
      GRPC_INVALID_ARGUMENT,
      StatusCode.BadRequest,
      bearerChallenge({ realm, error: 'invalid_request', description }),
      { error: 'invalid_request', error_description: description },
    );

  async function check(req: CheckRequest, log: Logger): Promise<CheckResponse> {
    const http = req.attributes?.request?.http;
    const ext = req.attributes?.contextExtensions ?? {};
    const authorization = http?.headers?.authorization ?? '';
    // RFC 9449 §7.1: a route requiring DPoP challenges with the DPoP scheme only.
    const dpopRequired = dpopRequiredBy(ext);
    if (!authorization) return dpopRequired ? deny(GRPC_UNAUTHENTICATED, StatusCode.Unauthorized, edgeChallenge('dpop', { realm }, true), { error: 'invalid_request', error_description: 'a DPoP-bound access token is required' }) : unauthorized();
    const presented = presentedToken(authorization);
    if (!presented) return unauthorized('invalid_request', 'the Authorization header is not a Bearer or DPoP token');
    const scheme = presented.scheme;
    let claims;
    try {
      claims = await deps.verifier.verify(presented.token);
    } catch (err) {
      if (err instanceof AuthmeshError && err.code === 'invalid_token') return unauthorized('invalid_token', err.description, scheme);
      throw err;
    }
    // RFC 9449 §7.1: the DPoP proof and the token's binding (ext-authz-dpop.ts).
    const dpopDenial = await dpopEdge.checkDpop(dpopRequestOf(http), presented, claims, dpopRequired);
    if (dpopDenial) return dpopDenied(dpopDenial);
    const scopes = claims.scope ? claims.scope.split(' ') : [];

    // Per-route scope from Envoy's context_extensions: every listed scope is required.
    const routeScopes = (ext.scope ?? '').split(' ').filter(Boolean);
    const missing = routeScopes.filter((s) => !scopes.includes(s));
    if (missing.length > 0) return forbidden(routeScopes.join(' '), `this route requires scope ${routeScopes.join(' ')}`, scheme);

    const serviceId = ext.service_id ?? '';
    const audience = ext.audience ?? '';
    if (serviceId || audience) {
      const path = (http?.path ?? '/').split('?')[0] || '/';
      let service;
      try {
        ({ service } = serviceId ? await deps.peers.service.getService({ serviceId }) : await deps.peers.service.lookupService({ audience }));
      } catch (err) {
        // A route naming a service the registry does not have (or cannot name) is a
        // misconfiguration no retry fixes: deny, and say so in the log.
        if (!hasErrorCode(err, 'not_found') && !hasErrorCode(err, 'invalid_request')) throw err;
        // Bounded: anyone who can call Check chooses these values.
        log.warn({ serviceId: serviceId.slice(0, 128), audience: audience.slice(0, 256) }, 'ext_authz route names no registered service; denied');
        return accessDenied('this route is not served by a registered service');
      }
      // RFC 9068 §4: a resource server rejects tokens whose aud does not name it.
      if (!service || !isAddressedTo(claims, service.audience)) return unauthorized('invalid_token', 'the token is not intended for this service', scheme);
      // The service just read carries its endpoint table: decide here with the registry's own rule
      // (core/oauth) rather than ask the registry to read the same service again.
      let decision;
      try {
        decision = decideAccess(service.endpoints, { method: http?.method ?? '', path, scopes, clientId: claims.client_id });
      } catch (err) {
        // RFC 6750 §3.1: a malformed request is invalid_request (400). A path or method that
        // different parsers could read differently is the caller's fault, never worth a retry.
        if (hasErrorCode(err, 'invalid_request')) return badRequest(err instanceof AuthmeshError ? err.description : 'the request is malformed');
        throw err;
      }
      if (decision.decision === 'deny_insufficient_scope') {
        return forbidden(decision.requiredScope, `this endpoint requires scope ${decision.requiredScope}`, scheme);
      }
      if (decision.decision !== 'allow') return accessDenied('this client may not call this endpoint');
    }
    const headers = [header(IDENTITY_HEADERS.subject, claims.sub), header(IDENTITY_HEADERS.clientId, claims.client_id), header(IDENTITY_HEADERS.scope, scopes.join(' '))];
    if (claims.act) headers.push(header(IDENTITY_HEADERS.actor, claims.act.sub));
    return CheckResponse.fromPartial({
      status: { code: GRPC_OK, message: '', details: [] },
      httpResponse: {
        $case: 'okResponse',
        value: {
          headers,
          // The upstream gets the verified identity, never the access token itself nor its DPoP
          // proof (RFC 9449 §7: the proof was for this edge's check, not for the upstream).
          headersToRemove: ['authorization', 'dpop'],
        },
      },
    });
  }

  return registration(
    EXT_AUTHZ_SERVICE_NAME,
    AuthorizationService,
    {
      async check(req, ctx) {
        try {
          return await check(req, ctx.log);
        } catch (err) {
          // Fail closed, but say why: Envoy relays 503 so callers retry rather than re-authenticate.
          // Only what a retry can fix gets here (grid, key or registry unreachable); bad input is
          // answered above as a denial.
          ctx.log.warn({ err: err instanceof AuthmeshError ? err.code : String(err) }, 'ext_authz check could not be completed');
          return deny(GRPC_UNAVAILABLE, StatusCode.ServiceUnavailable, bearerChallenge({ realm }), { error: 'temporarily_unavailable', error_description: 'authorization could not be checked' });
        }
      },
    },
    // Envoy calls Check without credentials of its own; the answer reveals only whether the token
    // the caller already holds may call the route.
    { check: PUBLIC },
  );
}
