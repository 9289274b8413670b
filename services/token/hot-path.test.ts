// The hot paths of issue 12 over real gRPC and the real stores: what is served from memory
// (verified tokens, client records) stays exactly as safe as before, and a successful token
// request writes nothing to the store unless AUTHMESH_AUDIT_SUCCESS asks for it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { IntrospectTokenRequest, RevokeTokenRequest, TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { createRpcClient } from '../core/rpc/index.js';
import { createGridFromConfig } from '../core/grid/index.js';
import { silentLogger } from '../core/log/index.js';
import { AUDIT_SUCCESS_SAMPLE_RATE } from '../audit-queue.js';
import { createClientManager } from '../client/index.js';
import { testDatabaseUrl } from '../../test/support/databases.js';
import { startTestMesh } from '../../test/support/mesh.js';
import { hazelcastMembers } from '../../test/support/stack.js';

const secretCreds = (clientId: string, secret: string): ClientCredentials => ({
  credential: { $case: 'clientSecret', value: { clientId, clientSecret: secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
});

/** A mesh with one confidential client_credentials client and an ext_authz client. */
async function startFixture(env: Record<string, string> = {}) {
  const t = await startTestMesh(env);
  const admin = await t.bearer();
  const created = await t.anon.client.createClient(
    CreateClientRequest.fromPartial({
      client: { clientName: 'backend', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] },
    }),
    { bearer: admin },
  );
  const client = { id: created.client!.clientId, secret: created.clientSecret };
  const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
  const issue = (secret = client.secret) =>
    t.anon.token.token(TokenRequest.fromPartial({ client: secretCreds(client.id, secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } }));
  const introspect = (token: string) => t.anon.token.introspectToken(IntrospectTokenRequest.fromPartial({ client: secretCreds(client.id, client.secret), token }));
  const check = (token: string) =>
    authz.check(CheckRequest.fromPartial({ attributes: { request: { http: { method: 'GET', path: '/x', host: 'api.example', headers: { authorization: `Bearer ${token}` } } } } }));
  const revoke = (token: string) => t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(client.id, client.secret), token, tokenTypeHint: 'access_token' }));
  return {
    t,
    admin,
    client,
    issue,
    introspect,
    check,
    revoke,
    async close() {
      authz.close();
      await t.close();
    },
  };
}

describe('hot paths: verified-token cache behind introspection and ext_authz', () => {
  let f: Awaited<ReturnType<typeof startFixture>>;
  beforeAll(async () => {
    f = await startFixture();
  }, 60_000);
  afterAll(async () => {
    await f?.close();
  });

  it('introspection_refuses_a_revoked_token_on_the_next_call_after_a_cache_hit', async () => {
    const { accessToken } = await f.issue();
    expect((await f.introspect(accessToken)).active).toBe(true);
    const before = f.t.mesh.deps.verifier.cacheStats().hits;
    expect((await f.introspect(accessToken)).active).toBe(true);
    expect(f.t.mesh.deps.verifier.cacheStats().hits).toBeGreaterThan(before);
    await f.revoke(accessToken);
    // RFC 7662 §2.2 / RFC 7009 §2.1: revoked is inactive on the very next call.
    expect((await f.introspect(accessToken)).active).toBe(false);
  });

  it('ext_authz_denies_a_revoked_token_on_the_next_check_after_a_cache_hit', async () => {
    const { accessToken } = await f.issue();
    expect((await f.check(accessToken)).httpResponse?.$case).toBe('okResponse');
    const before = f.t.mesh.deps.verifier.cacheStats().hits;
    expect((await f.check(accessToken)).httpResponse?.$case).toBe('okResponse');
    expect(f.t.mesh.deps.verifier.cacheStats().hits).toBeGreaterThan(before);
    await f.revoke(accessToken);
    const denied = await f.check(accessToken);
    expect(denied.httpResponse?.$case).toBe('deniedResponse');
    expect(denied.status?.code).toBe(16);
  });

  it('a token altered after a cached check is not served from the cache', async () => {
    const { accessToken } = await f.issue();
    expect((await f.check(accessToken)).httpResponse?.$case).toBe('okResponse');
    const [h, p, s] = accessToken.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const raised = Buffer.from(JSON.stringify({ ...payload, scope: 'read authmesh.admin' })).toString('base64url');
    expect((await f.check(`${h}.${raised}.${s}`)).httpResponse?.$case).toBe('deniedResponse');
    expect((await f.introspect(`${h}.${raised}.${s}`)).active).toBe(false);
  });
});

