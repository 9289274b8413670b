// The client registry over real gRPC: CRUD, secrets shown once and stored hashed, rotation with
// grace, update masks and etags, access policy, and the bootstrap admin client.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Client as ClientMsg,
  ClientType,
  GrantType,
  TokenEndpointAuthMethod,
  type Client as ClientMessage,
  type ClientCredentials,
} from '../../gen/ts/authmesh/client/v1/client.js';
import { hashToken } from '../core/oauth/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { bootstrapAdminClient } from './client-bootstrap.js';
import { createClientManager } from './client-manager.js';
import { uniqueId } from '../../test/support/ids.js';

let t: TestMesh;
let admin: string;
let reader: string;

beforeAll(async () => {
  t = await startTestMesh();
  admin = await t.bearer();
  reader = await t.bearer({ scope: ['authmesh.read'], sub: 'reader' });
});
afterAll(async () => {
  await t?.close();
});


const confidential = (over: Partial<ClientMessage> = {}): Partial<ClientMessage> => ({
  clientId: uniqueId('conf'),
  clientName: 'Confidential app',
  clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
  grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
  scopes: ['orders.read'],
  ...over,
});
const publicClient = (over: Partial<ClientMessage> = {}): Partial<ClientMessage> => ({
  clientId: uniqueId('pub'),
  clientName: 'SPA',
  clientType: ClientType.CLIENT_TYPE_PUBLIC,
  redirectUris: ['https://app.example.com/cb'],
  ...over,
});

const create = (client: Partial<ClientMessage>) => t.anon.client.createClient({ client: ClientMsg.fromPartial(client) }, { bearer: admin });
const get = (clientId: string) => t.anon.client.getClient({ clientId }, { bearer: admin });
const auth = (credential: ClientCredentials['credential']) => t.peers.client.authenticateClient({ credentials: { credential }, remoteIp: '' });
const secretAuth = (clientId: string, clientSecret: string, method = TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC) =>
  auth({ $case: 'clientSecret', value: { clientId, clientSecret, method } });
const update = (client: Partial<ClientMessage>, updateMask?: string[]) =>
  t.anon.client.updateClient({ client: ClientMsg.fromPartial(client), updateMask }, { bearer: admin });

async function expectAbsent(clientId: string) {
  await expect(t.store.clients.get(clientId)).rejects.toMatchObject({ code: 'not_found' });
}

