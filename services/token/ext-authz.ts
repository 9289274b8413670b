// Envoy external authorization (envoy.service.auth.v3.Authorization/Check): Envoy asks, for each
// request to a protected upstream, whether its bearer token may call that route. We verify the
// JWT (allow-listed algorithms, cached JWKS), revocation, the audience of the route's service,
// and the endpoint's required scope from the service registry. Allowed requests reach the
// upstream with identity headers and without the Authorization header; denied ones get RFC 6750
// answers (401 + WWW-Authenticate, or 403 insufficient_scope).
import { HeaderValueOption_HeaderAppendAction } from '../../gen/ts/envoy/config/core/v3/base.js';
import { AuthorizationService, CheckResponse, type CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { StatusCode } from '../../gen/ts/envoy/type/v3/http_status.js';
import { AuthmeshError, hasErrorCode } from '../core/errors/index.js';
import type { Logger } from '../core/log/index.js';
import {
  assertBearerUsable,
  bearerChallenge,
  certificateThumbprint,
  constantTimeEqual,
  decideAccess,
  isAddressedTo,
  parseBearer,
  pemCertificates,
  type AccessTokenClaims,
} from '../core/oauth/index.js';
import { PUBLIC, registration } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';

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

/** The route requirement Envoy's context_extensions carry: `client_certificate: required`. */
export const CLIENT_CERTIFICATE_EXTENSION = 'client_certificate';

/** What checkCertificateBinding decided: allowed, or why not. */
export type CertificateBindingDecision =
  | { ok: true }
  | { ok: false; reason: 'certificate_required' | 'certificate_mismatch'; description: string };

/**
 * RFC 8705 §3: a certificate-bound token (cnf.x5t#S256) is accepted only on a connection whose
 * client certificate has that thumbprint; a route whose context_extensions say
 * `client_certificate: required` admits only requests over mutual TLS with a certificate.
 * @param peerCertificate the TLS peer certificate as Envoy's include_peer_certificate sends it
 *   (URL-encoded PEM), '' without mutual TLS
 */
export function checkCertificateBinding(claims: Pick<AccessTokenClaims, 'cnf'>, peerCertificate: string, ext: Record<string, string>): CertificateBindingDecision {
  let der: Buffer | undefined;
  if (peerCertificate !== '') {
    try {
      der = pemCertificates(decodeURIComponent(peerCertificate))[0];
    } catch {
      der = undefined;
    }
  }
  const bound = claims.cnf?.['x5t#S256'];
  // RFC 8705 §3: the presented certificate's SHA-256 thumbprint must equal cnf.x5t#S256 (checked
  // first: a bound token without its certificate is an invalid token wherever it is used).
  if (bound !== undefined && (der === undefined || !constantTimeEqual(certificateThumbprint(der), bound))) {
    return { ok: false, reason: 'certificate_mismatch', description: 'the access token is bound to a client certificate this request did not present' };
  }
  if (ext[CLIENT_CERTIFICATE_EXTENSION] === 'required' && der === undefined) {
    return { ok: false, reason: 'certificate_required', description: 'this route requires mutual TLS with a client certificate' };
  }
  return { ok: true };
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
  const unauthorized = (error?: string, description?: string) =>
    deny(
      GRPC_UNAUTHENTICATED,
      StatusCode.Unauthorized,
      bearerChallenge({ realm, error, description }),
      error ? { error, error_description: description ?? '' } : { error: 'invalid_request', error_description: 'a bearer token is required' },
    );
  const forbidden = (scope: string, description: string) =>
    deny(
      GRPC_PERMISSION_DENIED,
      StatusCode.Forbidden,
      bearerChallenge({ realm, error: 'insufficient_scope', description, scope }),
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
    if (!authorization) return unauthorized();
    const token = parseBearer(authorization);
    if (!token) return unauthorized('invalid_request', 'the Authorization header is not a Bearer token');
    let claims;
    try {
      claims = await deps.verifier.verify(token);
      // RFC 9449 §7.1: a DPoP-bound token is not a Bearer token (DPoP at the edge is not done yet).
      assertBearerUsable(claims);
    } catch (err) {
      if (err instanceof AuthmeshError && err.code === 'invalid_token') return unauthorized('invalid_token', err.description);
      throw err;
    }
    // RFC 8705 §3: certificate-bound tokens only with their certificate; mTLS-only routes only over mTLS.
    const binding = checkCertificateBinding(claims, req.attributes?.source?.certificate ?? '', ext);
    if (!binding.ok) return binding.reason === 'certificate_mismatch' ? unauthorized('invalid_token', binding.description) : accessDenied(binding.description);
    const scopes = claims.scope ? claims.scope.split(' ') : [];

    // Per-route scope from Envoy's context_extensions: every listed scope is required.
    const routeScopes = (ext.scope ?? '').split(' ').filter(Boolean);
    const missing = routeScopes.filter((s) => !scopes.includes(s));
    if (missing.length > 0) return forbidden(routeScopes.join(' '), `this route requires scope ${routeScopes.join(' ')}`);

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
      if (!service || !isAddressedTo(claims, service.audience)) return unauthorized('invalid_token', 'the token is not intended for this service');
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
        return forbidden(decision.requiredScope, `this endpoint requires scope ${decision.requiredScope}`);
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
          // The upstream gets the verified identity, never the bearer token itself.
          headersToRemove: ['authorization'],
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
