// The Connect / gRPC-Web bridge with real connect-node clients and plain JSON over HTTP/1.1.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientService, ClientSchema, ClientType, CreateClientRequestSchema, GrantType, ListClientsRequestSchema } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { KeyService } from '../../gen/es/authmesh/key/v1/key_pb.js';
import { ErrorInfoSchema } from '../../gen/es/google/rpc/error_details_pb.js';
import { silentLogger } from '../../services/core/log/index.js';
import { uniqueId } from '../../test/support/ids.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { MAX_DECOMPRESSION_RATIO } from '../connect-body.js';
import { Upstream } from '../connect-upstream.js';
import { createGateway } from '../gateway.js';
import { adminMethods, connectRoutes } from './connect.js';

/** The grpc-status of a gRPC-Web response: from the headers (trailers-only) or the trailer frame. */
async function grpcWebStatus(res: Response): Promise<string | null> {
  const inHeaders = res.headers.get('grpc-status');
  if (inHeaders !== null) return inHeaders;
  const body = Buffer.from(await res.arrayBuffer());
  for (let at = 0; at + 5 <= body.byteLength; at += 5 + body.readUInt32BE(at + 1)) {
    if ((body[at]! & 0x80) === 0x80) return /grpc-status:\s*(\d+)/i.exec(body.subarray(at + 5, at + 5 + body.readUInt32BE(at + 1)).toString())?.[1] ?? null;
  }
  return null;
}

/** The gateway's default AUTHMESH_HTTP_BODY_LIMIT. */
const BODY_LIMIT = 65_536;

/** A gc() for memory assertions (vitest's workers run without --expose-gc). */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** One gRPC-Web request body: the 5-byte prefix (flags, big-endian length), then the message. */
function envelope(message: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}