describe('hot paths: client records from the grid cache', () => {
  let f: Awaited<ReturnType<typeof startFixture>>;
  beforeAll(async () => {
    f = await startFixture();
  }, 60_000);
  afterAll(async () => {
    await f?.close();
  });

  it('rotated_secret_is_refused_on_the_very_next_call', async () => {
    await f.issue(); // the client record is now in the cache
    const rotated = await f.t.anon.client.rotateClientSecret({ clientId: f.client.id, previousSecretGraceSeconds: 0 }, { bearer: f.admin });
    await expect(f.issue(f.client.secret)).rejects.toMatchObject({ code: 'invalid_client' });
    expect((await f.issue(rotated.clientSecret)).accessToken).toBeTruthy();
    f.client.secret = rotated.clientSecret;
  });

  it('updated_grant_types_apply_on_the_very_next_call', async () => {
    await f.issue();
    await f.t.anon.client.updateClient(
      { client: Client.fromPartial({ clientId: f.client.id, grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE], redirectUris: ['https://app.example.com/cb'] }), updateMask: ['grant_types', 'redirect_uris'] },
      { bearer: f.admin },
    );
    // RFC 6749 §5.2: the client is no longer registered for client_credentials.
    await expect(f.issue()).rejects.toMatchObject({ code: 'unauthorized_client' });
    await f.t.anon.client.updateClient({ client: Client.fromPartial({ clientId: f.client.id, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS] }), updateMask: ['grant_types'] }, { bearer: f.admin });
    expect((await f.issue()).accessToken).toBeTruthy();
  });
});

describe('hot paths: AUTHMESH_AUDIT_SUCCESS', () => {
  const issuedRows = async (f: Awaited<ReturnType<typeof startFixture>>) => (await f.t.store.audit.list({ type: 'token.issued', clientId: f.client.id, pageSize: 1000 })).items;

  it('off (the default): no token.issued rows, while failures and revocations are always written', async () => {
    const f = await startFixture();
    try {
      expect(f.t.config.auditSuccess).toBe('off');
      const { accessToken } = await f.issue();
      await f.issue();
      expect(await issuedRows(f)).toHaveLength(0);
      await expect(f.issue('wrong-secret')).rejects.toMatchObject({ code: 'invalid_client' });
      await f.revoke(accessToken);
      const failed = await f.t.store.audit.list({ type: 'client.auth_failed', clientId: f.client.id });
      const revoked = await f.t.store.audit.list({ type: 'token.revoked', clientId: f.client.id });
      expect(failed.items).toHaveLength(1);
      expect(revoked.items).toHaveLength(1);
    } finally {
      await f.close();
    }
  }, 60_000);

  it('all: one token.issued row per token', async () => {
    const f = await startFixture({ AUTHMESH_AUDIT_SUCCESS: 'all' });
    try {
      for (let i = 0; i < 3; i++) await f.issue();
      expect(await issuedRows(f)).toHaveLength(3);
    } finally {
      await f.close();
    }
  }, 60_000);

  it(`sampled: one token.issued row in ${AUDIT_SUCCESS_SAMPLE_RATE}, saying what it stands for`, async () => {
    const f = await startFixture({ AUTHMESH_AUDIT_SUCCESS: 'sampled' });
    try {
      for (let i = 0; i < AUDIT_SUCCESS_SAMPLE_RATE + 1; i++) await f.issue();
      const rows = await issuedRows(f);
      expect(rows).toHaveLength(2);
      expect(rows.every((r) => r.details.sampled_one_in === AUDIT_SUCCESS_SAMPLE_RATE)).toBe(true);
      await expect(f.issue('wrong-secret')).rejects.toMatchObject({ code: 'invalid_client' });
      expect((await f.t.store.audit.list({ type: 'client.auth_failed', clientId: f.client.id })).items).toHaveLength(1);
    } finally {
      await f.close();
    }
  }, 60_000);
});

// Every row of every table, fingerprinted through a connection of its own: an INSERT, UPDATE or
// DELETE by anyone between two fingerprints changes one.
async function fingerprint(url: string): Promise<Record<string, string>> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const tables = await db.query<{ name: string }>("SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1");
    const out: Record<string, string> = {};
    for (const { name } of tables.rows) {
      const r = await db.query<{ n: string; h: string | null }>(`SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${name} t`);
      out[name] = `${r.rows[0]!.n}:${r.rows[0]!.h ?? ''}`;
    }
    return out;
  } finally {
    await db.end();
  }
}

