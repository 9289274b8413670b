// The Connect / gRPC-Web bridge with real connect-node clients and plain JSON over HTTP/1.1.
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientService, ClientSchema, ClientType, GrantType } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { KeyService } from '../../gen/es/authmesh/key/v1/key_pb.js';
import { ErrorInfoSchema } from '../../gen/es/google/rpc/error_details_pb.js';
import { silentLogger } from '../../services/core/log/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { createGateway } from '../gateway.js';
import { adminMethods, connectRoutes } from './connect.js';

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
});
