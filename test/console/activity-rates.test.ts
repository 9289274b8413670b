// The console overview's rates (AuditService.GetActivityRates, services/activity-rates.ts) against
// a real Prometheus (Debian's package) scraping a real mesh and gateway on loopback: the figures
// after tokens were issued and refused, the admin scope checks, the SSRF attack (a caller cannot
// choose the URL or the query), and the "rates unavailable" states of a Prometheus that is down,
// slow, answering too much or nonsense.
//
// Skipped only when prometheus is missing and AUTHMESH_REQUIRE_STACK is unset (CI sets it, and
// installs the package with scripts/prometheus.sh install).
import { credentials, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityRatesState, GetActivityRatesResponse } from '../../gen/ts/authmesh/audit/v1/audit.js';
import { ClientType, CreateClientRequest, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { ACTIVITY_QUERIES, createActivityRates, PROMETHEUS_MAX_BYTES, RATE_WINDOW_SECONDS, RATES_CACHE_MS } from '../../services/activity-rates.js';
import { loadConfig } from '../../services/core/config/index.js';
import { startMetricsListener, type MetricsListener } from '../../services/core/metrics/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { freePort } from '../support/ports.js';
import { eventually, prometheusSkipReason, startTestPrometheus, type TestPrometheus } from '../support/prometheus.js';

const skip = prometheusSkipReason();
if (skip) console.warn(`activity-rates.test.ts skipped: ${skip}`);

const RATES_PATH = '/authmesh.audit.v1.AuditService/GetActivityRates';
/** How long Prometheus may take to show what the test did (its scrape interval is 1 s). */
const SCRAPE_WAIT_MS = 60_000;

/** A loopback HTTP server that records every request's URL and answers with `handler`. */
async function recordingServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
const closeServer = (s: Server | undefined) =>
  new Promise<void>((r) => {
    if (!s) return r();
    s.close(() => r());
    s.closeAllConnections();
  });

describe('config: AUTHMESH_CONSOLE_PROMETHEUS_URL', () => {
  const base = {};
  it.each(['http://127.0.0.1:9090', 'https://prometheus.example.com/prom/'])('accepts %s', (url) => {
    expect(loadConfig({ ...base, AUTHMESH_CONSOLE_PROMETHEUS_URL: url }).consolePrometheusUrl).toBe(url.replace(/\/$/, ''));
  });
  it('is off when unset', () => {
    expect(loadConfig(base).consolePrometheusUrl).toBeUndefined();
  });
  it.each(['ftp://127.0.0.1:9090', 'file:///etc/passwd', '127.0.0.1:9090', 'http://user:secret@127.0.0.1:9090', 'http://127.0.0.1:9090/?query=up', 'http://127.0.0.1:9090/#x'])(
    'refuses %s at start, without echoing it (it may hold a secret)',
    (url) => {
      expect(() => loadConfig({ ...base, AUTHMESH_CONSOLE_PROMETHEUS_URL: url })).toThrow(/AUTHMESH_CONSOLE_PROMETHEUS_URL: expected an absolute http or https URL/);
      try {
        loadConfig({ ...base, AUTHMESH_CONSOLE_PROMETHEUS_URL: url });
      } catch (err) {
        expect(String(err)).not.toContain('secret');
      }
    },
  );
});

describe('rates unavailable: a Prometheus that is not there or misbehaves gives a state, not an error', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await closeServer(s);
  });

  it('not configured', async () => {
    const res = await createActivityRates(undefined).read();
    expect(res.state).toBe(ActivityRatesState.ACTIVITY_RATES_STATE_NOT_CONFIGURED);
    expect(res.unavailableReason).toMatch(/AUTHMESH_CONSOLE_PROMETHEUS_URL/);
  });

  it('prometheus_down_rates_unavailable: nothing listens at the URL', async () => {
    const res = await createActivityRates(`http://127.0.0.1:${await freePort()}`).read();
    expect(res).toMatchObject({ state: ActivityRatesState.ACTIVITY_RATES_STATE_UNAVAILABLE, unavailableReason: 'Prometheus could not be reached', tokensIssuedPerSecond: 0 });
  });

  it('prometheus_slow_rates_unavailable: a Prometheus that never answers is given up on', async () => {
    const hang = await recordingServer(() => undefined);
    servers.push(hang.server);
    const res = await createActivityRates(hang.url).read();
    expect(res).toMatchObject({ state: ActivityRatesState.ACTIVITY_RATES_STATE_UNAVAILABLE, unavailableReason: 'Prometheus did not answer within 2 s' });
  });

  it('prometheus_oversized_answer_refused: an answer beyond the cap is not read', async () => {
    // A valid-looking answer that never ends: streamed past the cap, without content-length.
    const flood = await recordingServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"success","data":{"resultType":"vector","result":[');
      const chunk = `${'{"metric":{"grant_type":"x"},"value":[1,"1"]},'.repeat(1000)}`;
      let sent = 0;
      const more = () => {
        while (sent < 2 * PROMETHEUS_MAX_BYTES && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end(']}}');
      };
      more();
    });
    servers.push(flood.server);
    const res = await createActivityRates(flood.url).read();
    expect(res).toMatchObject({ state: ActivityRatesState.ACTIVITY_RATES_STATE_UNAVAILABLE, unavailableReason: `Prometheus's answer is larger than ${PROMETHEUS_MAX_BYTES / 1024} KiB` });
  });

  it.each([
    ['an error status', 503, '{"status":"error"}', 'Prometheus answered HTTP 503'],
    ['not JSON', 200, '<html>login</html>', "Prometheus's answer is not JSON"],
    ['an error result', 200, '{"status":"error","errorType":"bad_data","error":"parse error"}', "Prometheus's answer is not a query result"],
    ['a redirect (never followed)', 302, '', "Prometheus could not be reached"],
  ])('prometheus_nonsense_rates_unavailable: %s', async (_what, status, body, reason) => {
    const odd = await recordingServer((_req, res) => {
      res.writeHead(status, status === 302 ? { location: 'http://169.254.169.254/latest/meta-data/' } : { 'content-type': 'application/json' });
      res.end(body);
    });
    servers.push(odd.server);
    const res = await createActivityRates(odd.url).read();
    expect(res).toMatchObject({ state: ActivityRatesState.ACTIVITY_RATES_STATE_UNAVAILABLE, unavailableReason: reason });
    // Only the fixed queries were asked, at the configured origin.
    for (const u of odd.seen) expect(Object.values(ACTIVITY_QUERIES)).toContain(new URL(u, odd.url).searchParams.get('query'));
  });

  it('one answer serves every caller for a few seconds: callers cannot multiply the queries', async () => {
    const counted = await recordingServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
    });
    servers.push(counted.server);
    let clock = 1_000_000;
    const rates = createActivityRates(counted.url, () => clock);
    await Promise.all(Array.from({ length: 20 }, () => rates.read()));
    expect(counted.seen).toHaveLength(Object.keys(ACTIVITY_QUERIES).length);
    clock += RATES_CACHE_MS;
    const again = await rates.read();
    expect(again.state).toBe(ActivityRatesState.ACTIVITY_RATES_STATE_AVAILABLE);
    expect(counted.seen).toHaveLength(2 * Object.keys(ACTIVITY_QUERIES).length);
  });
});

