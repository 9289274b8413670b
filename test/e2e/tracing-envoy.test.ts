// Issue 16, traces: one token request through a real Envoy yields one trace — Envoy's spans, the
// gateway's HTTP span, the token service's RPC span and what it called (key service, signing,
// store, grid) — received by a real OTLP/HTTP receiver (scripts/otlp-receiver.mjs, decoding with
// the opentelemetry-proto definitions), with every parent link inside the trace. A request that
// brings a traceparent continues that trace; an ext_authz-protected request shows Envoy's spans and
// the Check RPC in one trace. No exported attribute holds a secret or a token.
//
// Review F2: Envoy's own spans once carried the request URL with its query string (http.url):
// codes and state on callbacks, login_hint, id_token_hint, request objects, tokens in a query. The
// privacy tests send such requests through Envoy, with and without a sampled traceparent, and
// search every byte every process exported (the receiver keeps the raw OTLP bodies) and Envoy's
// access log for them, while Envoy's spans still show each path and the gateway still gets the query.
//
// The mesh and gateway run in this process (as in embedded mode, but calling each other over the
// gRPC socket), tracing started the way services/main.ts starts it (OTEL_EXPORTER_OTLP_ENDPOINT);
// Envoy is rendered from envoy/envoy.yaml with the same variable. Skips without Envoy or the .proto files (scripts/envoy.sh install,
// scripts/otlp-protos.sh install), fails instead under AUTHMESH_REQUIRE_STACK=1 (CI).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientServiceService, ListClientsRequest, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest, TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { otlpProtosMissing, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../scripts/otlp-receiver.mjs';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { startTelemetry, type Telemetry } from '../../services/core/telemetry/index.js';
import { SERVICE_FQN } from '../../services/mesh-deps.js';
import { envoySkipReason, registerSampleApi, startEnvoyStack, type EnvoyStack, type SampleApiClient } from '../support/envoy.js';

function protosSkipReason(): string | undefined {
  const missing = otlpProtosMissing();
  if (missing && process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`${missing}; AUTHMESH_REQUIRE_STACK=1 requires it`);
  return missing;
}
const skip = envoySkipReason() ?? protosSkipReason();
if (skip) console.warn(`skipping the tracing end-to-end suite: ${skip}`);

const GATEWAY_TOKEN_SPAN = 'POST /oauth2/token';
const TOKEN_RPC_SPAN = 'authmesh.token.v1.TokenService/Token';
const CHECK_RPC_SPAN = 'envoy.service.auth.v3.Authorization/Check';

