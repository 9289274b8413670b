// RFC 8707 §2.1 resource indicators on the authorization request, through the real gateway and
// mesh: at /oauth2/authorize (query and form), in a pushed request (repeated form parameter) and in
// a request object (an array), the errors each path owes (redirected once the redirect URI is
// verified, shown before, JSON at the PAR endpoint), the consent page naming the APIs, and the code
// bound to the resources at the token endpoint.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';
import { Browser, createUser, formFor, locationOf, PASSWORD } from './authorize-test-support.js';

const CB = 'https://app.example.com/cb';
const VERIFIER = randomBytes(32).toString('base64url');
// RFC 7636 §4.2: S256.
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const ORDERS = `https://orders-${randomBytes(3).toString('hex')}.example.com`;
const BILLING = `https://billing-${randomBytes(3).toString('hex')}.example.com`;
const STOCK = `https://stock-${randomBytes(3).toString('hex')}.example.com`;
// Another API offering a scope of the same name as ORDERS (orders.read).
const ORDERS_EU = `https://orders-eu-${randomBytes(3).toString('hex')}.example.com`;

let t: TestGateway;
let username: string;
let client: { id: string; secret: string };
let signer: { id: string; key: CryptoKey; kid: string };

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function createClient(more: Partial<Client>): Promise<{ id: string; secret: string }> {
  const res = await t.anon.client.createClient(
    CreateClientRequest.fromPartial({
      client: Client.fromPartial({
        clientId: uniqueId('rsrc'),
        clientName: 'Resource App',
        clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
        redirectUris: [CB],
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
        scopes: ['openid', 'orders.read', 'billing.read', 'stock.read'],
        ...more,
      }),
    }),
    { bearer: await t.bearer() },
  );
  return { id: res.client!.clientId, secret: res.clientSecret };
}

/** The parameters of a code request of `clientId`; resources appended as repeated parameters. */
function authQuery(clientId: string, resources: string[], more: Record<string, string> = {}): URLSearchParams {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: CB,
    scope: 'orders.read billing.read stock.read',
    state: 'st-1',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...more,
  });
  for (const r of resources) q.append('resource', r);
  return q;
}

/** Logs in on the page `res` shows and returns the consent page's HTML. */
async function consentPage(browser: Browser, res: Response): Promise<string> {
  expect(res.status).toBe(200);
  const login = await res.text();
  let next = await browser.submit(formFor(login, '/oauth2/login'), { username, password: PASSWORD });
  while (next.status === 303 || next.status === 302) next = await browser.get(locationOf(next, t.baseUrl).href);
  expect(next.status).toBe(200);
  const page = await next.text();
  expect(page).toContain('action="/oauth2/consent"');
  return page;
}

/** Allows on the consent page and returns the code the client receives. */
async function allow(browser: Browser, page: string): Promise<string> {
  // Not remembered: every test asks again, so each sees its own consent page.
  const { remember: _remember, ...fields } = formFor(page, '/oauth2/consent').fields;
  const res = await browser.post('/oauth2/consent', { ...fields, decision: 'allow' });
  const location = locationOf(res, t.baseUrl);
  expect(location.origin + location.pathname).toBe(CB);
  const code = location.searchParams.get('code');
  if (code === null) throw new Error(`no code: ${location.href}`);
  return code;
}

