// DPoP at the edge (RFC 9449 §7): the part of ext_authz Check that reads the credential's scheme,
// verifies the proof of a request made with `Authorization: DPoP <token>` against what Envoy
// forwarded (htm = the method; htu = x-forwarded-proto or the request's scheme, :authority, the
// path without query), its ath, the binding of the token (cnf.jkt = the proof key's thumbprint)
// and its single use in the grid (the `dpop-jti` map the token endpoint uses, same TTL rule), with
// the grid's server nonce when AUTHMESH_DPOP_NONCE is on. A DPoP-bound token sent as Bearer, and an
// unbound token sent with the DPoP scheme, are refused (RFC 9449 §7.1).
import { AuthmeshError } from '../core/errors/index.js';
import { bearerChallenge, dpopChallenge, DPOP_SIGNING_ALGS, edgeHosts, isHtuOnHosts, parseBearer, parseDpopAuthorization, resourceRequestHtu, type BearerChallenge } from '../core/oauth/index.js';
import { createDpopProofs } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';

/** The scheme an access token was presented with. */
export type TokenScheme = 'bearer' | 'dpop';

export interface PresentedToken {
  scheme: TokenScheme;
  token: string;
}

/** The token of an Authorization value with the Bearer (RFC 6750 §2.1) or DPoP (RFC 9449 §7.1) scheme. */
export function presentedToken(authorization: string): PresentedToken | undefined {
  const bearer = parseBearer(authorization);
  if (bearer !== undefined) return { scheme: 'bearer', token: bearer };
  const dpop = parseDpopAuthorization(authorization);
  return dpop === undefined ? undefined : { scheme: 'dpop', token: dpop };
}

/** A denial decided by the DPoP rules: always 401 (RFC 9449 §7.1, §9). */
export interface DpopDenial {
  error: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce';
  description: string;
  /** The WWW-Authenticate value. */
  challenge: string;
  /** The DPoP-Nonce header to send (use_dpop_nonce, RFC 9449 §9), or undefined. */
  nonce: string | undefined;
}

/**
 * The WWW-Authenticate value of a denial for a request whose token came with `scheme`:
 * - DPoP: the DPoP challenge carries the error (RFC 9449 §7.1), followed by a bare Bearer
 *   challenge, since an unbound token would be accepted with the Bearer scheme (RFC 9110 §11.6.1:
 *   several challenges in one value).
 * - Bearer: the RFC 6750 §3 challenge, unchanged.
 */
export function edgeChallenge(scheme: TokenScheme, c: BearerChallenge, dpopRequired = false): string {
  if (scheme === 'bearer' && !dpopRequired) return bearerChallenge(c);
  const dpop = dpopChallenge({ error: c.error, description: c.description, scope: c.scope, algs: DPOP_SIGNING_ALGS, resourceMetadata: c.resourceMetadata });
  // A route that requires DPoP accepts no Bearer token: no Bearer challenge (RFC 9449 §7.1).
  return dpopRequired ? dpop : `${dpop}, ${bearerChallenge({ realm: c.realm, resourceMetadata: c.resourceMetadata })}`;
}

/**
 * Whether the route requires DPoP: Envoy's per-route context_extensions `dpop: required`. Such a
 * route refuses every Bearer token, bound or not, and its challenges are DPoP only (RFC 9449 §7.1).
 */
export function dpopRequiredBy(contextExtensions: { [key: string]: string }): boolean {
  return contextExtensions.dpop === 'required';
}

/** The parts of Envoy's CheckRequest.attributes.request.http the DPoP check reads. */
export interface ForwardedHttpRequest {
  method: string;
  host: string;
  path: string;
  scheme: string;
  headers: { [key: string]: string };
}