const postgres = testDatabaseUrl('postgres');
describe.skipIf(postgres.skip !== undefined)('hot paths: no store write on success (PostgreSQL)', () => {
  const run = async (env: Record<string, string>) => {
    const previous = process.env.AUTHMESH_TEST_STORE;
    process.env.AUTHMESH_TEST_STORE = 'postgres';
    const f = await startFixture(env).finally(() => {
      if (previous === undefined) delete process.env.AUTHMESH_TEST_STORE;
      else process.env.AUTHMESH_TEST_STORE = previous;
    });
    try {
      const url = f.t.config.databaseUrl!;
      // Warm: the first token loads the client and the keys into the grid (reads).
      const first = await f.issue();
      await f.introspect(first.accessToken);
      await f.check(first.accessToken);
      await f.t.mesh.flushAudit();
      const before = await fingerprint(url);
      for (let i = 0; i < 20; i++) {
        const { accessToken } = await f.issue();
        expect((await f.introspect(accessToken)).active).toBe(true);
        expect((await f.check(accessToken)).httpResponse?.$case).toBe('okResponse');
      }
      await f.t.mesh.flushAudit();
      const after = await fingerprint(url);
      return { before, after, f };
    } catch (err) {
      await f.close();
      throw err;
    }
  };

  it('no_store_write_on_a_successful_client_credentials_token, introspection or ext_authz check', async () => {
    const { before, after, f } = await run({});
    try {
      expect(Object.keys(before).length).toBeGreaterThan(5);
      expect(after).toEqual(before);
      // The fingerprint does see writes: a failed authentication is a security event, written.
      await expect(f.issue('wrong-secret')).rejects.toMatchObject({ code: 'invalid_client' });
      await f.t.mesh.flushAudit();
      expect((await fingerprint(f.t.config.databaseUrl!)).audit_events).not.toBe(before.audit_events);
    } finally {
      await f.close();
    }
  }, 120_000);

  it('with AUTHMESH_AUDIT_SUCCESS=all the issued tokens are the only rows written', async () => {
    const { before, after, f } = await run({ AUTHMESH_AUDIT_SUCCESS: 'all' });
    try {
      expect(after.audit_events).not.toBe(before.audit_events);
      expect({ ...after, audit_events: '' }).toEqual({ ...before, audit_events: '' });
    } finally {
      await f.close();
    }
  }, 120_000);
});

const hazelcast = hazelcastMembers();
describe.skipIf(hazelcast.skip !== undefined)('hot paths: client records on a shared Hazelcast grid (two instances)', () => {
  it('rotated_secret_is_refused_by_another_instance_on_the_very_next_call', async () => {
    const namespace = `t${Math.random().toString(36).slice(2, 10)}`;
    // Instance A: the whole mesh. Instance B: another client service on the same grid and store,
    // with a Hazelcast client (and so a near cache, were clients near-cached) of its own.
    const f = await startFixture({ AUTHMESH_GRID: 'hazelcast', AUTHMESH_HAZELCAST_MEMBERS: hazelcast.members!, AUTHMESH_GRID_NAMESPACE: namespace });
    const gridB = await createGridFromConfig(f.t.config);
    try {
      const b = createClientManager({ grid: gridB, store: f.t.mesh.deps.store, config: f.t.config, audit: async () => undefined, now: () => new Date(), log: silentLogger() });
      const presented = (secret: string) => ({ kind: 'secret' as const, clientId: f.client.id, clientSecret: secret, method: 'client_secret_basic' });
      // B has read the client (twice: a near cache would now answer from memory).
      await b.authenticate(presented(f.client.secret));
      await b.authenticate(presented(f.client.secret));
      // Rotated through A's grid client, in this process: B's next call follows the acknowledgement
      // with no network hop in between (an invalidation message would have to win that race).
      const a = createClientManager({ ...f.t.mesh.deps, audit: async () => undefined });
      const rotated = await a.rotateSecret(f.client.id, 0);
      await expect(b.authenticate(presented(f.client.secret))).rejects.toMatchObject({ code: 'invalid_client' });
      expect((await b.authenticate(presented(rotated.clientSecret))).clientId).toBe(f.client.id);
      // An update on A (grant types) is what B sees next, too.
      await f.t.anon.client.updateClient({ client: Client.fromPartial({ clientId: f.client.id, scopes: ['read', 'write'] }), updateMask: ['scopes'] }, { bearer: f.admin });
      expect((await b.authenticate(presented(rotated.clientSecret))).scopes).toEqual(['read', 'write']);
    } finally {
      await gridB.close();
      await f.close();
    }
  }, 60_000);
});