function redeem(code: string, resources: string[] = []): Promise<Response> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: VERIFIER });
  for (const r of resources) body.append('resource', r);
  return fetch(`${t.baseUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, client.secret) }, body: body.toString() });
}

function push(body: URLSearchParams): Promise<Response> {
  return fetch(`${t.baseUrl}/oauth2/par`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, client.secret) },
    body: body.toString(),
  });
}

const audOf = (jwt: string) => {
  const aud = decodeJwt(jwt).aud;
  return typeof aud === 'string' ? [aud] : aud;
};

beforeAll(async () => {
  t = await startTestGateway();
  ({ username } = await createUser(t));
  const bearer = await t.bearer();
  const service = (audience: string, displayName: string, scope: string) =>
    t.anon.service.createService(CreateServiceRequest.fromPartial({ service: { audience, displayName, endpoints: [{ method: 'GET', path: '/**', scope }] } }), { bearer });
  await service(ORDERS, 'Orders <API>', 'orders.read');
  await service(BILLING, 'Billing API', 'billing.read');
  await service(STOCK, 'Stock API', 'stock.read');
  await t.anon.service.createService(
    CreateServiceRequest.fromPartial({
      service: { audience: ORDERS_EU, displayName: 'Orders EU API', endpoints: [{ method: 'GET', path: '/**', scope: 'orders.read' }, { method: 'POST', path: '/**', scope: 'eu.write' }] },
    }),
    { bearer },
  );
  client = await createClient({});
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signing = await createClient({
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
  });
  signer = { id: signing.id, key: privateKey, kid };
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('resource at /oauth2/authorize (RFC 8707 §2.1)', () => {
  it('code_aud_is_authorized_resources: the consent page names the APIs, and the code yields tokens for exactly them', async () => {
    const browser = new Browser(t.baseUrl);
    const page = await consentPage(browser, await browser.get(`/oauth2/authorize?${authQuery(client.id, [ORDERS, BILLING]).toString()}`));
    // The display name (escaped) and the audience of each API.
    expect(page).toContain('Orders &lt;API&gt;');
    expect(page).toContain(`data-resource="${ORDERS}"`);
    expect(page).toContain('Billing API');
    expect(page).toContain(`data-resource="${BILLING}"`);
    expect(page).not.toContain(STOCK);
    // stock.read is offered by none of the resources: narrowed away before the user is asked.
    expect(page).not.toContain('stock.read');
    const code = await allow(browser, page);

    // A registered API this client may call, but not one the user approved: refused, code kept.
    const other = await redeem(code, [STOCK]);
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: 'invalid_target' });

    const res = await redeem(code);
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(audOf(body.access_token)).toEqual([ORDERS, BILLING]);
    expect(body.scope.split(' ').sort()).toEqual(['billing.read', 'orders.read']);
  });

  it('accepts resource in a POSTed form like in the query', async () => {
    const browser = new Browser(t.baseUrl);
    const first = await browser.fetch('/oauth2/authorize', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: authQuery(client.id, [STOCK]).toString(),
    });
    const page = await consentPage(browser, first);
    expect(page).toContain(`data-resource="${STOCK}"`);
    const res = await redeem(await allow(browser, page), [STOCK]);
    expect(audOf(((await res.json()) as { access_token: string }).access_token)).toEqual([STOCK]);
  });

  it('authorize_invalid_target_redirected: an unknown resource goes back to the verified redirect URI before any login page', async () => {
    const res = await new Browser(t.baseUrl).get(`/oauth2/authorize?${authQuery(client.id, [ORDERS, 'https://unknown.example.com']).toString()}`);
    expect(res.status).toBe(302);
    const location = locationOf(res, t.baseUrl);
    expect(location.origin + location.pathname).toBe(CB);
    expect(location.searchParams.get('error')).toBe('invalid_target');
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('iss')).toBe(t.baseUrl);
  });

  it('authorize_invalid_target_unverified_redirect_shown: with an unregistered redirect URI the error is shown, never redirected', async () => {
    const res = await new Browser(t.baseUrl).get(`/oauth2/authorize?${authQuery(client.id, ['https://unknown.example.com'], { redirect_uri: 'https://evil.example.com/cb' }).toString()}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).not.toContain('evil.example.com/cb?');
  });

  it('authorize_too_many_resources: more than 10 resources is invalid_request, redirected', async () => {
    const many = Array.from({ length: 11 }, (_, i) => `${ORDERS}/${i}`);
    const res = await new Browser(t.baseUrl).get(`/oauth2/authorize?${authQuery(client.id, many).toString()}`);
    expect(res.status).toBe(302);
    const location = locationOf(res, t.baseUrl);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toContain('resource');
  });

  it('resource=<issuer> (its own API, UserInfo) keeps openid: the token works at UserInfo (OIDC Core §5.3, RFC 8707 §2)', async () => {
    const browser = new Browser(t.baseUrl);
    const page = await consentPage(browser, await browser.get(`/oauth2/authorize?${authQuery(client.id, [t.baseUrl], { scope: 'openid orders.read', nonce: 'n-1' }).toString()}`));
    const res = await redeem(await allow(browser, page));
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(audOf(body.access_token)).toEqual([t.baseUrl]);
    // RFC 6749 §5.1: the narrowed scope is returned (orders.read is not the issuer's).
    expect(body.scope).toBe('openid');
    const userinfo = await fetch(`${t.baseUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(userinfo.status).toBe(200);
  });

  it('a request without resource keeps the client default audience', async () => {
    const browser = new Browser(t.baseUrl);
    const page = await consentPage(browser, await browser.get(`/oauth2/authorize?${authQuery(client.id, [], { scope: 'orders.read' }).toString()}`));
    expect(page).not.toContain('data-resource=');
    const res = await redeem(await allow(browser, page));
    const body = (await res.json()) as { access_token: string };
    expect(res.status).toBe(200);
    expect(audOf(body.access_token)).not.toContain(ORDERS);
  });
});

describe('a remembered consent covers the APIs it was given for (RFC 8707 §2.1), not only the scopes', () => {
  it('consent_remembered_per_resource: approving orders.read at one API does not approve orders.read at another, nor the default audience', async () => {
    const remembering = await createClient({});
    const browser = new Browser(t.baseUrl);
    const authorize = (resources: string[]) => browser.get(`/oauth2/authorize?${authQuery(remembering.id, resources, { scope: 'orders.read' }).toString()}`);
    const page = await consentPage(browser, await authorize([ORDERS]));
    const form = formFor(page, '/oauth2/consent');
    expect(form.fields.remember).toBe('on');
    const approved = await browser.post('/oauth2/consent', { ...form.fields, decision: 'allow' });
    expect(locationOf(approved, t.baseUrl).searchParams.get('code')).toBeTruthy();

    // The same API again: remembered, the code comes without a consent page.
    const again = await authorize([ORDERS]);
    expect([302, 303]).toContain(again.status);
    const back = locationOf(again, t.baseUrl);
    expect(back.origin + back.pathname).toBe(CB);
    expect(back.searchParams.get('code')).toBeTruthy();

    // Another API offering a scope of the same name: the user is asked (was approved silently).
    const other = await authorize([ORDERS_EU]);
    expect(other.status).toBe(200);
    const otherPage = await other.text();
    expect(otherPage).toContain('action="/oauth2/consent"');
    expect(otherPage).toContain(`data-resource="${ORDERS_EU}"`);

    // No resource named: the server-chosen audience was not approved either.
    const unnamed = await authorize([]);
    expect(unnamed.status).toBe(200);
    expect(await unnamed.text()).toContain('action="/oauth2/consent"');

    // Approving both at once is remembered as both: each alone is then covered.
    const both = formFor(await (await authorize([ORDERS, ORDERS_EU])).text(), '/oauth2/consent');
    await browser.post('/oauth2/consent', { ...both.fields, decision: 'allow' });
    for (const resources of [[ORDERS_EU], [ORDERS], [ORDERS, ORDERS_EU]]) {
      const res = await authorize(resources);
      expect([302, 303], resources.join(' ')).toContain(res.status);
      expect(locationOf(res, t.baseUrl).searchParams.get('code')).toBeTruthy();
    }
  });

  it('consent_pairs_do_not_combine: orders.read approved at one API and eu.write at another do not approve orders.read at the second (review 9 F1)', async () => {
    const remembering = await createClient({ scopes: ['openid', 'orders.read', 'eu.write'] });
    const browser = new Browser(t.baseUrl);
    const authorize = (scope: string, resources: string[], more: Record<string, string> = {}) =>
      browser.get(`/oauth2/authorize?${authQuery(remembering.id, resources, { scope, ...more }).toString()}`);
    const approve = async (page: string) => {
      const form = formFor(page, '/oauth2/consent');
      expect(form.fields.remember).toBe('on');
      const res = await browser.post('/oauth2/consent', { ...form.fields, decision: 'allow' });
      expect(locationOf(res, t.baseUrl).searchParams.get('code')).toBeTruthy();
    };
    await approve(await consentPage(browser, await authorize('orders.read', [ORDERS])));
    const second = await authorize('eu.write', [ORDERS_EU]);
    expect(second.status).toBe(200);
    await approve(await second.text());

    // Both approvals hold on their own API.
    for (const [scope, resource] of [['orders.read', ORDERS], ['eu.write', ORDERS_EU]] as const) {
      const res = await authorize(scope, [resource]);
      expect([302, 303], `${scope} at ${resource}`).toContain(res.status);
    }
    // orders.read at the EU API was never approved: the consent page, and prompt=none cannot skip it.
    const crossed = await authorize('orders.read', [ORDERS_EU]);
    expect(crossed.status).toBe(200);
    expect(await crossed.text()).toContain('action="/oauth2/consent"');
    const silent = locationOf(await authorize('orders.read', [ORDERS_EU], { prompt: 'none' }), t.baseUrl);
    expect(silent.searchParams.get('code')).toBeNull();
    expect(silent.searchParams.get('error')).toBe('consent_required');
  });
});

describe('resource in a pushed authorization request (RFC 9126 + RFC 8707 §2.1)', () => {
  it('par_resource_repeated: accepts the parameter more than once and binds the code to every value', async () => {
    const res = await push(authQuery(client.id, [ORDERS, BILLING]));
    const json = (await res.json()) as { request_uri: string };
    expect(res.status, JSON.stringify(json)).toBe(201);
    const browser = new Browser(t.baseUrl);
    const page = await consentPage(browser, await browser.get(`/oauth2/authorize?${new URLSearchParams({ client_id: client.id, request_uri: json.request_uri }).toString()}`));
    expect(page).toContain(`data-resource="${ORDERS}"`);
    expect(page).toContain(`data-resource="${BILLING}"`);
    const token = await redeem(await allow(browser, page));
    expect(audOf(((await token.json()) as { access_token: string }).access_token)).toEqual([ORDERS, BILLING]);
  });

  it('par_invalid_target_json: an unknown resource is a 400 JSON invalid_target', async () => {
    const res = await push(authQuery(client.id, ['https://unknown.example.com']));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ error: 'invalid_target' });
  });

  it('par_too_many_resources: more than 10 resources is a 400 JSON invalid_request', async () => {
    const res = await push(authQuery(client.id, Array.from({ length: 11 }, (_, i) => `${ORDERS}/${i}`)));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('resource in a request object (RFC 9101 + RFC 8707 §2.1)', () => {
  const requestObject = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      response_type: 'code',
      client_id: signer.id,
      redirect_uri: CB,
      scope: 'orders.read billing.read',
      state: 'st-ro',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
      jti: randomBytes(8).toString('hex'),
      iss: signer.id,
      aud: t.baseUrl,
      iat: now,
      nbf: now,
      exp: now + 60,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'oauth-authz-req+jwt' })
      .sign(signer.key);
  };
  const authorizeWith = async (claims: Record<string, unknown>) =>
    `/oauth2/authorize?${new URLSearchParams({ client_id: signer.id, response_type: 'code', request: await requestObject(claims) }).toString()}`;

  it('request_object_resource_array: the array form names the APIs on the consent page', async () => {
    const browser = new Browser(t.baseUrl);
    const page = await consentPage(browser, await browser.get(await authorizeWith({ resource: [ORDERS, BILLING] })));
    expect(page).toContain(`data-resource="${ORDERS}"`);
    expect(page).toContain(`data-resource="${BILLING}"`);
  });

  it('the string form is one resource; an unknown one is redirected as invalid_target', async () => {
    const browser = new Browser(t.baseUrl);
    const page = await consentPage(browser, await browser.get(await authorizeWith({ resource: ORDERS })));
    expect(page).toContain(`data-resource="${ORDERS}"`);
    expect(page).not.toContain(`data-resource="${BILLING}"`);
    const refused = await new Browser(t.baseUrl).get(await authorizeWith({ resource: ['https://unknown.example.com'] }));
    expect(refused.status).toBe(302);
    expect(locationOf(refused, t.baseUrl).searchParams.get('error')).toBe('invalid_target');
  });

  it('a resource of another type is invalid_request_object, shown', async () => {
    const res = await new Browser(t.baseUrl).get(await authorizeWith({ resource: [42] }));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('invalid_request_object');
  });
});
