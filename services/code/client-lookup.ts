// Reads a registered client from the client service (which owns client data and serves it from
// its grid cache) and maps the proto message to what the authorization endpoint rules need.
import { type Client, ClientType, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthmeshError, ServerError } from '../core/errors/index.js';
import { type AuthorizationClient, type ClientType as OAuthClientType, type GrantType as OAuthGrantType, TOKEN_EXCHANGE_GRANT } from '../core/oauth/index.js';
import type { Peers } from '../mesh-deps.js';

/** A client as the code service uses it: the authorization rules' view plus what the pages show. */
export interface CodeClient extends AuthorizationClient {
  clientName: string;
  logoUri: string;
  skipConsent: boolean;
  /** PKCE required although confidential (always implied for public clients). */
  requirePkce: boolean;
}

// A client_id longer than this cannot be registered, so it is unknown without asking.
const MAX_CLIENT_ID_LENGTH = 256;

const CLIENT_TYPES: Partial<Record<ClientType, OAuthClientType>> = {
  [ClientType.CLIENT_TYPE_PUBLIC]: 'public',
  [ClientType.CLIENT_TYPE_CONFIDENTIAL]: 'confidential',
  [ClientType.CLIENT_TYPE_TRUSTED]: 'trusted',
};

const GRANT_TYPES: Partial<Record<GrantType, OAuthGrantType>> = {
  [GrantType.GRANT_TYPE_AUTHORIZATION_CODE]: 'authorization_code',
  [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS]: 'client_credentials',
  [GrantType.GRANT_TYPE_REFRESH_TOKEN]: 'refresh_token',
  [GrantType.GRANT_TYPE_PASSWORD]: 'password',
  [GrantType.GRANT_TYPE_TOKEN_EXCHANGE]: TOKEN_EXCHANGE_GRANT,
};

export function toCodeClient(c: Client): CodeClient | undefined {
  const clientType = CLIENT_TYPES[c.clientType];
  // A record whose type we do not know cannot be judged safely: treat it as no client at all.
  if (clientType === undefined) return undefined;
  return {
    clientId: c.clientId,
    clientType,
    grantTypes: c.grantTypes.map((g) => GRANT_TYPES[g]).filter((g): g is OAuthGrantType => g !== undefined),
    redirectUris: [...c.redirectUris],
    scope: [...c.scopes],
    clientName: c.clientName,
    logoUri: c.logoUri,
    skipConsent: c.skipConsent,
    requirePkce: c.requirePkce,
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
