// golang.org/x/oauth2's Device Authorization Grant (examples/device/go: DeviceAuth, then
// DeviceAccessToken polling) against a running authmesh, while a scripted browser signs in on the
// verification page and approves the code the program printed.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { Browser, createUser, formFor, PASSWORD } from '../../gateway/routes/authorize-test-support.js';
import { repoRoot } from '../../services/core/rpc/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/ids.js';

const goMissing = spawnSync('go', ['version']).status !== 0;
// The first build compiles x/oauth2: generous, but bounded.
const RUN_TIMEOUT_MS = 180_000;

describe.skipIf(goMissing)(`x/oauth2 device client (Go)${goMissing ? ' (skipped: go is not installed)' : ''}`, () => {
  let t: TestGateway;
  let clientId: string;
  let username: string;

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_DEVICE_POLL_INTERVAL_SECONDS: '1' });
    const res = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientId: uniqueId('go-tv'),
          clientName: 'Go TV',
          clientType: ClientType.CLIENT_TYPE_PUBLIC,
          tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
          grantTypes: [GrantType.GRANT_TYPE_DEVICE_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
          scopes: ['read', 'offline_access'],
        }),
      }),
      { bearer: await t.bearer() },
    );
    clientId = res.client!.clientId;
    ({ username } = await createUser(t));
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it(
    'gets its tokens once the user approves the printed code on the verification page',
    async () => {
      const child = spawn('go', ['run', '.'], {
        cwd: join(repoRoot, 'examples/device/go'),
        env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim(), DEVICE_ISSUER: t.baseUrl, DEVICE_CLIENT_ID: clientId, DEVICE_SCOPE: 'read offline_access' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: RUN_TIMEOUT_MS,
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const firstLine = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          const nl = stdout.indexOf('\n');
          if (nl >= 0) resolve(stdout.slice(0, nl));
        });
        child.on('close', () => reject(new Error(`the program ended before printing the code: ${stderr}`)));
      });
      const shown = JSON.parse(await firstLine) as { verification_uri: string; verification_uri_complete: string; user_code: string; interval: number };
      expect(shown).toMatchObject({ verification_uri: `${t.baseUrl}/oauth2/device`, user_code: expect.stringMatching(/^[A-Z]{4}-[A-Z]{4}$/), interval: 1 });

      // The user opens verification_uri_complete (the code prefilled), confirms, signs in, approves.
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get(shown.verification_uri_complete)).text();
      const loginPage = await (await browser.submit(formFor(codePage, '/oauth2/device'))).text();
      const consentPage = await (await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD })).text();
      expect(consentPage).toContain(shown.user_code);
      expect(await (await browser.submit(formFor(consentPage, '/oauth2/device/decision'), { decision: 'allow' })).text()).toContain('Device connected');

      expect(await exited, stderr).toBe(0);
      const summary = (JSON.parse(stdout.trim().split('\n').at(-1)!) as { summary: Record<string, unknown> }).summary;
      expect(summary).toEqual({ token_type: 'Bearer', scope: 'read offline_access', access_token: true, refresh_token: true, expires_in: 600 });
    },
    RUN_TIMEOUT_MS + 30_000,
  );
});