describe.skipIf(skip !== undefined)('one request, one trace: Envoy → gateway → services (OpenTelemetry, W3C trace context)', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let s: EnvoyStack;
  let sample: SampleApiClient;
  const planted: string[] = [];

  const token = async (headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${sample.clientId}:${sample.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'sample.read' }).toString(),
    });
    expect(res.status).toBe(200);
    const accessToken = ((await res.json()) as { access_token: string }).access_token;
    planted.push(accessToken);
    return accessToken;
  };

  /**
   * The spans of the trace of the first span received since `from` that `pick` matches, once
   * `complete` holds for them (Envoy exports every few seconds; bounded wait).
   */
  async function traceOf(from: number, pick: (sp: ReceivedSpan) => boolean, complete: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
    let last: ReceivedSpan[] = [];
    for (let i = 0; i < 120; i++) {
      await telemetry.forceFlush();
      const hit = receiver.spans.slice(from).find(pick);
      if (hit) {
        last = receiver.spans.filter((sp) => sp.traceId === hit.traceId);
        if (complete(last)) return last;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`no complete trace received; last seen: ${JSON.stringify(last.map((sp) => [sp.service, sp.name, sp.parentSpanId]))}`);
  }

  /** The spans whose parent is not in the trace: [service, parent span id]. */
  function roots(spans: ReceivedSpan[]) {
    const ids = new Set(spans.map((sp) => sp.spanId));
    return spans.filter((sp) => sp.parentSpanId === undefined || !ids.has(sp.parentSpanId)).map((r) => [r.service, r.parentSpanId]);
  }
  /** Envoy's span for the request has arrived (Envoy exports it last, when the response is done). */
  const hasEnvoyRoot = (spans: ReceivedSpan[], external: string | undefined) => roots(spans).some(([svc, parent]) => svc === 'authmesh-envoy' && parent === external);
  /** One root, Envoy's, whose parent is `external`; every other span's parent is in the trace. */
  function expectConnected(spans: ReceivedSpan[], external: string | undefined) {
    expect(roots(spans)).toEqual([['authmesh-envoy', external]]);
  }

  const byName = (spans: ReceivedSpan[], name: string) => spans.filter((sp) => sp.name === name);
  const parentOf = (spans: ReceivedSpan[], sp: ReceivedSpan) => spans.find((p) => p.spanId === sp.parentSpanId);

  beforeAll(async () => {
    receiver = await startOtlpReceiver({ port: 0, keepBodies: true });
    // As `OTEL_EXPORTER_OTLP_ENDPOINT=… npm start` would: the exporter reads the variables.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    telemetry = startTelemetry('authmesh-embedded');
    // Peers over the gRPC socket (not in process): trace context must cross the wire in metadata
    // (tracing-embedded.test.ts covers the in-process transport).
    s = await startEnvoyStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, AUTHMESH_PEER_TRANSPORT: 'grpc' } });
    sample = await registerSampleApi(s);
    planted.push(sample.clientSecret);
  }, 180_000);

  afterAll(async () => {
    await s?.close();
    await telemetry?.shutdown();
    await receiver?.close();
  });

  it('a token request without traceparent: Envoy, the gateway, the token service and its calls form one trace', async () => {
    const from = receiver.spans.length;
    await token();
    const spans = await traceOf(
      from,
      (sp) => sp.name === GATEWAY_TOKEN_SPAN,
      (t) => hasEnvoyRoot(t, undefined) && t.some((sp) => sp.name === TOKEN_RPC_SPAN) && t.some((sp) => sp.name === 'jws.sign'),
    );
    expectConnected(spans, undefined);
    const gateway = byName(spans, GATEWAY_TOKEN_SPAN)[0]!;
    expect(gateway.service).toBe('authmesh-embedded');
    expect(gateway.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/oauth2/token', 'http.response.status_code': 200 });
    // Envoy sent its trace context upstream: the gateway's span is a child of one of Envoy's.
    expect(parentOf(spans, gateway)?.service).toBe('authmesh-envoy');
    const rpc = byName(spans, TOKEN_RPC_SPAN)[0]!;
    expect(rpc.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'authmesh.token.v1.TokenService', 'rpc.method': 'Token', 'rpc.grpc.status_code': 0, 'oauth.grant_type': 'client_credentials' });
    expect(rpc.parentSpanId).toBe(gateway.spanId);
    // Signing happens inside the key service's RPC, called by the token service.
    const sign = byName(spans, 'jws.sign')[0]!;
    const signRpc = parentOf(spans, sign)!;
    expect(signRpc.name).toBe('authmesh.key.v1.KeyService/SignJwt');
    expect(parentOf(spans, signRpc)?.spanId).toBe(rpc.spanId);
    expect(spans.some((sp) => sp.name.startsWith('grid.') || sp.name.startsWith('store.'))).toBe(true);
    // Envoy's access log line for the request carries the same trace id (flushed every 250 ms: bounded wait).
    let logged: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !logged; i++) {
      const text = readFileSync(s.accessLogPath, 'utf8');
      const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      logged = lines.find((l) => l.path === '/oauth2/token' && l.trace_id === gateway.traceId);
      if (!logged) await new Promise((r) => setTimeout(r, 100));
    }
    expect(logged?.status).toBe(200);
  });

  it('a token request with a traceparent continues that trace', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parent = randomBytes(8).toString('hex');
    const from = receiver.spans.length;
    await token({ traceparent: `00-${traceId}-${parent}-01` });
    const spans = await traceOf(
      from,
      (sp) => sp.traceId === traceId,
      (t) => hasEnvoyRoot(t, parent) && t.some((sp) => sp.name === GATEWAY_TOKEN_SPAN) && t.some((sp) => sp.name === TOKEN_RPC_SPAN),
    );
    expectConnected(spans, parent);
  });

  it('an ext_authz-protected request: Envoy and the Check RPC in one trace', async () => {
    const accessToken = await token();
    const from = receiver.spans.length;
    const res = await fetch(`${s.url}/sample/hello`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    const spans = await traceOf(
      from,
      (sp) => sp.name === CHECK_RPC_SPAN,
      (t) => hasEnvoyRoot(t, undefined) && t.filter((sp) => sp.service === 'authmesh-envoy').length >= 2,
    );
    expectConnected(spans, undefined);
    const check = byName(spans, CHECK_RPC_SPAN)[0]!;
    expect(check.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.grpc.status_code': 0 });
    expect(parentOf(spans, check)?.service).toBe('authmesh-envoy');
  });

  it('no exported span holds a secret or a token', async () => {
    await telemetry.forceFlush();
    expect(planted.length).toBeGreaterThan(2);
    const exported = JSON.stringify(receiver.spans.map((sp) => [sp.name, sp.attributes, sp.resource]));
    for (const secret of planted) expect(exported).not.toContain(secret);
    // Nor any part of a token (its signature, or its payload's encoding).
    for (const jwt of planted.filter((p) => p.split('.').length === 3)) for (const part of jwt.split('.').slice(1)) expect(exported).not.toContain(part);
  });

  describe('review F2: no query string or credential header in any span or in Envoy\'s access log', () => {
    const CB = 'https://app.example.test/callback';
    /** A value that cannot occur by chance: hex, so a URL, a header and the login page carry it unchanged. */
    const secret = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;
    /** Every secret sent in a query string or a credential header, by what it stands for. */
    const sent = new Map<string, string>();
    const plant = (what: string) => {
      const v = secret(what);
      sent.set(`${what} (${sent.size})`, v);
      return v;
    };
    /** The paths sent (without query) and how many requests each: Envoy must show each one. */
    const paths = new Map<string, number>();
    /** The traces a caller asked for (sampled traceparent): Envoy must continue them. */
    const callerTraces: { traceId: string; parent: string; path: string }[] = [];
    let from = 0;
    let logFrom = 0;

    /** GET through Envoy, counted; with `traced`, a sampled traceparent of a new trace. */
    async function send(path: string, query: Record<string, string>, headers: Record<string, string>, traced: boolean): Promise<Response> {
      const h = { ...headers };
      if (traced) {
        const traceId = randomBytes(16).toString('hex');
        const parent = randomBytes(8).toString('hex');
        h.traceparent = `00-${traceId}-${parent}-01`;
        callerTraces.push({ traceId, parent, path });
      }
      paths.set(path, (paths.get(path) ?? 0) + 1);
      return fetch(`${s.url}${path}?${new URLSearchParams(query).toString()}`, { headers: h, redirect: 'manual' });
    }

    /** Envoy's SERVER spans received since `from`. */
    const envoyServerSpans = () => receiver.spans.slice(from).filter((sp) => sp.service === 'authmesh-envoy' && sp.kind === 'SPAN_KIND_SERVER');

    beforeAll(async () => {
      from = receiver.spans.length;
      // From the end of the last whole line: lines flushed later (this block's, or late ones of earlier tests) are whole.
      const logged = readFileSync(s.accessLogPath, 'utf8');
      logFrom = logged.lastIndexOf('\n') + 1;
      const admin = await s.gateway.bearer();
      planted.push(admin);
      const created = await fetch(`${s.url}/v1/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'tracing privacy web app',
          client_type: 'CLIENT_TYPE_CONFIDENTIAL',
          token_endpoint_auth_method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC',
          grant_types: ['GRANT_TYPE_AUTHORIZATION_CODE'],
          redirect_uris: [CB],
          scopes: ['read'],
        }),
      });
      expect(created.status).toBe(200);
      const { client, client_secret: clientSecret } = (await created.json()) as { client: { client_id: string }; client_secret: string };
      planted.push(clientSecret);
      const accessToken = await token();

      for (const traced of [false, true]) {
        // RFC 6749 §4.1.1 with OIDC's login_hint: the gateway still gets the whole query, so its
        // login page comes back prefilled with the hint.
        const loginHint = plant('login_hint');
        const authorize = await send(
          '/oauth2/authorize',
          { response_type: 'code', client_id: client.client_id, redirect_uri: CB, scope: 'read', state: plant('state'), code_challenge: randomBytes(32).toString('base64url'), code_challenge_method: 'S256', login_hint: loginHint },
          {},
          traced,
        );
        expect(authorize.status).toBe(200);
        expect(await authorize.text()).toContain(loginHint);
        // id_token_hint and a request object (OIDC Core §3.1.2.1, RFC 9101): refused by the gateway, which got them.
        const hinted = await send('/oauth2/authorize', { client_id: client.client_id, response_type: 'code', id_token_hint: plant('id_token_hint'), request: plant('request') }, {}, traced);
        expect(hinted.status).toBeGreaterThanOrEqual(300);
        await hinted.arrayBuffer();
        // The console's callback: an authorization code and state (RFC 6749 §4.1.2), with a session cookie.
        const callback = await send('/console/callback', { code: plant('code'), state: plant('state') }, { cookie: `authmesh_session=${plant('cookie')}` }, traced);
        await callback.arrayBuffer();
        // A protected route through jwt_authn and ext_authz, with a token in the query as well (RFC 6750 §2.3).
        const hello = await send('/sample/hello', { access_token: plant('access_token') }, { authorization: `Bearer ${accessToken}` }, traced);
        expect(hello.status).toBe(200);
        await hello.arrayBuffer();
        // No route (Envoy's direct 404 behind ext_authz): credential headers and a code in the query,
        // and a forged x-envoy-original-path (the span's path source after a rewrite), which Envoy
        // strips at the edge: the span must still show /nowhere.
        const nowhere = await send(
          '/nowhere',
          { code: plant('code') },
          { authorization: `Bearer ${plant('authorization')}`, dpop: plant('dpop'), cookie: `sid=${plant('cookie')}`, 'x-envoy-original-path': `/forged?code=${plant('code')}` },
          traced,
        );
        expect(nowhere.status).toBe(401);
        await nowhere.arrayBuffer();
        // The REST surface (rest_body_check over HTTP, then the transcoder, which refuses the unknown parameter).
        const rest = await send('/v1/clients', { access_token: plant('access_token') }, { authorization: `Bearer ${admin}` }, traced);
        expect(rest.status).toBe(400);
        await rest.arrayBuffer();
      }

      // Native gRPC through Envoy (Envoy tags grpc.* from the request and the trailers): a wrong
      // client secret in the body, and credential metadata (a bearer that is no token, DPoP, Cookie).
      const tokens = createRpcClient(TokenServiceService, SERVICE_FQN.token, `127.0.0.1:${s.envoyPort}`);
      const clients = createRpcClient(ClientServiceService, SERVICE_FQN.client, `127.0.0.1:${s.envoyPort}`);
      try {
        paths.set(`/${SERVICE_FQN.token}/Token`, 1);
        await expect(
          tokens.token(
            TokenRequest.fromPartial({
              client: { credential: { $case: 'clientSecret', value: { clientId: sample.clientId, clientSecret: plant('client_secret'), method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } },
              grant: { $case: 'clientCredentials', value: { scope: 'sample.read', resource: [] } },
            }),
          ),
        ).rejects.toThrow();
        const md = new Metadata();
        md.set('dpop', plant('dpop'));
        md.set('cookie', `sid=${plant('cookie')}`);
        paths.set(`/${SERVICE_FQN.client}/ListClients`, 1);
        await expect(clients.listClients(ListClientsRequest.fromPartial({}), { bearer: plant('authorization'), metadata: md })).rejects.toThrow();
      } finally {
        tokens.close();
        clients.close();
      }
      // Connect (JSON over HTTP/1.1) to the gateway's bridge, with a bearer that is no token.
      const connect = await send(`/${SERVICE_FQN.client}/ListClients`, {}, { authorization: `Bearer ${plant('authorization')}`, 'content-type': 'application/json' }, false);
      expect(connect.status).toBeGreaterThanOrEqual(400);
      await connect.arrayBuffer();

      // Review 9 F3: Envoy tags grpc.path (the raw :path) on any request with a gRPC content-type.
      // An OAuth URL sent with one, and a gRPC method path with a query over HTTP/2, which the edge
      // refuses (400) before a server's UNIMPLEMENTED message could repeat it into grpc.message.
      // (Envoy answers a gRPC request's local reply the gRPC way: HTTP 200, grpc-status 13 for a 400.)
      const grpcTyped = await send('/oauth2/authorize', { login_hint: plant('login_hint') }, { 'content-type': 'application/grpc' }, false);
      expect([grpcTyped.status, grpcTyped.headers.get('grpc-status')]).toEqual([200, '13']);
      await grpcTyped.arrayBuffer();
      const method = `/${SERVICE_FQN.client}/ListClients`;
      paths.set(method, (paths.get(method) ?? 0) + 1);
      const h2 = connectHttp2(s.url);
      try {
        const answer = await new Promise<[number, string]>((resolve, reject) => {
          const req = h2.request({ ':method': 'POST', ':path': `${method}?x=${plant('grpc_query')}`, 'content-type': 'application/grpc', te: 'trailers' });
          req.on('response', (h) => resolve([Number(h[':status']), String(h['grpc-status'])]));
          req.on('error', reject);
          req.resume();
          req.end(Buffer.alloc(5));
        });
        expect(answer).toEqual([200, '13']);
      } finally {
        h2.close();
      }
    }, 120_000);

    it("Envoy's spans show each request's path without its query string, with and without a caller's sampled traceparent", async () => {
      const url = (path: string) => `${s.url}${path}`;
      const shown = () => new Map([...paths.keys()].map((p) => [p, envoyServerSpans().filter((sp) => sp.attributes['http.url'] === url(p)).length]));
      let ok = false;
      for (let i = 0; i < 120 && !ok; i++) {
        await telemetry.forceFlush();
        const counts = shown();
        ok = [...paths].every(([p, n]) => (counts.get(p) ?? 0) >= n) && callerTraces.every((t) => envoyServerSpans().some((sp) => sp.traceId === t.traceId && sp.parentSpanId === t.parent));
        if (!ok) await new Promise((r) => setTimeout(r, 250));
      }
      // On failure: what Envoy did record as http.url.
      expect({ ok, urls: envoyServerSpans().map((sp) => sp.attributes['http.url']) }).toMatchObject({ ok: true });
      // A caller's sampled trace is continued (the request is traced), and its span shows the path alone too.
      for (const t of callerTraces) {
        const root = envoyServerSpans().find((sp) => sp.traceId === t.traceId && sp.parentSpanId === t.parent)!;
        expect(root.attributes['http.url']).toBe(url(t.path));
      }
      // Every http.url any Envoy span carries (the upstream and ext_authz spans too) has no query.
      const envoyUrls = receiver.spans.slice(from).filter((sp) => sp.service === 'authmesh-envoy').map((sp) => sp.attributes['http.url']).filter((u) => u !== undefined);
      expect(envoyUrls.length).toBeGreaterThan(0);
      for (const u of envoyUrls) expect(String(u)).not.toContain('?');
    });

    it('no exported byte of any process holds a value sent in a query string or a credential header (Authorization, Cookie, DPoP)', async () => {
      await telemetry.forceFlush();
      expect(sent.size).toBeGreaterThan(10);
      expect(receiver.bodies.length).toBeGreaterThan(0);
      // The raw OTLP bodies: span names, every attribute (a key set twice included), events, resources.
      const exported = Buffer.concat(receiver.bodies);
      const leaked = [...sent].filter(([, v]) => exported.includes(v)).map(([what]) => what);
      expect(leaked).toEqual([]);
      // Nor the real credentials used on the way (client secrets, access tokens, the admin's bearer), nor any part of a token.
      expect(planted.filter((v) => exported.includes(v))).toEqual([]);
      for (const jwt of planted.filter((p) => p.split('.').length === 3)) for (const part of jwt.split('.').slice(1)) expect(exported.includes(part)).toBe(false);
    });

    it("Envoy's access log lines for these requests hold no query string and no credential header", async () => {
      let lines: Record<string, unknown>[] = [];
      const want = [...paths.values()].reduce((a, b) => a + b, 0);
      // Flushed every 250 ms: bounded wait for this block's lines.
      for (let i = 0; i < 50; i++) {
        const text = readFileSync(s.accessLogPath, 'utf8').slice(logFrom);
        lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
        if (lines.filter((l) => paths.has(String(l.path))).length >= want) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const [p, n] of paths) expect(lines.filter((l) => l.path === p).length).toBeGreaterThanOrEqual(n);
      const text = JSON.stringify(lines);
      expect([...sent].filter(([, v]) => text.includes(v)).map(([what]) => what)).toEqual([]);
    });
  });
});
