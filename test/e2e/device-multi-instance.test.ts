// The Device Authorization Grant (RFC 8628) across two authmesh processes sharing Postgres and a
// Hazelcast cluster: the device starts on one gateway, the user approves on the other gateway's
// verification page, and the device polls both. The grid holds every piece of state, so the
// pacing (slow_down) and the single issuance hold across instances.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { ClientServiceService } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest, TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { CreateUserRequest, UserServiceService } from '../../gen/ts/authmesh/user/v1/user.js';
import { Browser, formFor } from '../../gateway/routes/authorize-test-support.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { startAuthmesh, type AuthmeshProcess } from '../support/processes.js';
import { sharedProcessEnv, stackBackends } from '../support/stack.js';

const backends = stackBackends();
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const PASSWORD = 'correct horse battery staple';

describe.skipIf(backends.skip)(`device flow across two instances on Postgres + Hazelcast${backends.skip ? ` (skipped: ${backends.skip})` : ''}`, () => {
  let a: AuthmeshProcess;
  let b: AuthmeshProcess;
  const dirs: string[] = [];
  const adminSecret = randomBytes(32).toString('base64url');
  let rpc: { token: ReturnType<typeof createRpcClient<typeof TokenServiceService>>; client: ReturnType<typeof createRpcClient<typeof ClientServiceService>>; user: ReturnType<typeof createRpcClient<typeof UserServiceService>> };
  let deviceClient: string;
  let username: string;

  beforeAll(async () => {
    const env = await backends.env();
    const common = {
      ...env,
      ...sharedProcessEnv(adminSecret),
      AUTHMESH_DEVICE_POLL_INTERVAL_SECONDS: '1',
    };
    const dir = () => {
      const d = mkdtempSync(join(tmpdir(), 'authmesh-device-'));
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
    rpc = {
      token: createRpcClient(TokenServiceService, 'authmesh.token.v1.TokenService', onA),
      client: createRpcClient(ClientServiceService, 'authmesh.client.v1.ClientService', onA),
      user: createRpcClient(UserServiceService, 'authmesh.user.v1.UserService', onA),
    };
    const admin: ClientCredentials = {
      credential: { $case: 'clientSecret', value: { clientId: 'authmesh-admin', clientSecret: adminSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
    };
    const bearer = (await rpc.token.token(TokenRequest.fromPartial({ client: admin, grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin' } } }))).accessToken;
    const created = await rpc.client.createClient(
      CreateClientRequest.fromPartial({
        client: {
          clientName: 'Kitchen TV',
          clientType: ClientType.CLIENT_TYPE_PUBLIC,
          tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
          grantTypes: [GrantType.GRANT_TYPE_DEVICE_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
          scopes: ['read', 'offline_access'],
        },
      } as never),
      { bearer },
    );
    deviceClient = created.client!.clientId;
    username = `tv${randomBytes(4).toString('hex')}`;
    await rpc.user.createUser(CreateUserRequest.fromPartial({ user: { username }, password: PASSWORD }), { bearer });
  }, 150_000);

  afterAll(async () => {
    for (const c of Object.values(rpc ?? {})) c.close();
    await b?.stop();
    await a?.stop();
    await backends.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const form = (url: string, fields: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  const poll = (gateway: string, deviceCode: string) => form(`${gateway}/oauth2/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: deviceClient });

  it('authorized on one gateway, approved on the other, polled on both: pacing is shared and the tokens come once', async () => {
    const started = await form(`${a.http}/oauth2/device_authorization`, { client_id: deviceClient, scope: 'read offline_access' });
    expect(started.status).toBe(200);
    const d = (await started.json()) as { device_code: string; user_code: string };

    // Polled on A, then at once on B: B knows A's last poll (slow_down, RFC 8628 §3.5).
    expect(await (await poll(a.http!, d.device_code)).json()).toMatchObject({ error: 'authorization_pending' });
    expect(await (await poll(b.http!, d.device_code)).json()).toMatchObject({ error: 'slow_down' });

    // The user approves on B's verification page.
    const browser = new Browser(b.http!);
    const codePage = await (await browser.get('/oauth2/device')).text();
    const loginPage = await (await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: d.user_code })).text();
    expect(loginPage).toContain('Kitchen TV');
    const consentPage = await (await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD })).text();
    const done = await browser.submit(formFor(consentPage, '/oauth2/device/decision'), { decision: 'allow' });
    expect(await done.text()).toContain('Device connected');

    // Concurrent polls on both instances: exactly one gets the tokens.
    const results = await Promise.all([a, b, a, b].map((p) => poll(p.http!, d.device_code)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    const tokens = (await ok[0]!.json()) as Record<string, unknown>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'read offline_access' });
    expect(typeof tokens.refresh_token).toBe('string');
    for (const r of results.filter((x) => x.status !== 200)) expect(await r.json()).toMatchObject({ error: 'invalid_grant' });
  }, 60_000);
});
