// The Device Authorization Grant (RFC 8628) through the real gateway and mesh: the device
// authorization endpoint (§3.1–3.2) and its errors, the verification page (§3.3) driven by a
// scripted browser (cookie jar, form posts), every polling answer of the token endpoint (§3.5),
// single issuance under concurrent polls, DPoP on the device grant, and openid-client's device
// flow completing while the browser approves.
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { createLogger } from '../../services/core/log/index.js';
import { deviceCodeKey } from '../../services/core/oauth/index.js';
import { DEVICE_CODE_MAP } from '../../services/token/device-flow.js';
import { dpopKey } from '../../test/support/dpop.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';
import { Browser, createUser, formFor, PASSWORD } from './authorize-test-support.js';
import { basicAuth, postForm } from './route-test-support.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ORDERS = 'https://orders.example.com';
const READS = 'https://reads.example.com';

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe('Device Authorization Grant (RFC 8628)', () => {
  let t: TestGateway;
  let tv: string; // public device client (device_code + refresh_token)
  let confidential: { id: string; secret: string };
  let noGrant: string; // public client without the device grant
  let otherTv: string;
  let username: string;
  let userId: string;
  // Every log line of the mesh and the gateway, and every code handed out, for the secrecy test.
  let logText = '';
  const issued: { deviceCode: string; userCode: string }[] = [];
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        logText += chunk.toString('utf8');
        done();
      },
    }),
  });

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_DEVICE_POLL_INTERVAL_SECONDS: '1', AUTHMESH_DEVICE_USER_CODE_MAX_FAILURES: '3' }, { log });
    const bearer = await t.bearer();
    const create = async (client: Partial<Client>) => {
      const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client: Client.fromPartial(client) }), { bearer });
      return { id: res.client!.clientId, secret: res.clientSecret };
    };
    const publicDevice = {
      clientType: ClientType.CLIENT_TYPE_PUBLIC,
      tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
      grantTypes: [GrantType.GRANT_TYPE_DEVICE_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
      scopes: ['openid', 'profile', 'offline_access', 'read', 'orders.read'],
    };
    tv = (await create({ ...publicDevice, clientId: uniqueId('tv'), clientName: 'Living Room TV' })).id;
    otherTv = (await create({ ...publicDevice, clientId: uniqueId('tv2'), clientName: 'Other TV' })).id;
    confidential = await create({
      clientId: uniqueId('cli'),
      clientName: 'CLI',
      clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
      grantTypes: [GrantType.GRANT_TYPE_DEVICE_CODE],
      scopes: ['read'],
    });
    noGrant = (
      await create({
        clientId: uniqueId('spa'),
        clientType: ClientType.CLIENT_TYPE_PUBLIC,
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
        redirectUris: ['https://app.example.com/cb'],
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
        scopes: ['read'],
      })
    ).id;
    ({ username, userId } = await createUser(t));
    await t.anon.service.createService(
      CreateServiceRequest.fromPartial({ service: { displayName: 'orders', audience: ORDERS, endpoints: [{ method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] }] } }),
      { bearer },
    );
    // A second API this client may call (its scope is one tv holds), never asked for below.
    await t.anon.service.createService(
      CreateServiceRequest.fromPartial({ service: { displayName: 'reads', audience: READS, endpoints: [{ method: 'GET', path: '/**', scope: 'read', allowedClientIds: [] }] } }),
      { bearer },
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const authorizeDevice = (body: string, headers: Record<string, string> = {}) => postForm(`${t.baseUrl}/oauth2/device_authorization`, body, headers);
  const poll = (deviceCode: string, clientId = tv, headers: Record<string, string> = {}) =>
    postForm(`${t.baseUrl}/oauth2/token`, new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId }).toString(), headers);

  async function startDevice(scope = 'openid profile offline_access read', clientId = tv) {
    const res = await authorizeDevice(new URLSearchParams({ client_id: clientId, scope }).toString());
    expect(res.status).toBe(200);
    const d = (await res.json()) as { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number };
    issued.push({ deviceCode: d.device_code, userCode: d.user_code });
    return d;
  }

  /** A browser that enters the code, signs in and decides; returns the final page. */
  async function approveInBrowser(userCode: string, decision: 'allow' | 'deny' = 'allow', browser = new Browser(t.baseUrl)): Promise<string> {
    const codePage = await (await browser.get('/oauth2/device')).text();
    const login = await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: userCode });
    const loginPage = await login.text();
    const consent = await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD });
    const consentPage = await consent.text();
    const done = await browser.submit(formFor(consentPage, '/oauth2/device/decision'), { decision });
    expect(done.status).toBe(200);
    return done.text();
  }

  describe('device authorization endpoint (RFC 8628 §3.1–3.2)', () => {
    it('answers a device code, a base-20 user code, the verification URIs, expires_in and interval', async () => {
      const res = await authorizeDevice(new URLSearchParams({ client_id: tv, scope: 'read' }).toString());
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = await json(res);
      expect(body).toEqual({
        device_code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
        verification_uri: `${t.baseUrl}/oauth2/device`,
        verification_uri_complete: `${t.baseUrl}/oauth2/device?user_code=${body.user_code as string}`,
        expires_in: 600,
        interval: 1,
      });
    });

    it('authenticates a confidential client as the token endpoint does', async () => {
      const ok = await authorizeDevice('scope=read', { authorization: basicAuth(confidential.id, confidential.secret) });
      expect(ok.status).toBe(200);
      const bad = await authorizeDevice('scope=read', { authorization: basicAuth(confidential.id, 'wrong') });
      expect(bad.status).toBe(401);
      expect(bad.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(await json(bad)).toMatchObject({ error: 'invalid_client' });
      // A confidential client cannot pass for a public one by sending only its client_id.
      const unauthenticated = await authorizeDevice(`client_id=${confidential.id}&scope=read`);
      expect(await json(unauthenticated)).toMatchObject({ error: 'invalid_client' });
    });

    it.each([
      ['no client at all', 'scope=read', 401, 'invalid_client'],
      ['an unknown client', 'client_id=nobody&scope=read', 401, 'invalid_client'],
      ['a scope the client may not have', 'client_id=TV&scope=write', 400, 'invalid_scope'],
      ['a malformed scope', 'client_id=TV&scope=read%20%20x', 400, 'invalid_scope'],
      ['a repeated parameter', 'client_id=TV&scope=read&scope=read', 400, 'invalid_request'],
    ])('refuses %s', async (_name, body, status, error) => {
      const res = await authorizeDevice(body.replace('TV', tv));
      expect(res.status).toBe(status);
      expect(await json(res)).toMatchObject({ error });
    });

    it('refuses a client not registered for the device_code grant (unauthorized_client)', async () => {
      const res = await authorizeDevice(`client_id=${noGrant}&scope=read`);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'unauthorized_client' });
    });

    it('accepts POST only', async () => {
      const res = await fetch(`${t.baseUrl}/oauth2/device_authorization`);
      expect(res.status).toBe(405);
    });

    it('is advertised in the metadata with the grant type (RFC 8628 §4)', async () => {
      const meta = await json(await fetch(`${t.baseUrl}/.well-known/oauth-authorization-server`));
      expect(meta.device_authorization_endpoint).toBe(`${t.baseUrl}/oauth2/device_authorization`);
      expect(meta.grant_types_supported).toContain(DEVICE_GRANT);
    });
  });

  describe('polling the token endpoint (RFC 8628 §3.4–3.5)', () => {
    it('answers authorization_pending (400) while the user has not decided', async () => {
      const d = await startDevice();
      const res = await poll(d.device_code);
      expect(res.status).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await json(res)).toMatchObject({ error: 'authorization_pending' });
    });

    it('answers slow_down (400) to a device polling faster than the interval', async () => {
      const d = await startDevice();
      await poll(d.device_code);
      const res = await poll(d.device_code);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'slow_down' });
    });

    it('answers access_denied (400) after the user denied', async () => {
      const d = await startDevice();
      const page = await approveInBrowser(d.user_code, 'deny');
      expect(page).toContain('Access denied');
      const res = await poll(d.device_code);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'access_denied' });
    });

    it('answers expired_token once the device code has expired', async () => {
      const d = await startDevice();
      // Time passing, as the grid sees it: the stored request's expiry moved into the past.
      const codes = t.mesh.deps.grid.map<{ expiresAt: number }>(DEVICE_CODE_MAP);
      const key = deviceCodeKey(d.device_code);
      const record = (await codes.get(key))!;
      await codes.set(key, { ...record, expiresAt: Date.now() - 1 }, 60_000);
      const res = await poll(d.device_code);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'expired_token' });
    });

    it('refuses a device code issued to another client (invalid_grant) without spending it', async () => {
      const d = await startDevice();
      const res = await poll(d.device_code, otherTv);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'invalid_grant' });
      expect(await json(await poll(d.device_code))).toMatchObject({ error: 'authorization_pending' });
    });

    it('refuses an unknown device code and a missing one', async () => {
      expect(await json(await poll('x'.repeat(43)))).toMatchObject({ error: 'invalid_grant' });
      const res = await postForm(`${t.baseUrl}/oauth2/token`, `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=${tv}`);
      expect(await json(res)).toMatchObject({ error: 'invalid_request' });
    });

    it('refuses the grant to a client not registered for it (unauthorized_client)', async () => {
      const res = await poll('x'.repeat(43), noGrant);
      expect(await json(res)).toMatchObject({ error: 'unauthorized_client' });
    });

    it('issues access, refresh and ID tokens once approved, to exactly one of concurrent polls', async () => {
      const d = await startDevice();
      await approveInBrowser(d.user_code);
      const results = await Promise.all([0, 1, 2, 3].map(() => poll(d.device_code)));
      const ok = results.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      const body = await json(ok[0]!);
      expect(body).toMatchObject({ token_type: 'Bearer', scope: 'openid profile offline_access read' });
      expect(typeof body.refresh_token).toBe('string');
      const access = decodeJwt(body.access_token as string);
      expect(access).toMatchObject({ sub: userId, client_id: tv });
      expect(typeof access.auth_time).toBe('number');
      const id = decodeJwt(body.id_token as string);
      expect(id).toMatchObject({ aud: [tv], iss: t.baseUrl, amr: ['pwd'] });
      expect(typeof id.sid).toBe('string');
      for (const r of results.filter((x) => x.status !== 200)) expect(await json(r)).toMatchObject({ error: 'invalid_grant' });
      // The device code is spent.
      expect(await json(await poll(d.device_code))).toMatchObject({ error: 'invalid_grant' });
    });

    it('binds the tokens to a DPoP key when the poll carries a proof (RFC 9449 §5)', async () => {
      const d = await startDevice('read');
      await approveInBrowser(d.user_code);
      const key = await dpopKey('ES256');
      const res = await poll(d.device_code, tv, { dpop: await key.proof({ htu: `${t.baseUrl}/oauth2/token` }) });
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.token_type).toBe('DPoP');
      expect(decodeJwt(body.access_token as string).cnf).toEqual({ jkt: key.jkt });
    });

    it('issues tokens for exactly the resources asked for (RFC 8707) and refuses an unknown one', async () => {
      const res = await authorizeDevice(new URLSearchParams({ client_id: tv, scope: 'orders.read', resource: ORDERS }).toString());
      expect(res.status).toBe(200);
      const d = (await res.json()) as { device_code: string; user_code: string };
      await approveInBrowser(d.user_code);
      const body = await json(await poll(d.device_code));
      expect(body.scope).toBe('orders.read');
      expect([decodeJwt(body.access_token as string).aud].flat()).toEqual([ORDERS]);
      const unknown = await authorizeDevice(new URLSearchParams({ client_id: tv, scope: 'read', resource: 'https://unknown.example.com' }).toString());
      expect(unknown.status).toBe(400);
      expect(await json(unknown)).toMatchObject({ error: 'invalid_target' });
    });
  });

  describe('resources bound to the device grant (RFC 8707 §2.1, §2.2)', () => {
    const pollFor = (deviceCode: string, resource: string[]) => {
      const body = new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: tv });
      for (const r of resource) body.append('resource', r);
      return postForm(`${t.baseUrl}/oauth2/token`, body.toString());
    };

    it('device_resource_outside_grant: a poll naming another registered API is invalid_target and spends nothing; one of the approved ones is the aud', async () => {
      const res = await authorizeDevice(new URLSearchParams({ client_id: tv, scope: 'orders.read', resource: ORDERS }).toString());
      expect(res.status).toBe(200);
      const d = (await res.json()) as { device_code: string; user_code: string };
      await approveInBrowser(d.user_code);
      const refused = await pollFor(d.device_code, [READS]);
      expect(refused.status).toBe(400);
      expect(await json(refused)).toMatchObject({ error: 'invalid_target' });
      const ok = await pollFor(d.device_code, [ORDERS]);
      expect(ok.status).toBe(200);
      const body = await json(ok);
      expect([decodeJwt(body.access_token as string).aud].flat()).toEqual([ORDERS]);
      expect(body.scope).toBe('orders.read');
    });

    it('device_resource_keeps_user_scopes: openid is kept beside a resource (narrowed as at the authorization endpoint), the access token carries only the API scope', async () => {
      const res = await authorizeDevice(new URLSearchParams({ client_id: tv, scope: 'openid orders.read', resource: ORDERS }).toString());
      expect(res.status, JSON.stringify(await res.clone().json())).toBe(200);
      const d = (await res.json()) as { device_code: string; user_code: string };
      await approveInBrowser(d.user_code);
      const body = await json(await pollFor(d.device_code, []));
      expect([decodeJwt(body.access_token as string).aud].flat()).toEqual([ORDERS]);
      expect(body.scope).toBe('orders.read');
      expect(typeof body.id_token).toBe('string');
    });

    it('device_consent_names_resources: the approval page names the APIs the device asked for', async () => {
      const res = await authorizeDevice(new URLSearchParams({ client_id: tv, scope: 'orders.read', resource: ORDERS }).toString());
      const d = (await res.json()) as { user_code: string };
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      const login = await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: d.user_code });
      const approval = await (await browser.submit(formFor(await login.text(), '/oauth2/device/login'), { username, password: PASSWORD })).text();
      expect(approval).toContain(`data-resource="${ORDERS}"`);
      expect(approval).toContain('<strong>orders</strong>');
      expect(approval).not.toContain(READS);
    });

    it('device_too_many_resources: more than 10 resources at the device authorization endpoint is invalid_request', async () => {
      const body = new URLSearchParams({ client_id: tv, scope: 'orders.read' });
      for (let i = 0; i < 11; i++) body.append('resource', `${ORDERS}/${i}`);
      const res = await authorizeDevice(body.toString());
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'invalid_request' });
    });
  });

  describe('verification page (RFC 8628 §3.3, §5)', () => {
    it('leaves the lookup and the decision to the gateway: outside gRPC callers, even admins, are refused', async () => {
      const d = await startDevice('read');
      const bearer = await t.bearer({ scope: ['authmesh.admin'] });
      const decide = { userCode: d.user_code, approve: true, userId, authTime: new Date(), sessionId: '', amr: ['pwd'], scopes: ['read'] };
      await expect(t.anon.token.decideDeviceAuthorization(decide)).rejects.toMatchObject({ code: 'invalid_token' });
      await expect(t.anon.token.decideDeviceAuthorization(decide, { bearer })).rejects.toMatchObject({ code: 'access_denied' });
      await expect(t.anon.token.lookupDeviceAuthorization({ userCode: d.user_code, remoteIp: '', browserKey: '' }, { bearer })).rejects.toMatchObject({ code: 'access_denied' });
      // Nothing was approved.
      expect(await json(await poll(d.device_code))).toMatchObject({ error: 'authorization_pending' });
    });

    it('prefills the code from verification_uri_complete but approves nothing until the user confirms', async () => {
      const d = await startDevice('read');
      const browser = new Browser(t.baseUrl);
      const page = await (await browser.get(d.verification_uri_complete)).text();
      expect(formFor(page, '/oauth2/device').fields.user_code).toBe(d.user_code);
      expect(await json(await poll(d.device_code))).toMatchObject({ error: 'authorization_pending' });
    });

    it('shows the client, the scopes and the code to compare, with the remote-phishing warning (§5.4)', async () => {
      const d = await startDevice('openid profile read');
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      // Typed in lower case with a space: normalised (RFC 8628 §6.1).
      const loginPage = await (await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: d.user_code.toLowerCase().replace('-', ' ') })).text();
      expect(loginPage).toContain('Living Room TV');
      const consentPage = await (await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD })).text();
      expect(consentPage).toContain('Living Room TV');
      expect(consentPage).toContain(`<code id="device-user-code">${d.user_code}</code>`);
      expect(consentPage).toContain('If someone sent you this code');
      expect(consentPage).toContain('<li>read</li>');
      expect(consentPage).toContain('Your profile');
      // The account is named, and another person can sign out instead of approving for it.
      expect(formFor(consentPage, '/oauth2/logout').fields.csrf_token).toBeTruthy();
      // Signed in now: another code goes straight to the approval page.
      const d2 = await startDevice('read');
      const again = await (await browser.submit(formFor(await (await browser.get('/oauth2/device')).text(), '/oauth2/device'), { user_code: d2.user_code })).text();
      expect(again).toContain('action="/oauth2/device/decision"');
      // "Not you? Sign out": the next code asks for a login again.
      expect((await browser.submit(formFor(again, '/oauth2/logout'))).status).toBe(200);
      const d3 = await startDevice('read');
      const afterSignOut = await (await browser.submit(formFor(await (await browser.get('/oauth2/device')).text(), '/oauth2/device'), { user_code: d3.user_code })).text();
      expect(afterSignOut).toContain('action="/oauth2/device/login"');
    });

    it('refuses a decision without the CSRF token and changes nothing', async () => {
      const d = await startDevice('read');
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      const loginPage = await (await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: d.user_code })).text();
      const consentPage = await (await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD })).text();
      const form = formFor(consentPage, '/oauth2/device/decision');
      const res = await browser.post(form.action, { ...form.fields, csrf_token: 'forged', decision: 'allow' });
      expect(res.status).toBe(403);
      expect(await json(await poll(d.device_code))).toMatchObject({ error: 'authorization_pending' });
    });

    it('refuses an approval of other scopes than the page showed', async () => {
      const d = await startDevice('read');
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      const loginPage = await (await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: d.user_code })).text();
      const consentPage = await (await browser.submit(formFor(loginPage, '/oauth2/device/login'), { username, password: PASSWORD })).text();
      const form = formFor(consentPage, '/oauth2/device/decision');
      const res = await browser.post(form.action, { ...form.fields, scope: 'read openid offline_access', decision: 'allow' });
      expect(res.status).toBe(400);
      expect(await json(await poll(d.device_code))).toMatchObject({ error: 'authorization_pending' });
    });

    it('limits wrong user codes per browser (brute force, RFC 8628 §5.1) and keeps refusing a good one meanwhile', async () => {
      const d = await startDevice('read');
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      const form = formFor(codePage, '/oauth2/device');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await browser.submit(form, { user_code: 'BBBB-BBBB' });
        statuses.push(res.status);
        await res.text();
      }
      // AUTHMESH_DEVICE_USER_CODE_MAX_FAILURES=3: three wrong tries, then refused.
      expect(statuses).toEqual([200, 200, 200, 429]);
      const blocked = await browser.submit(form, { user_code: d.user_code });
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await blocked.text()).toContain('Too many wrong codes');
    });

    it('limits wrong user codes per source address across browsers', async () => {
      // AUTHMESH_DEVICE_USER_CODE_MAX_FAILURES_PER_SOURCE defaults to 50; fresh browsers each time.
      let last = 0;
      for (let i = 0; i < 52 && last !== 429; i++) {
        const browser = new Browser(t.baseUrl);
        const codePage = await (await browser.get('/oauth2/device')).text();
        const res = await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: 'CCCC-CCCC' });
        last = res.status;
        await res.text();
      }
      expect(last).toBe(429);
      // Reset the address's counter for the tests that follow.
      await t.mesh.deps.grid.map('device-user-code-failures').delete('ip:127.0.0.1');
    });

    it('shows a wrong code as such, without saying whether it ever existed', async () => {
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      const res = await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: 'not a code' });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('That code is not valid or has expired');
    });

    it('does not accept a code twice: once decided it is no longer found', async () => {
      const d = await startDevice('read');
      await approveInBrowser(d.user_code);
      const browser = new Browser(t.baseUrl);
      const codePage = await (await browser.get('/oauth2/device')).text();
      const res = await browser.submit(formFor(codePage, '/oauth2/device'), { user_code: d.user_code });
      expect(await res.text()).toContain('That code is not valid or has expired');
    });
  });

  it('openid-client completes the device flow while a browser approves (end to end)', async () => {
    const config = await oidc.discovery(new URL(t.baseUrl), tv, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access read' });
    expect(started.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    const polling = oidc.pollDeviceAuthorizationGrant(config, started, undefined, { signal: AbortSignal.timeout(30_000) });
    // The user, on another device, opens the verification URI and approves.
    const page = await approveInBrowser(started.user_code);
    expect(page).toContain('Device connected');
    const tokens = await polling;
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.claims()?.sub).toBe(userId);
    expect(typeof tokens.refresh_token).toBe('string');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.sub).toBe(userId);
  }, 40_000);

  it('keeps device codes out of the logs and the audit trail, and stores them only hashed (RFC 8628 §5.2)', async () => {
    expect(issued.length).toBeGreaterThan(5);
    await t.mesh.flushAudit();
    const audit = JSON.stringify((await t.store.audit.list({ pageSize: 1000 })).items);
    expect(logText).toContain('device authorization decided');
    const codes = t.mesh.deps.grid.map(DEVICE_CODE_MAP);
    for (const { deviceCode, userCode } of issued) {
      expect(logText).not.toContain(deviceCode);
      expect(logText).not.toContain(userCode);
      expect(audit).not.toContain(deviceCode);
      expect(await codes.get(deviceCode)).toBeUndefined();
      expect(JSON.stringify(await codes.get(deviceCodeKey(deviceCode)))).not.toContain(deviceCode);
    }
  });
});