describe('access policy', () => {
  it('refuses admin RPCs without a token (invalid_token) and writes with a read-only token (insufficient_scope)', async () => {
    const c = confidential();
    const m = ClientMsg.fromPartial(c);
    await expect(t.anon.client.createClient({ client: m })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.client.createClient({ client: m }, { bearer: reader })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expectAbsent(c.clientId as string);
    await expect(t.anon.client.getClient({ clientId: t.config.adminClientId })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.client.listClients({ pageSize: 1, pageToken: '' })).rejects.toMatchObject({ code: 'invalid_token' });
    for (const call of [
      () => t.anon.client.updateClient({ client: m, updateMask: [] }, { bearer: reader }),
      () => t.anon.client.deleteClient({ clientId: t.config.adminClientId }, { bearer: reader }),
      () => t.anon.client.rotateClientSecret({ clientId: t.config.adminClientId, previousSecretGraceSeconds: 0 }, { bearer: reader }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'insufficient_scope' });
    }
    const noScope = await t.bearer({ scope: ['orders.read'] });
    await expect(t.anon.client.getClient({ clientId: t.config.adminClientId }, { bearer: noScope })).rejects.toMatchObject({ code: 'insufficient_scope' });
  });

  it('lets a read-only token read', async () => {
    const res = await t.anon.client.getClient({ clientId: t.config.adminClientId }, { bearer: reader });
    expect(res.client?.clientId).toBe(t.config.adminClientId);
    const list = await t.anon.client.listClients({ pageSize: 5, pageToken: '' }, { bearer: reader });
    expect(list.clients.length).toBeGreaterThan(0);
  });

  it('refuses the internal AuthenticateClient with a bearer token (access_denied) and without credentials (invalid_token)', async () => {
    const req = { credentials: { credential: { $case: 'clientId' as const, value: 'x' } }, remoteIp: '' };
    await expect(t.anon.client.authenticateClient(req, { bearer: admin })).rejects.toMatchObject({ code: 'access_denied' });
    await expect(t.anon.client.authenticateClient(req)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('CreateClient', () => {
  it('returns a confidential client secret once and stores only its SHA-256 hash', async () => {
    const res = await create(confidential());
    const id = res.client!.clientId;
    expect(res.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.client).toMatchObject({
      tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
      grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
      requirePkce: true,
      etag: '1',
    });
    expect(res.client!.secretRotateTime).toBeInstanceOf(Date);
    const stored = await t.store.clients.get(id);
    expect(stored.secretHash).toBe(hashToken(res.clientSecret));
    expect(stored.secretHash).not.toBe(res.clientSecret);
    expect(JSON.stringify(stored)).not.toContain(res.clientSecret);
    const got = await get(id);
    expect(JSON.stringify(got)).not.toContain(res.clientSecret);
    expect(JSON.stringify(got)).not.toContain(stored.secretHash);
    const list = await t.anon.client.listClients({ pageSize: 1000, pageToken: '' }, { bearer: admin });
    expect(JSON.stringify(list)).not.toContain(res.clientSecret);
    expect(JSON.stringify(list)).not.toContain(stored.secretHash);
  });

  it('generates a client_id when empty and applies public defaults', async () => {
    const res = await create(publicClient({ clientId: '' }));
    expect(res.client!.clientId).toMatch(/^c_[A-Za-z0-9_-]{22}$/);
    expect(res.clientSecret).toBe('');
    expect(res.client).toMatchObject({
      tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
      grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
      requirePkce: true,
      secretRotateTime: undefined,
    });
    expect((await t.store.clients.get(res.client!.clientId)).secretHash).toBeUndefined();
  });

  it('defaults confidential clients to client_credentials and keeps every field', async () => {
    const res = await create(
      confidential({
        grantTypes: [],
        audience: ['https://api.example.com'],
        accessTokenTtlSeconds: 120,
        refreshTokenTtlSeconds: 3600,
        clientUri: 'https://example.com',
        logoUri: 'https://example.com/logo.png',
        contacts: ['ops@example.com'],
        skipConsent: true,
      }),
    );
    expect(res.client).toMatchObject({
      grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
      audience: ['https://api.example.com'],
      accessTokenTtlSeconds: 120,
      refreshTokenTtlSeconds: 3600,
      clientUri: 'https://example.com',
      logoUri: 'https://example.com/logo.png',
      contacts: ['ops@example.com'],
      skipConsent: true,
    });
    expect((await get(res.client!.clientId)).client).toEqual(res.client);
  });

  it('keeps the refresh reuse grace window: unset is the server default, 0 strict, and an update can set or clear it', async () => {
    const res = await create(confidential({ grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS] }));
    const id = res.client!.clientId;
    expect(res.client!.refreshTokenReuseGraceSeconds).toBeUndefined();
    expect((await update({ clientId: id, refreshTokenReuseGraceSeconds: 30 }, ['refresh_token_reuse_grace_seconds'])).client!.refreshTokenReuseGraceSeconds).toBe(30);
    expect((await get(id)).client!.refreshTokenReuseGraceSeconds).toBe(30);
    expect((await update({ clientId: id, refreshTokenReuseGraceSeconds: 0 }, ['refresh_token_reuse_grace_seconds'])).client!.refreshTokenReuseGraceSeconds).toBe(0);
    // An update that does not name the field keeps it.
    expect((await update({ clientId: id, clientName: 'renamed' }, ['client_name'])).client!.refreshTokenReuseGraceSeconds).toBe(0);
    expect((await update({ clientId: id }, ['refresh_token_reuse_grace_seconds'])).client!.refreshTokenReuseGraceSeconds).toBeUndefined();
  });

  it('maps every grant type, including token exchange, for a trusted client', async () => {
    const res = await create(
      confidential({
        clientType: ClientType.CLIENT_TYPE_TRUSTED,
        redirectUris: ['http://127.0.0.1:4000/cb'],
        grantTypes: [
          GrantType.GRANT_TYPE_AUTHORIZATION_CODE,
          GrantType.GRANT_TYPE_CLIENT_CREDENTIALS,
          GrantType.GRANT_TYPE_REFRESH_TOKEN,
          GrantType.GRANT_TYPE_PASSWORD,
          GrantType.GRANT_TYPE_TOKEN_EXCHANGE,
        ],
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST,
      }),
    );
    expect(res.client!.grantTypes).toHaveLength(5);
    expect((await t.store.clients.get(res.client!.clientId)).grantTypes).toContain('urn:ietf:params:oauth:grant-type:token-exchange');
  });

  it.each([
    ['public client with client_credentials', () => publicClient({ grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS] }), 'invalid_client_metadata'],
    ['public client with a secret method', () => publicClient({ tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC }), 'invalid_client_metadata'],
    ['confidential client with method none', () => confidential({ tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE }), 'invalid_client_metadata'],
    ['password grant on a confidential client', () => confidential({ grantTypes: [GrantType.GRANT_TYPE_PASSWORD] }), 'invalid_client_metadata'],
    ['unspecified client type', () => confidential({ clientType: ClientType.CLIENT_TYPE_UNSPECIFIED }), 'invalid_client_metadata'],
    ['unspecified grant type', () => confidential({ grantTypes: [GrantType.GRANT_TYPE_UNSPECIFIED] }), 'invalid_client_metadata'],
    ['authorization_code without redirect URI', () => publicClient({ redirectUris: [] }), 'invalid_client_metadata'],
    ['http redirect URI on a public host', () => publicClient({ redirectUris: ['http://app.example.com/cb'] }), 'invalid_redirect_uri'],
    ['redirect URI with a fragment', () => publicClient({ redirectUris: ['https://app.example.com/cb#x'] }), 'invalid_redirect_uri'],
    ['private_key_jwt without jwks', () => confidential({ tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT }), 'invalid_client_metadata'],
    [
      'jwks with a private key',
      () =>
        confidential({
          tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
          jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] },
        }),
      'invalid_client_metadata',
    ],
    ['scope with a space', () => confidential({ scopes: ['a b'] }), 'invalid_client_metadata'],
    ['negative access token ttl', () => confidential({ accessTokenTtlSeconds: -1 }), 'invalid_client_metadata'],
    ['refresh reuse grace window above 300 s', () => confidential({ refreshTokenReuseGraceSeconds: 301 }), 'invalid_client_metadata'],
    ['negative refresh reuse grace window', () => confidential({ refreshTokenReuseGraceSeconds: -1 }), 'invalid_client_metadata'],
    ['javascript logo_uri', () => confidential({ logoUri: 'javascript:alert(1)' }), 'invalid_client_metadata'],
    ['bad client_id', () => confidential({ clientId: 'has space' }), 'invalid_request'],
    ['too long client_id', () => confidential({ clientId: 'a'.repeat(129) }), 'invalid_request'],
  ])('rejects %s and stores nothing', async (_n, make, code) => {
    const c = make();
    await expect(create(c)).rejects.toMatchObject({ code });
    if (/^[A-Za-z0-9._:-]{1,128}$/.test(c.clientId as string)) await expectAbsent(c.clientId as string);
  });

  it('rejects a missing client and a duplicate client_id', async () => {
    await expect(t.anon.client.createClient({ client: undefined }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    const c = confidential();
    await create(c);
    await expect(create({ ...c, clientName: 'other' })).rejects.toMatchObject({ code: 'already_exists' });
    expect((await get(c.clientId as string)).client?.clientName).toBe('Confidential app');
  });

  it('audits creation with the admin as actor and no secret', async () => {
    const res = await create(confidential());
    const events = await t.store.audit.list({ type: 'client.created', clientId: res.client!.clientId });
    expect(events.items).toHaveLength(1);
    expect(events.items[0]?.actor).toBe('test-admin');
    expect(JSON.stringify(events.items)).not.toContain(res.clientSecret);
  });
});

describe('GetClient and ListClients', () => {
  it('rejects an unknown or empty client_id', async () => {
    await expect(get('no-such-client')).rejects.toMatchObject({ code: 'not_found' });
    await expect(get('')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('pages through all clients without repeats', async () => {
    for (let i = 0; i < 3; i++) await create(confidential({ clientId: uniqueId('page') }));
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const res = await t.anon.client.listClients({ pageSize: 2, pageToken }, { bearer: admin });
      expect(res.clients.length).toBeLessThanOrEqual(2);
      seen.push(...res.clients.map((c) => c.clientId));
      pageToken = res.nextPageToken;
      pages++;
    } while (pageToken !== '' && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    const all = await t.store.clients.list({ pageSize: 1000 });
    expect(seen.sort()).toEqual(all.items.map((c) => c.clientId).sort());
    expect(pages).toBeGreaterThan(1);
  });

  it('rejects a bad page_size or page_token', async () => {
    await expect(t.anon.client.listClients({ pageSize: -1, pageToken: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(t.anon.client.listClients({ pageSize: 1001, pageToken: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(t.anon.client.listClients({ pageSize: 2, pageToken: 'garbage!' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('UpdateClient', () => {
  it('changes only the masked fields and bumps the etag', async () => {
    const { client } = await create(publicClient());
    const res = await update({ clientId: client!.clientId, redirectUris: ['https://app.example.com/new'], clientName: 'ignored', etag: '1' }, ['redirect_uris']);
    expect(res.client).toMatchObject({ redirectUris: ['https://app.example.com/new'], clientName: 'SPA', etag: '2' });
    expect((await get(client!.clientId)).client?.redirectUris).toEqual(['https://app.example.com/new']);
  });

  it('accepts camelCase mask paths and an empty mask (every mutable field)', async () => {
    const { client } = await create(publicClient());
    const a = await update({ clientId: client!.clientId, clientName: 'Renamed' }, ['clientName']);
    expect(a.client?.clientName).toBe('Renamed');
    const full = await update({ ...client!, clientName: 'Full', scopes: ['x'], etag: '' }, []);
    expect(full.client).toMatchObject({ clientName: 'Full', scopes: ['x'], etag: '3', redirectUris: client!.redirectUris });
  });

  it('rejects a stale etag with CONFLICT and changes nothing', async () => {
    const { client } = await create(publicClient());
    await update({ clientId: client!.clientId, clientName: 'v2', etag: '1' }, ['client_name']);
    await expect(update({ clientId: client!.clientId, clientName: 'v3', etag: '1' }, ['client_name'])).rejects.toMatchObject({ code: 'conflict' });
    await expect(update({ clientId: client!.clientId, clientName: 'v3', etag: 'W/"x"' }, ['client_name'])).rejects.toMatchObject({ code: 'conflict' });
    expect((await get(client!.clientId)).client).toMatchObject({ clientName: 'v2', etag: '2' });
  });

  it.each([
    ['an http redirect URI', { redirectUris: ['http://evil.example/cb'] }, ['redirect_uris'], 'invalid_redirect_uri'],
    ['client_credentials for a public client', { grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS] }, ['grant_types'], 'invalid_client_metadata'],
    ['an immutable field in the mask', { clientName: 'x' }, ['client_id'], 'invalid_request'],
    ['an unknown field in the mask', { clientName: 'x' }, ['nope'], 'invalid_request'],
  ])('rejects %s and changes nothing', async (_n, change, mask, code) => {
    const { client } = await create(publicClient());
    await expect(update({ clientId: client!.clientId, ...change }, mask)).rejects.toMatchObject({ code });
    expect((await get(client!.clientId)).client).toEqual(client);
  });

  it('rejects an unknown client and a missing client_id', async () => {
    await expect(update({ clientId: 'no-such-client', clientName: 'x' }, ['client_name'])).rejects.toMatchObject({ code: 'not_found' });
    await expect(update({ clientId: '', clientName: 'x' }, ['client_name'])).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('switching to client_secret_post takes effect for authentication at once; leaving secrets drops the secret', async () => {
    const { client, clientSecret } = await create(confidential());
    const id = client!.clientId;
    await expect(secretAuth(id, clientSecret)).resolves.toBeDefined();
    await update({ clientId: id, tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST }, ['token_endpoint_auth_method']);
    await expect(secretAuth(id, clientSecret)).rejects.toMatchObject({ code: 'invalid_client' });
    await expect(secretAuth(id, clientSecret, TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST)).resolves.toBeDefined();
    const jwk = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const res = await update(
      { clientId: id, tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT, jwks: { keys: [jwk] } },
      ['token_endpoint_auth_method', 'jwks'],
    );
    expect(res.client?.secretRotateTime).toBeUndefined();
    expect((await t.store.clients.get(id)).secretHash).toBeUndefined();
    await expect(secretAuth(id, clientSecret, TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST)).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it('keeps PKCE required for public clients; confidential clients may turn it off', async () => {
    const pub = (await create(publicClient())).client!;
    expect((await update({ clientId: pub.clientId, requirePkce: false }, ['require_pkce'])).client?.requirePkce).toBe(true);
    const conf = (await create(confidential())).client!;
    expect((await update({ clientId: conf.clientId, requirePkce: false }, ['require_pkce'])).client?.requirePkce).toBe(false);
  });
});

describe('DeleteClient', () => {
  it('deletes the client, revokes its refresh tokens and audits', async () => {
    const { client, clientSecret } = await create(confidential({ grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_REFRESH_TOKEN] }));
    const id = client!.clientId;
    await secretAuth(id, clientSecret);
    const now = new Date();
    await t.store.refreshTokens.create({
      tokenHash: hashToken(randomBytes(32).toString('base64url')),
      familyId: uniqueId('fam'),
      clientId: id,
      scope: [],
      audience: [],
      createdAt: now,
      expiresAt: new Date(now.getTime() + 3_600_000),
    });
    expect((await t.store.refreshTokens.listByClient(id)).items).toHaveLength(1);
    await t.anon.client.deleteClient({ clientId: id }, { bearer: admin });
    await expect(get(id)).rejects.toMatchObject({ code: 'not_found' });
    expect((await t.store.refreshTokens.listByClient(id)).items).toHaveLength(0);
    await expect(secretAuth(id, clientSecret)).rejects.toMatchObject({ code: 'invalid_client' });
    expect((await t.store.audit.list({ type: 'client.deleted', clientId: id })).items).toHaveLength(1);
  });

  it('rejects an unknown or empty client_id', async () => {
    await expect(t.anon.client.deleteClient({ clientId: 'no-such-client' }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    await expect(t.anon.client.deleteClient({ clientId: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('RotateClientSecret', () => {
  const rotate = (clientId: string, previousSecretGraceSeconds: number) =>
    t.anon.client.rotateClientSecret({ clientId, previousSecretGraceSeconds }, { bearer: admin });

  it('keeps the previous secret valid during the grace period only', async () => {
    const { client, clientSecret: first } = await create(confidential());
    const id = client!.clientId;
    const res = await rotate(id, 1);
    expect(res.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.clientSecret).not.toBe(first);
    expect(res.client?.etag).toBe('2');
    expect((await t.store.clients.get(id)).secretHash).toBe(hashToken(res.clientSecret));
    await expect(secretAuth(id, res.clientSecret)).resolves.toBeDefined();
    await expect(secretAuth(id, first)).resolves.toBeDefined();
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(secretAuth(id, first)).rejects.toMatchObject({ code: 'invalid_client' });
    await expect(secretAuth(id, res.clientSecret)).resolves.toBeDefined();
    expect((await t.store.audit.list({ type: 'client.secret_rotated', clientId: id })).items).toHaveLength(1);
  });

  it('ends the previous secret at once with grace 0', async () => {
    const { client, clientSecret: first } = await create(confidential());
    const res = await rotate(client!.clientId, 0);
    await expect(secretAuth(client!.clientId, first)).rejects.toMatchObject({ code: 'invalid_client' });
    await expect(secretAuth(client!.clientId, res.clientSecret)).resolves.toBeDefined();
  });

  it('rejects a bad grace, a client without a secret method, and unknown clients, changing nothing', async () => {
    const { client, clientSecret } = await create(confidential());
    for (const g of [-1, 604_801]) await expect(rotate(client!.clientId, g)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(secretAuth(client!.clientId, clientSecret)).resolves.toBeDefined();
    expect((await get(client!.clientId)).client?.etag).toBe('1');
    const pub = (await create(publicClient())).client!;
    await expect(rotate(pub.clientId, 0)).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await t.store.clients.get(pub.clientId)).secretHash).toBeUndefined();
    await expect(rotate('no-such-client', 0)).rejects.toMatchObject({ code: 'not_found' });
    await expect(rotate('', 0)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('AuthenticateClient with a client secret and client_id only', () => {
  it('authenticates with the registered method and never says which part was wrong', async () => {
    const { client, clientSecret } = await create(confidential());
    const id = client!.clientId;
    const ok = await secretAuth(id, clientSecret);
    expect(ok.client?.clientId).toBe(id);
    const failures = await Promise.all(
      [
        secretAuth(id, `${clientSecret}x`),
        secretAuth(id, ''),
        secretAuth('no-such-client', clientSecret),
        secretAuth(id, clientSecret, TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST),
        secretAuth(id, clientSecret, TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_UNSPECIFIED),
        secretAuth(id, clientSecret, TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT),
        auth({ $case: 'clientId', value: id }),
        auth(undefined),
        t.peers.client.authenticateClient({ credentials: undefined, remoteIp: '' }),
      ].map((p) => p.then(() => undefined, (e: unknown) => e)),
    );
    for (const e of failures) expect(e).toMatchObject({ code: 'invalid_client', description: 'client authentication failed' });
  });

  it('records client.auth_failed with the client id and no secret', async () => {
    const { client, clientSecret } = await create(confidential());
    await expect(secretAuth(client!.clientId, 'wrong-secret')).rejects.toMatchObject({ code: 'invalid_client' });
    await vi.waitFor(async () => {
      const events = await t.store.audit.list({ type: 'client.auth_failed', clientId: client!.clientId });
      expect(events.items).toHaveLength(1);
      expect(JSON.stringify(events.items)).not.toContain('wrong-secret');
      expect(JSON.stringify(events.items)).not.toContain(clientSecret);
    });
  });

  it('accepts client_id only for a public client', async () => {
    const { client } = await create(publicClient());
    const res = await auth({ $case: 'clientId', value: client!.clientId });
    expect(res.client?.clientType).toBe(ClientType.CLIENT_TYPE_PUBLIC);
    await expect(auth({ $case: 'clientId', value: 'no-such-client' })).rejects.toMatchObject({ code: 'invalid_client' });
    await expect(auth({ $case: 'clientId', value: '' })).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it('bootstrap admin client exists after start and authenticates with the configured secret', async () => {
    const res = await secretAuth(t.config.adminClientId, t.config.adminClientSecret as string);
    expect(res.client).toMatchObject({
      clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
      grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
      scopes: ['authmesh.admin', 'authmesh.read'],
      skipConsent: true,
    });
    expect((await t.store.clients.get(t.config.adminClientId)).secretHash).toBe(hashToken(t.config.adminClientSecret as string));
  });

  it('bootstrap without a configured secret prints a generated one once and leaves an existing client alone', async () => {
    const adminClientId = uniqueId('boot');
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const deps = { ...t.mesh.deps, config: { ...t.config, adminClientId, adminClientSecret: undefined } };
      const manager = createClientManager(deps);
      await bootstrapAdminClient(deps, manager);
      await bootstrapAdminClient(deps, manager);
    } finally {
      spy.mockRestore();
    }
    const banner = writes.join('');
    expect(banner.match(/bootstrap admin client created/g)).toHaveLength(1);
    const secret = /client_secret: (\S+)/.exec(banner)?.[1] as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(secretAuth(adminClientId, secret)).resolves.toBeDefined();
  });
});

describe('AuthenticateClient with private_key_jwt (RFC 7523)', () => {
  const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
  let clientId: string;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = await exportJWK(pair.publicKey);
    const res = await create(
      confidential({
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
        jwks: { keys: [{ ...jwk, kid: 'k1', use: 'sig' }] },
      }),
    );
    expect(res.clientSecret).toBe('');
    clientId = res.client!.clientId;
  });

  const sign = (o: { iss?: string; sub?: string; aud?: string | string[]; exp?: number; jti?: string | null; key?: CryptoKey; alg?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = { jti: o.jti === null ? undefined : (o.jti ?? uniqueId('jti')) };
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: o.alg ?? 'ES256', kid: 'k1' })
      .setIssuer(o.iss ?? clientId)
      .setSubject(o.sub ?? clientId)
      .setAudience(o.aud ?? `${t.config.issuer}/oauth2/token`)
      .setIssuedAt(now)
      .setExpirationTime(o.exp ?? now + 60);
    return jwt.sign(o.key ?? privateKey);
  };
  const assert = (clientAssertion: string, over: { clientAssertionType?: string; clientId?: string; endpointUrl?: string } = {}) =>
    auth({
      $case: 'clientAssertion',
      value: { clientAssertionType: over.clientAssertionType ?? TYPE, clientAssertion, clientId: over.clientId ?? '', endpointUrl: over.endpointUrl ?? '' },
    });

  it('accepts a valid assertion once and rejects its replay', async () => {
    const jwt = await sign();
    const res = await assert(jwt, { clientId });
    expect(res.client?.clientId).toBe(clientId);
    await expect(assert(jwt)).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it("accepts this server's issuer and endpoint URLs as audience", async () => {
    for (const aud of [t.config.issuer, `${t.config.issuer}/oauth2/introspect`, `${t.config.issuer}/oauth2/revoke`, ['https://other.example', t.config.issuer]]) {
      await expect(assert(await sign({ aud })), JSON.stringify(aud)).resolves.toBeDefined();
    }
  });

  it('refuses an assertion addressed to another authorization server even when the caller names it as endpoint_url (RFC 7523 §3)', async () => {
    const elsewhere = 'https://other-as.example.com/oauth2/token';
    await expect(assert(await sign({ aud: elsewhere }), { endpointUrl: elsewhere })).rejects.toMatchObject({ code: 'invalid_client' });
    await expect(assert(await sign({ aud: ['https://other-as.example.com', elsewhere] }), { endpointUrl: elsewhere })).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it('never accepts a client secret for a private_key_jwt client', async () => {
    await expect(secretAuth(clientId, '')).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it.each([
    ['a wrong audience', async () => assert(await sign({ aud: 'https://evil.example' }))],
    ['an endpoint audience the caller did not name', async () => assert(await sign({ aud: 'https://edge.example.com/x' }))],
    ['an expired assertion', async () => assert(await sign({ exp: Math.floor(Date.now() / 1000) - 120 }))],
    ['an exp too far ahead', async () => assert(await sign({ exp: Math.floor(Date.now() / 1000) + 3600 }))],
    ['a missing jti', async () => assert(await sign({ jti: null }))],
    ['iss different from sub', async () => assert(await sign({ iss: 'someone-else' }))],
    ['sub naming another client', async () => assert(await sign({ iss: t.config.adminClientId, sub: t.config.adminClientId }))],
    ['a client_id different from sub', async () => assert(await sign(), { clientId: t.config.adminClientId })],
    ['a wrong assertion type', async () => assert(await sign(), { clientAssertionType: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' })],
    ['a signature by an unregistered key', async () => assert(await sign({ key: otherKey }))],
    [
      'HS256 signed with the public key material',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        const secret = new TextEncoder().encode(JSON.stringify((await t.store.clients.get(clientId)).jwks));
        const jwt = await new SignJWT({ jti: uniqueId('jti') })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(t.config.issuer)
          .setExpirationTime(now + 60)
          .sign(secret);
        return assert(jwt);
      },
    ],
    [
      'alg none',
      async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        return assert(`${enc({ alg: 'none' })}.${enc({ iss: clientId, sub: clientId, aud: t.config.issuer, exp: now + 60, jti: uniqueId('j') })}.`);
      },
    ],
    ['garbage', async () => assert('not.a.jwt')],
  ])('rejects %s with invalid_client', async (_n, call) => {
    await expect(call()).rejects.toMatchObject({ code: 'invalid_client', description: 'client authentication failed' });
  });
});

describe('RFC 7592 registration access tokens', () => {
  const createWithToken = (client: Partial<ClientMessage>) =>
    t.anon.client.createClient({ client: ClientMsg.fromPartial(client), issueRegistrationAccessToken: true }, { bearer: admin });
  const authorize = (clientId: string, registrationAccessToken: string) => t.peers.client.authorizeRegistration({ clientId, registrationAccessToken });
  const updateReg = (client: Partial<ClientMessage>, registrationAccessToken: string) =>
    t.peers.client.updateRegistration({ client: ClientMsg.fromPartial(client), registrationAccessToken });
  const deleteReg = (clientId: string, registrationAccessToken: string) => t.peers.client.deleteRegistration({ clientId, registrationAccessToken });

  it('issues a token on create only when asked, shown once and stored as its SHA-256 hash', async () => {
    const res = await createWithToken(confidential());
    expect(res.registrationAccessToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.registrationAccessToken).not.toBe(res.clientSecret);
    const stored = await t.store.clients.get(res.client!.clientId);
    expect(stored.registrationAccessTokenHash).toBe(hashToken(res.registrationAccessToken));
    const plain = await create(confidential());
    expect(plain.registrationAccessToken).toBe('');
    expect((await t.store.clients.get(plain.client!.clientId)).registrationAccessTokenHash).toBeUndefined();
    // The plain client has no token, so no token (not even the other client's) manages it.
    await expect(authorize(plain.client!.clientId, res.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('AuthorizeRegistration returns the client for its own token and the same invalid_token otherwise', async () => {
    const a = await createWithToken(confidential());
    const b = await createWithToken(confidential());
    const id = a.client!.clientId;
    expect((await authorize(id, a.registrationAccessToken)).client).toMatchObject({ clientId: id, scopes: ['orders.read'] });
    const refusals = [
      authorize(id, b.registrationAccessToken),
      authorize(id, `${a.registrationAccessToken}x`),
      authorize(id, ''),
      authorize(id, 'x'.repeat(5000)),
      authorize(uniqueId('missing'), a.registrationAccessToken),
      authorize('not a valid id!', a.registrationAccessToken),
    ];
    const errors = await Promise.all(refusals.map((p) => p.then(() => undefined, (e: unknown) => e as { code: string; message: string })));
    for (const err of errors) expect(err).toMatchObject({ code: 'invalid_token' });
    // RFC 7592 §2.1: an unknown client and a bad token are indistinguishable.
    expect(new Set(errors.map((e) => e!.message)).size).toBe(1);
  });

  it('refuses the internal registration RPCs with a bearer token (access_denied) and without credentials (invalid_token)', async () => {
    const a = await createWithToken(confidential());
    const id = a.client!.clientId;
    const token = a.registrationAccessToken;
    const calls = [
      (o: { bearer?: string }) => t.anon.client.authorizeRegistration({ clientId: id, registrationAccessToken: token }, o),
      (o: { bearer?: string }) => t.anon.client.updateRegistration({ client: ClientMsg.fromPartial({ clientId: id }), registrationAccessToken: token }, o),
      (o: { bearer?: string }) => t.anon.client.deleteRegistration({ clientId: id, registrationAccessToken: token }, o),
    ];
    for (const call of calls) {
      await expect(call({ bearer: admin })).rejects.toMatchObject({ code: 'access_denied' });
      await expect(call({})).rejects.toMatchObject({ code: 'invalid_token' });
    }
    expect((await t.store.clients.get(id)).version).toBe(1);
  });

  it('UpdateRegistration replaces RFC 7591 metadata, rotates the token and never reaches admin settings', async () => {
    const a = await createWithToken(
      confidential({
        grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
        redirectUris: ['https://app.example.com/cb'],
        scopes: ['orders.read', 'orders.write'],
        audience: ['https://api.example.com'],
        accessTokenTtlSeconds: 120,
      }),
    );
    const id = a.client!.clientId;
    const res = await updateReg(
      {
        clientId: id,
        clientName: 'renamed by itself',
        clientType: ClientType.CLIENT_TYPE_TRUSTED,
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
        redirectUris: ['https://app.example.com/new-cb'],
        scopes: ['orders.read'],
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST,
        // Admin settings: ignored under a registration access token.
        skipConsent: true,
        requirePkce: false,
        audience: ['https://evil.example.com'],
        accessTokenTtlSeconds: 86_400,
      },
      a.registrationAccessToken,
    );
    expect(res.registrationAccessToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.registrationAccessToken).not.toBe(a.registrationAccessToken);
    // The client already had a secret: it is kept, not reissued.
    expect(res.clientSecret).toBe('');
    expect(res.client).toMatchObject({
      clientName: 'renamed by itself',
      clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
      scopes: ['orders.read'],
      redirectUris: ['https://app.example.com/new-cb'],
      skipConsent: false,
      requirePkce: true,
      audience: ['https://api.example.com'],
      accessTokenTtlSeconds: 120,
    });
    const stored = await t.store.clients.get(id);
    expect(stored.registrationAccessTokenHash).toBe(hashToken(res.registrationAccessToken));
    expect(stored.secretHash).toBe(hashToken(a.clientSecret));
    await expect(authorize(id, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(authorize(id, res.registrationAccessToken)).resolves.toBeDefined();
  });

  it('UpdateRegistration refuses to widen grants or scopes (invalid_client_metadata) and changes nothing', async () => {
    const a = await createWithToken(confidential());
    const id = a.client!.clientId;
    const before = await t.store.clients.get(id);
    const base = { clientId: id, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['orders.read'] };
    await expect(updateReg({ ...base, scopes: ['orders.read', 'authmesh.admin'] }, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    await expect(updateReg({ ...base, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_TOKEN_EXCHANGE] }, a.registrationAccessToken)).rejects.toMatchObject({
      code: 'invalid_client_metadata',
    });
    // Omitted grant_types mean authorization_code (RFC 7591 §2), which this client was never allowed.
    await expect(updateReg({ clientId: id, scopes: ['orders.read'] }, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    await expect(updateReg({ ...base, scopes: ['orders.read'] }, 'wrong')).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(updateReg({ ...base, clientId: uniqueId('missing') }, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
    const after = await t.store.clients.get(id);
    expect(after).toEqual(before);
    await expect(authorize(id, a.registrationAccessToken)).resolves.toBeDefined();
  });

  it('keeps an admin-made trusted client trusted, makes a none client public, and issues a first secret', async () => {
    const trusted = await createWithToken(confidential({ clientType: ClientType.CLIENT_TYPE_TRUSTED, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS] }));
    const kept = await updateReg(
      { clientId: trusted.client!.clientId, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: [], tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC },
      trusted.registrationAccessToken,
    );
    expect(kept.client?.clientType).toBe(ClientType.CLIENT_TYPE_TRUSTED);
    expect(kept.client?.scopes).toEqual([]);

    const pub = await createWithToken(publicClient());
    const pubId = pub.client!.clientId;
    expect(pub.clientSecret).toBe('');
    const code = [GrantType.GRANT_TYPE_AUTHORIZATION_CODE];
    const switched = await updateReg(
      { clientId: pubId, grantTypes: code, redirectUris: ['https://app.example.com/cb'], tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC },
      pub.registrationAccessToken,
    );
    expect(switched.client?.clientType).toBe(ClientType.CLIENT_TYPE_CONFIDENTIAL);
    expect(switched.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(secretAuth(pubId, switched.clientSecret)).resolves.toBeDefined();
    const back = await updateReg(
      { clientId: pubId, grantTypes: code, redirectUris: ['https://app.example.com/cb'], tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE },
      switched.registrationAccessToken,
    );
    expect(back.client).toMatchObject({ clientType: ClientType.CLIENT_TYPE_PUBLIC, requirePkce: true });
    expect((await t.store.clients.get(pubId)).secretHash).toBeUndefined();
  });

  it('UpdateClient with issue_registration_access_token replaces the token; without it keeps it', async () => {
    const a = await createWithToken(confidential());
    const id = a.client!.clientId;
    const kept = await update({ clientId: id, clientName: 'x' }, ['client_name']);
    expect(kept.registrationAccessToken).toBe('');
    await expect(authorize(id, a.registrationAccessToken)).resolves.toBeDefined();
    const rotated = await t.anon.client.updateClient(
      { client: ClientMsg.fromPartial({ clientId: id, clientName: 'y' }), updateMask: ['client_name'], issueRegistrationAccessToken: true },
      { bearer: admin },
    );
    expect(rotated.registrationAccessToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(authorize(id, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(authorize(id, rotated.registrationAccessToken)).resolves.toMatchObject({ client: { clientName: 'y' } });
    // A client created without a token gets its first one this way.
    const plain = await create(confidential());
    const first = await t.anon.client.updateClient(
      { client: ClientMsg.fromPartial({ clientId: plain.client!.clientId }), updateMask: ['client_name'], issueRegistrationAccessToken: true },
      { bearer: admin },
    );
    await expect(authorize(plain.client!.clientId, first.registrationAccessToken)).resolves.toBeDefined();
  });

  it('DeleteRegistration deletes only with the client’s own token', async () => {
    const a = await createWithToken(confidential());
    const b = await createWithToken(confidential());
    const id = a.client!.clientId;
    await expect(deleteReg(id, b.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(deleteReg(uniqueId('missing'), a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.store.clients.get(id)).resolves.toBeDefined();
    await deleteReg(id, a.registrationAccessToken);
    await expectAbsent(id);
    await expect(get(id)).rejects.toMatchObject({ code: 'not_found' });
    // Gone: the token now answers like any bad token.
    await expect(authorize(id, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(deleteReg(id, a.registrationAccessToken)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});
