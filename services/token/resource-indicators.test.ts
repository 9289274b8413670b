// Resource indicators (RFC 8707) end to end with the service registry, over real gRPC: a token's
// `aud` is exactly the resources asked for and allowed, on every grant and on refresh (which may
// only narrow), and anything else is invalid_target that consumes nothing.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest, IssueCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';

const REDIRECT = 'https://app.example.com/cb';
const ORDERS = 'https://orders.example.com';
const BILLING = 'https://billing.example.com';
const PRIVATE = 'https://private.example.com';

const audOf = (jwt: string) => {
  const aud = decodeJwt(jwt).aud;
  return typeof aud === 'string' ? [aud] : aud;
};

describe('resource indicators (RFC 8707) with the service registry', () => {
  let t: TestMesh;
  let creds: ClientCredentials;
  let clientId: string;
  let userId: string;

  const token = (grant: TokenRequest['grant']) => t.anon.token.token(TokenRequest.fromPartial({ client: creds, grant } as never));
  const clientCredentials = (resource: string[], scope = '') => token({ $case: 'clientCredentials', value: { scope, resource } });

  async function code(scope: string, resource: string[] = []) {
    const verifier = randomBytes(32).toString('base64url');
    const request = AuthorizationRequest.fromPartial({
      responseType: 'code',
      clientId,
      redirectUri: REDIRECT,
      scope,
      state: 'xyz',
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
      resource,
    });
    await t.peers.code.validateAuthorizationRequest({ request, userId, authTime: undefined });
    const issued = await t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId, authTime: new Date() }));
    return { code: issued.code, verifier };
  }
  const redeem = (c: { code: string; verifier: string }, resource: string[]) =>
    token({ $case: 'authorizationCode', value: { code: c.code, redirectUri: REDIRECT, codeVerifier: c.verifier, resource } });
  const refresh = (refreshToken: string, resource: string[], scope = '') => token({ $case: 'refreshToken', value: { refreshToken, scope, resource } });

  beforeAll(async () => {
    t = await startTestMesh();
    const admin = await t.bearer();
    const created = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: {
          clientName: 'resource-indicators',
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          redirectUris: [REDIRECT],
          grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_REFRESH_TOKEN],
          scopes: ['orders.read', 'billing.read', 'private.read'],
        },
      }),
      { bearer: admin },
    );
    clientId = created.client!.clientId;
    creds = { credential: { $case: 'clientSecret', value: { clientId, clientSecret: created.clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } };
    const service = (audience: string, scope: string, allowedClientIds: string[] = []) =>
      t.anon.service.createService(
        CreateServiceRequest.fromPartial({ service: { audience, displayName: `${scope.split('.')[0]} API`, endpoints: [{ method: 'GET', path: '/**', scope, allowedClientIds }] } }),
        { bearer: admin },
      );
    await service(ORDERS, 'orders.read');
    await service(BILLING, 'billing.read');
    // Every endpoint admits only another client.
    await service(PRIVATE, 'private.read', ['someone-else']);
    const user = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: 'rita' }, password: 'correct horse battery staple' }), { bearer: admin });
    userId = user.user!.userId;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  describe('client_credentials', () => {
    it('addresses the token to exactly the resources asked for, with the scopes they offer', async () => {
      const one = await clientCredentials([ORDERS]);
      expect(audOf(one.accessToken)).toEqual([ORDERS]);
      expect(one.scope).toBe('orders.read');
      const two = await clientCredentials([ORDERS, BILLING, ORDERS]);
      expect(audOf(two.accessToken)).toEqual([ORDERS, BILLING]);
      expect(two.scope.split(' ').sort()).toEqual(['billing.read', 'orders.read']);
    });

    it('refuses unknown, malformed and fragment resources with invalid_target (RFC 8707 §2)', async () => {
      for (const resource of ['https://unknown.example.com', 'orders', 'https://orders.example.com#x']) {
        await expect(clientCredentials([resource]), resource).rejects.toMatchObject({ code: 'invalid_target' });
      }
      // One bad resource among good ones refuses the whole request.
      await expect(clientCredentials([ORDERS, 'https://unknown.example.com'])).rejects.toMatchObject({ code: 'invalid_target' });
    });

    it('resource_not_allowed_for_client: a registered API none of whose endpoints admits the client is invalid_target', async () => {
      await expect(clientCredentials([PRIVATE])).rejects.toMatchObject({ code: 'invalid_target' });
      await expect(clientCredentials([ORDERS, PRIVATE])).rejects.toMatchObject({ code: 'invalid_target' });
    });
  });

  describe('authorization_code', () => {
    it('addresses the token to the resources named at the token endpoint (RFC 8707 §2.2)', async () => {
      const res = await redeem(await code('orders.read billing.read'), [BILLING]);
      expect(audOf(res.accessToken)).toEqual([BILLING]);
      expect(res.scope).toBe('billing.read');
    });

    it('invalid_target_keeps_code_unused: a refused resource does not burn the single-use code', async () => {
      const c = await code('orders.read');
      await expect(redeem(c, ['https://unknown.example.com'])).rejects.toMatchObject({ code: 'invalid_target' });
      await expect(redeem(c, [PRIVATE])).rejects.toMatchObject({ code: 'invalid_target' });
      const res = await redeem(c, [ORDERS]);
      expect(audOf(res.accessToken)).toEqual([ORDERS]);
    });
  });

  describe('refresh_token (RFC 8707 §2.2: only resources the grant covered)', () => {
    it('narrows the audience to one of the original resources, and keeps all of them when none is named', async () => {
      const first = await redeem(await code('orders.read billing.read'), [ORDERS, BILLING]);
      expect(audOf(first.accessToken)).toEqual([ORDERS, BILLING]);
      const narrowed = await refresh(first.refreshToken, [ORDERS]);
      expect(audOf(narrowed.accessToken)).toEqual([ORDERS]);
      expect(narrowed.scope).toBe('orders.read');
      // The refresh token keeps the whole grant: the next refresh may name the other resource.
      const other = await refresh(narrowed.refreshToken, [BILLING]);
      expect(audOf(other.accessToken)).toEqual([BILLING]);
      const all = await refresh(other.refreshToken, []);
      expect(audOf(all.accessToken)).toEqual([ORDERS, BILLING]);
    });

    it('refuses a resource outside the grant with invalid_target and leaves the refresh token usable', async () => {
      const first = await redeem(await code('orders.read billing.read'), [ORDERS]);
      await expect(refresh(first.refreshToken, [BILLING])).rejects.toMatchObject({ code: 'invalid_target' });
      await expect(refresh(first.refreshToken, [ORDERS, BILLING])).rejects.toMatchObject({ code: 'invalid_target' });
      const next = await refresh(first.refreshToken, [ORDERS]);
      expect(audOf(next.accessToken)).toEqual([ORDERS]);
    });
  });

  describe('resource on the authorization request (RFC 8707 §2.1)', () => {
    const request = (scope: string, resource: string[]) =>
      AuthorizationRequest.fromPartial({
        responseType: 'code',
        clientId,
        redirectUri: REDIRECT,
        scope,
        state: 'xyz',
        codeChallenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
        codeChallengeMethod: 'S256',
        resource,
      });
    const validate = (scope: string, resource: string[]) => t.peers.code.validateAuthorizationRequest({ request: request(scope, resource), userId, authTime: undefined });

    it('names the APIs for the consent page and narrows the scope to what they offer', async () => {
      const v = await validate('orders.read billing.read', [ORDERS]);
      expect(v.resources).toEqual([{ resource: ORDERS, name: 'orders API' }]);
      expect(v.scopes).toEqual(['orders.read']);
    });

    it('authorize_resource_not_allowed: an unknown, malformed or forbidden resource is invalid_target, redirectable to the verified redirect URI', async () => {
      for (const resource of ['https://unknown.example.com', 'orders', `${ORDERS}#x`, PRIVATE]) {
        const err = await validate('orders.read', [resource]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, resource).toMatchObject({ code: 'invalid_target', metadata: { redirect_uri: REDIRECT, state: 'xyz' } });
      }
    });

    it('authorize_too_many_resources: more than 10 resources is invalid_request, redirectable', async () => {
      const resources = Array.from({ length: 11 }, (_, i) => `${ORDERS}/${i}`);
      await expect(validate('orders.read', resources)).rejects.toMatchObject({ code: 'invalid_request', metadata: { redirect_uri: REDIRECT } });
    });

    it('code_aud_is_authorized_resources: a code redeemed without resource gets aud = every authorized resource', async () => {
      const res = await redeem(await code('orders.read billing.read', [ORDERS, BILLING]), []);
      expect(audOf(res.accessToken)).toEqual([ORDERS, BILLING]);
      expect(res.scope.split(' ').sort()).toEqual(['billing.read', 'orders.read']);
    });

    it('code_resource_outside_grant: a token request naming another registered resource is invalid_target and leaves the code usable', async () => {
      const c = await code('orders.read billing.read', [ORDERS]);
      // BILLING is registered and this client may call it, but the user approved ORDERS only.
      await expect(redeem(c, [BILLING])).rejects.toMatchObject({ code: 'invalid_target' });
      await expect(redeem(c, [ORDERS, BILLING])).rejects.toMatchObject({ code: 'invalid_target' });
      const res = await redeem(c, []);
      expect(audOf(res.accessToken)).toEqual([ORDERS]);
      expect(res.scope).toBe('orders.read');
    });

    it('refresh_keeps_authorized_resources: the refresh grant keeps every authorized resource and no other', async () => {
      const first = await redeem(await code('orders.read billing.read', [ORDERS, BILLING]), [ORDERS]);
      expect(audOf(first.accessToken)).toEqual([ORDERS]);
      // RFC 8707 §2.2: the refresh token stands for the whole authorized grant.
      const other = await refresh(first.refreshToken, [BILLING]);
      expect(audOf(other.accessToken)).toEqual([BILLING]);
      const all = await refresh(other.refreshToken, []);
      expect(audOf(all.accessToken)).toEqual([ORDERS, BILLING]);
      await expect(refresh(all.refreshToken, [PRIVATE])).rejects.toMatchObject({ code: 'invalid_target' });
    });

    it('a code bound to resources redeemed with one of them gets a token for that one only', async () => {
      const res = await redeem(await code('orders.read billing.read', [ORDERS, BILLING]), [BILLING]);
      expect(audOf(res.accessToken)).toEqual([BILLING]);
      expect(res.scope).toBe('billing.read');
    });
  });
});
