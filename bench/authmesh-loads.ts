// The authmesh side of every row, given where authmesh answers: its HTTP base URL (the gateway,
// or Envoy in stack mode), a gRPC address for TokenService/Token and one for ext_authz Check. It
// registers its own client and user through the admin API first, as a deployment's admin would.
import { randomBytes } from 'node:crypto';
import { type ClientCredentials, TokenEndpointAuthMethod } from '../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationService, CheckRequest } from '../gen/ts/envoy/service/auth/v3/external_auth.js';
import { TokenRequest, TokenServiceService } from '../gen/ts/authmesh/token/v1/token.js';
import { createRpcClient } from '../services/core/rpc/index.js';
import { dpopProofPool } from './dpop-proofs.js';
import { grpcRound } from './grpc-load.js';
import { chainRound } from './http-chain-load.js';
import { httpRound } from './http-load.js';
import { RefreshPool } from './refresh-pool.js';
import type { Load, RowId } from './target.js';
import { expectActive, expectJwt, formHeaders, postForm } from './oauth-http.js';

export interface AuthmeshEndpoints {
  /** Base URL of the OAuth endpoints, e.g. http://127.0.0.1:8080. */
  http: string;
  /** host:port for TokenService/Token over gRPC. */
  tokenGrpc: string;
  /** host:port for envoy.service.auth.v3.Authorization/Check. */
  checkGrpc: string;
  adminClientId: string;
  adminClientSecret: string;
}

export interface AuthmeshLoads {
  loads: Record<Exclude<RowId, 'cc_many_clients' | 'grpc_unary'>, Load>;
  close(): void;
}

const SCOPE = 'api:read';