describe('Connect and gRPC-Web bridge to the admin RPCs', () => {
  let t: TestMesh;
  let app: FastifyInstance;
  let baseUrl: string;
  let admin: string;

  beforeAll(async () => {
    t = await startTestMesh();
    app = await createGateway(
      { config: t.config, log: silentLogger(), peers: t.peers, grpcAddress: () => `127.0.0.1:${t.mesh.port}`, cookieSecret: randomBytes(32).toString('base64url') },
      [connectRoutes],
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    admin = await t.bearer();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('exposes exactly the annotated admin RPCs, never internal ones', () => {
    expect(adminMethods(ClientService).map((m) => m.name)).toEqual(['CreateClient', 'GetClient', 'ListClients', 'UpdateClient', 'DeleteClient', 'RotateClientSecret']);
    expect(adminMethods(KeyService).map((m) => m.name)).not.toContain('SignJwt');
  });

  it('creates and lists clients over the Connect protocol with an admin bearer token', async () => {
    const client = createClient(ClientService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
    const headers = { authorization: `Bearer ${admin}` };
    const created = await client.createClient(
      { client: create(ClientSchema, { clientName: 'via connect', clientType: ClientType.CONFIDENTIAL, grantTypes: [GrantType.CLIENT_CREDENTIALS], scopes: ['read'] }) },
      { headers },
    );
    expect(created.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const list = await client.listClients({ pageSize: 1000 }, { headers });
    expect(list.clients.map((c) => c.clientId)).toContain(created.client?.clientId);
  });

  it('works over gRPC-Web too', async () => {
    const client = createClient(KeyService, createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }));
    const jwks = await client.getJwks({});
    expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
    const keys = await client.listKeys({}, { headers: { authorization: `Bearer ${admin}` } });
    expect(keys.keys.length).toBe(jwks.keys.length);
  });

  it('relays the service error with its ErrorInfo reason: no token, weak token', async () => {
    const client = createClient(ClientService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
    const err = await client.listClients({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe('INVALID_TOKEN');
    const weak = await t.bearer({ scope: ['read'] });
    const err2 = (await client.listClients({}, { headers: { authorization: `Bearer ${weak}` } }).catch((e: unknown) => e)) as ConnectError;
    expect(err2.code).toBe(Code.PermissionDenied);
    expect(err2.findDetails(ErrorInfoSchema)[0]?.reason).toBe('INSUFFICIENT_SCOPE');
  });

  it('refuses an admin-scoped token issued for another API over Connect (RFC 9068 §4)', async () => {
    const client = createClient(ClientService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
    const foreign = await t.bearer({ scope: ['authmesh.admin', 'authmesh.read'], audience: 'https://orders.example.com' });
    const err = (await client.listClients({}, { headers: { authorization: `Bearer ${foreign}` } }).catch((e: unknown) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe('INVALID_TOKEN');
    const res = await fetch(`${baseUrl}/authmesh.client.v1.ClientService/ListClients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${foreign}` },
      body: '{}',
    });
    expect(res.status).toBe(401);
  });

  it('answers plain JSON POSTs, as curl would send them', async () => {
    const res = await fetch(`${baseUrl}/authmesh.client.v1.ClientService/ListClients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ pageSize: 5 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { clients: { clientId: string }[] };
    expect(body.clients.length).toBeGreaterThan(0);
    const bad = await fetch(`${baseUrl}/authmesh.client.v1.ClientService/GetClient`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ clientId: 'does-not-exist' }),
    });
    expect(bad.status).toBe(404);
    expect(((await bad.json()) as { code: string }).code).toBe('not_found');
  });

  it('bridges the audit trail reader, AuditService/ListAuditEvents, under the admin read scopes', async () => {
    const clientId = uniqueId('audited');
    const client = createClient(ClientService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
    await client.createClient(
      create(CreateClientRequestSchema, { client: create(ClientSchema, { clientId, clientType: ClientType.CONFIDENTIAL, grantTypes: [GrantType.CLIENT_CREDENTIALS] }) }),
      { headers: { authorization: `Bearer ${admin}` } },
    );
    await t.mesh.flushAudit();
    const list = (authorization?: string) =>
      fetch(`${baseUrl}/authmesh.audit.v1.AuditService/ListAuditEvents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ clientId, type: 'client.' }),
      });
    const res = await list(`Bearer ${await t.bearer({ scope: ['authmesh.read'] })}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { events: { type: string; clientId: string }[] }).events).toMatchObject([{ type: 'client.created', clientId }]);
    expect((await list()).status).toBe(401);
    const weak = await list(`Bearer ${await t.bearer({ scope: ['openid'] })}`);
    expect(weak.status).toBe(403);
    expect(((await weak.json()) as { code: string }).code).toBe('permission_denied');
  });

  it('does not expose internal RPCs at the edge: 404, never a 5xx such as 501 unimplemented', async () => {
    const res = await fetch(`${baseUrl}/authmesh.client.v1.ClientService/AuthenticateClient`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ credentials: { clientId: 'x' } }),
    });
    expect(res.status).toBe(404);
    const sign = await fetch(`${baseUrl}/authmesh.key.v1.KeyService/SignJwt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(sign.status).toBe(404);
  });

  // --- input hardening (issue 11 items 1 and 12, issue 10 §3 i) ---

  const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    fetch(`${baseUrl}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}`, ...headers }, body });
  const clientNames = async () => {
    const res = await post('authmesh.client.v1.ClientService/ListClients', JSON.stringify({ pageSize: 1000 }));
    return ((await res.json()) as { clients: { clientName?: string }[] }).clients.map((c) => c.clientName);
  };
  const stillServes = async () => {
    const res = await post('authmesh.client.v1.ClientService/ListClients', '{}');
    expect(res.status).toBe(200);
  };

  /** Sends the headers and `first` bytes of a body it never finishes; resolves with the answer. */
  const answerBeforeBody = (path: string, headers: Record<string, string>, first: Buffer) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${baseUrl}/${path}`, { method: 'POST', headers }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.write(first);
      setTimeout(() => {
        req.destroy();
        reject(new Error('no answer before the body ended: the bridge waited for the body'));
      }, 15_000).unref();
    });

  it('refuses a caller without a valid token before reading the body', async () => {
    const path = 'authmesh.client.v1.ClientService/CreateClient';
    const none = await answerBeforeBody(path, { 'content-type': 'application/json', 'content-length': String(BODY_LIMIT) }, Buffer.from('{"client":'));
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ code: 'unauthenticated' });
    const forged = `${admin.slice(0, admin.lastIndexOf('.'))}.${Buffer.alloc(64).toString('base64url')}`;
    const bad = await answerBeforeBody(path, { 'content-type': 'application/proto', 'content-length': '1000', authorization: `Bearer ${forged}` }, Buffer.from([0x0a]));
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 'unauthenticated' });
    // ErrorInfo as the services send it, so clients decide on the reason.
    const err = (await createClient(ClientService, createConnectTransport({ baseUrl, httpVersion: '1.1' }))
      .createClient({}, { headers: { authorization: 'Bearer not-a-jwt' } })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe('INVALID_TOKEN');
  });

  it('bounds the body by its declared length and by the bytes received, and keeps serving', async () => {
    const declared = await answerBeforeBody('authmesh.client.v1.ClientService/ListClients', { 'content-type': 'application/json', 'content-length': String(16 * 1024 * 1024), authorization: `Bearer ${admin}` }, Buffer.from('{'));
    expect(declared.status).toBe(429); // Connect protocol: resource_exhausted
    expect(JSON.parse(declared.body)).toMatchObject({ code: 'resource_exhausted' });
    // Chunked, no Content-Length: counted as it arrives.
    const big = JSON.stringify({ pageToken: 'x'.repeat(BODY_LIMIT) });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < big.length; i += 8192) c.enqueue(new TextEncoder().encode(big.slice(i, i + 8192)));
        c.close();
      },
    });
    const chunked = await fetch(`${baseUrl}/authmesh.client.v1.ClientService/ListClients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(((await chunked.json()) as { code: string }).code).toBe('resource_exhausted');
    // gRPC-Web: a prefix claiming more than the limit.
    const web = await post('authmesh.client.v1.ClientService/ListClients', envelope(new Uint8Array(BODY_LIMIT + 1)), { 'content-type': 'application/grpc-web+proto' });
    expect(await grpcWebStatus(web)).toBe(String(Code.ResourceExhausted));
    await stillServes();
  });

  it('caps gzip bodies by size and ratio, refuses other encodings, and still takes honest gzip', async () => {
    const small = gzipSync(Buffer.alloc(200_000, 0x20)); // 200 KB of spaces in a few hundred bytes
    const ratio = await post('authmesh.client.v1.ClientService/ListClients', small, { 'content-encoding': 'gzip' });
    expect(ratio.status).toBe(429);
    expect(((await ratio.json()) as { message: string }).message).toContain(`${MAX_DECOMPRESSION_RATIO} times the compressed size`);
    const corrupt = await post('authmesh.client.v1.ClientService/ListClients', gzipSync('{}').subarray(0, 12), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    // RFC 9110 §15.5.16: an unsupported content coding is 415 naming what is accepted, not a 5xx.
    for (const encoding of ['br', 'x-unknown', 'gzip, br']) {
      const refused = await post('authmesh.client.v1.ClientService/ListClients', '{}', { 'content-encoding': encoding });
      expect(refused.status).toBe(415);
      expect(refused.headers.get('accept-encoding')).toBe('gzip');
      expect(((await refused.json()) as { code: string }).code).toBe('invalid_argument');
    }
    const honest = await post('authmesh.client.v1.ClientService/ListClients', gzipSync(JSON.stringify({ pageSize: 5 })), { 'content-encoding': 'gzip' });
    expect(honest.status).toBe(200);
  });

  it('keeps memory bounded through a burst of gzip bombs and oversized bodies', async () => {
    const gc = gcFunction();
    let bomb: Buffer | undefined = gzipSync(Buffer.alloc(60 * 1024 * 1024)); // 60 MiB of zeros, ~60 KB
    expect(bomb.byteLength).toBeLessThan(BODY_LIMIT);
    const bombBytes = bomb;
    bomb = undefined;
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
    try {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(
          Array.from({ length: 8 }, () => post('authmesh.client.v1.ClientService/ListClients', bombBytes, { 'content-encoding': 'gzip' }).then((r) => r.status)),
        );
        expect(answers.every((s) => s === 429)).toBe(true);
      }
    } finally {
      clearInterval(sampler);
    }
    gc();
    const after = process.memoryUsage();
    // Without the caps each bomb inflated to 60 MiB (24 of them, 8 at a time: ~0.5 GB and up).
    expect(peakRss - before.rss).toBeLessThan(200 * 1024 * 1024);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 1024 * 1024);
    await stillServes();
  });

  it('answers malformed binary bodies with 400 invalid_argument, never 500', async () => {
    const garbage = [Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x07]), randomBytes(64)];
    for (const body of garbage) {
      const res = await post('authmesh.client.v1.ClientService/ListClients', body, { 'content-type': 'application/proto' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('invalid_argument');
      const web = await post('authmesh.client.v1.ClientService/ListClients', envelope(body), { 'content-type': 'application/grpc-web+proto' });
      expect(web.status).toBe(200);
      expect(await grpcWebStatus(web)).toBe(String(Code.InvalidArgument));
    }
    const truncated = await post('authmesh.client.v1.ClientService/ListClients', envelope(Buffer.from([8, 5])).subarray(0, 6), { 'content-type': 'application/grpc-web+proto' });
    expect(await grpcWebStatus(truncated)).toBe(String(Code.InvalidArgument));
    // A message flagged compressed without a grpc-encoding, or with unknown flags: the caller's error.
    for (const [contentType, flags] of [['application/grpc-web+proto', 1], ['application/grpc-web+json', 1], ['application/grpc-web+json', 0x40]] as const) {
      const flagged = await post('authmesh.client.v1.ClientService/ListClients', envelope(Buffer.from('{}'), flags), { 'content-type': contentType });
      expect(await grpcWebStatus(flagged)).toBe(String(Code.InvalidArgument));
    }
    const json = await post('authmesh.client.v1.ClientService/ListClients', '{"pageSize":');
    expect(json.status).toBe(400);
    await stillServes();
  });

  it('refuses unknown JSON fields and enum names on admin writes, naming them, and creates nothing', async () => {
    const name = uniqueId('connect-unknown');
    const base = { clientName: name, clientType: 'CLIENT_TYPE_CONFIDENTIAL', grantTypes: ['GRANT_TYPE_CLIENT_CREDENTIALS'], scopes: ['read'] };
    const cases: [unknown, string][] = [
      [{ client: { ...base, frontchannelLogoutUri: 'https://app.example/fcl' } }, 'frontchannelLogoutUri'],
      [{ client: { ...base, grantTypes: ['GRANT_TYPE_CLIENT_CREDENTIALS', 'GRANT_TYPE_IMPLICIT'] } }, 'GRANT_TYPE_IMPLICIT'],
      [{ client: base, deviceFlow: true }, 'deviceFlow'],
      [{ client: { ...base, grantTypes: [2, 1000] } }, 'client.grant_types[1]'], // an open-enum number: refused by the service
    ];
    for (const [body, named] of cases) {
      const res = await post('authmesh.client.v1.ClientService/CreateClient', JSON.stringify(body));
      expect(res.status).toBe(400);
      const err = (await res.json()) as { code: string; message: string };
      expect(err.code).toBe('invalid_argument');
      expect(err.message).toContain(named);
    }
    // Binary Connect and gRPC-Web: unknown field numbers and enum numbers.
    const msg = toBinary(CreateClientRequestSchema, { $typeName: 'authmesh.client.v1.CreateClientRequest', client: create(ClientSchema, { clientName: name, clientType: ClientType.CONFIDENTIAL, grantTypes: [GrantType.CLIENT_CREDENTIALS], scopes: ['read'] }) });
    const unknownField = Buffer.concat([msg, new BinaryWriter().uint32((4000 << 3) | 0).uint32(1).finish()]);
    const binary = await post('authmesh.client.v1.ClientService/CreateClient', unknownField, { 'content-type': 'application/proto' });
    expect(binary.status).toBe(400);
    expect(((await binary.json()) as { message: string }).message).toContain('#4000');
    const web = await post('authmesh.client.v1.ClientService/CreateClient', envelope(unknownField), { 'content-type': 'application/grpc-web+proto' });
    expect(await grpcWebStatus(web)).toBe(String(Code.InvalidArgument));
    expect(await clientNames()).not.toContain(name);
    // The same client without the unknowns is created: the refusals were about them alone.
    const ok = await post('authmesh.client.v1.ClientService/CreateClient', JSON.stringify({ client: base }));
    expect(ok.status).toBe(200);
    expect(await clientNames()).toContain(name);
  });

  it('one bad request never breaks the shared upstream connection', async () => {
    const address = `127.0.0.1:${t.mesh.port}`;
    const headers = { authorization: `Bearer ${admin}` };
    const list = (u: Upstream, pageToken = '') => u.call(ClientService, (c) => (c as unknown as { listClients(r: unknown, o: unknown): Promise<unknown> }).listClients(create(ListClientsRequestSchema, { pageToken }), { headers, timeoutMs: 10_000 }));
    // As the bridge runs it: a message the services would refuse is never sent.
    const bounded = new Upstream({ address, writeMaxBytes: 1024 * 1024, readMaxBytes: 16 * 1024 * 1024 });
    try {
      const err = (await list(bounded, 'x'.repeat(2 * 1024 * 1024)).catch((e: unknown) => e)) as ConnectError;
      expect(err.code).toBe(Code.ResourceExhausted);
      await expect(list(bounded)).resolves.toBeDefined();
    } finally {
      bounded.close();
    }
    // Without the write bound, a 16 MiB message left connect-node's HTTP/2 session answering
    // NGHTTP2_ENHANCE_YOUR_CALM to every later call; a transport failure now retires it.
    const unbounded = new Upstream({ address, writeMaxBytes: 64 * 1024 * 1024, readMaxBytes: 16 * 1024 * 1024 });
    try {
      await list(unbounded, 'x'.repeat(16 * 1024 * 1024)).catch((e: unknown) => e);
      for (let i = 0; i < 3; i++) await expect(list(unbounded)).resolves.toBeDefined();
    } finally {
      unbounded.close();
    }
  });
});
