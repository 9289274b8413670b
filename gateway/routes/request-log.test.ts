// Issue 16, logs: one JSON line per request — per gateway HTTP request (msg "http") and per RPC
// (msg "rpc") — carrying the trace ids, and never a secret or token, whatever input carries it:
// password, client_secret (Basic and form), code and code_verifier, refresh_token, access and ID
// tokens, client_assertion, DPoP proof, cookie, authorization header, a query string. The same
// requests' spans (tracing on here, an in-memory exporter) carry none of them either.
import { Writable } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../services/core/log/index.js';
import { startTelemetry } from '../../services/core/telemetry/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { authorizationRedirect, basicAuth, createFixtures, postForm, REDIRECT, type Fixtures } from './route-test-support.js';

const exporter = new InMemorySpanExporter();
startTelemetry('authmesh-test', { spanProcessors: [new SimpleSpanProcessor(exporter)] });

type Line = Record<string, unknown>;

function captureLog() {
  const lines: Line[] = [];
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString('utf8');
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines, text: () => raw };
}

/** A unique, recognisable value standing for a secret of the given kind. */
const plant = (kind: string) => `PLANTED-${kind}-${Math.random().toString(36).slice(2, 12)}`;
/** A JWT-shaped planted value (assertions, DPoP proofs, tokens a client sends). */
const plantJwt = (kind: string) =>
  [{ alg: 'ES256', typ: 'JWT' }, { sub: plant(kind) }].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.') + `.${plant(`${kind}sig`)}`;

