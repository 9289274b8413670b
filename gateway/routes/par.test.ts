// Pushed authorization requests (RFC 9126) and request objects (RFC 9101) through the real gateway
// and mesh: the PAR endpoint's client authentication and errors, request_uri single use and expiry
// (across two gateway instances sharing the mesh's grid), the authorization endpoint resolving a
// request_uri or a request object, and the per-client and global requirements.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { createGateway } from '../index.js';
import { silentLogger } from '../../services/core/log/index.js';
import { ALL_ROUTES } from './index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { freePort } from '../../test/support/ports.js';
import { uniqueId } from '../../test/support/ids.js';
import { Browser, createUser, runAuthorization } from './authorize-test-support.js';
import { dpopKey } from '../../test/support/dpop.js';
import { decodeJwt } from 'jose';
import type { FastifyInstance } from 'fastify';

const CB = 'https://app.example.com/cb';
const VERIFIER = randomBytes(32).toString('base64url');
// RFC 7636 §4.2: S256.
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

interface Signer {
  id: string;
  key: CryptoKey;
  kid: string;
}

let t: TestGateway;
let username: string;
let web: { id: string; secret: string };
let post: { id: string; secret: string };
let pub: string;
let signer: Signer;
let parOnly: { id: string; secret: string };
let signedOnly: Signer;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function createClient(client: Partial<Client>): Promise<{ id: string; secret: string }> {
  const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client: Client.fromPartial({ clientId: uniqueId('par'), redirectUris: [CB], scopes: ['openid', 'read', 'write'], ...client }) }), {
    bearer: await t.bearer(),
  });
  return { id: res.client!.clientId, secret: res.clientSecret };
}

async function createSigner(more: Partial<Client> = {}): Promise<Signer> {
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { id } = await createClient({
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
    ...more,
  });
  return { id, key: privateKey, kid };
}

/** The authorization parameters of a valid code request of `clientId`. */
const authParams = (clientId: string, more: Record<string, string> = {}) => ({
  response_type: 'code',
  client_id: clientId,
  redirect_uri: CB,
  scope: 'read',
  state: `s-${randomBytes(4).toString('hex')}`,
  code_challenge: CHALLENGE,
  code_challenge_method: 'S256',
  ...more,
});

/** A private_key_jwt client assertion (RFC 7523) addressed to `aud`. */
function assertion(s: Signer, aud: string): Promise<string> {
  return new SignJWT({ jti: randomBytes(8).toString('hex') })
    .setProtectedHeader({ alg: 'ES256', kid: s.kid })
    .setIssuer(s.id)
    .setSubject(s.id)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(s.key);
}

/** A request object (RFC 9101 §4) of `s` carrying `params`. */
function requestObject(s: Signer, params: Record<string, string>, o: { header?: Record<string, unknown>; claims?: JWTPayload } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...params, jti: randomBytes(8).toString('hex'), iss: s.id, aud: t.baseUrl, iat: now, nbf: now, exp: now + 60, ...o.claims })
    .setProtectedHeader({ alg: 'ES256', kid: s.kid, typ: 'oauth-authz-req+jwt', ...o.header } as { alg: string })
    .sign(s.key);
}

function push(body: Record<string, string>, headers: Record<string, string> = {}, base = t.baseUrl): Promise<Response> {
  return fetch(`${base}/oauth2/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
}

async function pushed(body: Record<string, string>, headers: Record<string, string> = {}, base = t.baseUrl): Promise<string> {
  const res = await push(body, headers, base);
  const json = (await res.json()) as { request_uri: string };
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json.request_uri;
}

const authorizeWith = (clientId: string, requestUri: string, more: Record<string, string> = {}) =>
  `/oauth2/authorize?${new URLSearchParams({ client_id: clientId, request_uri: requestUri, ...more }).toString()}`;

/** The page of a refusal that must be shown, never redirected: status and error code on it. */
async function shownError(res: Response): Promise<{ status: number; location: string | null; error: string | undefined }> {
  const page = await res.text();
  return { status: res.status, location: res.headers.get('location'), error: /invalid_[a-z_]+|unsupported_[a-z_]+/.exec(page)?.[0] };
}

async function redeem(code: string, client: { id: string; secret: string }, dpop?: string): Promise<Response> {
  return fetch(`${t.baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, client.secret), ...(dpop === undefined ? {} : { dpop }) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: VERIFIER }).toString(),
  });
}