export function createDpopEdge(deps: Pick<MeshDeps, 'grid' | 'config' | 'now'>) {
  const realm = deps.config.issuer;
  const proofs = createDpopProofs({ grid: deps.grid, config: deps.config, now: () => deps.now() });

  const noMetadata = async (): Promise<string | undefined> => undefined;
  const ownHosts = edgeHosts(deps.config.issuer, [deps.config.mtlsBaseUrl]);
  const justOwnHosts = async (): Promise<ReadonlySet<string>> => ownHosts;

  return {
    /**
     * RFC 9449 §7.1: decides whether the presented token may be used as presented.
     * - Bearer scheme: a DPoP-bound token (cnf.jkt) is refused (invalid_token), with both
     *   challenges; on a route that requires DPoP (`dpopRequired`) every Bearer token is refused.
     * - DPoP scheme: exactly one well-formed proof in the `dpop` header, valid for this method and
     *   URI (§4.3), carrying ath of the token, signed by the token's key, not seen before (§11.1),
     *   with the current nonce when required (§8, §9).
     * `resourceMetadata` gives the RFC 9728 metadata URL for the challenge; it is asked only on a denial.
     * `origins` gives the hosts the request may have been made to (edgeHosts): the issuer's
     * and mutual-TLS base URL's by default; the caller adds the route's resource audience.
     * @returns undefined when the request may go on to the audience and scope checks; the denial otherwise.
     * @throws TemporarilyUnavailable when the grid cannot be reached (the caller answers 503).
     */
    async checkDpop(
      http: ForwardedHttpRequest,
      presented: PresentedToken,
      claims: { cnf?: { jkt?: string | undefined } | undefined },
      dpopRequired = false,
      resourceMetadata: () => Promise<string | undefined> = noMetadata,
      hosts: () => Promise<ReadonlySet<string>> = justOwnHosts,
    ): Promise<DpopDenial | undefined> {
      const denial = async (scheme: TokenScheme, error: DpopDenial['error'], description: string, nonce?: string, required = false): Promise<DpopDenial> => ({
        error,
        description,
        challenge: edgeChallenge(scheme, { realm, error, description, resourceMetadata: await resourceMetadata() }, required),
        nonce: nonce === undefined || nonce === '' ? undefined : nonce,
      });
      // RFC 9449 §7.1: a route that requires DPoP accepts DPoP-bound tokens with proofs only.
      if (presented.scheme === 'bearer' && dpopRequired) return denial('bearer', 'invalid_token', 'this route requires a DPoP-bound access token with the DPoP scheme', undefined, true);
      if (presented.scheme === 'bearer') {
        // RFC 9449 §7.1: a DPoP-bound token is not a Bearer token.
        if (claims.cnf?.jkt === undefined) return undefined;
        const description = 'the access token is DPoP-bound: send it with the DPoP scheme and a proof';
        const rm = await resourceMetadata();
        return {
          error: 'invalid_token',
          description,
          challenge: `${bearerChallenge({ realm, error: 'invalid_token', description, resourceMetadata: rm })}, ${dpopChallenge({ algs: DPOP_SIGNING_ALGS, resourceMetadata: rm })}`,
          nonce: undefined,
        };
      }
      // RFC 9449 §4.3 step 1: exactly one DPoP header (Envoy joins repeated ones with commas,
      // which a compact JWS never contains, so verifyDpopProof refuses them).
      const proof = http.headers.dpop;
      if (proof === undefined || proof === '') return denial('dpop', 'invalid_dpop_proof', 'a DPoP proof is required with the DPoP scheme');
      // RFC 9449 §4.3 step 9, §7.1: htu is the URI the client called, rebuilt from what Envoy forwards.
      const htu = resourceRequestHtu({ scheme: http.headers['x-forwarded-proto'] || http.scheme, authority: http.host, path: http.path });
      if (htu === undefined) return denial('dpop', 'invalid_dpop_proof', 'the request URI cannot be established');
      // RFC 9449 §4.3 step 9, §11.1: the URI's host must be one of this edge's, not whatever Host the client sent.
      if (!isHtuOnHosts(htu, await hosts())) return denial('dpop', 'invalid_dpop_proof', 'the request was not made to a host this server answers for');
      try {
        await proofs.checkResourceRequest(proof, { htm: http.method, htu, accessToken: presented.token, claims });
      } catch (err) {
        if (err instanceof AuthmeshError && (err.code === 'invalid_token' || err.code === 'invalid_dpop_proof' || err.code === 'use_dpop_nonce')) {
          return denial('dpop', err.code, err.description, err.metadata.dpop_nonce);
        }
        throw err;
      }
      return undefined;
    },
  };
}
