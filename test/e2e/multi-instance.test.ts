// Production shape on one machine: two authmesh processes sharing Postgres and a two-member
// Hazelcast cluster. Process A runs every service and the gateway; process B runs a second
// instance of client, code and token (and its own gateway), reaching key, user, service and
// refresh-token on A. What one instance writes, the other sees.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { ClientServiceService } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest, CodeServiceService, IssueCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { RevokeTokenRequest, TokenRequest, TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { CreateUserRequest, UserServiceService } from '../../gen/ts/authmesh/user/v1/user.js';
import { createRpcClient, MESH_METADATA_KEY } from '../../services/core/rpc/index.js';
import { Metadata } from '@grpc/grpc-js';
import { startAuthmesh, type AuthmeshProcess } from '../support/processes.js';
import { sharedProcessEnv, stackBackends } from '../support/stack.js';

const backends = stackBackends();
const REDIRECT = 'https://app.example.com/cb';

describe.skipIf(backends.skip)(`two instances on Postgres + Hazelcast${backends.skip ? ` (skipped: ${backends.skip})` : ''}`, () => {
  let a: AuthmeshProcess;
  let b: AuthmeshProcess;
  const dirs: string[] = [];
  const meshSecret = randomBytes(32).toString('base64url');
  const adminSecret = randomBytes(32).toString('base64url');
  let clients: Array<ReturnType<typeof makeClients>> = [];

  function makeClients(port: number) {
    const addr = `127.0.0.1:${port}`;
    const mesh = () => {
      const md = new Metadata();
      md.set(MESH_METADATA_KEY, meshSecret);
      return md;
    };
    return {
      token: createRpcClient(TokenServiceService, 'authmesh.token.v1.TokenService', addr),
      client: createRpcClient(ClientServiceService, 'authmesh.client.v1.ClientService', addr),
      user: createRpcClient(UserServiceService, 'authmesh.user.v1.UserService', addr),
      code: createRpcClient(CodeServiceService, 'authmesh.code.v1.CodeService', addr, { metadata: mesh }),
      authz: createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', addr),
    };
  }

  const basic = (clientId: string, clientSecret: string): ClientCredentials => ({
    credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
  });

  beforeAll(async () => {
    const env = await backends.env();
    const common = {
      ...env,
      ...sharedProcessEnv(adminSecret, meshSecret),
    };
    const dir = () => {
      const d = mkdtempSync(join(tmpdir(), 'authmesh-multi-'));
      dirs.push(d);
      return d;
    };
    a = await startAuthmesh({ ...common, AUTHMESH_DATA_DIR: dir() }, 60_000);
    const onA = `127.0.0.1:${a.grpcPort}`;
    b = await startAuthmesh(
      {
        ...common,
        AUTHMESH_DATA_DIR: dir(),
        AUTHMESH_SERVICES: 'client,code,token,gateway',
        AUTHMESH_KEY_ADDR: onA,
        AUTHMESH_USER_ADDR: onA,
        AUTHMESH_SERVICE_ADDR: onA,
        AUTHMESH_REFRESH_TOKEN_ADDR: onA,
      },
      60_000,
    );
    clients = [makeClients(a.grpcPort), makeClients(b.grpcPort)];
  }, 150_000);

  afterAll(async () => {
    for (const c of clients) for (const x of Object.values(c)) x.close();
    await b?.stop();
    await a?.stop();
    await backends.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const adminToken = async (i: number) =>
    (await clients[i]!.token.token(TokenRequest.fromPartial({ client: basic('authmesh-admin', adminSecret), grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin' } } }))).accessToken;

  it('a client created on one instance authenticates on the other', async () => {
    const created = await clients[0]!.client.createClient(
      CreateClientRequest.fromPartial({ client: { clientName: 'svc', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] } } as never),
      { bearer: await adminToken(0) },
    );
    const res = await clients[1]!.token.token(TokenRequest.fromPartial({ client: basic(created.client!.clientId, created.clientSecret), grant: { $case: 'clientCredentials', value: { scope: 'read' } } }));
    expect(res.scope).toBe('read');
  });

  it('a code issued through one instance is redeemed through the other exactly once, even when both race', async () => {
    const admin = await adminToken(0);
    const created = await clients[0]!.client.createClient(
      CreateClientRequest.fromPartial({
        client: { clientName: 'web', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, redirectUris: [REDIRECT], grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN], scopes: ['read'] },
      } as never),
      { bearer: admin },
    );
    const user = await clients[0]!.user.createUser(CreateUserRequest.fromPartial({ user: { username: `u${randomBytes(4).toString('hex')}` }, password: 'correct horse battery staple' }), { bearer: admin });
    const creds = basic(created.client!.clientId, created.clientSecret);
    for (let round = 0; round < 5; round++) {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId: created.client!.clientId, redirectUri: REDIRECT, scope: 'read', codeChallenge: challenge, codeChallengeMethod: 'S256' });
      const { code } = await clients[0]!.code.issueCode(IssueCodeRequest.fromPartial({ request, userId: user.user!.userId }));
      const grant = { $case: 'authorizationCode' as const, value: { code, redirectUri: REDIRECT, codeVerifier: verifier, resource: [] } };
      const results = await Promise.allSettled([0, 1, 0, 1].map((i) => clients[i]!.token.token(TokenRequest.fromPartial({ client: creds, grant }))));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'invalid_grant' });
    }
  });

  it('a pairwise client gets the same sub from either instance (one AUTHMESH_PAIRWISE_SALT, OIDC Core §8.1)', async () => {
    const admin = await adminToken(0);
    const created = await clients[0]!.client.createClient(
      CreateClientRequest.fromPartial({
        client: { clientName: 'rp', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, redirectUris: [REDIRECT], grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE], scopes: ['openid'], subjectType: 'pairwise' },
      } as never),
      { bearer: admin },
    );
    const user = await clients[0]!.user.createUser(CreateUserRequest.fromPartial({ user: { username: `p${randomBytes(4).toString('hex')}` }, password: 'correct horse battery staple' }), { bearer: admin });
    const creds = basic(created.client!.clientId, created.clientSecret);
    const subs: string[] = [];
    for (const i of [0, 1]) {
      const verifier = randomBytes(32).toString('base64url');
      const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId: created.client!.clientId, redirectUri: REDIRECT, scope: 'openid', codeChallenge: createHash('sha256').update(verifier).digest('base64url'), codeChallengeMethod: 'S256' });
      const { code } = await clients[i]!.code.issueCode(IssueCodeRequest.fromPartial({ request, userId: user.user!.userId }));
      const res = await clients[i]!.token.token(TokenRequest.fromPartial({ client: creds, grant: { $case: 'authorizationCode', value: { code, redirectUri: REDIRECT, codeVerifier: verifier } } }));
      subs.push(JSON.parse(Buffer.from(res.idToken.split('.')[1]!, 'base64url').toString('utf8')).sub as string);
    }
    expect(subs[0]).toBe(subs[1]);
    expect(subs[0]).not.toBe(user.user!.userId);
  });

  it('a refresh token rotated on one instance is reuse-detected on the other', async () => {
    const admin = await adminToken(1);
    const created = await clients[1]!.client.createClient(
      CreateClientRequest.fromPartial({
        client: { clientName: 'web2', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, redirectUris: [REDIRECT], grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN], scopes: ['read'] },
      } as never),
      { bearer: admin },
    );
    const user = await clients[0]!.user.createUser(CreateUserRequest.fromPartial({ user: { username: `r${randomBytes(4).toString('hex')}` }, password: 'correct horse battery staple' }), { bearer: admin });
    const creds = basic(created.client!.clientId, created.clientSecret);
    const verifier = randomBytes(32).toString('base64url');
    const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId: created.client!.clientId, redirectUri: REDIRECT, scope: 'read', codeChallenge: createHash('sha256').update(verifier).digest('base64url'), codeChallengeMethod: 'S256' });
    const { code } = await clients[1]!.code.issueCode(IssueCodeRequest.fromPartial({ request, userId: user.user!.userId }));
    const first = await clients[0]!.token.token(TokenRequest.fromPartial({ client: creds, grant: { $case: 'authorizationCode', value: { code, redirectUri: REDIRECT, codeVerifier: verifier } } }));
    const refresh = (i: number, refreshToken: string) => clients[i]!.token.token(TokenRequest.fromPartial({ client: creds, grant: { $case: 'refreshToken', value: { refreshToken } } }));
    const second = await refresh(1, first.refreshToken);
    await expect(refresh(0, first.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
    await expect(refresh(1, second.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
  });

  it('a revocation on one instance is seen by ext_authz on the other within a second', async () => {
    const admin = await adminToken(0);
    const check = (i: number) =>
      clients[i]!.authz.check(CheckRequest.fromPartial({ attributes: { request: { http: { method: 'GET', path: '/x', headers: { authorization: `Bearer ${admin}` } } }, contextExtensions: { scope: 'authmesh.admin' } } }));
    expect((await check(1)).httpResponse?.$case).toBe('okResponse');
    await clients[0]!.token.revokeToken(RevokeTokenRequest.fromPartial({ client: basic('authmesh-admin', adminSecret), token: admin, tokenTypeHint: 'access_token' }));
    const started = Date.now();
    let denied = false;
    while (!denied && Date.now() - started < 1_000) {
      denied = (await check(1)).httpResponse?.$case === 'deniedResponse';
      if (!denied) await new Promise((r) => setTimeout(r, 50));
    }
    expect(denied).toBe(true);
  });
});
