// Reads a registered client from the client service (which owns client data and serves it from
// its grid cache) and maps the proto message to what the authorization endpoint rules need.
import type { Client } from '../../gen/ts/authmesh/client/v1/client.js';
import { clientTypeName, grantTypeNames } from '../client/client-enums.js';
import { AuthmeshError, ServerError } from '../core/errors/index.js';
import type { AuthorizationClient, SubjectType } from '../core/oauth/index.js';
import type { Peers } from '../mesh-deps.js';

/** A client as the code service uses it: the authorization rules' view plus what the pages show. */
export interface CodeClient extends AuthorizationClient {
  clientName: string;
  logoUri: string;
  skipConsent: boolean;
  /** PKCE required although confidential (always implied for public clients). */
  requirePkce: boolean;
  /** OpenID Connect Core §8: how the client's sub is formed. */
  subjectType: SubjectType;
  sectorIdentifierUri: string;
  /** OpenID Connect Registration §2 default_max_age, seconds; undefined: none. */
  defaultMaxAge: number | undefined;
  /** The registered JWK Set that verifies the client's request objects (RFC 9101 §6.2). */
  jwks: Record<string, unknown> | undefined;
  /** RFC 9126 §6 require_pushed_authorization_requests. */
  requirePushedAuthorizationRequests: boolean;
  /** RFC 9101 §10.5 require_signed_request_object. */
  requireSignedRequestObject: boolean;
  /** OIDC Registration §2 request_object_signing_alg; '' = the allow-list. */
  requestObjectSigningAlg: string;
}

// A client_id longer than this cannot be registered, so it is unknown without asking.
const MAX_CLIENT_ID_LENGTH = 256;

export function toCodeClient(c: Client): CodeClient | undefined {
  const clientType = clientTypeName(c.clientType);
  // A record whose type we do not know cannot be judged safely: treat it as no client at all.
  if (clientType === undefined) return undefined;
  return {
    clientId: c.clientId,
    clientType,
    grantTypes: grantTypeNames(c.grantTypes),
    redirectUris: [...c.redirectUris],
    scope: [...c.scopes],
    clientName: c.clientName,
    logoUri: c.logoUri,
    skipConsent: c.skipConsent,
    requirePkce: c.requirePkce,
    subjectType: c.subjectType === 'pairwise' ? 'pairwise' : 'public',
    sectorIdentifierUri: c.sectorIdentifierUri,
    defaultMaxAge: c.defaultMaxAge,
    jwks: c.jwks,
    requirePushedAuthorizationRequests: c.requirePushedAuthorizationRequests,
    requireSignedRequestObject: c.requireSignedRequestObject,
    requestObjectSigningAlg: c.requestObjectSigningAlg,
  };
}

/**
 * The client registered under clientId, or undefined when there is none. Failures other than
 * "no such client" (client service unreachable, …) propagate, so an outage is never mistaken for
 * an unknown client.
 */
export async function lookUpClient(peers: Peers, clientId: string, deadline?: Date): Promise<CodeClient | undefined> {
  if (clientId === '' || clientId.length > MAX_CLIENT_ID_LENGTH) return undefined;
  try {
    const res = await peers.client.getClient({ clientId }, deadline === undefined ? {} : { deadline });
    return res.client === undefined ? undefined : toCodeClient(res.client);
  } catch (err) {
    // not_found: no such client; invalid_request: a client_id that could never have been registered.
    if (err instanceof AuthmeshError && (err.code === 'not_found' || err.code === 'invalid_request')) return undefined;
    // Retryable failures keep their meaning; anything else (e.g. the client service refusing our
    // credential) is our fault, never the caller's, and must not reach it as its own error.
    if (err instanceof AuthmeshError && err.code === 'temporarily_unavailable') throw err;
    throw new ServerError(undefined, { cause: err });
  }
}
