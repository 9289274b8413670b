// The token endpoint over real gRPC: every grant, introspection, revocation and ext_authz Check,
// driven through the real client, user, code, refresh-token, service and key services.
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type Client, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest, IssueCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { IntrospectTokenRequest, RevokeTokenRequest, TokenRequest, type TokenResponse } from '../../gen/ts/authmesh/token/v1/token.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { buildAccessTokenClaims, hashToken } from '../core/oauth/index.js';
import { createRpcClient } from '../core/rpc/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { createUserCache } from '../user/user-cache.js';

const REDIRECT = 'https://app.example.com/cb';
const ORDERS = 'https://orders.example.com';

const b64url = (b: Buffer) => b.toString('base64url');
function pkce() {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

function secretCreds(clientId: string, secret: string, method = TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC): ClientCredentials {
  return { credential: { $case: 'clientSecret', value: { clientId, clientSecret: secret, method } } };
}
const publicCreds = (clientId: string): ClientCredentials => ({ credential: { $case: 'clientId', value: clientId } });

describe('token service over gRPC', () => {
  let t: TestMesh;
  let admin: string;
  let conf: { id: string; secret: string };
  let other: { id: string; secret: string };
  let pub: string;
  let userId: string;
  let authz: ReturnType<typeof createRpcClient<typeof AuthorizationService>>;

  const token = (req: Partial<TokenRequest> & Pick<TokenRequest, 'grant' | 'client'>) => t.anon.token.token(TokenRequest.fromPartial(req as never));

  async function codeFor(clientId: string, scope: string, challenge?: string) {
    const request = AuthorizationRequest.fromPartial({
      responseType: 'code',
      clientId,
      redirectUri: REDIRECT,
      scope,
      state: 'xyz',
      ...(challenge ? { codeChallenge: challenge, codeChallengeMethod: 'S256' } : {}),
    });
    await t.peers.code.validateAuthorizationRequest({ request, userId, authTime: undefined });
    const issued = await t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId, authTime: new Date() }));
    return issued.code;
  }

  async function codeFlow(clientId: string, creds: ClientCredentials, scope = 'read write') {
    const p = pkce();
    const code = await codeFor(clientId, scope, p.challenge);
    return token({ client: creds, grant: { $case: 'authorizationCode', value: { code, redirectUri: REDIRECT, codeVerifier: p.verifier, resource: [] } } });
  }

  async function verify(jwt: string) {
    const { keys } = await t.anon.key.getJwks({});
    const set = createLocalJWKSet({ keys: keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== ''))) });
    return (await jwtVerify(jwt, set, { issuer: t.config.issuer, typ: 'at+jwt', algorithms: ['ES256'] })).payload;
  }

  const introspect = async (tok: string, creds = secretCreds(conf.id, conf.secret), hint = '') =>
    t.anon.token.introspectToken(IntrospectTokenRequest.fromPartial({ client: creds, token: tok, tokenTypeHint: hint }));

  const check = (authorization: string | undefined, ext: Record<string, string>, path = '/orders/42', method = 'GET') =>
    authz.check(
      CheckRequest.fromPartial({
        attributes: {
          request: { http: { method, path, host: 'orders.example.com', headers: authorization ? { authorization } : {} } },
          contextExtensions: ext,
        },
      }),
    );

  beforeAll(async () => {
    t = await startTestMesh();
    admin = await t.bearer();
    const mk = async (client: Partial<Client>) => {
      const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client } as never), { bearer: admin });
      return { id: res.client!.clientId, secret: res.clientSecret };
    };
    conf = await mk({
      clientName: 'backend',
      clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
      redirectUris: [REDIRECT],
      grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_REFRESH_TOKEN, GrantType.GRANT_TYPE_TOKEN_EXCHANGE],
      scopes: ['read', 'write', 'orders.read'],
      requirePkce: true,
    });
    other = await mk({ clientName: 'other', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] });
    pub = (
      await mk({
        clientName: 'spa',
        clientType: ClientType.CLIENT_TYPE_PUBLIC,
        redirectUris: [REDIRECT],
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
        scopes: ['read'],
      })
    ).id;
    const user = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: 'alice' }, password: 'correct horse battery staple' }), { bearer: admin });
    userId = user.user!.userId;
    await t.anon.service.createService(
      CreateServiceRequest.fromPartial({
        service: { displayName: 'orders', audience: ORDERS, endpoints: [{ method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] }, { method: 'POST', path: '/orders', scope: 'orders.write', allowedClientIds: [] }] },
      }),
      { bearer: admin },
    );
    authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
  }, 60_000);

  afterAll(async () => {
    authz?.close();
    await t?.close();
  });

  describe('client_credentials', () => {
    it('issues an RFC 9068 access token that verifies against the JWKS', async () => {
      const res = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } });
      expect(res).toMatchObject({ tokenType: 'Bearer', expiresIn: 600, scope: 'read', refreshToken: '' });
      const header = decodeProtectedHeader(res.accessToken);
      expect(header.typ).toBe('at+jwt');
      expect(header.kid).toBeTruthy();
      const claims = await verify(res.accessToken);
      expect(claims).toMatchObject({ iss: t.config.issuer, sub: conf.id, client_id: conf.id, scope: 'read', aud: t.config.issuer });
      expect(typeof claims.jti).toBe('string');
      expect(claims.exp! - claims.iat!).toBe(600);
    });

    it('grants every allowed scope when none is asked, and refuses more', async () => {
      const res = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } });
      expect(res.scope.split(' ').sort()).toEqual(['orders.read', 'read', 'write']);
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read admin', resource: [] } } })).rejects.toMatchObject({ code: 'invalid_scope' });
    });

    it('an error echoing a 60,000-character scope does not stall the connection other clients share', async () => {
      // Before the bound on error metadata, this error's trailers exceeded 64 KiB: the call and
      // every later call on the same HTTP/2 connection waited for their deadline (503 at the edge).
      const huge = 'a'.repeat(60_000);
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: huge, resource: [] } } })).rejects.toMatchObject({
        code: 'invalid_scope',
      });
      const next = await token({ client: secretCreds(other.id, other.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } });
      expect(next.accessToken).toMatch(/^ey/);
    });

    it('narrows audience and scope to a resource indicator, refuses an unknown one', async () => {
      const res = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: [ORDERS] } } });
      expect(res.scope).toBe('orders.read');
      expect((await verify(res.accessToken)).aud).toBe(ORDERS);
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: ['https://unknown.example.com'] } } })).rejects.toMatchObject({ code: 'invalid_target' });
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [ORDERS] } } })).rejects.toMatchObject({ code: 'invalid_scope' });
    });

    it('refuses a wrong secret, a wrong method and a public client', async () => {
      await expect(token({ client: secretCreds(conf.id, 'x'.repeat(43)), grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } })).rejects.toMatchObject({ code: 'invalid_client' });
      await expect(
        token({ client: secretCreds(conf.id, conf.secret, TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST), grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } }),
      ).rejects.toMatchObject({ code: 'invalid_client' });
      await expect(token({ client: publicCreds(pub), grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } })).rejects.toMatchObject({ code: 'unauthorized_client' });
      await expect(token({ client: { credential: undefined }, grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } })).rejects.toMatchObject({ code: 'invalid_client' });
    });

    it('refuses a missing grant and a grant the client is not registered for', async () => {
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: undefined })).rejects.toMatchObject({ code: 'unsupported_grant_type' });
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'password', value: { username: 'alice', password: 'x', scope: '', resource: [] } } })).rejects.toMatchObject({ code: 'unsupported_grant_type' });
      await expect(token({ client: secretCreds(other.id, other.secret), grant: { $case: 'refreshToken', value: { refreshToken: 'x', scope: '', resource: [] } } })).rejects.toMatchObject({ code: 'unauthorized_client' });
    });

    it('tokens of the bootstrap admin client call admin RPCs; others get insufficient_scope', async () => {
      const res = await token({ client: secretCreds(t.config.adminClientId, process.env.__never__ ?? t.config.adminClientSecret!), grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin', resource: [] } } });
      const list = await t.anon.client.listClients({ pageSize: 100, pageToken: '' }, { bearer: res.accessToken });
      expect(list.clients.map((c) => c.clientId)).toContain(conf.id);
      const weak = await token({ client: secretCreds(other.id, other.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } });
      await expect(t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { bearer: weak.accessToken })).rejects.toMatchObject({ code: 'insufficient_scope' });
    });
  });

  describe('private_key_jwt over gRPC (RFC 7523 §3)', () => {
    it("TokenService/Token refuses a client assertion addressed to another authorization server, whatever endpoint_url the caller sets", async () => {
      const pair = await generateKeyPair('ES256');
      const created = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: {
            clientName: 'jwt-client',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
            scopes: ['read'],
            tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
            jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig' }] },
          },
        } as never),
        { bearer: admin },
      );
      const clientId = created.client!.clientId;
      const assertion = (aud: string) =>
        new SignJWT({ jti: randomBytes(12).toString('hex') }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(clientId).setSubject(clientId).setAudience(aud).setIssuedAt().setExpirationTime('60s').sign(pair.privateKey);
      const withAssertion = async (aud: string, endpointUrl: string) =>
        token({
          client: { credential: { $case: 'clientAssertion', value: { clientAssertionType: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', clientAssertion: await assertion(aud), clientId, endpointUrl } } },
          grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } },
        });
      const elsewhere = 'https://other-as.example.com/oauth2/token';
      await expect(withAssertion(elsewhere, elsewhere)).rejects.toMatchObject({ code: 'invalid_client' });
      await expect(withAssertion(`${t.config.issuer}/oauth2/token`, elsewhere)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });
  });

  describe('admin RPC audience (RFC 9068 §4)', () => {
    it('admin RPCs over gRPC refuse a token issued for another API, whatever admin scope it carries', async () => {
      const created = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({ client: { clientName: 'orders-reader', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['authmesh.read', 'authmesh.admin'], audience: [ORDERS] } }),
        { bearer: admin },
      );
      const foreign = await token({ client: secretCreds(created.client!.clientId, created.clientSecret), grant: { $case: 'clientCredentials', value: { scope: 'authmesh.read authmesh.admin', resource: [] } } });
      expect((await verify(foreign.accessToken)).aud).toBe(ORDERS);
      await expect(t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { bearer: foreign.accessToken })).rejects.toMatchObject({ code: 'invalid_token' });
      await expect(t.anon.service.listServices({ pageSize: 1, pageToken: '' }, { bearer: foreign.accessToken })).rejects.toMatchObject({ code: 'invalid_token' });
      // The same client asks for authmesh itself as the resource (RFC 8707) and gets a token its RPCs accept.
      const ownApi = await token({ client: secretCreds(created.client!.clientId, created.clientSecret), grant: { $case: 'clientCredentials', value: { scope: 'authmesh.read', resource: [t.config.issuer] } } });
      expect(await verify(ownApi.accessToken)).toMatchObject({ aud: t.config.issuer, scope: 'authmesh.read' });
      await expect(t.anon.service.listServices({ pageSize: 1, pageToken: '' }, { bearer: ownApi.accessToken })).resolves.toBeDefined();
      // The bootstrap admin flow of the README still works: no resource, aud is the issuer.
      const own = await token({ client: secretCreds(t.config.adminClientId, t.config.adminClientSecret!), grant: { $case: 'clientCredentials', value: { scope: 'authmesh.admin', resource: [] } } });
      expect((await verify(own.accessToken)).aud).toBe(t.config.issuer);
      await expect(t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { bearer: own.accessToken })).resolves.toBeDefined();
    });
  });

  describe('authorization_code', () => {
    it('redeems a code with PKCE for an access token and a refresh token', async () => {
      const res = await codeFlow(conf.id, secretCreds(conf.id, conf.secret));
      expect(res.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(res.scope).toBe('read write');
      const claims = await verify(res.accessToken);
      expect(claims).toMatchObject({ sub: userId, client_id: conf.id, scope: 'read write' });
      expect(typeof claims.auth_time).toBe('number');
    });

    it('works for a public client authenticating with client_id only', async () => {
      const res = await codeFlow(pub, publicCreds(pub), 'read');
      expect((await verify(res.accessToken)).client_id).toBe(pub);
    });

    it('refuses a wrong verifier, and the code is gone afterwards', async () => {
      const p = pkce();
      const code = await codeFor(conf.id, 'read', p.challenge);
      const bad = { code, redirectUri: REDIRECT, codeVerifier: pkce().verifier, resource: [] };
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'authorizationCode', value: bad } })).rejects.toMatchObject({ code: 'invalid_grant' });
      await expect(
        token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'authorizationCode', value: { ...bad, codeVerifier: p.verifier } } }),
      ).rejects.toMatchObject({ code: 'invalid_grant' });
    });

    it('refuses a code issued to another client', async () => {
      const p = pkce();
      const code = await codeFor(pub, 'read', p.challenge);
      await expect(
        token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'authorizationCode', value: { code, redirectUri: REDIRECT, codeVerifier: p.verifier, resource: [] } } }),
      ).rejects.toMatchObject({ code: 'invalid_grant' });
    });

    it('a replayed code fails and revokes the tokens the first redemption issued', async () => {
      const p = pkce();
      const code = await codeFor(conf.id, 'read', p.challenge);
      const grant = { $case: 'authorizationCode' as const, value: { code, redirectUri: REDIRECT, codeVerifier: p.verifier, resource: [] } };
      const first = await token({ client: secretCreds(conf.id, conf.secret), grant });
      expect((await introspect(first.accessToken)).active).toBe(true);
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant })).rejects.toMatchObject({ code: 'invalid_grant' });
      expect((await introspect(first.accessToken)).active).toBe(false);
      expect((await introspect(first.refreshToken, undefined, 'refresh_token')).active).toBe(false);
      await expect(token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'refreshToken', value: { refreshToken: first.refreshToken, scope: '', resource: [] } } })).rejects.toMatchObject({ code: 'invalid_grant' });
    });
  });

  describe('authorization_code redeemed twice at once', () => {
    it('code_race_revokes_the_winner: the redemption that loses the race has the winner\'s tokens revoked (RFC 6749 §4.1.2)', async () => {
      // The replay marker used to be written after the take: a loser inside that window was refused
      // as an unknown code and the winner kept valid tokens. Races in rounds, bounded.
      for (let round = 0; round < 8; round++) {
        const p = pkce();
        const code = await codeFor(conf.id, 'read', p.challenge);
        const grant = { $case: 'authorizationCode' as const, value: { code, redirectUri: REDIRECT, codeVerifier: p.verifier, resource: [] } };
        const answers = await Promise.allSettled([0, 1, 2].map(() => token({ client: secretCreds(conf.id, conf.secret), grant })));
        const wins = answers.filter((a): a is PromiseFulfilledResult<TokenResponse> => a.status === 'fulfilled');
        expect(wins).toHaveLength(1);
        for (const a of answers) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'invalid_grant', description: 'the authorization code has already been used' });
        expect((await introspect(wins[0]!.value.accessToken)).active, `round ${round}`).toBe(false);
      }
    });
  });

  describe('refresh_token', () => {
    let start: TokenResponse;
    beforeAll(async () => {
      start = await codeFlow(conf.id, secretCreds(conf.id, conf.secret));
    });
    const refresh = (refreshToken: string, scope = '') => token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'refreshToken', value: { refreshToken, scope, resource: [] } } });

    it('refuses a wider scope and changes nothing: the token still refreshes afterwards', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      await expect(refresh(s.refreshToken, 'read write')).rejects.toMatchObject({ code: 'invalid_scope' });
      const ok = await refresh(s.refreshToken, 'read');
      expect(ok.scope).toBe('read');
    });

    it("refuses a refresh token of a disabled account even when its revocation was missed, and consumes nothing", async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      // Disable the account in the store behind the user service's back (as a failed revocation
      // after UpdateUser, or an operator's SQL, would leave it): the refresh tokens stay active.
      const cache = createUserCache(t.mesh.deps.grid, t.store.users);
      await t.store.users.update(userId, { disabled: true });
      await cache.evict(userId);
      try {
        expect((await introspect(s.refreshToken, undefined, 'refresh_token')).active).toBe(true);
        await expect(refresh(s.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant', message: expect.stringContaining('not active') });
      } finally {
        await t.store.users.update(userId, { disabled: false });
        await cache.evict(userId);
      }
      // Not consumed by the refusal: the same token rotates once the account is active again.
      expect((await refresh(s.refreshToken)).refreshToken).not.toBe(s.refreshToken);
    });

    it('refuses a refresh token presented by another client, without consuming it', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      await expect(
        token({ client: secretCreds(other.id, other.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: [] } } }).then(() =>
          t.anon.token.token(TokenRequest.fromPartial({ client: secretCreds(other.id, other.secret), grant: { $case: 'refreshToken', value: { refreshToken: s.refreshToken } } })),
        ),
      ).rejects.toMatchObject({ code: 'unauthorized_client' });
      expect((await refresh(s.refreshToken)).refreshToken).not.toBe(s.refreshToken);
    });

    it('rotates, narrows scope on request, and reuse of a rotated token revokes the family', async () => {
      const second = await refresh(start.refreshToken, 'read');
      expect(second.scope).toBe('read');
      expect(second.refreshToken).not.toBe(start.refreshToken);
      // The family keeps its original scope: a later refresh may ask for write again.
      const third = await refresh(second.refreshToken, 'read write');
      expect(third.scope).toBe('read write');
      await expect(refresh(start.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
      // Reuse detected: the newest token of the family is dead too.
      await expect(refresh(third.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
    });

    it('refresh-token reuse makes every access token of the family inactive at introspection and denied at ext_authz Check', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      const rt2 = await refresh(s.refreshToken);
      const rt2Family = (await t.store.refreshTokens.get(hashToken(rt2.refreshToken))).familyId;
      const allowed = async (at: string) => (await check(`Bearer ${at}`, {})).httpResponse?.$case === 'okResponse';
      expect((await introspect(s.accessToken)).active).toBe(true);
      expect((await introspect(rt2.accessToken)).active).toBe(true);
      expect(await allowed(s.accessToken)).toBe(true);
      expect(await allowed(rt2.accessToken)).toBe(true);
      // RT1 presented again after its rotation: reuse (RFC 9700 §4.14.2).
      await expect(refresh(s.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
      for (const at of [s.accessToken, rt2.accessToken]) {
        expect((await introspect(at)).active).toBe(false);
        expect(await allowed(at)).toBe(false);
      }
      expect((await introspect(rt2.refreshToken, undefined, 'refresh_token')).active).toBe(false);
      const audit = await t.store.audit.list({ type: 'refresh.reuse_revoked', clientId: conf.id });
      expect(audit.items.some((e) => e.details.grant_revoked === true && e.details.family_id === rt2Family)).toBe(true);
    });

    it('refresh-token reuse revokes by grant: a token of the family minted after the revocation (a racing rotation) is dead too, and minting records nothing per token', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      const rt2 = await refresh(s.refreshToken);
      const familyId = (await t.store.refreshTokens.get(hashToken(rt2.refreshToken))).familyId;
      // The grant is named by its opaque identifier, nothing derived from a refresh token.
      for (const at of [s.accessToken, rt2.accessToken]) expect((await verify(at)).gid).toBe(familyId);
      expect(JSON.stringify(await verify(rt2.accessToken))).not.toContain(hashToken(s.refreshToken));
      // No per-access-token bookkeeping on the request path (the old grant_access_tokens rows).
      expect(await t.store.grantTokens.take(familyId, new Date())).toEqual([]);
      await expect(refresh(s.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
      // What a rotation that won the race just before the reuse would mint, signed after the revocation.
      const late = buildAccessTokenClaims({ issuer: t.config.issuer, subject: userId, audience: t.config.issuer, clientId: conf.id, scope: ['read'], ttlSeconds: 300, now: new Date(), grantId: familyId });
      const { jwt } = await t.peers.key.signJwt({ claims: { ...late }, typ: 'at+jwt' });
      for (const at of [s.accessToken, rt2.accessToken, jwt]) {
        expect((await introspect(at)).active).toBe(false);
        expect((await check(`Bearer ${at}`, {})).httpResponse?.$case).not.toBe('okResponse');
      }
      // Another grant of the same client and user is untouched.
      const unrelated = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      expect((await introspect(unrelated.accessToken)).active).toBe(true);
    });

    it('eight parallel refreshes of one token without a grace window: at most one wins and reuse kills the family (strict)', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => refresh(s.refreshToken)));
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(won.length).toBeLessThanOrEqual(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'invalid_grant' });
      for (const w of won) {
        expect((await introspect(w.refreshToken, undefined, 'refresh_token')).active).toBe(false);
        expect((await introspect(w.accessToken)).active).toBe(false);
      }
      expect((await introspect(s.accessToken)).active).toBe(false);
    });

    it('eight parallel refreshes of one token within the client grace window all succeed and the family survives', async () => {
      const graceful = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: {
            clientName: 'tabs',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            redirectUris: [REDIRECT],
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
            scopes: ['read'],
            refreshTokenReuseGraceSeconds: 60,
          },
        }),
        { bearer: admin },
      );
      const id = graceful.client!.clientId;
      expect(graceful.client!.refreshTokenReuseGraceSeconds).toBe(60);
      const creds = secretCreds(id, graceful.clientSecret);
      const s = await codeFlow(id, creds, 'read');
      const again = (rt: string) => token({ client: creds, grant: { $case: 'refreshToken', value: { refreshToken: rt, scope: '', resource: [] } } });
      const results = await Promise.all(Array.from({ length: 8 }, () => again(s.refreshToken)));
      expect(new Set(results.map((r) => r.refreshToken)).size).toBe(8);
      const mine = (tok: string, hint = '') => introspect(tok, creds, hint);
      for (const r of results) {
        expect((await mine(r.refreshToken, 'refresh_token')).active).toBe(true);
        expect((await mine(r.accessToken)).active).toBe(true);
      }
      expect((await mine(s.accessToken)).active).toBe(true);
      // Every tab continues with its own successor.
      expect((await again(results[7]!.refreshToken)).refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await t.store.audit.list({ type: 'refresh.grace_rotated', clientId: id })).items.length).toBeGreaterThanOrEqual(7);
    });

    it('after the grace window, reuse revokes every access token minted by the concurrent sibling refreshes', async () => {
      const graceful = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: {
            clientName: 'tabs-short',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            redirectUris: [REDIRECT],
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
            scopes: ['read'],
            refreshTokenReuseGraceSeconds: 1,
          },
        }),
        { bearer: admin },
      );
      const creds = secretCreds(graceful.client!.clientId, graceful.clientSecret);
      const s = await codeFlow(graceful.client!.clientId, creds, 'read');
      const again = (rt: string) => token({ client: creds, grant: { $case: 'refreshToken', value: { refreshToken: rt, scope: '', resource: [] } } });
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => again(s.refreshToken)));
      const issued = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.accessToken] : []));
      expect(issued.length).toBeGreaterThan(0);
      // Past the one-second window (with the grid's second granularity to spare), the old token again is reuse.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      await expect(again(s.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
      for (const at of [s.accessToken, ...issued]) expect((await introspect(at, creds)).active).toBe(false);
    });

    it('refuses garbage', async () => {
      await expect(refresh('nope')).rejects.toMatchObject({ code: 'invalid_grant' });
      await expect(refresh('')).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('token exchange (RFC 8693)', () => {
    it('exchanges a user token for a narrower one for another audience, with act', async () => {
      const user = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read orders.read');
      const res = await token({
        client: secretCreds(conf.id, conf.secret),
        grant: {
          $case: 'tokenExchange',
          value: { subjectToken: user.accessToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token', actorToken: '', actorTokenType: '', requestedTokenType: '', scope: 'orders.read', audience: [ORDERS], resource: [] },
        },
      });
      expect(res.issuedTokenType).toBe('urn:ietf:params:oauth:token-type:access_token');
      expect(res.refreshToken).toBe('');
      const claims = await verify(res.accessToken);
      expect(claims).toMatchObject({ sub: userId, aud: ORDERS, scope: 'orders.read', act: { sub: conf.id } });
    });

    it('an exchanged token carries its subject token\'s grant and dies when that grant is revoked by refresh-token reuse', async () => {
      const user = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read orders.read');
      const res = await token({
        client: secretCreds(conf.id, conf.secret),
        grant: {
          $case: 'tokenExchange',
          value: { subjectToken: user.accessToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token', actorToken: '', actorTokenType: '', requestedTokenType: '', scope: 'orders.read', audience: [ORDERS], resource: [] },
        },
      });
      expect((await verify(res.accessToken)).gid).toBe((await verify(user.accessToken)).gid);
      expect((await introspect(res.accessToken)).active).toBe(true);
      const refreshOnce = () => token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'refreshToken', value: { refreshToken: user.refreshToken, scope: '', resource: [] } } });
      await refreshOnce();
      await expect(refreshOnce()).rejects.toMatchObject({ code: 'invalid_grant' });
      expect((await introspect(res.accessToken)).active).toBe(false);
    });

    it('refuses a wider scope, an unknown audience and an invalid subject token', async () => {
      const user = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      const base = { subjectToken: user.accessToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token', actorToken: '', actorTokenType: '', requestedTokenType: '', scope: '', audience: [ORDERS], resource: [] };
      const ex = (value: typeof base) => token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'tokenExchange', value } });
      await expect(ex({ ...base, scope: 'write' })).rejects.toMatchObject({ code: 'invalid_scope' });
      await expect(ex({ ...base, audience: ['https://nowhere.example.com'] })).rejects.toMatchObject({ code: 'invalid_target' });
      await expect(ex({ ...base, subjectToken: 'a.b.c' })).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(ex({ ...base, subjectTokenType: 'urn:x' })).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('token exchange policy (RFC 8693 §5)', () => {
    const AT = 'urn:ietf:params:oauth:token-type:access_token';
    const exchange = (creds: ClientCredentials, subjectToken: string, over: Partial<{ actorToken: string; audience: string[]; scope: string }> = {}) =>
      token({
        client: creds,
        grant: {
          $case: 'tokenExchange',
          value: { subjectToken, subjectTokenType: AT, actorToken: over.actorToken ?? '', actorTokenType: over.actorToken ? AT : '', requestedTokenType: '', scope: over.scope ?? '', audience: over.audience ?? [ORDERS], resource: [] },
        },
      });
    let exchanger: { id: string; secret: string };
    beforeAll(async () => {
      const res = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({ client: { clientName: 'exchanger', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_TOKEN_EXCHANGE], scopes: ['read', 'orders.read'] } }),
        { bearer: admin },
      );
      exchanger = { id: res.client!.clientId, secret: res.clientSecret };
    });

    it("token exchange refuses a subject token issued to another client and not addressed to the requester", async () => {
      // alice's token for the public client, in the hands of another client allowed to exchange.
      const alice = await codeFlow(pub, publicCreds(pub), 'read');
      await expect(exchange(secretCreds(exchanger.id, exchanger.secret), alice.accessToken)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('subject_token') });
      await expect(exchange(secretCreds(conf.id, conf.secret), alice.accessToken)).rejects.toMatchObject({ code: 'invalid_request' });
    });

    it('token exchange accepts a subject token addressed to the requesting client', async () => {
      const addressed = await t.bearer({ clientId: pub, sub: userId, scope: ['read'], audience: exchanger.id });
      const res = await exchange(secretCreds(exchanger.id, exchanger.secret), addressed, { scope: 'read' });
      expect(await verify(res.accessToken)).toMatchObject({ sub: userId, aud: ORDERS, client_id: exchanger.id, act: { sub: exchanger.id } });
    });

    it('token exchange refuses an audience the client may not call per the service registry', async () => {
      const PRIVATE = `https://private-${randomBytes(4).toString('hex')}.example.com`;
      await t.anon.service.createService(
        CreateServiceRequest.fromPartial({ service: { displayName: 'private', audience: PRIVATE, endpoints: [{ method: '*', path: '/**', scope: 'read', allowedClientIds: [other.id] }] } }),
        { bearer: admin },
      );
      const own = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      await expect(exchange(secretCreds(conf.id, conf.secret), own.accessToken, { audience: [PRIVATE], scope: 'read' })).rejects.toMatchObject({ code: 'invalid_target' });
    });

    it("token exchange refuses another client's token as actor_token, so act never names a client that did not ask", async () => {
      const own = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read orders.read');
      const foreignActor = await token({ client: secretCreds(other.id, other.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } });
      await expect(exchange(secretCreds(conf.id, conf.secret), own.accessToken, { actorToken: foreignActor.accessToken, scope: 'orders.read' })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('actor_token'),
      });
      const ownActor = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } });
      const res = await exchange(secretCreds(conf.id, conf.secret), own.accessToken, { actorToken: ownActor.accessToken, scope: 'orders.read' });
      expect((await verify(res.accessToken)).act).toEqual({ sub: conf.id });
    });

    it('an exchanged token never outlives its subject token, not even after several hops', async () => {
      const short = await t.bearer({ clientId: conf.id, sub: userId, scope: ['read', 'orders.read'], ttlSeconds: 45 });
      const subjectExp = (await verify(short)).exp!;
      const hop1 = await exchange(secretCreds(conf.id, conf.secret), short, { scope: 'orders.read' });
      expect(hop1.expiresIn).toBeLessThanOrEqual(45);
      expect((await verify(hop1.accessToken)).exp).toBeLessThanOrEqual(subjectExp);
      const hop2 = await exchange(secretCreds(conf.id, conf.secret), hop1.accessToken, { scope: 'orders.read' });
      expect((await verify(hop2.accessToken)).exp).toBeLessThanOrEqual(subjectExp);
    });

    it('revoking a subject token (or its grant) revokes every token exchanged from it, down the chain', async () => {
      const root = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read orders.read');
      const hop1 = await exchange(secretCreds(conf.id, conf.secret), root.accessToken, { scope: 'orders.read' });
      const hop2 = await exchange(secretCreds(conf.id, conf.secret), hop1.accessToken, { scope: 'orders.read' });
      expect((await check(`Bearer ${hop2.accessToken}`, { audience: ORDERS })).httpResponse?.$case).toBe('okResponse');
      await t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(conf.id, conf.secret), token: root.accessToken, tokenTypeHint: 'access_token' }));
      expect((await introspect(hop1.accessToken)).active).toBe(false);
      expect((await introspect(hop2.accessToken)).active).toBe(false);
      expect((await check(`Bearer ${hop2.accessToken}`, { audience: ORDERS })).httpResponse?.$case).toBe('deniedResponse');
      await expect(exchange(secretCreds(conf.id, conf.secret), hop1.accessToken, { scope: 'orders.read' })).rejects.toMatchObject({ code: 'invalid_request' });

      // Revoking the grant (the refresh token's family) ends its access tokens and what came from them.
      const grant = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read orders.read');
      const derived = await exchange(secretCreds(conf.id, conf.secret), grant.accessToken, { scope: 'orders.read' });
      expect((await introspect(derived.accessToken)).active).toBe(true);
      await t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(conf.id, conf.secret), token: grant.refreshToken }));
      expect((await introspect(derived.accessToken)).active).toBe(false);
    });
  });

  describe('failed client authentication', () => {
    const ccGrant = { $case: 'clientCredentials' as const, value: { scope: 'read', resource: [] } };
    // The client's address is believed only from the mesh (the gateway relays it with the mesh
    // credential, issue 11 item 14), so these calls come as the gateway would make them.
    const attempt = (clientId: string, secret: string, remoteIp: string) =>
      t.peers.token.token(TokenRequest.fromPartial({ client: secretCreds(clientId, secret), grant: ccGrant, remoteIp }));

    it('failed client authentication from one source is throttled with slow_down, before credentials are checked, for that source only', async () => {
      const source = `198.51.100.${1 + Math.floor(Math.random() * 250)}`;
      const limit = t.config.clientAuthMaxFailures;
      for (let i = 0; i < limit; i++) await expect(attempt(other.id, 'x'.repeat(43), source)).rejects.toMatchObject({ code: 'invalid_client' });
      // Over the limit: refused even with the right secret, without looking at it.
      await expect(attempt(other.id, other.secret, source)).rejects.toMatchObject({ code: 'slow_down', metadata: { retry_after: expect.stringMatching(/^\d+$/) } });
      await expect(attempt(other.id, 'x'.repeat(43), source)).rejects.toMatchObject({ code: 'slow_down' });
      // Nobody can lock a client out in its name: the same client from elsewhere, and other
      // clients from the same source, are served.
      await expect(attempt(other.id, other.secret, '203.0.113.77')).resolves.toMatchObject({ tokenType: 'Bearer' });
      await expect(attempt(conf.id, conf.secret, source)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('failed client authentication writes a bounded number of audit rows per source, whatever the traffic', async () => {
      const source = `192.0.2.${1 + Math.floor(Math.random() * 250)}`;
      for (let i = 0; i < 15; i++) {
        await expect(attempt(`junk-${i}-${randomBytes(4).toString('hex')}`, 'x'.repeat(43), source)).rejects.toMatchObject({ code: 'invalid_client' });
      }
      const rows = async () => (await t.store.audit.list({ type: 'client.auth_failed', pageSize: 1000 })).items.filter((e) => e.ip === source).length;
      const suppressed = async () => (await t.store.audit.list({ type: 'client.auth_failed_suppressed', pageSize: 1000 })).items.filter((e) => e.ip === source).length;
      await vi.waitFor(async () => expect(await suppressed()).toBe(1));
      expect(await rows()).toBe(5);
    });

    it('audit_failures_of_a_client_from_each_address: one address failing first does not hide the next', async () => {
      // Review 9 F2: sampled per client alone, five failures from a decoy address suppressed the rows
      // of every other address trying the same client for the rest of the minute.
      const decoy = `198.18.0.${1 + Math.floor(Math.random() * 250)}`;
      const attacker = `198.18.1.${1 + Math.floor(Math.random() * 250)}`;
      for (let i = 0; i < 6; i++) await expect(attempt(conf.id, 'z'.repeat(43), decoy)).rejects.toMatchObject({ code: 'invalid_client' });
      await expect(attempt(conf.id, 'z'.repeat(43), attacker)).rejects.toMatchObject({ code: 'invalid_client' });
      const from = async (ip: string) => (await t.store.audit.list({ type: 'client.auth_failed', clientId: conf.id, pageSize: 1000 })).items.filter((e) => e.ip === ip).length;
      await vi.waitFor(async () => expect(await from(attacker)).toBe(1));
      expect(await from(decoy)).toBe(5);
    });

    it('one failed client authentication is one client.auth_failed event naming both the client and the address', async () => {
      // Was two rows: the client service's with the client, the token service's with the address.
      const source = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
      await expect(attempt(conf.id, 'y'.repeat(43), source)).rejects.toMatchObject({ code: 'invalid_client' });
      const failures = async () => (await t.store.audit.list({ type: 'client.auth_failed', pageSize: 1000 })).items.filter((e) => e.ip === source || (e.clientId === conf.id && e.ip === undefined));
      // The failure is audited off the answer's path: wait for it, then give a second row time to appear.
      await vi.waitFor(async () => expect((await failures()).length).toBeGreaterThan(0));
      await new Promise((r) => setTimeout(r, 250));
      const [only, ...more] = await failures();
      expect(more).toEqual([]);
      expect(only).toMatchObject({ clientId: conf.id, ip: source, details: { method: expect.stringMatching(/^client_secret_/) } });
    });
  });

  describe('introspection and revocation', () => {
    it('describes an access token (RFC 7662) and says inactive for garbage', async () => {
      const res = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } });
      const info = await introspect(res.accessToken);
      expect(info).toMatchObject({ active: true, scope: 'read', clientId: conf.id, sub: conf.id, tokenType: 'Bearer', iss: t.config.issuer });
      expect(info.exp - info.iat).toBe(600);
      expect(await introspect('garbage')).toMatchObject({ active: false, scope: '', clientId: '' });
      await expect(introspect(res.accessToken, publicCreds(pub))).rejects.toMatchObject({ code: 'unauthorized_client' });
      await expect(introspect(res.accessToken, secretCreds(conf.id, 'wrong'))).rejects.toMatchObject({ code: 'invalid_client' });
    });

    it('introspection tells a confidential client nothing about a token neither issued nor addressed to it (RFC 7662 §4)', async () => {
      const res = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } });
      expect(await introspect(res.accessToken, secretCreds(other.id, other.secret))).toMatchObject({ active: false, scope: '', clientId: '', sub: '' });
      // A registered protected resource (authmesh.introspect) and the admin client may.
      const rs = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({ client: { clientName: 'resource-server', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['authmesh.introspect'] } }),
        { bearer: admin },
      );
      expect(await introspect(res.accessToken, secretCreds(rs.client!.clientId, rs.clientSecret))).toMatchObject({ active: true, clientId: conf.id });
      expect((await introspect(res.accessToken, secretCreds(t.config.adminClientId, t.config.adminClientSecret!))).active).toBe(true);
      // A token addressed to a client by its id may be introspected by that client.
      const addressed = await t.bearer({ clientId: conf.id, scope: ['read'], audience: other.id });
      expect(await introspect(addressed, secretCreds(other.id, other.secret))).toMatchObject({ active: true, clientId: conf.id });
    });

    it('describes a refresh token only to its own client', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      expect(await introspect(s.refreshToken, undefined, 'refresh_token')).toMatchObject({ active: true, tokenType: 'refresh_token', sub: userId, clientId: conf.id });
      expect((await introspect(s.refreshToken, secretCreds(other.id, other.secret))).active).toBe(false);
    });

    it('revokes an access token: introspection and ext_authz see it at once; another client cannot revoke it', async () => {
      const res = await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: [ORDERS] } } });
      await t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(other.id, other.secret), token: res.accessToken }));
      expect((await introspect(res.accessToken)).active).toBe(true);
      await t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(conf.id, conf.secret), token: res.accessToken, tokenTypeHint: 'access_token' }));
      expect((await introspect(res.accessToken)).active).toBe(false);
      const denied = await check(`Bearer ${res.accessToken}`, { audience: ORDERS });
      expect(denied.httpResponse?.$case).toBe('deniedResponse');
    });

    it('revokes a refresh token family and the access tokens of its grant; unknown tokens are not an error', async () => {
      const s = await codeFlow(conf.id, secretCreds(conf.id, conf.secret), 'read');
      await t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(conf.id, conf.secret), token: s.refreshToken }));
      expect((await introspect(s.refreshToken, undefined, 'refresh_token')).active).toBe(false);
      expect((await introspect(s.accessToken)).active).toBe(false);
      await expect(t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(conf.id, conf.secret), token: 'unknown' }))).resolves.toEqual({});
      await expect(t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: secretCreds(conf.id, conf.secret), token: '' }))).rejects.toMatchObject({ code: 'invalid_request' });
    });
  });

  describe('Envoy ext_authz Check', () => {
    let good: string;
    beforeAll(async () => {
      good = (await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: '', resource: [ORDERS] } } })).accessToken;
    });
    const headersOf = (r: Awaited<ReturnType<typeof check>>) =>
      Object.fromEntries((r.httpResponse?.value.headers ?? []).map((h) => [h.header!.key, h.header!.value]));

    it('allows a valid token with the endpoint scope, adds identity headers and strips Authorization', async () => {
      const r = await check(`Bearer ${good}`, { audience: ORDERS });
      expect(r.status?.code).toBe(0);
      expect(r.httpResponse?.$case).toBe('okResponse');
      expect(headersOf(r)).toEqual({ 'x-authmesh-sub': conf.id, 'x-authmesh-client-id': conf.id, 'x-authmesh-scope': 'orders.read' });
      expect(r.httpResponse?.$case === 'okResponse' && r.httpResponse.value.headersToRemove).toEqual(['authorization', 'dpop']);
    });

    it('answers 401 without error for no token, 401 invalid_token for a forged or foreign-audience token', async () => {
      const none = await check(undefined, { audience: ORDERS });
      expect(none.httpResponse?.$case === 'deniedResponse' && none.httpResponse.value.status?.code).toBe(401);
      expect(headersOf(none)['www-authenticate']).toBe(`Bearer realm="${t.config.issuer}"`);
      const forged = await check(`Bearer ${good.slice(0, -4)}AAAA`, { audience: ORDERS });
      expect(forged.httpResponse?.$case === 'deniedResponse' && forged.httpResponse.value.status?.code).toBe(401);
      expect(headersOf(forged)['www-authenticate']).toContain('error="invalid_token"');
      const foreign = (await token({ client: secretCreds(conf.id, conf.secret), grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } } })).accessToken;
      const r = await check(`Bearer ${foreign}`, { audience: ORDERS });
      expect(headersOf(r)['www-authenticate']).toContain('error="invalid_token"');
    });

    it('ext_authz denies a malformed path or method with 400 invalid_request, never a retryable 503', async () => {
      for (const [path, method] of [['/orders//x', 'GET'], ['/orders/%2e%2e/admin', 'GET'], ['/orders/%zz', 'GET'], ['/orders/42', 'G E T'], ['/orders/42', '']] as const) {
        const r = await check(`Bearer ${good}`, { audience: ORDERS }, path, method);
        expect(r.httpResponse?.$case, `${method} ${path}`).toBe('deniedResponse');
        expect(r.httpResponse?.$case === 'deniedResponse' && r.httpResponse.value.status?.code, `${method} ${path}`).toBe(400);
        expect(r.status?.code).toBe(3);
        expect(JSON.parse(r.httpResponse?.$case === 'deniedResponse' ? r.httpResponse.value.body : '{}')).toMatchObject({ error: 'invalid_request' });
      }
    });

    it('ext_authz denies a route naming an unregistered service with 403, never a retryable 503', async () => {
      const routes: Record<string, string>[] = [{ service_id: 'no-such-service' }, { audience: 'https://unregistered.example.com' }, { service_id: 'bad id with spaces' }];
      for (const ext of routes) {
        const r = await check(`Bearer ${good}`, ext);
        expect(r.httpResponse?.$case === 'deniedResponse' && r.httpResponse.value.status?.code, JSON.stringify(ext)).toBe(403);
        expect(r.status?.code).toBe(7);
      }
    });

    it('answers 403 insufficient_scope with the needed scope, and 403 for an unknown route', async () => {
      const r = await check(`Bearer ${good}`, { audience: ORDERS }, '/orders', 'POST');
      expect(r.httpResponse?.$case === 'deniedResponse' && r.httpResponse.value.status?.code).toBe(403);
      expect(headersOf(r)['www-authenticate']).toContain('error="insufficient_scope"');
      expect(headersOf(r)['www-authenticate']).toContain('scope="orders.write"');
      const unknown = await check(`Bearer ${good}`, { audience: ORDERS }, '/admin', 'GET');
      expect(unknown.httpResponse?.$case === 'deniedResponse' && unknown.httpResponse.value.status?.code).toBe(403);
      const routeScope = await check(`Bearer ${good}`, { scope: 'orders.write' });
      expect(headersOf(routeScope)['www-authenticate']).toContain('scope="orders.write"');
    });
  });
});
