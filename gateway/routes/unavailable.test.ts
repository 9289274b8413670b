// When the services behind the gateway are down, OAuth clients get 503 temporarily_unavailable
// (RFC 6749 §5.2 shape) quickly instead of a hang or a 500.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientType, CreateClientRequest, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { SERVICE_NAMES } from '../../services/core/config/index.js';
import { silentLogger } from '../../services/core/log/index.js';
import { createPeers, type Peers } from '../../services/mesh-deps.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { ALL_ROUTES, createGateway } from '../index.js';
import { basicAuth, postForm } from './route-test-support.js';
import { freePort } from '../../test/support/ports.js';


describe('services down', () => {
  let t: TestMesh | undefined;
  let app: FastifyInstance;
  let peers: Peers;
  let baseUrl: string;
  let creds: { id: string; secret: string };

  beforeAll(async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    t = await startTestMesh({ AUTHMESH_ISSUER: baseUrl });
    // The gateway gets its own gRPC clients, as a separate gateway process would, so stopping the
    // mesh leaves them pointing at an address where nothing answers.
    const addr = `127.0.0.1:${t.mesh.port}`;
    peers = createPeers(Object.fromEntries(SERVICE_NAMES.map((s) => [s, addr])) as Record<(typeof SERVICE_NAMES)[number], string>, t.config.meshSecret!);
    app = await createGateway({ config: t.config, log: silentLogger(), peers, grpcAddress: () => addr, cookieSecret: randomBytes(32).toString('base64url') }, ALL_ROUTES);
    await app.listen({ host: '127.0.0.1', port });
    const res = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({ client: { clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] } }),
      { bearer: await t.bearer() },
    );
    creds = { id: res.client!.clientId, secret: res.clientSecret };
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    peers?.close();
    await t?.close();
  });

  it('answers 503 temporarily_unavailable with Retry-After once the services are gone', async () => {
    const token = () => postForm(`${baseUrl}/oauth2/token`, 'grant_type=client_credentials', { authorization: basicAuth(creds.id, creds.secret) });
    expect((await token()).status).toBe(200);
    expect((await fetch(`${baseUrl}/.well-known/jwks.json`)).status).toBe(200);

    await t!.close();
    t = undefined;

    const down = await token();
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.headers.get('cache-control')).toBe('no-store');
    expect(await down.json()).toEqual({ error: 'temporarily_unavailable', error_description: 'the server is temporarily unable to handle the request' });

    const jwks = await fetch(`${baseUrl}/.well-known/jwks.json`);
    expect(jwks.status).toBe(503);
    expect(((await jwks.json()) as { error: string }).error).toBe('temporarily_unavailable');

    const introspect = await postForm(`${baseUrl}/oauth2/introspect`, 'token=x', { authorization: basicAuth(creds.id, creds.secret) });
    expect(introspect.status).toBe(503);
    // Metadata needs no service at all.
    expect((await fetch(`${baseUrl}/.well-known/oauth-authorization-server`)).status).toBe(200);
  });
});
