// The authenticator of every authmesh server: the mesh credential for internal RPCs, verified
// access tokens with the right scope for admin RPCs: Bearer tokens (RFC 6750), DPoP-bound tokens
// with the DPoP scheme and a proof (RFC 9449 §7), and certificate-bound tokens (RFC 8705 §3) only
// over mutual TLS with their certificate.
//
// Which request a DPoP proof must name (htm, htu; RFC 9449 §4.3 steps 8-9), first match wins:
// - a mesh member (holding the mesh credential, i.e. the gateway) may name the HTTP request it
//   received (metadata x-authmesh-dpop-htm / x-authmesh-dpop-htu): UserInfo (GET/POST
//   ${issuer}/oauth2/userinfo) passes a client's proof on this way;
// - a REST call transcoded by Envoy (/v1/...) carries the edge's attestation of the REST request
//   (x-authmesh-dpop-request, rest-dpop-request.ts): an HMAC under the mesh secret, bound to this
//   RPC, this access token and a few seconds, naming the REST method and URL the client called;
// - otherwise the RPC being executed, as the public URL it is reached at, POST
//   `${issuer}/<package>.<Service>/<Method>`: the URL of the native gRPC route at the edge and of
//   the gateway's Connect/gRPC-Web bridge alike (both POST to that path).
// Nobody without the mesh secret can name a URL, so nobody gains a way to use a proof made for
// anything but the request it came with; the proof itself is always verified here, and used once
// in the mesh (the grid's jti map).
//
// Which client certificate a request came with (RFC 8705 §3), for certificate-bound tokens only:
// the certificate Envoy forwards in x-forwarded-client-cert (SANITIZE_SET: Envoy's own), believed
// only together with x-authmesh-edge-proof equal to AUTHMESH_MTLS_EDGE_SECRET (constant time),
// which Envoy adds to the mesh's routes and strips from what clients send. The gateway passes the
// two headers it received from Envoy on the same way (Connect bridge, UserInfo). Anything else —
// a direct gRPC caller, a forwarded certificate without the proof — is no certificate, and a
// certificate-bound token is then invalid_token (fail closed).
import type { Metadata } from '@grpc/grpc-js';
import { AccessDenied, InsufficientScope, InvalidDpopProof, InvalidToken } from '../errors/index.js';
import {
  assertBearerUsable,
  assertCertificateBinding,
  certificateThumbprint,
  constantTimeEqualTo,
  isAddressedOnlyTo,
  parseBearer,
  parseDpopAuthorization,
  parseForwardedClientCert,
} from '../oauth/index.js';
import type { AccessTokenVerifier } from './access-token-verifier.js';
import type { Authenticator, Principal } from './context.js';
import type { DpopProofs } from './dpop-proofs.js';
import { REST_DPOP_REQUEST_METADATA_KEY, verifyRestDpopRequest } from './rest-dpop-request.js';

/** Metadata key carrying the mesh credential between authmesh services. */
export const MESH_METADATA_KEY = 'x-authmesh-mesh';
/** Metadata keys by which a mesh member names the HTTP request a DPoP proof came with (UserInfo). */
export const DPOP_HTM_METADATA_KEY = 'x-authmesh-dpop-htm';
export const DPOP_HTU_METADATA_KEY = 'x-authmesh-dpop-htu';
/** Error metadata of an invalid_token refusal: the token is DPoP-bound and was sent as Bearer. */
export const DPOP_BOUND_METADATA = 'dpop_bound';
/** Envoy's forwarded client certificate (RFC 8705), and the edge proof it is believed with. */
export const FORWARDED_CLIENT_CERT_METADATA_KEY = 'x-forwarded-client-cert';
export const EDGE_PROOF_METADATA_KEY = 'x-authmesh-edge-proof';

export interface MeshAuthenticatorOptions {
  meshSecret: string;
  verifier: AccessTokenVerifier;
  /**
   * authmesh's own audience: the only `aud` value an access token may carry to call admin RPCs. It is
   * the issuer, which is what a token gets when it is requested without resource indicators by a
   * client without default audiences (the bootstrap admin client's client_credentials token).
   */
  audience: string;
  /** DPoP proofs checked in the grid (RFC 9449 §7); without it the DPoP scheme is refused. */
  dpop?: DpopProofs | undefined;
  /**
   * AUTHMESH_MTLS_EDGE_SECRET: x-forwarded-client-cert is believed only with x-authmesh-edge-proof
   * equal to it. Unset: no request has a certificate, and certificate-bound tokens are refused.
   */
  edgeSecret?: string | undefined;
  /** The clock of REST attestations (tests move it). */
  now?: () => Date;
}