beforeAll(async () => {
  t = await startTestGateway();
  ({ username } = await createUser(t));
  web = await createClient({ clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE] });
  post = await createClient({
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST,
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
  });
  pub = (
    await createClient({
      clientType: ClientType.CLIENT_TYPE_PUBLIC,
      tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
      grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
    })
  ).id;
  signer = await createSigner();
  parOnly = await createClient({ clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE], requirePushedAuthorizationRequests: true });
  signedOnly = await createSigner({ requireSignedRequestObject: true });
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('the pushed authorization request endpoint (RFC 9126 §2)', () => {
  it('answers 201 with a request_uri URN and expires_in, never cached, and the request completes to a token', async () => {
    const params = authParams(web.id);
    const res = await push(params, { authorization: basic(web.id, web.secret) });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { request_uri: string; expires_in: number };
    expect(body).toEqual({ request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/), expires_in: 60 });
    const run = await runAuthorization(new Browser(t.baseUrl), authorizeWith(web.id, body.request_uri), { username });
    expect(run.pages).toEqual(['login', 'consent']);
    expect(`${run.location.origin}${run.location.pathname}`).toBe(CB);
    expect(run.location.searchParams.get('state')).toBe(params.state);
    const token = await redeem(run.location.searchParams.get('code')!, web);
    expect(token.status, await token.clone().text()).toBe(200);
    expect(((await token.json()) as { scope: string }).scope).toBe('read');
  });

  it('authenticates every token endpoint method: client_secret_post, a public client by client_id, private_key_jwt (aud: the PAR URL or the issuer)', async () => {
    await pushed({ ...authParams(post.id), client_secret: post.secret });
    await pushed(authParams(pub));
    await pushed({ ...authParams(signer.id), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(signer, `${t.baseUrl}/oauth2/par`) });
    await pushed({ ...authParams(signer.id), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(signer, t.baseUrl) });
  });

  it('refuses a wrong client secret with 401 invalid_client and a Basic challenge', async () => {
    const res = await push(authParams(web.id), { authorization: basic(web.id, 'wrong') });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a confidential client that does not authenticate (client_id alone)', async () => {
    const res = await push(authParams(web.id));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it.each<[string, (p: Record<string, string>) => Record<string, string>, string]>([
    ['a request_uri (RFC 9126 §2.1)', (p) => ({ ...p, request_uri: 'urn:ietf:params:oauth:request_uri:abc' }), 'invalid_request'],
    ['an unregistered redirect_uri (not redirected: JSON)', (p) => ({ ...p, redirect_uri: 'https://evil.example/cb' }), 'invalid_request'],
    ['a client_id of another client', (p) => ({ ...p, client_id: pub }), 'invalid_request'],
    ['response_type token', (p) => ({ ...p, response_type: 'token' }), 'unsupported_response_type'],
    ['a scope the client may not have', (p) => ({ ...p, scope: 'admin' }), 'invalid_scope'],
    ['no PKCE challenge', ({ code_challenge: _c, code_challenge_method: _m, ...p }) => p, 'invalid_request'],
    ['a malformed prompt (OIDC parameters are validated too)', (p) => ({ ...p, scope: 'openid', prompt: 'none login' }), 'invalid_request'],
    ['an oversized state', (p) => ({ ...p, state: 'x'.repeat(2049) }), 'invalid_request'],
    ['an unsigned request object', (p) => ({ ...p, request: `${Buffer.from('{"alg":"none"}').toString('base64url')}.e30.` }), 'invalid_request_object'],
  ])('answers %s with 400 %s (RFC 9126 §2.3)', async (_name, change, error) => {
    const res = await push(change(authParams(web.id)), { authorization: basic(web.id, web.secret) });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toMatchObject({ error });
  });

  it('refuses a repeated parameter, a non-form body and GET', async () => {
    const repeated = await fetch(`${t.baseUrl}/oauth2/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(web.id, web.secret) },
      body: `${new URLSearchParams(authParams(web.id)).toString()}&scope=write`,
    });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toMatchObject({ error: 'invalid_request' });
    const json = await fetch(`${t.baseUrl}/oauth2/par`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(authParams(pub)) });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: 'invalid_request' });
    const get = await fetch(`${t.baseUrl}/oauth2/par`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toContain('POST');
  });
});

describe('request_uri at the authorization endpoint (RFC 9126 §4)', () => {
  it('is single use: the second use is shown as invalid_request_uri, never redirected', async () => {
    const uri = await pushed(authParams(pub));
    const first = await new Browser(t.baseUrl).get(authorizeWith(pub, uri));
    expect(first.status).toBe(200);
    expect(await shownError(await new Browser(t.baseUrl).get(authorizeWith(pub, uri)))).toEqual({ status: 400, location: null, error: 'invalid_request_uri' });
  });

  it('takes its parameters only from the pushed request: redirect_uri, scope and state in the query are ignored', async () => {
    const params = authParams(pub);
    const uri = await pushed(params);
    const run = await runAuthorization(new Browser(t.baseUrl), authorizeWith(pub, uri, { redirect_uri: 'https://evil.example/cb', scope: 'write', state: 'forged' }), { username });
    expect(`${run.location.origin}${run.location.pathname}`).toBe(CB);
    expect(run.location.searchParams.get('state')).toBe(params.state);
  });

  it.each<[string, () => Promise<string>, string]>([
    ['a request_uri of another client', async () => authorizeWith(web.id, await pushed(authParams(pub))), 'invalid_request_uri'],
    ['a request_uri that was never issued', async () => authorizeWith(pub, `urn:ietf:params:oauth:request_uri:${'A'.repeat(43)}`), 'invalid_request_uri'],
    ['an https request_uri (never fetched)', async () => authorizeWith(pub, 'https://rp.example.com/request.jwt', { redirect_uri: CB, response_type: 'code' }), 'invalid_request_uri'],
    ['a request_uri without client_id', async () => `/oauth2/authorize?request_uri=${encodeURIComponent(await pushed(authParams(pub)))}`, 'invalid_request'],
  ])('shows %s as %s without redirecting', async (_name, url, error) => {
    expect(await shownError(await new Browser(t.baseUrl).get(await url()))).toEqual({ status: 400, location: null, error });
  });

  it('never fetches a request_uri a client names (no SSRF): a listening server receives nothing', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.end('eyJhbGciOiJub25lIn0.e30.');
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      for (const uri of [`http://127.0.0.1:${port}/request.jwt`, `https://127.0.0.1:${port}/r`]) {
        const res = await new Browser(t.baseUrl).get(authorizeWith(pub, uri, { response_type: 'code', redirect_uri: CB }));
        expect(await shownError(res)).toEqual({ status: 400, location: null, error: 'invalid_request_uri' });
        const pushedRes = await push({ ...authParams(pub), request_uri: uri });
        expect(pushedRes.status).toBe(400);
      }
      expect(hits).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('expires after AUTHMESH_PAR_TTL_SECONDS, on whichever gateway instance; a request_uri is single use across instances', async () => {
    const short = await startTestGateway({ AUTHMESH_PAR_TTL_SECONDS: '5' });
    // A second gateway instance on the same mesh (and so the same grid) as the first.
    let second: FastifyInstance | undefined;
    try {
      const port = await freePort();
      second = await createGateway({ config: short.config, log: silentLogger(), peers: short.peers, grpcAddress: () => `127.0.0.1:${short.mesh.port}`, cookieSecret: randomBytes(32).toString('base64url') }, ALL_ROUTES);
      await second.listen({ host: '127.0.0.1', port });
      const secondUrl = `http://127.0.0.1:${port}`;
      const res = await short.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({ clientType: ClientType.CLIENT_TYPE_PUBLIC, tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE, redirectUris: [CB], grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE], scopes: ['read'] }),
        }),
        { bearer: await short.bearer() },
      );
      const id = res.client!.clientId;
      // Pushed to the first instance, used at the second, refused again at the first.
      const once = await pushed(authParams(id), {}, short.baseUrl);
      expect((await new Browser(secondUrl).get(authorizeWith(id, once))).status).toBe(200);
      expect(await shownError(await new Browser(short.baseUrl).get(authorizeWith(id, once)))).toMatchObject({ status: 400, error: 'invalid_request_uri' });
      // Pushed to the second instance, left unused past its lifetime.
      const late = await pushed(authParams(id), {}, secondUrl);
      await new Promise((resolve) => setTimeout(resolve, 6_500));
      expect(await shownError(await new Browser(short.baseUrl).get(authorizeWith(id, late)))).toMatchObject({ status: 400, error: 'invalid_request_uri' });
    } finally {
      await second?.close();
      await short.close();
    }
  }, 60_000);
});