describe('request log lines: one per request, with trace ids, never a secret (issue 16)', () => {
  let t: TestGateway;
  let f: Fixtures;
  const logged = captureLog();
  const secrets: string[] = [];
  let requests = 0;

  const send = async (path: string, init: RequestInit = {}) => {
    requests++;
    const res = await fetch(`${t.baseUrl}${path}`, { redirect: 'manual', ...init });
    const body = await res.text();
    return { res, body };
  };
  const form = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) => {
    requests++;
    return postForm(`${t.baseUrl}${path}`, new URLSearchParams(body).toString(), headers).then(async (res) => ({ res, body: await res.text() }));
  };

  beforeAll(async () => {
    t = await startTestGateway({}, { log: logged.log });
    f = await createFixtures(t);
    secrets.push(f.basic.secret, f.post.secret);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('requests carrying secrets in every input', async () => {
    // client_credentials with client_secret_post: the secret in the form, the token in the answer.
    const cc = await form('/oauth2/token', { grant_type: 'client_credentials', client_id: f.post.id, client_secret: f.post.secret });
    expect(cc.res.status).toBe(200);
    secrets.push((JSON.parse(cc.body) as { access_token: string }).access_token);

    // authorization_code with a real code and verifier (Basic), then the refresh token it gave.
    const verifier = plant('verifier').padEnd(50, 'v');
    const redirect = await authorizationRedirect(t, f.basic.id, f.userId, 'read', verifier);
    const code = redirect.searchParams.get('code')!;
    secrets.push(code, verifier);
    const ac = await form('/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT }, { authorization: basicAuth(f.basic.id, f.basic.secret) });
    expect(ac.res.status).toBe(200);
    const issued = JSON.parse(ac.body) as { access_token: string; refresh_token?: string };
    secrets.push(issued.access_token);
    if (issued.refresh_token) {
      secrets.push(issued.refresh_token);
      const rt = await form('/oauth2/token', { grant_type: 'refresh_token', refresh_token: issued.refresh_token }, { authorization: basicAuth(f.basic.id, f.basic.secret) });
      expect(rt.res.status).toBe(200);
      const refreshed = JSON.parse(rt.body) as { access_token: string; refresh_token?: string };
      secrets.push(refreshed.access_token, ...(refreshed.refresh_token ? [refreshed.refresh_token] : []));
    }
    // A replayed code (refused), a client_assertion, a DPoP proof, a password grant.
    const assertion = plantJwt('assertion');
    const dpop = plantJwt('dpop');
    const password = plant('password');
    secrets.push(assertion, dpop, password);
    await form('/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT }, { authorization: basicAuth(f.basic.id, f.basic.secret) });
    await form('/oauth2/token', { grant_type: 'client_credentials', client_id: f.jwt.id, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
    await form('/oauth2/token', { grant_type: 'client_credentials' }, { authorization: basicAuth(f.basic.id, f.basic.secret), dpop });
    await form('/oauth2/token', { grant_type: 'password', username: 'alice', password }, { authorization: basicAuth(f.basic.id, f.basic.secret) });
    // Introspection and revocation of a real token; UserInfo with a planted bearer.
    await form('/oauth2/introspect', { token: issued.access_token }, { authorization: basicAuth(f.basic.id, f.basic.secret) });
    const bearer = plant('bearer');
    secrets.push(bearer);
    await send('/oauth2/userinfo', { headers: { authorization: `Bearer ${bearer}` } });
    // Login form (password), a session cookie, a query string with a code and a token.
    const loginPassword = plant('loginpw');
    const cookie = plant('cookie');
    const queryToken = plant('querytoken');
    secrets.push(loginPassword, cookie, queryToken);
    await form('/oauth2/login', { username: 'alice', password: loginPassword, csrf: plant('csrf') }, { cookie: `authmesh_session=${cookie}` });
    await send(`/oauth2/authorize?client_id=${f.basic.id}&response_type=code&code=${queryToken}&access_token=${queryToken}`, { headers: { cookie: `authmesh_session=${cookie}` } });
    // The Connect bridge with a planted bearer, then a revocation.
    const connectBearer = plant('connectbearer');
    secrets.push(connectBearer);
    await send('/authmesh.client.v1.ClientService/ListClients', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${connectBearer}` }, body: '{}' });
    await form('/oauth2/revoke', { token: issued.access_token, token_type_hint: 'access_token' }, { authorization: basicAuth(f.basic.id, f.basic.secret) });
  });

  it('no log line and no span attribute holds any of them', async () => {
    expect(secrets.length).toBeGreaterThan(12);
    const text = logged.text();
    const spans = JSON.stringify(exporter.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]));
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      expect(spans).not.toContain(secret);
    }
    // Nor a planted value's distinctive part (e.g. inside a JWT-shaped one).
    expect(text).not.toMatch(/PLANTED/);
    expect(spans).not.toMatch(/PLANTED/);
  });

  it('one http line per request, with the route template, status, duration and the trace ids of its span', async () => {
    // onResponse runs after the answer is sent: wait (bounded) for the last line.
    for (let i = 0; i < 100 && logged.lines.filter((l) => l.msg === 'http').length < requests; i++) await new Promise((r) => setTimeout(r, 10));
    const http = logged.lines.filter((l) => l.msg === 'http');
    expect(http.length).toBe(requests);
    const spanIds = new Set(exporter.getFinishedSpans().map((s) => `${s.spanContext().traceId}/${s.spanContext().spanId}`));
    for (const line of http) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['method', 'path', 'status', 'ms', 'trace_id', 'span_id']));
      expect(spanIds.has(`${String(line.trace_id)}/${String(line.span_id)}`)).toBe(true);
    }
  });

  it('one rpc line per RPC, in the trace of the HTTP request that made it', async () => {
    const http = logged.lines.filter((l) => l.msg === 'http');
    const rpc = logged.lines.filter((l) => l.msg === 'rpc');
    expect(rpc.length).toBeGreaterThan(0);
    const serverSpans = exporter.getFinishedSpans().filter((s) => s.attributes['rpc.system'] === 'grpc');
    // Exactly one line per RPC served, the same count as RPC spans.
    expect(rpc.length).toBe(serverSpans.length);
    for (const line of rpc) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['method', 'grpc_status', 'ms', 'peer', 'trace_id', 'span_id']));
      expect(typeof line.grpc_status).toBe('number');
    }
    const tokenLines = rpc.filter((l) => l.method === '/authmesh.token.v1.TokenService/Token');
    expect(tokenLines.length).toBeGreaterThan(3);
    const httpTraces = new Set(http.map((l) => l.trace_id));
    for (const l of tokenLines) expect(httpTraces.has(l.trace_id)).toBe(true);
    // A refused grant names its RFC error code; a success names none.
    expect(tokenLines.some((l) => l.error === 'invalid_grant')).toBe(true);
    expect(tokenLines.some((l) => l.grpc_status === 0 && l.error === undefined)).toBe(true);
  });
});
