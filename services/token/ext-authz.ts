// Envoy external authorization (envoy.service.auth.v3.Authorization/Check): Envoy asks, for each
// request to a protected upstream, whether its bearer token may call that route. We verify the
// JWT (allow-listed algorithms, cached JWKS), revocation, the audience of the route's service,
// and the endpoint's required scope from the service registry. Allowed requests reach the
// upstream with identity headers and without the Authorization header; denied ones get RFC 6750
// answers (401 + WWW-Authenticate, or 403 insufficient_scope).
import { HeaderValueOption, HeaderValueOption_HeaderAppendAction } from '../../gen/ts/envoy/config/core/v3/base.js';
import { AuthorizationService, CheckResponse, type CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import type { Service } from '../../gen/ts/authmesh/service/v1/service.js';
import { StatusCode } from '../../gen/ts/envoy/type/v3/http_status.js';
import { AuthmeshError, hasErrorCode } from '../core/errors/index.js';
import type { Logger } from '../core/log/index.js';
import {
  type AccessTokenClaims,
  bearerChallenge,
  certificateThumbprint,
  constantTimeEqual,
  decideAccess,
  edgeHosts,
  isAddressedTo,
  pemCertificates,
  resourceMetadataUrl,
} from '../core/oauth/index.js';
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

/**
 * RFC 9449 §7.1 / RFC 9728 §2 (dpop_bound_access_tokens_required): a service registered as
 * DPoP-only refuses a token that is not bound to a DPoP key (no cnf.jkt). The reason for the
 * invalid_token denial, or undefined when the token's binding suits the service.
 */
export function checkServiceBinding(service: { dpopBoundAccessTokensRequired: boolean }, claims: Pick<AccessTokenClaims, 'cnf'>): string | undefined {
  if (service.dpopBoundAccessTokensRequired && !claims.cnf?.jkt) return 'this service accepts only DPoP-bound access tokens';
  return undefined;
}

export function createExtAuthz(deps: MeshDeps) {
  const realm = deps.config.issuer;
  const edgeOrigin = new URL(deps.config.issuer).origin;
  const dpopEdge = createDpopEdge(deps);

  const ownHosts = [deps.config.mtlsBaseUrl];

  type RouteService = { service: Service | undefined } | { error: unknown };

  /**
   * The registered service the route names (Envoy's context_extensions service_id or audience),
   * read once per check: the access decision, the RFC 9728 metadata URL of a denial (so it never
   * points at a document that does not exist) and the hosts a DPoP proof may name all use it.
   */
  async function routeServiceOf(ext: Record<string, string>): Promise<RouteService> {
    try {
      const { service } = ext.service_id ? await deps.peers.service.getService({ serviceId: ext.service_id }) : await deps.peers.service.lookupService({ audience: ext.audience ?? '' });
      return { service };
    } catch (err) {
      return { error: err };
    }
  }

  /** 401 with the challenge of the scheme the token came with (DPoP only where DPoP is required). */
  const unauthorized = (resourceMetadata: string | undefined, error?: string, description?: string, scheme: TokenScheme = 'bearer', dpopRequired = false) =>
    deny(
      GRPC_UNAUTHENTICATED,
      StatusCode.Unauthorized,
      edgeChallenge(scheme, { realm, error, description, resourceMetadata }, dpopRequired),
      error ? { error, error_description: description ?? '' } : { error: 'invalid_request', error_description: dpopRequired ? 'a DPoP-bound access token is required' : 'a bearer token is required' },
    );
  const forbidden = (resourceMetadata: string | undefined, scope: string, description: string, scheme: TokenScheme = 'bearer') =>
    deny(
      GRPC_PERMISSION_DENIED,
      StatusCode.Forbidden,
      edgeChallenge(scheme, { realm, error: 'insufficient_scope', description, scope, resourceMetadata }),
      { error: 'insufficient_scope', error_description: description },
    );

  const accessDenied = (resourceMetadata: string | undefined, description: string) =>
    deny(GRPC_PERMISSION_DENIED, StatusCode.Forbidden, bearerChallenge({ realm, resourceMetadata }), { error: 'access_denied', error_description: description });
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
    // RFC 9728 §5.1: 401 and 403 answers name the route's resource metadata.
    const namesService = Boolean(ext.service_id || ext.audience);
    let routeService: Promise<RouteService> | undefined;
    const serviceOfRoute = () => (routeService ??= routeServiceOf(ext));
    // A registry that cannot answer just leaves the parameter out of a denial.
    const audienceOfRoute = async () => {
      if (!namesService) return undefined;
      const r = await serviceOfRoute();
      return 'service' in r ? r.service?.audience : undefined;
    };
    // RFC 9728 §5.1: the metadata URL of the route's resource, when it is on the edge's origin.
    const rm = async () => {
      const audience = await audienceOfRoute();
      return audience === undefined ? undefined : resourceMetadataUrl(audience, edgeOrigin);
    };
    // RFC 9449 §4.3 step 9: the hosts a DPoP proof's htu may name here: the issuer's, the
    // mutual-TLS base URL's, the route's resource's.
    const hosts = async () => edgeHosts(deps.config.issuer, [...ownHosts, await audienceOfRoute()]);
    // RFC 9449 §7.1: a route requiring DPoP challenges with the DPoP scheme only.
    const dpopRequired = dpopRequiredBy(ext);
    if (!authorization) return unauthorized(await rm(), undefined, undefined, dpopRequired ? 'dpop' : 'bearer', dpopRequired);
    const presented = presentedToken(authorization);
    if (!presented) return unauthorized(await rm(), 'invalid_request', 'the Authorization header is not a Bearer or DPoP token');
    const scheme = presented.scheme;
    let claims;
    try {
      claims = await deps.verifier.verify(presented.token);
    } catch (err) {
      if (err instanceof AuthmeshError && err.code === 'invalid_token') return unauthorized(await rm(), 'invalid_token', err.description, scheme);
      throw err;
    }
    // RFC 9449 §7.1: the DPoP proof and the token's binding (ext-authz-dpop.ts).
    const dpopDenial = await dpopEdge.checkDpop(dpopRequestOf(http), presented, claims, dpopRequired, rm, hosts);
    if (dpopDenial) return dpopDenied(dpopDenial);
    // RFC 8705 §3: certificate-bound tokens only with their certificate; mTLS-only routes only over mTLS.
    const binding = checkCertificateBinding(claims, req.attributes?.source?.certificate ?? '', ext);
    if (!binding.ok) return binding.reason === 'certificate_mismatch' ? unauthorized(await rm(), 'invalid_token', binding.description, scheme) : accessDenied(await rm(), binding.description);
    const scopes = claims.scope ? claims.scope.split(' ') : [];

    // Per-route scope from Envoy's context_extensions: every listed scope is required.
    const routeScopes = (ext.scope ?? '').split(' ').filter(Boolean);
    const missing = routeScopes.filter((s) => !scopes.includes(s));
    if (missing.length > 0) return forbidden(await rm(), routeScopes.join(' '), `this route requires scope ${routeScopes.join(' ')}`, scheme);

    const serviceId = ext.service_id ?? '';
    const audience = ext.audience ?? '';
    if (namesService) {
      const path = (http?.path ?? '/').split('?')[0] || '/';
      const looked = await serviceOfRoute();
      if ('error' in looked) {
        const err = looked.error;
        // A route naming a service the registry does not have (or cannot name) is a
        // misconfiguration no retry fixes: deny, and say so in the log.
        if (!hasErrorCode(err, 'not_found') && !hasErrorCode(err, 'invalid_request')) throw err;
        // Bounded: anyone who can call Check chooses these values.
        log.warn({ serviceId: serviceId.slice(0, 128), audience: audience.slice(0, 256) }, 'ext_authz route names no registered service; denied');
        return accessDenied(undefined, 'this route is not served by a registered service');
      }
      const service = looked.service;
      // RFC 9068 §4 / RFC 8707 §2: a resource server rejects tokens whose aud does not name it.
      if (!service || !isAddressedTo(claims, service.audience)) return unauthorized(await rm(), 'invalid_token', 'the token is not intended for this service', scheme);
      // RFC 9449 §7.1: a DPoP-only service challenges with the DPoP scheme alone.
      const unbound = checkServiceBinding(service, claims);
      if (unbound) return unauthorized(await rm(), 'invalid_token', unbound, 'dpop', true);
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
        return forbidden(await rm(), decision.requiredScope, `this endpoint requires scope ${decision.requiredScope}`, scheme);
      }
      if (decision.decision !== 'allow') return accessDenied(await rm(), 'this client may not call this endpoint');
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
          // The code and our own description (what could not be reached), never the request's token.
          ctx.log.warn({ err: err instanceof AuthmeshError ? err.code : String(err), cause: err instanceof AuthmeshError ? err.description.slice(0, 200) : undefined }, 'ext_authz check could not be completed');
          return deny(GRPC_UNAVAILABLE, StatusCode.ServiceUnavailable, bearerChallenge({ realm }), { error: 'temporarily_unavailable', error_description: 'authorization could not be checked' });
        }
      },
    },
    // Envoy calls Check without credentials of its own; the answer reveals only whether the token
    // the caller already holds may call the route.
    { check: PUBLIC },
  );
}
