// Fixtures shared by the code service tests: real clients and users created through the real
// client and user services of a test mesh.
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, UpdateClientRequest } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { AuthmeshError } from '../core/errors/index.js';
import { computeS256Challenge } from '../core/oauth/index.js';
import type { TestMesh } from '../../test/support/mesh.js';
import { uniqueId } from '../../test/support/ids.js';

export const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
export const CHALLENGE = computeS256Challenge(VERIFIER);
export const APP_CB = 'https://app.example.com/cb';
export const LOOPBACK_CB = 'http://127.0.0.1/cb';
export const WEB_CB = 'https://web.example.com/cb?tenant=a';

export interface Fixtures {
  /** Public client: two redirect URIs (https and loopback), PKCE always. */
  publicId: string;
  /** Confidential client: one redirect URI with a query, require_pkce turned off by an update. */
  confidentialId: string;
  /** Confidential client that skips consent, PKCE required. */
  skipConsentId: string;
  /** Confidential client without the authorization_code grant. */
  serviceId: string;
  userId: string;
}

export async function createFixtures(t: TestMesh): Promise<Fixtures> {
  const bearer = await t.bearer();
  const create = async (client: Partial<Client>) => {
    const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client: Client.fromPartial(client) }), { bearer });
    if (res.client === undefined) throw new Error('createClient returned no client');
    return res.client.clientId;
  };
  const publicId = await create({
    clientId: uniqueId('spa'),
    clientName: 'Single Page App',
    logoUri: 'https://app.example.com/logo.png',
    clientType: ClientType.CLIENT_TYPE_PUBLIC,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
    redirectUris: [APP_CB, LOOPBACK_CB],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
    scopes: ['openid', 'read', 'write'],
    requirePkce: true,
  });
  const confidentialId = await create({
    clientId: uniqueId('web'),
    clientName: 'Web App',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    redirectUris: [WEB_CB],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
    scopes: ['read', 'write'],
  });
  // A new client always starts with PKCE required; only an update can relax it.
  await t.anon.client.updateClient(
    UpdateClientRequest.fromPartial({ client: Client.fromPartial({ clientId: confidentialId, requirePkce: false }), updateMask: ['require_pkce'] }),
    { bearer },
  );
  const skipConsentId = await create({
    clientId: uniqueId('first'),
    clientName: 'First Party',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    redirectUris: ['https://first.example.com/cb'],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
    scopes: ['read'],
    skipConsent: true,
    requirePkce: true,
  });
  const serviceId = await create({
    clientId: uniqueId('svc'),
    clientName: 'Backend',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    redirectUris: ['https://svc.example.com/cb'],
    grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
    scopes: ['read'],
    requirePkce: true,
  });
  const user = await t.anon.user.createUser(
    CreateUserRequest.fromPartial({ user: { username: uniqueId('alice'), email: 'alice@example.com' }, password: 'correct horse battery staple' }),
    { bearer },
  );
  if (user.user === undefined) throw new Error('createUser returned no user');
  return { publicId, confidentialId, skipConsentId, serviceId, userId: user.user.userId };
}

/** A valid authorization request of the public client. */
export function publicRequest(f: Fixtures, overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return AuthorizationRequest.fromPartial({
    responseType: 'code',
    clientId: f.publicId,
    redirectUri: APP_CB,
    scope: 'openid read',
    state: 'st-123',
    codeChallenge: CHALLENGE,
    codeChallengeMethod: 'S256',
    nonce: 'n-0S6',
    ...overrides,
  });
}

/** The domain error a call rejected with (fails the test when it resolved). */
export async function rejection(p: Promise<unknown>): Promise<AuthmeshError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthmeshError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}