export function createMeshAuthenticator(options: MeshAuthenticatorOptions): Authenticator {
  const isMeshSecret = constantTimeEqualTo(options.meshSecret);
  const isEdgeSecret = options.edgeSecret === undefined ? undefined : constantTimeEqualTo(options.edgeSecret);
  const now = options.now ?? (() => new Date());
  const isMesh = (md: Metadata) => {
    const v = md.get(MESH_METADATA_KEY)[0];
    return typeof v === 'string' && isMeshSecret(v);
  };
  const tokenOf = (md: Metadata): { token: string; scheme: 'bearer' | 'dpop' } | undefined => {
    const v = md.get('authorization')[0];
    if (typeof v !== 'string') return undefined;
    const bearer = parseBearer(v);
    if (bearer) return { token: bearer, scheme: 'bearer' };
    const dpop = parseDpopAuthorization(v);
    if (dpop) return { token: dpop, scheme: 'dpop' };
    throw new InvalidToken('the authorization metadata is not a Bearer or DPoP token');
  };
  const stringOf = (md: Metadata, key: string): string | undefined => {
    const values = md.get(key);
    // RFC 9449 §4.3 step 1: exactly one proof.
    if (values.length > 1) throw new InvalidDpopProof(`more than one ${key} was sent`);
    return typeof values[0] === 'string' ? values[0] : undefined;
  };
  /**
   * RFC 8705 §3: the x5t#S256 of the client certificate Envoy forwarded, when the edge proof comes
   * with it; undefined otherwise (no mutual TLS, or a certificate nobody can vouch for).
   */
  function forwardedThumbprint(md: Metadata): string | undefined {
    if (isEdgeSecret === undefined) return undefined;
    const proof = md.get(EDGE_PROOF_METADATA_KEY);
    const xfcc = md.get(FORWARDED_CLIENT_CERT_METADATA_KEY);
    // Exactly one of each, the proof compared in constant time: a forwarded certificate is
    // believed only from the proxy that terminated the TLS connection.
    if (proof.length !== 1 || typeof proof[0] !== 'string' || !isEdgeSecret(proof[0])) return undefined;
    if (xfcc.length !== 1 || typeof xfcc[0] !== 'string') return undefined;
    try {
      const cert = parseForwardedClientCert(xfcc[0]);
      return cert === undefined ? undefined : certificateThumbprint(cert.certificate);
    } catch {
      return undefined;
    }
  }

  /** RFC 9449 §7.1: the proof of a DPoP-scheme call, for the request named in the file comment. */
  async function checkDpop(md: Metadata, token: string, claims: { cnf?: { jkt?: string | undefined } | undefined }, method: string | undefined): Promise<void> {
    if (!options.dpop) throw new InvalidToken('DPoP tokens are not accepted here');
    const proof = stringOf(md, 'dpop');
    if (proof === undefined || proof === '') throw new InvalidDpopProof('a DPoP proof is required with the DPoP scheme');
    const named = isMesh(md) ? { htm: stringOf(md, DPOP_HTM_METADATA_KEY), htu: stringOf(md, DPOP_HTU_METADATA_KEY) } : { htm: undefined, htu: undefined };
    const attested = stringOf(md, REST_DPOP_REQUEST_METADATA_KEY);
    let request: { htm: string; htu: string };
    if (named.htm !== undefined && named.htu !== undefined) request = { htm: named.htm, htu: named.htu };
    // RFC 9449 §4.3 steps 8-9: a transcoded REST call's proof names the REST request, which only
    // the edge's attestation (bound to this RPC and token) can establish.
    else if (attested !== undefined) {
      if (method === undefined) throw new InvalidDpopProof('the request a DPoP proof must name cannot be established');
      request = verifyRestDpopRequest(options.meshSecret, attested, { rpc: method, accessToken: token, now: now() });
    } else if (method !== undefined && method.startsWith('/')) request = { htm: 'POST', htu: `${options.audience}${method}` };
    else throw new InvalidDpopProof('the request a DPoP proof must name cannot be established');
    // RFC 9449 §4.3, §7.1: method, URI, ath, the token's key, single use, nonce.
    await options.dpop.checkResourceRequest(proof, { ...request, accessToken: token, claims });
  }

  return {
    async authenticate(md, access, method): Promise<Principal> {
      switch (access.kind) {
        case 'public':
          return { kind: 'anonymous' };
        case 'client':
          // The client authenticates in the request; the mesh credential only says the caller is
          // the gateway, whose remote_ip the audit trail may then believe (caller-address.ts).
          return isMesh(md) ? { kind: 'mesh' } : { kind: 'anonymous' };
        case 'internal':
          if (isMesh(md)) return { kind: 'mesh' };
          if (md.get('authorization').length > 0) throw new AccessDenied('this method is internal to the mesh');
          throw new InvalidToken('this method requires the mesh credential');
        case 'scopes': {
          if (access.allowMesh && isMesh(md)) return { kind: 'mesh' };
          const presented = tokenOf(md);
          if (!presented) throw new InvalidToken('this method requires a Bearer access token');
          const claims = await options.verifier.verify(presented.token);
          // RFC 8705 §3: a certificate-bound token only with its certificate (read only for such
          // tokens; checked before the DPoP proof, so a refused call spends no proof).
          if (claims.cnf?.['x5t#S256'] !== undefined) assertCertificateBinding(claims, forwardedThumbprint(md));
          // RFC 9068 §4 / RFC 7519 §4.1.3: a token issued for another API is not a credential for
          // this one, whatever scope it carries (checked before the DPoP proof, which it would
          // otherwise spend).
          if (!isAddressedOnlyTo(claims, options.audience)) throw new InvalidToken('the token is not intended for authmesh alone (aud)');
          // RFC 9449 §7.1: a DPoP-bound token presented as Bearer is refused (admin APIs, UserInfo);
          // one presented with the DPoP scheme needs a valid proof by its key.
          if (presented.scheme === 'bearer') {
            // The refusal says the token is DPoP-bound, so the challenge can offer the DPoP scheme.
            if (claims.cnf?.jkt !== undefined) throw new InvalidToken('the access token is DPoP-bound and cannot be used as a Bearer token', { metadata: { [DPOP_BOUND_METADATA]: 'true' } });
            assertBearerUsable(claims);
          }
          else await checkDpop(md, presented.token, claims, method);
          const scopes = claims.scope ? claims.scope.split(' ') : [];
          // RFC 6750 §3.1: a valid token without the needed scope is insufficient_scope.
          if (!access.anyOf.some((s) => scopes.includes(s))) {
            throw new InsufficientScope(`this method requires scope ${access.anyOf.join(' or ')}`, { metadata: { scope: access.anyOf.join(' ') } });
          }
          return { kind: 'token', subject: claims.sub, clientId: claims.client_id, scopes, jti: claims.jti };
        }
      }
    },
  };
}