describe('who must push (RFC 9126 §6)', () => {
  it('refuses a plain request of a client registered with require_pushed_authorization_requests, shown not redirected; its pushed request completes through login', async () => {
    expect(await shownError(await new Browser(t.baseUrl).get(`/oauth2/authorize?${new URLSearchParams(authParams(parOnly.id)).toString()}`))).toEqual({
      status: 400,
      location: null,
      error: 'invalid_request',
    });
    const uri = await pushed(authParams(parOnly.id), { authorization: basic(parOnly.id, parOnly.secret) });
    // After the login the request continues sealed by the gateway, never as plain parameters it would refuse.
    const run = await runAuthorization(new Browser(t.baseUrl), authorizeWith(parOnly.id, uri), { username });
    expect(run.pages).toEqual(['login', 'consent']);
    expect(run.location.searchParams.get('code')).toBeTruthy();
  });

  it('refuses an altered continuation', async () => {
    const res = await new Browser(t.baseUrl).get(`/oauth2/authorize?client_id=${parOnly.id}&authmesh_continue=eyJwIjp7fX0.forged`);
    expect(await shownError(res)).toEqual({ status: 400, location: null, error: 'invalid_request' });
  });

  it('AUTHMESH_PAR_REQUIRED holds every client to it and says so in the metadata', async () => {
    const strict = await startTestGateway({ AUTHMESH_PAR_REQUIRED: 'true' });
    try {
      const meta = (await (await fetch(`${strict.baseUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(meta).toMatchObject({ pushed_authorization_request_endpoint: `${strict.baseUrl}/oauth2/par`, require_pushed_authorization_requests: true });
      const res = await strict.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({ clientType: ClientType.CLIENT_TYPE_PUBLIC, tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE, redirectUris: [CB], grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE], scopes: ['read'] }),
        }),
        { bearer: await strict.bearer() },
      );
      const id = res.client!.clientId;
      expect(await shownError(await new Browser(strict.baseUrl).get(`/oauth2/authorize?${new URLSearchParams(authParams(id)).toString()}`))).toMatchObject({ status: 400, location: null });
      const uri = await pushed(authParams(id), {}, strict.baseUrl);
      expect((await new Browser(strict.baseUrl).get(authorizeWith(id, uri))).status).toBe(200);
    } finally {
      await strict.close();
    }
  }, 60_000);
});

describe('request objects (RFC 9101)', () => {
  it('serves a signed request object by value; only its parameters count (§6.3); it is single use (jti)', async () => {
    const params = authParams(signer.id);
    const request = await requestObject(signer, params);
    const url = `/oauth2/authorize?${new URLSearchParams({ client_id: signer.id, response_type: 'code', request, scope: 'write', state: 'outside' }).toString()}`;
    const run = await runAuthorization(new Browser(t.baseUrl), url, { username });
    expect(run.location.searchParams.get('state')).toBe(params.state);
    expect(await shownError(await new Browser(t.baseUrl).get(url))).toEqual({ status: 400, location: null, error: 'invalid_request_object' });
  });

  it.each<[string, () => Promise<Record<string, string>>, string]>([
    ['an unsigned object (alg none)', async () => ({ client_id: signer.id, request: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...authParams(signer.id), iss: signer.id, aud: t.baseUrl })).toString('base64url')}.` }), 'invalid_request_object'],
    ['an object signed by a key the client did not register', async () => ({ client_id: signer.id, request: await requestObject({ ...signer, key: (await generateKeyPair('ES256')).privateKey }, authParams(signer.id)) }), 'invalid_request_object'],
    ['an object for another audience', async () => ({ client_id: signer.id, request: await requestObject(signer, authParams(signer.id), { claims: { aud: 'https://other.example.com' } }) }), 'invalid_request_object'],
    ['another client_id outside the object (its keys verify nothing)', async () => ({ client_id: web.id, request: await requestObject(signer, authParams(signer.id)) }), 'invalid_request_object'],
    ['another response_type outside the object', async () => ({ client_id: signer.id, response_type: 'token', request: await requestObject(signer, authParams(signer.id)) }), 'invalid_request_object'],
    ['both request and request_uri', async () => ({ client_id: signer.id, request: await requestObject(signer, authParams(signer.id)), request_uri: 'urn:ietf:params:oauth:request_uri:x' }), 'invalid_request'],
  ])('shows %s as %s without redirecting', async (_name, query, error) => {
    const res = await new Browser(t.baseUrl).get(`/oauth2/authorize?${new URLSearchParams(await query()).toString()}`);
    expect(await shownError(res)).toEqual({ status: 400, location: null, error });
  });

  it('is accepted pushed (JAR inside PAR) and then used by request_uri', async () => {
    const params = authParams(signer.id);
    const uri = await pushed({
      client_id: signer.id,
      request: await requestObject(signer, params),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(signer, t.baseUrl),
    });
    const run = await runAuthorization(new Browser(t.baseUrl), authorizeWith(signer.id, uri), { username });
    expect(run.location.searchParams.get('state')).toBe(params.state);
  });

  it('holds a client registered with require_signed_request_object to signed objects, at both endpoints (RFC 9101 §10.5)', async () => {
    expect(await shownError(await new Browser(t.baseUrl).get(`/oauth2/authorize?${new URLSearchParams(authParams(signedOnly.id)).toString()}`))).toEqual({
      status: 400,
      location: null,
      error: 'invalid_request',
    });
    const plain = await push({ ...authParams(signedOnly.id), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(signedOnly, t.baseUrl) });
    expect(plain.status).toBe(400);
    // Its objects must carry typ oauth-authz-req+jwt (RFC 9101 §10.8).
    const untyped = await requestObject(signedOnly, authParams(signedOnly.id), { header: { typ: undefined } });
    expect(await shownError(await new Browser(t.baseUrl).get(`/oauth2/authorize?${new URLSearchParams({ client_id: signedOnly.id, request: untyped }).toString()}`))).toMatchObject({
      error: 'invalid_request_object',
    });
    const signed = await requestObject(signedOnly, authParams(signedOnly.id));
    const run = await runAuthorization(new Browser(t.baseUrl), `/oauth2/authorize?${new URLSearchParams({ client_id: signedOnly.id, request: signed }).toString()}`, { username });
    expect(run.location.searchParams.get('code')).toBeTruthy();
  });
});

describe('DPoP with pushed and signed requests (RFC 9449 §10, §10.1)', () => {
  const parUrl = () => `${t.baseUrl}/oauth2/par`;
  const tokenUrl = () => `${t.baseUrl}/oauth2/token`;

  /** The code of a pushed request_uri, through login and consent. */
  async function codeOf(clientId: string, uri: string): Promise<string> {
    const run = await runAuthorization(new Browser(t.baseUrl), authorizeWith(clientId, uri), { username });
    return run.location.searchParams.get('code')!;
  }

  it('binds the code to the key of a DPoP proof sent to the PAR endpoint: only that key redeems it', async () => {
    const key = await dpopKey();
    const other = await dpopKey();
    const uri = await pushed(authParams(web.id), { authorization: basic(web.id, web.secret), dpop: await key.proof({ htu: parUrl() }) });
    const wrong = await redeem(await codeOf(web.id, uri), web, await other.proof({ htu: tokenUrl() }));
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
    const uri2 = await pushed(authParams(web.id), { authorization: basic(web.id, web.secret), dpop: await key.proof({ htu: parUrl() }) });
    const code = await codeOf(web.id, uri2);
    expect((await redeem(code, web)).status).toBe(400);
    const code3 = await codeOf(web.id, await pushed(authParams(web.id), { authorization: basic(web.id, web.secret), dpop: await key.proof({ htu: parUrl() }) }));
    const ok = await redeem(code3, web, await key.proof({ htu: tokenUrl() }));
    expect(ok.status, await ok.clone().text()).toBe(200);
    const body = (await ok.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('accepts dpop_jkt as a pushed parameter and inside a request object', async () => {
    const key = await dpopKey();
    const plain = await pushed(authParams(web.id, { dpop_jkt: key.jkt }), { authorization: basic(web.id, web.secret) });
    const ok = await redeem(await codeOf(web.id, plain), web, await key.proof({ htu: tokenUrl() }));
    expect(decodeJwt(((await ok.json()) as { access_token: string }).access_token).cnf).toEqual({ jkt: key.jkt });

    const params = authParams(signer.id, { dpop_jkt: key.jkt });
    const run = await runAuthorization(new Browser(t.baseUrl), `/oauth2/authorize?${new URLSearchParams({ client_id: signer.id, response_type: 'code', request: await requestObject(signer, params) }).toString()}`, { username });
    const res = await fetch(tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await (await dpopKey()).proof({ htu: tokenUrl() }) },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: run.location.searchParams.get('code')!,
        redirect_uri: CB,
        code_verifier: VERIFIER,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(signer, t.baseUrl),
      }).toString(),
    });
    // The object's dpop_jkt bound the code: a proof by another key is refused.
    expect(await res.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('dpop_jkt') });
  });

  it.each<[string, () => Promise<{ body: Record<string, string>; dpop?: string }>, string]>([
    ['a dpop_jkt naming another key than the proof', async () => ({ body: authParams(web.id, { dpop_jkt: (await dpopKey()).jkt }), dpop: await (await dpopKey()).proof({ htu: `${t.baseUrl}/oauth2/par` }) }), 'invalid_dpop_proof'],
    ['a proof for the token endpoint', async () => ({ body: authParams(web.id), dpop: await (await dpopKey()).proof({ htu: `${t.baseUrl}/oauth2/token` }) }), 'invalid_dpop_proof'],
    ['a proof for GET', async () => ({ body: authParams(web.id), dpop: await (await dpopKey()).proof({ htm: 'GET', htu: `${t.baseUrl}/oauth2/par` }) }), 'invalid_dpop_proof'],
    ['two DPoP headers', async () => ({ body: authParams(web.id), dpop: `${await (await dpopKey()).proof({ htu: `${t.baseUrl}/oauth2/par` })}, x` }), 'invalid_dpop_proof'],
    ['a malformed dpop_jkt', async () => ({ body: authParams(web.id, { dpop_jkt: 'not a thumbprint' }) }), 'invalid_request'],
  ])('refuses %s with 400 %s and issues no request_uri', async (_name, make, error) => {
    const { body, dpop } = await make();
    const res = await push(body, { authorization: basic(web.id, web.secret), ...(dpop === undefined ? {} : { dpop }) });
    expect(res.status).toBe(400);
    const json = (await res.json()) as Record<string, string>;
    expect(json.error).toBe(error);
    expect(json.request_uri).toBeUndefined();
  });

  it('refuses a replayed PAR proof (RFC 9449 §11.1)', async () => {
    const proof = await (await dpopKey()).proof({ htu: parUrl() });
    await pushed(authParams(web.id), { authorization: basic(web.id, web.secret), dpop: proof });
    const again = await push(authParams(web.id), { authorization: basic(web.id, web.secret), dpop: proof });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('spends no proof on a request refused for something else: an unauthenticated push does not consume it', async () => {
    const key = await dpopKey();
    const proof = await key.proof({ htu: parUrl() });
    expect((await push(authParams(web.id), { authorization: basic(web.id, 'wrong'), dpop: proof })).status).toBe(401);
    expect((await push(authParams(web.id), { authorization: basic(web.id, web.secret), dpop: proof })).status).toBe(201);
  });
});

describe('registration (RFC 7591) of the request policy', () => {
  const register = async (metadata: Record<string, unknown>) =>
    fetch(`${t.baseUrl}/oauth2/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.bearer()}` },
      body: JSON.stringify({ redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k' }] }, ...metadata }),
    });

  it('accepts and echoes require_pushed_authorization_requests, require_signed_request_object and request_object_signing_alg', async () => {
    const res = await register({ require_pushed_authorization_requests: true, require_signed_request_object: true, request_object_signing_alg: 'ES256' });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ require_pushed_authorization_requests: true, require_signed_request_object: true, request_object_signing_alg: 'ES256' });
  });

  it.each([
    ['request_object_signing_alg none', { request_object_signing_alg: 'none' }],
    ['request_object_signing_alg HS256', { request_object_signing_alg: 'HS256' }],
    ['require_signed_request_object without keys', { require_signed_request_object: true, jwks: undefined, token_endpoint_auth_method: 'client_secret_basic' }],
    ['a non-boolean require_pushed_authorization_requests', { require_pushed_authorization_requests: 'yes' }],
  ])('refuses %s with invalid_client_metadata', async (_name, metadata) => {
    const res = await register(metadata);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });
});

