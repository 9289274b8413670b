// Issue 11: a bounded fuzz suite of the gRPC port. Every RPC of the descriptor set (the seven
// services, health, reflection, ext_authz Check) gets mutated valid messages, broken envelopes
// and bad metadata over one long-lived HTTP/2 connection; malformed HTTP/2 frames go on fresh
// TCP connections. Asserts: no UNKNOWN/INTERNAL/DATA_LOSS status and no HTTP 5xx (other than
// known classes waiting for another branch, known-failures.ts), no hang, no crash, valid calls
// still succeed on the same connection, on a fresh one and through the gateway, the heap returns
// near its start, no secret in any log line.
import http from 'node:http';
import type http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, fromJson, toBinary } from '@bufbuild/protobuf';
import { Client, ClientType, CreateClientRequest, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { basicAuth, createFixtures, ORDERS, type Fixtures } from '../../gateway/routes/route-test-support.js';
import { MESH_METADATA_KEY } from '../../services/core/rpc/index.js';
import { callOn, frame, openSession, PREFACE, sendRawFrames, type GrpcAnswer, type GrpcCall } from './grpc-client.js';
import { captureConsole, Findings, GRPC_SERVER_FAULTS, heapAfterGc, runBounded, secretsInLogs, startFuzzServer, type FuzzServer } from './harness.js';
import { descriptorRegistry, methodPath, servicesOf } from './messages.js';
import { fuzzProfile, Rng } from './prng.js';
import { envelope, framedBody, messagePayload } from './rpc-mutators.js';

const BUDGETS = {
  short: { perRpc: 20, frames: 120, timeMs: 40_000, framesTimeMs: 15_000, concurrency: 6 },
  full: { perRpc: 500, frames: 3000, timeMs: 480_000, framesTimeMs: 180_000, concurrency: 8 },
};
/** Test timeouts follow the profile: the time budget plus room for in-flight cases and checks. */
const BUDGET = BUDGETS[fuzzProfile()];
const SLACK_MS = 120_000;
const CALL_TIMEOUT_MS = 30_000;
const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** Every service the gRPC port serves, by descriptor-set prefix. */
const SERVED = ['authmesh.', 'grpc.health.v1.', 'grpc.reflection.v1', 'envoy.service.auth.v3.'];

/** HPACK literal header field without indexing, new name (RFC 7541 §6.2.2), short strings only. */
function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  if (n.length > 126 || v.length > 126) throw new Error('hpackLiteral: short strings only');
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

describe('fuzz: the gRPC port', () => {
  let f: FuzzServer;
  let fx: Fixtures;
  let admin: string;
  let meshSecret: string;
  let address: string;
  let shared: http2.ClientHttp2Session;
  let probeTokenRequest: Buffer;
  /** An access token for the orders API (audience ORDERS, scope orders.read), for ext_authz Check. */
  let ordersToken: string;
  let restoreConsole: () => void;
  let heapBefore = 0;
  let budget: (typeof BUDGETS)['short'];
  const secrets = new Set<string>();
  const canary = `canary-secret-${randomBytes(12).toString('hex')}`;

  const baseHeaders = (path: string): Record<string, string> => ({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });

  /** A valid client_credentials Token call for the probe client: must succeed before and after. */
  const probeCall = (session: http2.ClientHttp2Session) =>
    callOn(session, { headers: { ...baseHeaders('/authmesh.token.v1.TokenService/Token') }, body: envelope(0, probeTokenRequest) }, CALL_TIMEOUT_MS);
  const healthCall = (session: http2.ClientHttp2Session) => callOn(session, { headers: baseHeaders('/grpc.health.v1.Health/Check'), body: envelope(0, Buffer.alloc(0)) }, CALL_TIMEOUT_MS);

  beforeAll(async () => {
    f = await startFuzzServer();
    budget = BUDGETS[f.profile];
    admin = await f.t.bearer();
    meshSecret = f.t.config.meshSecret ?? '';
    fx = await createFixtures(f.t);
    const probe = await f.t.anon.client.createClient(
      CreateClientRequest.fromPartial({ client: Client.fromPartial({ clientName: 'probe', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] }) }),
      { bearer: admin },
    );
    for (const s of [admin, meshSecret, fx.basic.secret, fx.post.secret, probe.clientSecret, f.t.config.adminClientSecret ?? '', canary]) secrets.add(s);
    // The probe's Token request, encoded from the descriptor set like every fuzzed message.
    const tokenRequest = descriptorRegistry().getMessage('authmesh.token.v1.TokenRequest')!;
    const credsDesc = descriptorRegistry().getMessage('authmesh.client.v1.ClientCredentials')!;
    const secretDesc = descriptorRegistry().getMessage('authmesh.client.v1.ClientSecret')!;
    const grantDesc = descriptorRegistry().getMessage('authmesh.token.v1.ClientCredentialsGrant')!;
    const msg = create(tokenRequest, {
      client: create(credsDesc, { credential: { case: 'clientSecret', value: create(secretDesc, { clientId: probe.client!.clientId, clientSecret: probe.clientSecret, method: 1 }) } }),
      grant: { case: 'clientCredentials', value: create(grantDesc, { scope: 'read' }) },
    } as never);
    probeTokenRequest = Buffer.from(toBinary(tokenRequest, msg));
    const tokenRes = await fetch(`${f.t.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(fx.basic.id, fx.basic.secret) },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders.read', resource: ORDERS }),
    });
    ordersToken = ((await tokenRes.json()) as { access_token?: string }).access_token ?? '';
    expect(ordersToken, 'fixture: an orders token').not.toBe('');
    secrets.add(ordersToken);
    address = `http://127.0.0.1:${f.t.mesh.port}`;
    shared = openSession(address);
    for (let i = 0; i < 5; i++) {
      const a = await probeCall(shared);
      expect(a.grpcStatus, a.grpcMessage).toBe(0);
    }
    heapBefore = await heapAfterGc();
    restoreConsole = captureConsole(f.logs);
  }, 180_000);

  afterAll(async () => {
    restoreConsole?.();
    shared?.close();
    await f?.close();
  });

  const judge = (fs: Findings, route: string, label: string, index: number, call: GrpcCall, a: GrpcAnswer, streaming: boolean) => {
    if (a.httpStatus > 0) fs.answered++;
    else fs.noResponse++;
    fs.count(`grpc ${label.split('+')[0]} http=${a.httpStatus} grpc=${a.grpcStatus ?? '-'}${a.error ? ` ${a.error}` : ''}`);
    // Known secrets (the mesh secret, the admin token) never printed in a failure report.
    const mask = (v: string) => [...secrets].filter((x) => x.length >= 12 && !x.startsWith('canary-')).reduce((acc, x) => acc.split(x).join('<secret>'), v);
    const input = {
      headers: Object.fromEntries(Object.entries(call.headers).map(([k, v]) => [k, mask(String(v).length > 120 ? `${String(v).slice(0, 120)}…(${String(v).length})` : String(v))])),
      body: call.body.subarray(0, 300).toString('base64') + (call.body.length > 300 ? `…(${call.body.length} bytes)` : ''),
    };
    const base = { suite: 'grpc', route, caseLabel: label, index, input };
    if (a.grpcStatus !== undefined && GRPC_SERVER_FAULTS[a.grpcStatus] !== undefined) fs.add({ ...base, status: `grpc ${GRPC_SERVER_FAULTS[a.grpcStatus]}`, detail: a.grpcMessage });
    if (a.httpStatus >= 500) fs.add({ ...base, status: `HTTP ${a.httpStatus}`, detail: a.grpcMessage });
    // Server-streaming and bidi calls (health Watch) may rightly stay open: no answer is no defect.
    if (a.timedOut && !streaming) fs.add({ ...base, status: 'timeout', detail: '' });
  };

  // ext_authz Check seeded like Envoy sends it: a real orders token, a route path (valid,
  // unusual or malformed), and the route's audience or scope in context_extensions.
  let lastCheckPath = '';
  const checkPayload = (rng: Rng): { payload: Buffer; label: string } => {
    const path = rng.pick(['/orders/1', '/orders//x', '//orders/1', '/orders/1/', '/orders/%zz', '/orders/%00', '/orders/\u00ff', 'orders/1', '', '/', '/orders/1?x=1#f', '/orders/../admin', `/orders/${'a'.repeat(5000)}`, '/orders/{id}', '/orders/*', '/ORDERS/1']);
    lastCheckPath = path.slice(0, 80);
    const extensions = rng.pick<Record<string, string>>([{ audience: ORDERS }, { audience: ORDERS, scope: 'orders.read' }, { scope: 'orders.read' }, { service_id: rng.pick(['', 'svc_nope', '%', 'a'.repeat(300)]) }, { audience: rng.pick(['', 'https://nope.example', '%zz', 'orders']) }, {}]);
    const authorization = rng.pick([`Bearer ${ordersToken}`, `Bearer ${ordersToken}`, `bearer ${ordersToken}`, `Bearer ${ordersToken}x`, 'Bearer', `Basic ${ordersToken}`]);
    const desc = descriptorRegistry().getMessage('envoy.service.auth.v3.CheckRequest')!;
    const msg = fromJson(
      desc,
      { attributes: { request: { http: { method: rng.pick(['GET', 'GET', 'POST', 'get', '', 'BREW']), path, host: 'orders.example.com', headers: { authorization } } }, contextExtensions: extensions } },
      { registry: descriptorRegistry() },
    );
    return { payload: Buffer.from(toBinary(desc, msg)), label: 'msg:seeded-check' };
  };

  /**
   * ext_authz answers with gRPC OK and its verdict inside CheckResponse: a status UNAVAILABLE
   * (denied 503) while every service is up means an input made the check throw.
   */
  const judgeCheck = (fs: Findings, label: string, index: number, call: GrpcCall, a: GrpcAnswer, path: string) => {
    if (a.body.length < 5) return;
    const len = a.body.readUInt32BE(1);
    try {
      const res = fromBinary(descriptorRegistry().getMessage('envoy.service.auth.v3.CheckResponse')!, a.body.subarray(5, 5 + len)) as unknown as { status?: { code: number; message: string } };
      const code = res.status?.code ?? 0;
      if (code === 14 || GRPC_SERVER_FAULTS[code] !== undefined) {
        fs.add({ suite: 'grpc', route: CHECK_PATH, caseLabel: label, index, input: { path, body: call.body.subarray(0, 200).toString('base64') }, status: `ext_authz status ${code === 14 ? 'UNAVAILABLE (denied 503)' : GRPC_SERVER_FAULTS[code]}`, detail: `path=${JSON.stringify(path)} ${res.status?.message ?? ''}` });
      }
    } catch (err) {
      fs.add({ suite: 'grpc', route: CHECK_PATH, caseLabel: label, index, input: path, status: 'ext_authz undecodable response', detail: (err as Error).message });
    }
  };

  it('enumerates every RPC the port serves from the descriptor set', () => {
    const paths = servicesOf(SERVED).flatMap((s) => s.methods.map(methodPath));
    for (const p of ['/authmesh.token.v1.TokenService/Token', '/grpc.health.v1.Health/Check', '/envoy.service.auth.v3.Authorization/Check', '/authmesh.client.v1.ClientService/AuthenticateClient']) expect(paths).toContain(p);
    expect(paths.length).toBeGreaterThan(40);
  });

  it('answers mutated messages, broken envelopes and bad metadata on every RPC without a server fault, a 5xx or a hang', async () => {
    const fs = new Findings(f.seed);
    const methods = servicesOf(SERVED).flatMap((s) => s.methods);
    const pool = { known: [fx.basic.id, fx.pub, fx.userId, canary, 'read', 'authmesh.admin', admin] };
    // ext_authz Check sits in front of every protected route: three times the cases.
    const cases = methods.flatMap((m) => Array.from({ length: budget.perRpc * (methodPath(m) === CHECK_PATH ? 3 : 1) }, (_, i) => ({ m, i }))).sort((a, b) => a.i - b.i);
    await runBounded({ count: cases.length, timeMs: budget.timeMs, concurrency: budget.concurrency }, async (n) => {
      const { m, i } = cases[n]!;
      const rng = Rng.forCase(f.seed, `grpc ${methodPath(m)}`, i);
      const labels: string[] = [];
      let path = methodPath(m);
      if (rng.chance(0.08)) {
        path = rng.pick([`/${m.parent.typeName}/NoSuchMethod`, `/authmesh.nosuch.v1.Nope/${m.name}`, `/${m.parent.typeName}`, '/', '//', `${methodPath(m)}/extra`, `/${m.parent.typeName}/${m.name.toLowerCase()}`, `/${'a'.repeat(3000)}/b`, methodPath(m).replace('/', '%2F')]);
        labels.push('path');
      }
      const headers: Record<string, string> = baseHeaders(path);
      // Credentials: the mesh secret reaches internal RPCs, an admin token the admin ones.
      const who = rng.int(10);
      if (who < 4) headers[MESH_METADATA_KEY] = meshSecret;
      else if (who < 8) headers.authorization = `Bearer ${admin}`;
      else if (who === 8) headers.authorization = rng.pick([`Bearer ${canary}`, 'Bearer', `Basic ${Buffer.from(`x:${canary}`).toString('base64')}`, `Bearer ${'e'.repeat(9000)}`]);
      else headers[MESH_METADATA_KEY] = rng.pick([canary, `${meshSecret}x`, '']);
      const h = rng.int(20);
      if (h === 0) {
        headers['content-type'] = rng.pick(['application/json', 'text/plain', 'application/grpc+json', 'application/grpc-web', 'application/grpcx', 'application/grpc; charset=\u00ff', '']);
        labels.push('content-type');
      } else if (h === 1) {
        delete headers.te;
        labels.push('no-te');
      } else if (h === 2) {
        headers['grpc-encoding'] = rng.pick(['gzip', 'x-unknown', 'identity', 'deflate', 'snappy']);
        labels.push('grpc-encoding');
      } else if (h === 3) {
        headers['grpc-timeout'] = rng.pick(['1n', '0S', 'abc', '99999999999H', '-1m', '1']);
        labels.push('grpc-timeout');
      } else if (h === 4) {
        headers['x-big'] = 'v'.repeat(rng.pick([8_000, 40_000]));
        labels.push('huge-metadata');
      } else if (h === 5) {
        headers['x-fuzz-bin'] = rng.pick(['!!!notbase64', '====', canary]);
        labels.push('bad-bin-metadata');
      } else if (h === 6) {
        headers[':method'] = rng.pick(['GET', 'PUT', 'DELETE']);
        labels.push('method');
      }
      const check = methodPath(m) === CHECK_PATH;
      const seeded = check && rng.chance(0.6);
      const { payload, label } = seeded ? checkPayload(rng) : messagePayload(rng, m, pool);
      // Envoy calls Check without credentials; a seeded Check carries none either.
      if (seeded) for (const k of [MESH_METADATA_KEY, 'authorization']) delete headers[k];
      const framed = seeded && rng.chance(0.7) ? { body: envelope(0, payload), label: 'frame:valid' } : framedBody(rng, payload);
      if (framed.encoding) headers['grpc-encoding'] = framed.encoding;
      labels.push(label, framed.label);
      const call: GrpcCall = { headers, body: framed.body, resetAfterWrite: rng.chance(0.03) };
      if (call.resetAfterWrite) labels.push('reset');
      const streaming = m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming';
      const session = rng.chance(0.9) ? shared : openSession(address);
      const a = await callOn(session, call, streaming ? 2_000 : CALL_TIMEOUT_MS);
      if (session !== shared) session.close();
      judge(fs, methodPath(m), labels.join('+'), i, call, a, streaming);
      if (check && a.grpcStatus === 0) judgeCheck(fs, labels.join('+'), i, call, a, seeded ? lastCheckPath : '(random message)');
    });
    fs.report('gRPC messages');
    expect(fs.unexpected()).toEqual([]);
  }, BUDGET.timeMs + SLACK_MS);

  it('survives malformed HTTP/2 frames on fresh connections (no :path, bad HPACK, bad SETTINGS, oversized frames, floods)', async () => {
    const port = f.t.mesh.port;
    let closedByServer = 0;
    const ran = await runBounded({ count: budget.frames, timeMs: budget.framesTimeMs, concurrency: budget.concurrency }, async (i) => {
      const rng = Rng.forCase(f.seed, 'frames', i);
      const settings = frame(0x4, 0, 0, Buffer.alloc(0));
      const headersNoPath = Buffer.concat([Buffer.from([0x83, 0x86]), hpackLiteral(':authority', '127.0.0.1'), hpackLiteral('content-type', 'application/grpc'), hpackLiteral('te', 'trailers')]);
      const headersOk = Buffer.concat([headersNoPath, hpackLiteral(':path', '/grpc.health.v1.Health/Check')]);
      const msg = envelope(0, Buffer.alloc(0));
      const body = rng.pick([
        () => Buffer.concat([PREFACE, settings, frame(0x1, 0x4, 1, headersNoPath), frame(0x0, 0x1, 1, msg)]), // HEADERS without :path
        () => Buffer.concat([PREFACE, settings, frame(0x1, 0x4, 1, rng.bytes(rng.range(1, 200)))]), // garbage HPACK
        () => Buffer.concat([PREFACE, frame(0x4, 0, 0, rng.bytes(7))]), // SETTINGS length not a multiple of 6
        () => Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.from([0, 2, 0, 0, 0, 2, 0, 4, 0xff, 0xff, 0xff, 0xff]))]), // ENABLE_PUSH=2, INITIAL_WINDOW_SIZE=2^32-1
        () => Buffer.concat([PREFACE, settings, frame(0x0, 0, 1, rng.bytes(32), 0xffffff)]), // frame length beyond max frame size
        () => Buffer.concat([PREFACE, settings, frame(0x8, 0, 0, Buffer.from([0, 0, 0, 0]))]), // WINDOW_UPDATE increment 0
        () => Buffer.concat([PREFACE, rng.bytes(rng.range(1, 2000))]), // random bytes after the preface
        () => rng.bytes(rng.range(1, 2000)), // no preface at all
        () => Buffer.from(`POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n`, 'latin1'), // HTTP/1.1 on the gRPC port
        () => Buffer.concat([PREFACE, settings, frame(0x0, 0x1, 0, msg)]), // DATA on stream 0
        () => Buffer.concat([PREFACE, settings, frame(0x9, 0x4, 1, headersOk)]), // CONTINUATION without HEADERS
        () => Buffer.concat([PREFACE, settings, ...Array.from({ length: rng.pick([50, 300]) }, () => frame(0x6, 0, 0, rng.bytes(8)))]), // PING flood (bounded)
        () => Buffer.concat([PREFACE, settings, frame(0x1, 0x4, 1, headersOk), frame(0x0, 0x1, 1, envelope(0, Buffer.alloc(4), 0x7fffffff))]), // huge declared message length
        () => Buffer.concat([PREFACE, settings, frame(0x3, 0, 0, Buffer.from([0, 0, 0, 8]))]), // RST_STREAM on stream 0
        () => Buffer.concat([PREFACE, settings, frame(0x2, 0, 1, Buffer.from([0, 0, 0, 1, 16]))]), // PRIORITY depending on itself
        () => Buffer.concat([PREFACE, settings, frame(0x1, 0x4, 2, headersOk), frame(0x0, 0x1, 2, msg)]), // even (server) stream id
        () => Buffer.concat([PREFACE, settings, frame(0x1, 0x4, 5, headersOk), frame(0x1, 0x4, 3, headersOk)]), // decreasing stream ids
        () => Buffer.concat([PREFACE, settings, ...Array.from({ length: rng.pick([100, 400]) }, (_, k) => Buffer.concat([frame(0x1, 0x4, 2 * k + 1, headersOk), frame(0x3, 0, 2 * k + 1, Buffer.from([0, 0, 0, 8]))]))]), // rapid reset (bounded)
        () => Buffer.concat([PREFACE, settings, frame(0x1, 0x0, 1, headersOk)]), // HEADERS without END_HEADERS, then nothing
      ])();
      const r = await sendRawFrames('127.0.0.1', port, body, 1_500);
      if (r.closedByServer) closedByServer++;
    });
    console.log(`fuzz HTTP/2 frames: ${ran} connections, ${closedByServer} closed by the server`);
    // What matters is what comes after: the port still serves, on the shared session too.
    const health = await healthCall(openSession(address));
    expect(health.grpcStatus, health.grpcMessage).toBe(0);
  }, BUDGET.framesTimeMs + SLACK_MS);

  it('still answers valid calls afterwards: on the same connection, on a fresh one, and through the gateway', async () => {
    const same = await probeCall(shared);
    expect(shared.destroyed || shared.closed, 'the shared HTTP/2 connection was closed during the run').toBe(false);
    expect(same.grpcStatus, same.grpcMessage).toBe(0);
    const health = await healthCall(shared);
    expect(health.grpcStatus, health.grpcMessage).toBe(0);
    const fresh = openSession(address);
    const freshAnswer = await probeCall(fresh);
    fresh.close();
    expect(freshAnswer.grpcStatus, freshAnswer.grpcMessage).toBe(0);
    // The gateway's own gRPC channels to the services (shared by all of its requests).
    const res = await new Promise<number>((resolve, reject) => {
      const body = 'grant_type=client_credentials&scope=read';
      const req = http.request({ host: f.host, port: f.port, method: 'POST', path: '/oauth2/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(fx.post.id, fx.post.secret), 'content-length': body.length } });
      req.on('response', (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    // fx.post authenticates with client_secret_post only: a Basic attempt is a clean 401, not a 5xx.
    expect(res).toBe(401);
    const ok = await fetch(`${f.t.baseUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: fx.post.id, client_secret: fx.post.secret }) });
    expect(ok.status, await ok.clone().text()).toBe(200);
    for (const v of Object.values((await ok.json()) as Record<string, unknown>)) if (typeof v === 'string') secrets.add(v);
  }, 60_000);

  it('logs no secret, token or canary it was sent, and no handler crash', () => {
    // The capture works: the gateway request line of the final check is there.
    expect(f.logs.some((l) => l.includes('"msg":"http"'))).toBe(true);
    expect(secretsInLogs(f.logs, secrets)).toEqual([]);
    expect(f.logs.filter((l) => /uncaught|unhandled/i.test(l)).map((l) => l.slice(0, 400))).toEqual([]);
  });

  it('returns its heap near where it started', async () => {
    f.logs.length = 0;
    const after = await heapAfterGc();
    console.log(`fuzz heap (gRPC): ${Math.round(heapBefore / 1e6)} MB before, ${Math.round(after / 1e6)} MB after (after GC)`);
    expect(after).toBeLessThan(heapBefore * 1.5 + 96e6);
  }, 60_000);
});
