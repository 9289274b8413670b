// The HTTP edge of the OAuth endpoints (issue 10 §2 a, b, c, g, h, §3 j; issue 11 items 11 and
// 14): challenges on every 401, the one parameter rule, input bounds, 431 on oversized headers,
// RFC 7591 grant/response type consistency, what the request log names, and which address the
// audit trail records. Real mesh, real gateway, raw HTTP where a library would not misbehave.
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { createLogger } from '../../services/core/log/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { MAX_PARAMETER_LENGTH } from '../form-params.js';
import { REST_BODY_CHECK_PREFIX } from './rest-body-check.js';
import { basicAuth, createFixtures, ORDERS, postForm, REDIRECT, type Fixtures } from './route-test-support.js';

/** The gateway's log lines, parsed, as they were written. */
function captureLog() {
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString('utf8');
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines, text: () => raw };
}

/** Every byte a raw socket receives for `request`, until the server closes the connection (bounded by 10 s). */
function rawExchange(port: number, request: string): Promise<{ response: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response, closedByServer: false });
    }, 10_000);
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('end', () => {
      clearTimeout(timer);
      socket.end();
      resolve({ response, closedByServer: true });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(request);
  });
}

describe('HTTP edge of the OAuth endpoints', () => {
  let t: TestGateway;
  let f: Fixtures;
  let tokenUrl: string;
  const logged = captureLog();

  beforeAll(async () => {
    t = await startTestGateway({}, { log: logged.log });
    f = await createFixtures(t);
    tokenUrl = `${t.baseUrl}/oauth2/token`;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const basic = () => ({ authorization: basicAuth(f.basic.id, f.basic.secret) });
  const basicChallenge = () => `Basic realm="${t.baseUrl}", charset="UTF-8"`;

  async function expectError(res: Response, status: number, error: string, description?: string) {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe(error);
    if (description !== undefined) expect(body.error_description).toBe(description);
    return body;
  }

  describe('every 401 carries a WWW-Authenticate challenge (RFC 9110 §15.5.2, RFC 6749 §5.2)', () => {
    it('a failed client_secret_post authentication at the token, introspection and revocation endpoints', async () => {
      for (const path of ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke']) {
        const res = await postForm(`${t.baseUrl}${path}`, `grant_type=client_credentials&token=x&client_id=${f.post.id}&client_secret=wrong`);
        await expectError(res, 401, 'invalid_client');
        expect(res.headers.get('www-authenticate'), path).toBe(basicChallenge());
      }
    });

    it('no client authentication at all at the token, introspection and revocation endpoints', async () => {
      for (const path of ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke']) {
        const res = await postForm(`${t.baseUrl}${path}`, 'grant_type=client_credentials&token=x');
        await expectError(res, 401, 'invalid_client');
        expect(res.headers.get('www-authenticate'), path).toBe(basicChallenge());
      }
    });

    it('registration without credentials gets a Bearer challenge without an error code (RFC 6750 §3.1)', async () => {
      const res = await fetch(`${t.baseUrl}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris":["https://app.example.com/cb"]}' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${t.baseUrl}"`);
    });

    it('the admin Connect bridge answers 401 with a Bearer challenge: without error code when no token, invalid_token for a bad one (RFC 6750 §3)', async () => {
      const call = (headers: Record<string, string>) =>
        fetch(`${t.baseUrl}/authmesh.client.v1.ClientService/ListClients`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
      const none = await call({});
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="${t.baseUrl}"`);
      const bad = await call({ authorization: 'Bearer not.a.token' });
      expect(bad.status).toBe(401);
      expect(bad.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer realm="${t.baseUrl}", error="invalid_token"`));
    });
  });

  describe('one parameter rule (RFC 6749 §3.1, §3.2)', () => {
    it('a valueless parameter is treated as omitted: scope=&scope=read is scope read', async () => {
      const res = await postForm(tokenUrl, 'grant_type=client_credentials&scope=&scope=read', basic());
      expect(res.status).toBe(200);
      expect(((await res.json()) as { scope: string }).scope).toBe('read');
    });

    it('unrecognized parameters are ignored, even repeated', async () => {
      const res = await postForm(tokenUrl, 'grant_type=client_credentials&foo=1&foo=2&scope=read', basic());
      expect(res.status).toBe(200);
      // `token` means nothing at the token endpoint; `grant_type` nothing at introspection.
      expect((await postForm(tokenUrl, 'grant_type=client_credentials&token=a&token=b', basic())).status).toBe(200);
      const intro = await postForm(`${t.baseUrl}/oauth2/introspect`, 'token=garbage&grant_type=a&grant_type=b', basic());
      expect(await intro.json()).toEqual({ active: false });
    });

    it('a recognized parameter with two values is still refused', async () => {
      await expectError(await postForm(tokenUrl, 'grant_type=client_credentials&scope=read&scope=write', basic()), 400, 'invalid_request', 'parameter scope is repeated');
    });
  });

  describe('bounded input: one request never stalls others (issue 10 §2 c)', () => {
    it('a 60,000-character scope is refused at once with 400, and another client is served right after', async () => {
      const big = await postForm(tokenUrl, `grant_type=client_credentials&scope=${'a'.repeat(60_000)}`, basic());
      await expectError(big, 400, 'invalid_request', 'scope must be at most 4096 characters');
      const next = await postForm(tokenUrl, `grant_type=client_credentials&client_id=${f.post.id}&client_secret=${f.post.secret}`);
      expect(next.status).toBe(200);
    });

    it('a public client cannot do the same through a refresh', async () => {
      const res = await postForm(tokenUrl, `grant_type=refresh_token&client_id=${f.pub}&refresh_token=x&scope=${'a'.repeat(60_000)}`);
      await expectError(res, 400, 'invalid_request', 'scope must be at most 4096 characters');
      const long = await postForm(tokenUrl, `grant_type=refresh_token&client_id=${f.pub}&refresh_token=${'r'.repeat(60_000)}`);
      await expectError(long, 400, 'invalid_request', 'refresh_token must be at most 512 characters');
    });

    it('every recognized parameter of the form endpoints is bounded with an RFC-shaped 400', async () => {
      // token and token_type_hint are parameters of introspection and revocation, not of the token endpoint.
      for (const [name, max] of Object.entries(MAX_PARAMETER_LENGTH).filter(([n]) => !n.startsWith('token'))) {
        const value = encodeURIComponent('a'.repeat(max + 1));
        const body = name === 'grant_type' ? `grant_type=${value}` : `grant_type=client_credentials&${name}=${value}`;
        await expectError(await postForm(tokenUrl, body, basic()), 400, 'invalid_request', `${name} must be at most ${max} characters`);
      }
      const token = encodeURIComponent('t'.repeat(MAX_PARAMETER_LENGTH.token! + 1));
      await expectError(await postForm(`${t.baseUrl}/oauth2/introspect`, `token=${token}`, basic()), 400, 'invalid_request', `token must be at most ${MAX_PARAMETER_LENGTH.token} characters`);
      await expectError(await postForm(`${t.baseUrl}/oauth2/revoke`, `token=${token}`, basic()), 400, 'invalid_request', `token must be at most ${MAX_PARAMETER_LENGTH.token} characters`);
    });

    it('the number of parameters and of repeated resource values is bounded', async () => {
      const many = Array.from({ length: 64 }, (_, i) => `p${i}=x`).join('&');
      await expectError(await postForm(tokenUrl, `grant_type=client_credentials&${many}`, basic()), 400, 'invalid_request', 'at most 64 parameters are accepted');
      const resources = Array.from({ length: 17 }, () => `resource=${encodeURIComponent(ORDERS)}`).join('&');
      await expectError(await postForm(tokenUrl, `grant_type=client_credentials&${resources}`, basic()), 400, 'invalid_request', 'at most 16 resource parameters are accepted');
    });

    it('oversized headers are answered 431 with Connection: close, and the next request works', async () => {
      const port = Number(new URL(t.baseUrl).port);
      const { response, closedByServer } = await rawExchange(port, `POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`);
      const [head = '', body = ''] = response.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      expect(head.toLowerCase()).toContain('\r\nconnection: close');
      expect(JSON.parse(body)).toEqual({ error: 'invalid_request', error_description: 'the request header fields are too large' });
      expect(closedByServer).toBe(true);
      expect((await postForm(tokenUrl, 'grant_type=client_credentials', basic())).status).toBe(200);
    });
  });

  describe('RFC 7591 §2.1 grant_types and response_types (issue 10 §2 h)', () => {
    const register = async (metadata: Record<string, unknown>) =>
      fetch(`${t.baseUrl}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.bearer()}` },
        body: JSON.stringify(metadata),
      });

    it('registers a client_credentials-only client that sends response_types []', async () => {
      const res = await register({ grant_types: ['client_credentials'], response_types: [], scope: 'read' });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ grant_types: ['client_credentials'], response_types: [] });
    });

    it('bounds the scope string of a registration like the token endpoint does', async () => {
      const scope = Array.from({ length: 1000 }, (_, i) => `s${i}`).join(' ');
      await expectError(await register({ grant_types: ['client_credentials'], scope }), 400, 'invalid_client_metadata', 'scope must be at most 4096 characters');
    });

    it('refuses grant and response types that disagree', async () => {
      await expectError(await register({ grant_types: ['client_credentials'], response_types: ['code'] }), 400, 'invalid_client_metadata');
      await expectError(await register({ grant_types: ['authorization_code'], response_types: [], redirect_uris: [REDIRECT] }), 400, 'invalid_client_metadata');
    });
  });

  describe('the request log names only authenticated clients (issue 11 item 11)', () => {
    const SECRET = 'S3cr3t-in-the-wrong-place-0123456789abcdefghij';

    async function lineFor(send: () => Promise<Response>) {
      const before = logged.lines.length;
      const res = await send();
      await res.arrayBuffer();
      // The line is written when the response has been sent; wait for it (bounded).
      for (let i = 0; i < 100 && logged.lines.slice(before).every((l) => l.msg !== 'http'); i++) await new Promise((r) => setTimeout(r, 10));
      const line = logged.lines.slice(before).find((l) => l.msg === 'http');
      expect(line).toBeDefined();
      return { res, line: line! };
    }

    it('a client_id carrying a secret, or Basic credentials with id and secret swapped, never reach the log', async () => {
      const wrongPlace = await lineFor(() => postForm(tokenUrl, `grant_type=client_credentials&client_id=${encodeURIComponent(`${f.post.id};client_secret=${SECRET}`)}`));
      expect(wrongPlace.res.status).toBe(401);
      expect(wrongPlace.line.client_id).toBeUndefined();
      const swapped = await lineFor(() => postForm(tokenUrl, 'grant_type=client_credentials', { authorization: basicAuth(SECRET, f.basic.id) }));
      expect(swapped.res.status).toBe(401);
      expect(swapped.line.client_id).toBeUndefined();
      expect(logged.text()).not.toContain(SECRET);
    });

    it('a secret in the path of an unmatched route never reaches the log: the line names no route', async () => {
      const unmatched = await lineFor(() => fetch(`${tokenUrl}/${SECRET}`));
      expect(unmatched.res.status).toBe(404);
      expect(unmatched.line.path).toBe('(no route)');
      const bridged = await lineFor(() => fetch(`${t.baseUrl}/authmesh.client.v1.ClientService/${SECRET}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
      expect(bridged.res.status).toBe(404);
      expect(logged.text()).not.toContain(SECRET);
    });

    it('bad_percent_encoding_path: a path that does not decode gets 400 in the edge shape, echoing neither the path nor an internal name', async () => {
      for (const path of [`/oauth2/token/%ff${SECRET}`, `/.well-known/%ff`, `/authmesh.client.v1.ClientService/%c0%af`, `/v1/clients/%ff`]) {
        const res = await fetch(`${t.baseUrl}${path}`);
        expect(res.status, path).toBe(400);
        const text = await res.text();
        expect(JSON.parse(text), path).toEqual({ error: 'invalid_request', error_description: 'the request path is not valid percent-encoding' });
        expect(text).not.toMatch(/FST_|%ff|%c0/);
      }
      // Envoy's REST check forwards the /v1 path under its prefix; the denial reaches the caller as
      // the transcoder's google.rpc.Status errors do.
      const check = await fetch(`${t.baseUrl}${REST_BODY_CHECK_PREFIX}/v1/clients/%ff`);
      expect(check.status).toBe(400);
      expect(await check.json()).toEqual({ code: 3, message: 'the request path is not valid percent-encoding', details: [] });
      expect(logged.text()).not.toContain(SECRET);
    });

    it('an authenticated client is named', async () => {
      const ok = await lineFor(() => postForm(tokenUrl, 'grant_type=client_credentials', basic()));
      expect(ok.res.status).toBe(200);
      expect(ok.line.client_id).toBe(f.basic.id);
    });
  });
});

describe('the audit trail records a believable caller address (issue 11 item 14)', () => {
  let direct: TestGateway;
  let proxied: TestGateway;
  let fd: Fixtures;
  let fp: Fixtures;

  beforeAll(async () => {
    // The recorded address is read from token.issued rows, written only when success events are.
    direct = await startTestGateway({ AUTHMESH_AUDIT_SUCCESS: 'all' });
    proxied = await startTestGateway({ AUTHMESH_TRUSTED_PROXIES: '127.0.0.1', AUTHMESH_AUDIT_SUCCESS: 'all' });
    fd = await createFixtures(direct);
    fp = await createFixtures(proxied);
  }, 60_000);
  afterAll(async () => {
    await direct?.close();
    await proxied?.close();
  });

  async function latestIssuedIp(t: TestGateway, clientId: string): Promise<string | undefined> {
    await t.mesh.flushAudit();
    return (await t.store.audit.list({ type: 'token.issued', clientId })).items[0]?.ip;
  }
  const issue = (t: TestGateway, f: Fixtures, xff: string) =>
    postForm(`${t.baseUrl}/oauth2/token`, `grant_type=client_credentials&client_id=${f.post.id}&client_secret=${f.post.secret}`, { 'x-forwarded-for': xff });

  it('a direct request: X-Forwarded-For is ignored, the connection address is recorded', async () => {
    expect((await issue(direct, fd, '198.51.100.7')).status).toBe(200);
    expect(await latestIssuedIp(direct, fd.post.id)).toBe('127.0.0.1');
  });

  it('through a configured proxy: the forwarded address is recorded when it is an IP, never free text', async () => {
    expect((await issue(proxied, fp, '203.0.113.9, 198.51.100.7')).status).toBe(200);
    // RFC 7239 §7.4: the nearest hop the trusted proxy saw is the client.
    expect(await latestIssuedIp(proxied, fp.post.id)).toBe('198.51.100.7');
    expect((await issue(proxied, fp, 'x'.repeat(3000))).status).toBe(200);
    expect(await latestIssuedIp(proxied, fp.post.id)).toBe('127.0.0.1');
  });

  it('over gRPC, remote_ip is believed only from the mesh, and only when it is an IP', async () => {
    const request = (remoteIp: string) =>
      TokenRequest.fromPartial({
        client: { credential: { $case: 'clientSecret', value: { clientId: fd.post.id, clientSecret: fd.post.secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST } } },
        grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } },
        remoteIp,
      });
    // A caller that is not the mesh: its claim is ignored, its connection address recorded.
    await direct.anon.token.token(request('x'.repeat(3000)));
    expect(await latestIssuedIp(direct, fd.post.id)).toBe('127.0.0.1');
    await direct.anon.token.token(request('203.0.113.50'));
    expect(await latestIssuedIp(direct, fd.post.id)).toBe('127.0.0.1');
    // The mesh (the gateway) says whose request it relays; an address that is not an IP is refused.
    await direct.peers.token.token(request('203.0.113.50'));
    expect(await latestIssuedIp(direct, fd.post.id)).toBe('203.0.113.50');
    await expect(direct.peers.token.token(request('x'.repeat(3000)))).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
