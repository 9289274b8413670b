// Fixtures shared by the gateway's token, discovery and registration tests: real clients, a user
// and a resource server created through the admin gRPC API of the mesh behind the gateway.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest, IssueCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { computeS256Challenge } from '../../services/core/oauth/index.js';
import type { TestGateway } from '../../test/support/gateway.js';

export const REDIRECT = 'https://app.example.com/cb';
export const ORDERS = 'https://orders.example.com';
export const ALLOWED_ORIGIN = 'https://console.example.com';

export interface Registered {
  id: string;
  secret: string;
}

export interface Fixtures {
  /** Confidential, client_secret_basic, every grant but password. */
  basic: Registered;
  /** Confidential, client_secret_post, client_credentials only. */
  post: Registered;
  /** Confidential, private_key_jwt with an ES256 key. */
  jwt: { id: string; privateKey: CryptoKey; kid: string };
  /** Public client, authorization_code + refresh_token. */
  pub: string;
  userId: string;
}

export async function createFixtures(t: TestGateway): Promise<Fixtures> {
  const bearer = await t.bearer();
  const create = async (client: Partial<Client>): Promise<Registered> => {
    const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client: Client.fromPartial(client) }), { bearer });
    return { id: res.client!.clientId, secret: res.clientSecret };
  };
  const basic = await create({
    clientName: 'backend',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    redirectUris: [REDIRECT],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_REFRESH_TOKEN, GrantType.GRANT_TYPE_TOKEN_EXCHANGE],
    scopes: ['read', 'write', 'orders.read'],
  });
  const post = await create({
    clientName: 'poster',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST,
    grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
    scopes: ['read'],
  });
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwtClient = await create({
    clientName: 'signer',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
    grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
    scopes: ['read'],
    jwks: { keys: [jwk] },
  });
  const pub = await create({
    clientName: 'spa',
    clientType: ClientType.CLIENT_TYPE_PUBLIC,
    redirectUris: [REDIRECT],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
    scopes: ['read'],
  });
  const user = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: `alice-${kid}` }, password: 'correct horse battery staple' }), { bearer });
  await t.anon.service.createService(
    CreateServiceRequest.fromPartial({
      service: { displayName: 'orders', audience: ORDERS, endpoints: [{ method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] }] },
    }),
    { bearer },
  );
  return { basic, post, jwt: { id: jwtClient.id, privateKey, kid }, pub: pub.id, userId: user.user!.userId };
}

/**
 * An authorization code issued over gRPC exactly as the authorization endpoint would after login
 * and consent; returns the redirect the browser would follow (code, state, iss).
 */
export async function authorizationRedirect(t: TestGateway, clientId: string, userId: string, scope: string, verifier: string): Promise<URL> {
  const request = AuthorizationRequest.fromPartial({
    responseType: 'code',
    clientId,
    redirectUri: REDIRECT,
    scope,
    state: 'st-1',
    codeChallenge: computeS256Challenge(verifier),
    codeChallengeMethod: 'S256',
  });
  await t.peers.code.validateAuthorizationRequest({ request, userId, authTime: undefined });
  const { code } = await t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId, authTime: new Date() }));
  const url = new URL(REDIRECT);
  url.searchParams.set('code', code);
  url.searchParams.set('state', 'st-1');
  url.searchParams.set('iss', t.config.issuer);
  return url;
}

/** A form POST as a hand-rolled client would send it, for what libraries refuse to send. */
export function postForm(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
}

export const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
