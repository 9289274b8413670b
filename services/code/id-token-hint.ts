// Verifies an id_token_hint (OpenID Connect Core 1.0 §3.1.2.1): an ID Token this server issued
// to the client, its signature checked against the key service's JWKS, its expiry ignored (the
// spec expects a hint to be an old ID Token). The claim rules are in core/oauth (idTokenHintSubject).
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { InvalidRequest } from '../core/errors/index.js';
import { ALLOWED_ALGS, idTokenHintSubject } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';

/**
 * The sub of a valid id_token_hint.
 * @throws InvalidRequest when the hint is not a well-signed ID Token of this issuer for this client;
 *   the key service's errors (temporarily_unavailable) propagate
 */
export async function verifyIdTokenHint(deps: MeshDeps, hint: string, clientId: string, deadline?: Date): Promise<string> {
  const invalid = () => new InvalidRequest('id_token_hint is not an ID Token issued by this server to this client');
  let header;
  try {
    header = decodeProtectedHeader(hint);
  } catch {
    throw invalid();
  }
  const { keys } = await deps.peers.key.getJwks({}, deadline === undefined ? {} : { deadline });
  // RFC 7517 §4: members without a value (proto3 empty strings) are absent.
  const jwks = { keys: keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== '' && v !== undefined))) } as JSONWebKeySet;
  let payload: Record<string, unknown>;
  try {
    // RFC 8725 §3.1: an explicit algorithm allow-list; compactVerify checks the signature only,
    // so an expired ID Token is still a usable hint (OIDC Core §3.1.2.1).
    const verified = await compactVerify(hint, createLocalJWKSet(jwks), { algorithms: [...ALLOWED_ALGS] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  if (typeof payload !== 'object' || payload === null) throw invalid();
  return idTokenHintSubject(header, payload, { issuer: deps.config.issuer, clientId });
}