async function admin<T>(http: string, token: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${http}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Registers a trusted bench client (client_credentials, refresh_token, password) and a user, and
 * returns one Load per row. `passwordGrant` must be enabled on the server (AUTHMESH_PASSWORD_GRANT)
 * for the refresh row, whose tokens come from password grants made before each round.
 */
export async function authmeshLoads(at: AuthmeshEndpoints): Promise<AuthmeshLoads> {
  const adminToken = (await postForm(`${at.http}/oauth2/token`, at.adminClientId, at.adminClientSecret, 'grant_type=client_credentials&scope=authmesh.admin')).access_token;
  const suffix = randomBytes(4).toString('hex');
  const created = await admin<{ client: { clientId: string }; clientSecret: string }>(at.http, adminToken, 'authmesh.client.v1.ClientService/CreateClient', {
    client: {
      clientId: `bench-${suffix}`,
      clientName: 'benchmark client',
      clientType: 'CLIENT_TYPE_TRUSTED',
      grantTypes: ['GRANT_TYPE_CLIENT_CREDENTIALS', 'GRANT_TYPE_REFRESH_TOKEN', 'GRANT_TYPE_PASSWORD'],
      scopes: [SCOPE],
      tokenEndpointAuthMethod: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC',
    },
  });
  const clientId = created.client.clientId;
  const clientSecret = created.clientSecret;
  const username = `bench-user-${suffix}`;
  const password = randomBytes(18).toString('base64url');
  await admin(at.http, adminToken, 'authmesh.user.v1.UserService/CreateUser', { user: { username }, password });

  const tokenUrl = `${at.http}/oauth2/token`;
  const ccBody = `grant_type=client_credentials&scope=${encodeURIComponent(SCOPE)}`;
  const first = await postForm(tokenUrl, clientId, clientSecret, ccBody);
  expectJwt(first.access_token, 'authmesh client_credentials');
  const headers = formHeaders(clientId, clientSecret);

  const pool = new RefreshPool();
  const passwordBody = `grant_type=password&username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}&scope=${encodeURIComponent(SCOPE)}`;

  const token = createRpcClient(TokenServiceService, 'authmesh.token.v1.TokenService', at.tokenGrpc);
  const creds: ClientCredentials = {
    credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
  };
  const tokenReq = TokenRequest.fromPartial({ client: creds, grant: { $case: 'clientCredentials', value: { scope: SCOPE } } });
  const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', at.checkGrpc);
  // Rounds outlast an access token's lifetime: the introspection and Check rows take a fresh
  // token before each round (not measured).
  let current = first.access_token;
  const refreshCurrent = async () => {
    current = (await postForm(tokenUrl, clientId, clientSecret, ccBody)).access_token;
  };
  const introspectUrl = `${at.http}/oauth2/introspect`;
  await expectActive(introspectUrl, clientId, clientSecret, current, 'authmesh');
  let checkReq = CheckRequest.fromPartial({});
  const newCheck = () => {
    checkReq = CheckRequest.fromPartial({
      attributes: { request: { http: { method: 'GET', path: '/bench', headers: { authorization: `Bearer ${current}` } } }, contextExtensions: { scope: SCOPE } },
    });
  };
  newCheck();
  // A Check that answers "denied" resolves too: count it as an error, the row measures allows.
  const check = async () => {
    const res = await authz.check(checkReq);
    if (res.status?.code !== 0 || res.httpResponse?.$case !== 'okResponse') throw new Error('ext_authz denied the bench token');
  };
  await check();
  await token.token(tokenReq);

  // DPoP rows (RFC 9449): every request carries its own proof, signed before the round.
  const dpop = await dpopProofPool();
  const tokenTarget = { htm: 'POST', htu: tokenUrl };
  const dpopToken = async () => {
    const res = await fetch(tokenUrl, { method: 'POST', headers: { ...headers, dpop: await dpop.proof(tokenTarget) }, body: ccBody });
    const body = (await res.json()) as { access_token?: string; token_type?: string };
    if (res.status !== 200 || body.token_type !== 'DPoP' || !body.access_token) throw new Error(`authmesh DPoP client_credentials: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  };
  // The resource request ext_authz checks: GET <issuer origin>/bench, as Envoy forwards it (the htu
  // host must be one the edge answers for, RFC 9449 §4.3 step 9).
  const edge = new URL(tokenUrl);
  const resource = { htm: 'GET', htu: `${edge.protocol}//${edge.host}/bench` };
  let dpopCheckToken = await dpopToken();
  const dpopCheck = async () => {
    const res = await authz.check(
      CheckRequest.fromPartial({
        attributes: {
          request: { http: { method: 'GET', path: '/bench', host: edge.host, scheme: edge.protocol.slice(0, -1), headers: { authorization: `DPoP ${dpopCheckToken}`, dpop: dpop.next() } } },
          contextExtensions: { scope: SCOPE },
        },
      }),
    );
    if (res.status?.code !== 0 || res.httpResponse?.$case !== 'okResponse') throw new Error('ext_authz denied the DPoP bench request');
  };
  await dpop.fill({ ...resource, accessToken: dpopCheckToken }, 0.001);
  await dpopCheck();

  return {
    loads: {
      client_credentials: { run: (s, c) => httpRound({ url: tokenUrl, method: 'POST', headers, body: ccBody }, s, c) },
      introspection: {
        prepare: refreshCurrent,
        run: (s, c) => httpRound({ url: introspectUrl, method: 'POST', headers, body: `token=${current}` }, s, c),
        note: 'authmesh introspects its JWT access token',
      },
      jwks: { run: (s, c) => httpRound({ url: `${at.http}/.well-known/jwks.json` }, s, c) },
      refresh: {
        async prepare(connections) {
          // One token per connection plus a few spare; each is a password grant (a slow password
          // hash), made one at a time so a burst never runs into the RPC deadline.
          while (pool.size < connections + 4) {
            const minted = await postForm(tokenUrl, clientId, clientSecret, passwordBody);
            if (!minted.refresh_token) throw new Error('authmesh password grant returned no refresh token');
            pool.add([minted.refresh_token]);
          }
        },
        run: (s, c) => chainRound({ url: tokenUrl, headers, next: () => pool.next(), onResponse: (st, b) => pool.onResponse(st, b) }, s, c),
        note: 'refresh tokens come from password grants made once (not measured); load by a chained node:http loop, not autocannon, on every side',
      },
      dpop_client_credentials: {
        async run(s, c) {
          await dpop.fill(tokenTarget, s);
          return httpRound({ url: tokenUrl, method: 'POST', headers, body: ccBody, perRequestHeaders: () => ({ dpop: dpop.next() }) }, s, c);
        },
        note: 'a fresh ES256 proof per request, signed before the round (not measured); proof jti replay checked in the grid',
      },
      grpc_token: { run: (s, c) => grpcRound(() => token.token(tokenReq), s, c) },
      ext_authz: {
        prepare: async () => {
          await refreshCurrent();
          newCheck();
        },
        run: (s, c) => grpcRound(check, s, c),
      },
      dpop_ext_authz: {
        prepare: async () => {
          dpopCheckToken = await dpopToken();
        },
        async run(s, c) {
          await dpop.fill({ ...resource, accessToken: dpopCheckToken }, s);
          return grpcRound(dpopCheck, s, c);
        },
        note: 'a fresh proof per Check (htm, htu, ath, cnf.jkt, jti replay in the grid), signed before the round (not measured)',
      },
    },
    close() {
      token.close();
      authz.close();
    },
  };
}
