// Issue 11 item 3, in embedded mode: the in-process grid is lost with its process. A token
// revoked (RFC 7009) before a restart must still be inactive at introspection (RFC 7662) and
// denied by ext_authz Check afterwards, although the new process starts with an empty grid. The
// same on a Hazelcast cluster that loses members or restarts: test/e2e/revocation-faults.test.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest, IssueCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { IntrospectTokenRequest, RevokeTokenRequest, TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { loadConfig, type Config } from '../core/config/index.js';
import { silentLogger } from '../core/log/index.js';
import { createRpcClient } from '../core/rpc/index.js';
import { startMesh, type Mesh } from '../mesh.js';
import { createPeers } from '../mesh-deps.js';
import { testPeerTransportEnv } from '../../test/support/mesh.js';

const ADMIN_SECRET = randomBytes(32).toString('base64url');
const REDIRECT = 'https://app.example.com/cb';
const secretCreds = (clientId: string, clientSecret: string): ClientCredentials => ({
  credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
});
const creds = secretCreds('authmesh-admin', ADMIN_SECRET);

describe('revocations across a restart of the embedded mesh (grid lost, store kept)', () => {
  let dataDir: string;
  let config: Config;
  let mesh: Mesh | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'authmesh-revocation-restart-'));
    config = loadConfig({
      AUTHMESH_DATA_DIR: dataDir,
      AUTHMESH_GRPC_PORT: '0',
      AUTHMESH_HTTP_PORT: '0',
      AUTHMESH_ISSUER: 'http://127.0.0.1:8080',
      AUTHMESH_MASTER_KEY: randomBytes(32).toString('base64'),
      AUTHMESH_MESH_SECRET: randomBytes(32).toString('base64url'),
      AUTHMESH_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
      AUTHMESH_LOG_LEVEL: 'silent',
      ...testPeerTransportEnv(),
    });
  });
  afterAll(async () => {
    await mesh?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs `fn` against a freshly started mesh on the same data directory, then closes it. */
  async function withMesh<T>(fn: (call: ReturnType<typeof clientsOf>) => Promise<T>): Promise<T> {
    mesh = await startMesh({ config, log: silentLogger() });
    const call = clientsOf(mesh);
    try {
      return await fn(call);
    } finally {
      call.close();
      await mesh.close();
      mesh = undefined;
    }
  }

  function clientsOf(m: Mesh) {
    const peers = createPeers(m.addresses, undefined);
    const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${m.port}`);
    return {
      issue: async () => (await peers.token.token(TokenRequest.fromPartial({ client: creds, grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin' } } } as never))).accessToken,
      revoke: (token: string) => peers.token.revokeToken(RevokeTokenRequest.fromPartial({ client: creds, token, tokenTypeHint: 'access_token' })),
      active: async (token: string) => (await peers.token.introspectToken(IntrospectTokenRequest.fromPartial({ client: creds, token }))).active,
      /** An authorization-code grant for a new confidential client and user: its access and refresh token. */
      codeGrant: async () => {
        const admin = (await peers.token.token(TokenRequest.fromPartial({ client: creds, grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin' } } } as never))).accessToken;
        const made = await peers.client.createClient(
          CreateClientRequest.fromPartial({
            client: { clientName: 'app', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, redirectUris: [REDIRECT], grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN], scopes: ['read'] },
          } as never),
          { bearer: admin },
        );
        const app = secretCreds(made.client!.clientId, made.clientSecret);
        const userId = (await peers.user.createUser(CreateUserRequest.fromPartial({ user: { username: `u${randomBytes(4).toString('hex')}` }, password: 'correct horse battery staple' }), { bearer: admin })).user!.userId;
        const verifier = randomBytes(32).toString('base64url');
        const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId: made.client!.clientId, redirectUri: REDIRECT, scope: 'read', codeChallenge: createHash('sha256').update(verifier).digest('base64url'), codeChallengeMethod: 'S256' });
        const { code } = await m.deps.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId, authTime: new Date() }));
        const res = await peers.token.token(TokenRequest.fromPartial({ client: app, grant: { $case: 'authorizationCode', value: { code, redirectUri: REDIRECT, codeVerifier: verifier, resource: [] } } } as never));
        return { app, accessToken: res.accessToken, refreshToken: res.refreshToken };
      },
      revokeAs: (client: ClientCredentials, token: string) => peers.token.revokeToken(RevokeTokenRequest.fromPartial({ client, token })),
      allowed: async (token: string) => {
        const r = await authz.check(
          CheckRequest.fromPartial({
            attributes: { request: { http: { method: 'GET', path: '/admin', host: 'api.example.com', headers: { authorization: `Bearer ${token}` } } }, contextExtensions: { scope: 'authmesh.admin' } },
          }),
        );
        return r.httpResponse?.$case === 'okResponse';
      },
      close: () => {
        peers.close();
        authz.close();
      },
    };
  }

  it('keeps revoked access tokens revoked at introspection and ext_authz Check, and live ones live', async () => {
    const { revoked, kept } = await withMesh(async (call) => {
      const revoked = await Promise.all(Array.from({ length: 5 }, () => call.issue()));
      const kept = await call.issue();
      for (const token of revoked) await call.revoke(token);
      for (const token of revoked) expect(await call.active(token)).toBe(false);
      return { revoked, kept };
    });
    await withMesh(async (call) => {
      for (const token of revoked) {
        expect(await call.active(token)).toBe(false);
        expect(await call.allowed(token)).toBe(false);
      }
      expect(await call.active(kept)).toBe(true);
      expect(await call.allowed(kept)).toBe(true);
    });
  }, 120_000);

  it('revokes the access tokens of a grant issued before the restart when its refresh token is revoked after it (RFC 7009 §2.1)', async () => {
    const grant = await withMesh(async (call) => {
      const g = await call.codeGrant();
      expect(await call.active(g.accessToken)).toBe(true);
      return g;
    });
    await withMesh(async (call) => {
      expect(await call.active(grant.accessToken)).toBe(true);
      await call.revokeAs(grant.app, grant.refreshToken);
      expect(await call.active(grant.accessToken)).toBe(false);
    });
  }, 120_000);
});