describe.skipIf(skip !== undefined)('GetActivityRates against a real Prometheus scraping the mesh', () => {
  let t: TestGateway;
  let prometheus: TestPrometheus;
  let metrics: MetricsListener;
  /** Between authmesh and Prometheus: records what authmesh asked, forwards it unchanged. */
  let recorder: Awaited<ReturnType<typeof recordingServer>>;
  /** Where an attacker would like the server to send a request. */
  let attacker: Awaited<ReturnType<typeof recordingServer>>;
  let client = { id: '', secret: '' };
  let promPort = 0;

  const token = (secret: string) =>
    fetch(`${t.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
  const rates = (authorization: string | undefined, body = '{}') =>
    fetch(`${t.baseUrl}${RATES_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });

  beforeAll(async () => {
    promPort = await freePort();
    recorder = await recordingServer((req, res) => {
      void fetch(`http://127.0.0.1:${promPort}${req.url}`, { signal: AbortSignal.timeout(5_000) }).then(
        async (upstream) => {
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await upstream.arrayBuffer()));
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
    attacker = await recordingServer((_req, res) => res.end('{}'));
    t = await startTestGateway({ AUTHMESH_CONSOLE_PROMETHEUS_URL: recorder.url });
    metrics = await startMetricsListener(t.mesh.deps.metrics, '127.0.0.1', 0);
    prometheus = await startTestPrometheus([`127.0.0.1:${metrics.port}`], promPort);
    const created = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({ client: { clientName: 'rates', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] } }),
      { bearer: await t.bearer() },
    );
    client = { id: created.client!.clientId, secret: created.clientSecret };
    // rate() needs two samples of a series: the series exist (one token, one refusal) before
    // Prometheus's first samples, then more of each after them.
    expect((await token(client.secret)).status).toBe(200);
    expect((await token('wrong-secret')).status).toBe(401);
    await eventually('the token endpoint series scraped', SCRAPE_WAIT_MS, async () => {
      const q = encodeURIComponent('count(authmesh_http_server_requests_total{route="/oauth2/token"}) >= 2 and count(authmesh_tokens_issued_total) >= 1');
      const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=${q}`)).json()) as { data: { result: unknown[] } };
      return body.data.result.length > 0 ? true : undefined;
    });
    for (let i = 0; i < 6; i++) expect((await token(client.secret)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await token('wrong-secret')).status).toBe(401);
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    await metrics?.close();
    await t?.close();
    await closeServer(recorder?.server);
    await closeServer(attacker?.server);
  });

  it('gives the token rate (total and by grant type) and the token endpoint error share, read from Prometheus', async () => {
    const read = await eventually('rates above zero', SCRAPE_WAIT_MS, async () => {
      const res = await rates(`Bearer ${await t.bearer({ scope: ['authmesh.read'] })}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      const r = GetActivityRatesResponse.fromJSON(body);
      return r.state === ActivityRatesState.ACTIVITY_RATES_STATE_AVAILABLE && r.tokensIssuedPerSecond > 0 && r.tokenEndpointClientErrorRatio > 0 ? r : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- prometheus log:\n${prometheus.log()}`);
    });
    expect(read.windowSeconds).toBe(RATE_WINDOW_SECONDS);
    expect(read.tokensIssuedByGrantType.map((g) => g.grantType)).toContain('client_credentials');
    expect(read.tokensIssuedByGrantType.find((g) => g.grantType === 'client_credentials')!.perSecond).toBeGreaterThan(0);
    expect(read.tokenEndpointResponsesPerSecond).toBeGreaterThan(0);
    // Refused client authentications are 401s: a share of the answers, strictly between 0 and 1.
    expect(read.tokenEndpointClientErrorRatio).toBeGreaterThan(0);
    expect(read.tokenEndpointClientErrorRatio).toBeLessThan(1);
    expect(read.tokenEndpointServerErrorRatio).toBe(0);
    expect(read.rpcRequestsPerSecond).toBeGreaterThan(0);
    expect(read.rpcErrorRatio).toBeGreaterThanOrEqual(0);
    expect(read.evaluatedAt!.getTime()).toBeGreaterThan(0);
  });

  it('admin_rates_scope: needs authmesh.read or authmesh.admin, for this issuer, not revoked', async () => {
    expect((await rates(`Bearer ${await t.bearer({ scope: ['authmesh.admin'] })}`)).status).toBe(200);
    expect((await rates(undefined)).status).toBe(401);
    const weak = await rates(`Bearer ${await t.bearer({ scope: ['read', 'openid'] })}`);
    expect(weak.status).toBe(403);
    expect(((await weak.json()) as { code: string }).code).toBe('permission_denied');
    // A token for another audience (RFC 9068 §4: aud must name this server).
    expect((await rates(`Bearer ${await t.bearer({ scope: ['authmesh.admin'], audience: 'https://api.example.com' })}`)).status).toBe(401);
    // A token from the token endpoint works until it is revoked (RFC 7009); then 401.
    const reader = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({ client: { clientName: 'rates reader', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['authmesh.read'] } }),
      { bearer: await t.bearer() },
    );
    const basic = `Basic ${Buffer.from(`${reader.client!.clientId}:${reader.clientSecret}`).toString('base64')}`;
    const issued = await fetch(`${t.baseUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body: 'grant_type=client_credentials&scope=authmesh.read' });
    const { access_token: readerToken } = (await issued.json()) as { access_token: string };
    expect((await rates(`Bearer ${readerToken}`)).status).toBe(200);
    const revoked = await fetch(`${t.baseUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body: new URLSearchParams({ token: readerToken }).toString() });
    expect(revoked.status).toBe(200);
    expect((await rates(`Bearer ${readerToken}`)).status).toBe(401);
    // DPoP binding is the same interceptor's check as every admin RPC's (services/core/rpc):
    // GetActivityRates is registered with ADMIN_READ like ListAuditEvents.
  });

  it('rates_ssrf_no_caller_url_or_query: nothing a caller sends reaches Prometheus or any other address', async () => {
    const bearer = await t.bearer({ scope: ['authmesh.admin'] });
    const before = recorder.seen.length;
    // Over Connect JSON: fields the request does not have are refused before any query.
    const evil = JSON.stringify({ url: attacker.url, query: 'up', prometheusUrl: attacker.url });
    const refused = await rates(`Bearer ${bearer}`, evil);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe('invalid_argument');
    // Over gRPC, unknown fields in the binary message (field 1 a URL, field 2 a query): refused too.
    const message = new BinaryWriter().tag(1, 2).string(`${attacker.url}/api/v1/query`).tag(2, 2).string('count({__name__=~".+"})').tag(15, 2).string(attacker.url).finish();
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${bearer}`);
    const call = (bytes: Uint8Array) =>
      new Promise<GetActivityRatesResponse>((resolve, reject) => {
        const grpc = new GrpcClient(`127.0.0.1:${t.mesh.port}`, credentials.createInsecure());
        grpc.makeUnaryRequest(RATES_PATH, () => Buffer.from(bytes), (b: Buffer) => GetActivityRatesResponse.decode(b), {}, metadata, (err, res) => {
          grpc.close();
          return err ? reject(err) : resolve(res!);
        });
      });
    await expect(call(message)).rejects.toMatchObject({ code: 3 });
    // Past the shared answer's lifetime, a plain call makes the server ask Prometheus again.
    await new Promise((r) => setTimeout(r, RATES_CACHE_MS));
    expect((await call(new Uint8Array())).state).toBe(ActivityRatesState.ACTIVITY_RATES_STATE_AVAILABLE);
    // The attacker's server was never called; Prometheus was asked the fixed queries only.
    expect(attacker.seen).toEqual([]);
    const asked = recorder.seen.slice(before);
    expect(asked.length).toBeGreaterThan(0);
    for (const u of asked) {
      const parsed = new URL(u, recorder.url);
      expect(parsed.pathname).toBe('/api/v1/query');
      expect([...parsed.searchParams.keys()]).toEqual(['query']);
      expect(Object.values(ACTIVITY_QUERIES)).toContain(parsed.searchParams.get('query'));
    }
  });
});
