// The Device Authorization Grant (RFC 8628) through the real Envoy edge: openid-client's device
// flow and a scripted browser use only the Envoy URL (the issuer), and the token the device gets
// is accepted by the protected sample API behind jwt_authn + ext_authz.
import { request } from 'node:http';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { Browser, createUser, formFor, PASSWORD } from '../../gateway/routes/authorize-test-support.js';
import { envoySkipReason, registerSampleApi, SAMPLE_API_AUDIENCE, startEnvoyStack, type EnvoyStack } from '../support/envoy.js';

const skip = envoySkipReason();

describe.skipIf(skip !== undefined)(`device flow behind a real Envoy${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let s: EnvoyStack;
  let deviceClient: string;
  let username: string;

  beforeAll(async () => {
    s = await startEnvoyStack({ env: { AUTHMESH_DEVICE_POLL_INTERVAL_SECONDS: '1', AUTHMESH_CLIENT_AUTH_MAX_FAILURES_PER_SOURCE: '5' } });
    await registerSampleApi(s);
    const created = await s.gateway.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientName: 'Envoy TV',
          clientType: ClientType.CLIENT_TYPE_PUBLIC,
          tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
          grantTypes: [GrantType.GRANT_TYPE_DEVICE_CODE],
          scopes: ['sample.read'],
          audience: [SAMPLE_API_AUDIENCE],
        }),
      }),
      { bearer: await s.gateway.bearer() },
    );
    deviceClient = created.client!.clientId;
    ({ username } = await createUser(s.gateway));
  }, 180_000);

  afterAll(async () => {
    await s?.close();
  });

  it('openid-client completes the grant through Envoy while a browser approves there, and the sample API accepts the token', async () => {
    const config = await client.discovery(new URL(s.url), deviceClient, undefined, client.None(), { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });
    expect(config.serverMetadata().device_authorization_endpoint).toBe(`${s.url}/oauth2/device_authorization`);
    const started = await client.initiateDeviceAuthorization(config, { scope: 'sample.read' });
    expect(started.verification_uri).toBe(`${s.url}/oauth2/device`);
    const polling = client.pollDeviceAuthorizationGrant(config, started, undefined, { signal: AbortSignal.timeout(30_000) });

    const browser = new Browser(s.url);
    const codePage = await (await browser.get(started.verification_uri_complete!)).text();
    const loginPage = await (await browser.submit(formFor(codePage, '/oauth2/device'))).text();
    const consentPage = await (await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD })).text();
    expect(consentPage).toContain('Envoy TV');
    expect(await (await browser.submit(formFor(consentPage, '/oauth2/device/decision'), { decision: 'allow' })).text()).toContain('Device connected');

    const tokens = await polling;
    expect(tokens.scope).toBe('sample.read');
    const res = await fetch(`${s.url}/sample/hello`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(200);
  }, 60_000);

  /** POST a form to the edge from a given loopback address (each a different client to Envoy). */
  const postFrom = (localAddress: string, path: string, form: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const body = new URLSearchParams(form).toString();
      const u = new URL(`${s.url}${path}`);
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('throttles failed client authentication per client address behind Envoy, so one caller cannot lock out the others', async () => {
    // Envoy is a trusted proxy of the gateway (AUTHMESH_TRUSTED_PROXIES, as scripts/stack.sh and
    // README's embedded + Envoy setup set it): its X-Forwarded-For names each client.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push(await postFrom('127.0.0.5', '/oauth2/device_authorization', { client_id: `nobody-${i}`, scope: 'sample.read' }));
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    // Another address is not affected.
    expect(await postFrom('127.0.0.6', '/oauth2/device_authorization', { client_id: deviceClient, scope: 'sample.read' })).toBe(200);
  });
});
