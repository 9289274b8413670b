// The metrics of an embedded mesh and gateway, scraped from the real listener after real calls:
// the RPC and HTTP families carry the right labels; label values come only from what the server
// registered (an unknown gRPC method or HTTP path adds none); and the exposition never carries a
// secret, a token, or a client id an unauthenticated caller sent.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { credentials, Client as GrpcClient, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../../test/support/gateway.js';
import { createMetrics, startMetricsListener, type MetricsListener } from './index.js';

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
// Skipped only on a machine without it; CI (AUTHMESH_REQUIRE_STACK=1) installs it and must run the check.
if (!promtool && process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error('AUTHMESH_REQUIRE_STACK=1 but promtool is missing: run scripts/prometheus.sh install');

/** The sample value of the series `name{labels}` (labels exactly as exposed, in order), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics of an embedded mesh and gateway', () => {
  let t: TestGateway;
  let listener: MetricsListener;
  let raw: GrpcClient;
  // What an unauthenticated caller sends: it must never become a label value.
  const marker = `probe${randomBytes(8).toString('hex')}`;
  const markerSecret = `sekret${randomBytes(8).toString('hex')}`;
  let accessToken = '';

  const scrape = async () => {
    const res = await fetch(listener.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    t = await startTestGateway();
    listener = await startMetricsListener(t.mesh.deps.metrics, '127.0.0.1', 0);
    raw = new GrpcClient(`127.0.0.1:${t.mesh.port}`, credentials.createInsecure());

    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await fetch(`${t.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(t.config.adminClientId, t.config.adminClientSecret!) },
      body: 'grant_type=client_credentials&scope=authmesh.admin',
    });
    expect(ok.status).toBe(200);
    accessToken = ((await ok.json()) as { access_token: string }).access_token;
    // An unknown client (its id and secret chosen by the caller), in the body and in Basic.
    const bad = await fetch(`${t.baseUrl}/oauth2/token`, { method: 'POST', headers: form, body: `grant_type=client_credentials&client_id=${marker}&client_secret=${markerSecret}` });
    expect(bad.status).toBe(401);
    const badBasic = await fetch(`${t.baseUrl}/oauth2/token`, { method: 'POST', headers: { ...form, authorization: basic(marker, markerSecret) }, body: 'grant_type=client_credentials' });
    expect(badBasic.status).toBe(401);
    // A path no route serves, naming the marker.
    expect((await fetch(`${t.baseUrl}/oauth2/${marker}`)).status).toBe(404);
    // A gRPC method no service defines, on a real service and on an unknown one.
    for (const path of [`/authmesh.token.v1.TokenService/${marker}`, `/authmesh.${marker}.v1.Nope/Token`]) {
      const err = await new Promise<ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e)),
      );
      expect(err?.code).toBe(status.UNIMPLEMENTED);
    }
  }, 90_000);

  afterAll(async () => {
    raw?.close();
    await listener?.close();
    await t?.close();
  });

  it('counts each RPC by service, method and gRPC status code name, with a latency histogram in seconds', async () => {
    const text = await scrape();
    const token = 'service="authmesh.token.v1.TokenService",method="Token"';
    expect(sample(text, `authmesh_rpc_server_requests_total{${token},code="OK"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `authmesh_rpc_server_requests_total{${token},code="UNAUTHENTICATED"}`)).toBeGreaterThanOrEqual(2);
    expect(sample(text, `authmesh_rpc_server_duration_seconds_count{${token},code="OK"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `authmesh_rpc_server_duration_seconds_bucket{le="+Inf",${token},code="OK"}`)).toBeGreaterThanOrEqual(1);
  });

  it('counts each HTTP request by route template, method, status code and RFC error code', async () => {
    const text = await scrape();
    expect(sample(text, 'authmesh_http_server_requests_total{route="/oauth2/token",method="POST",status_code="200",error="none"}')).toBe(1);
    expect(sample(text, 'authmesh_http_server_requests_total{route="/oauth2/token",method="POST",status_code="401",error="invalid_client"}')).toBe(2);
    expect(sample(text, 'authmesh_http_server_requests_total{route="unmatched",method="GET",status_code="404",error="not_found"}')).toBe(1);
    expect(sample(text, 'authmesh_http_server_duration_seconds_count{route="/oauth2/token",method="POST",status_code="200",error="none"}')).toBe(1);
  });

  it('counts issued tokens by grant type and client type', async () => {
    const text = await scrape();
    expect(sample(text, 'authmesh_tokens_issued_total{grant_type="client_credentials",client_type="confidential"}')).toBe(1);
  });

  it('measures the store, the grid and the read-through caches the calls went through', async () => {
    const text = await scrape();
    expect(text).toMatch(/^authmesh_store_operation_duration_seconds_count\{operation="clients\.\w+"\} [1-9]/m);
    expect(text).toMatch(/^authmesh_grid_operation_duration_seconds_count\{map="cache:clients",operation="get"\} [1-9]/m);
    expect(sample(text, 'authmesh_cache_lookups_total{cache="clients",result="miss"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'authmesh_audit_queue_depth_events')).toBeGreaterThanOrEqual(0);
    const age = sample(text, 'authmesh_signing_key_age_seconds');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(age)).toBe(true);
  });

  it('keeps label values bounded: an unknown gRPC method or HTTP path adds none', async () => {
    const text = await scrape();
    expect(text).not.toContain(marker);
    const rpcMethods = new Set([...text.matchAll(/^authmesh_rpc_server_requests_total\{service="([^"]+)",method="([^"]+)"/gm)].map((m) => `/${m[1]}/${m[2]}`));
    const registered = rpcMethodsServed(t);
    for (const m of rpcMethods) expect(registered.has(m), m).toBe(true);
    const routes = new Set([...text.matchAll(/^authmesh_http_server_requests_total\{route="([^"]+)"/gm)].map((m) => m[1]));
    expect([...routes].sort()).toEqual(['/oauth2/token', 'unmatched']);
  });

  it('never exposes a client secret, a token, or a client id sent by an unauthenticated caller', async () => {
    const text = await scrape();
    for (const secret of [marker, markerSecret, t.config.adminClientSecret!, accessToken, accessToken.split('.')[1]!, t.config.meshSecret!]) {
      expect(secret.length).toBeGreaterThan(8);
      expect(text).not.toContain(secret);
    }
    // Nor the authenticated admin client's id: no family has a client id label at all.
    expect(text).not.toContain(t.config.adminClientId);
    expect(text).not.toMatch(/client_id=/);
  });

  it.skipIf(!promtool)('passes promtool check metrics (names, units, HELP, _total counters)', async () => {
    const text = await scrape();
    const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`).toBe('');
    expect(res.status).toBe(0);
  });

  it('the listener answers only GET and HEAD /metrics, never reading a body', async () => {
    const base = listener.url.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/extra`)).status).toBe(404);
    const post = await fetch(listener.url, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(listener.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    // Still serving after all that.
    expect(await scrape()).toContain('authmesh_rpc_server_requests_total');
  });
});

/** Every method path the mesh serves, from its registered definitions. */
function rpcMethodsServed(t: TestGateway): Set<string> {
  const out = new Set<string>();
  for (const m of Object.values(t.mesh.modules)) {
    for (const reg of [m.registration, ...(m.extra ?? [])]) {
      for (const def of Object.values(reg.definition as Record<string, { path: string }>)) out.add(def.path);
    }
  }
  return out;
}

describe('Metrics registries', () => {
  it('are one per process object: two in one process register the same families without colliding', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.tokenIssued('client_credentials', 'confidential');
    expect((await a.exposition()).body).toMatch(/^authmesh_tokens_issued_total\{grant_type="client_credentials",client_type="confidential"\} 1$/m);
    expect((await b.exposition()).body).not.toMatch(/^authmesh_tokens_issued_total\{/m);
  });

  it('report an in-process cache that keeps its own counts (the verified-token LRU) as lookups, read at each scrape', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const counts = { hits: 3, misses: 1 };
    m.addCacheStats('verified-tokens', () => counts);
    const first = (await m.exposition()).body;
    expect(first).toContain('authmesh_cache_lookups_total{cache="verified-tokens",result="hit"} 3');
    expect(first).toContain('authmesh_cache_lookups_total{cache="verified-tokens",result="miss"} 1');
    counts.hits = 10;
    const second = (await m.exposition()).body;
    expect(second).toContain('authmesh_cache_lookups_total{cache="verified-tokens",result="hit"} 10');
    expect(second).toContain('authmesh_cache_lookups_total{cache="verified-tokens",result="miss"} 1');
  });

  it('bound every caller-influenced label: unknown grant types, error codes and login reasons become "other"', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.tokenIssued('urn:example:made-up', 'weird');
    m.observeHttp('/oauth2/token', 'POST', 400, 'made_up_error', 0.001);
    m.auditEvent({ type: 'login.failure', details: { reason: 'attacker-chosen' } });
    m.auditEvent({ type: 'login.failure', details: { reason: 'bad_password' } });
    m.auditEvent({ type: 'login.locked' });
    m.auditEvent({ type: 'login.source_throttled' });
    m.auditEvent({ type: 'refresh.reuse_detected', details: { familyId: 'f' } });
    m.auditEvent({ type: 'code.replay_detected', details: { grantId: 'g' } });
    const text = (await m.exposition()).body;
    expect(text).toContain('authmesh_tokens_issued_total{grant_type="other",client_type="other"} 1');
    expect(text).toContain('authmesh_http_server_requests_total{route="/oauth2/token",method="POST",status_code="400",error="other"} 1');
    expect(text).toContain('authmesh_login_failures_total{reason="other"} 1');
    expect(text).toContain('authmesh_login_failures_total{reason="bad_password"} 1');
    expect(text).toContain('authmesh_login_lockouts_total{scope="account"} 1');
    expect(text).toContain('authmesh_login_lockouts_total{scope="source"} 1');
    expect(text).toContain('authmesh_refresh_token_reuse_detected_total 1');
    expect(text).toContain('authmesh_authorization_code_replays_total 1');
    expect(text).not.toMatch(/attacker-chosen|made-up|made_up_error|weird/);
  });
});
