// The resource owner password grant: off unless the operator enables it, and then only for
// clients an admin marked trusted (RFC 9700 §2.4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, type Client, type ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';

const creds = (clientId: string, clientSecret: string): ClientCredentials => ({
  credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } },
});

describe('password grant, enabled by the operator', () => {
  let t: TestMesh;
  let trusted: { id: string; secret: string };
  let plain: { id: string; secret: string };
  let userId: string;
  const PASSWORD = 'correct horse battery staple';

  beforeAll(async () => {
    t = await startTestMesh({ AUTHMESH_PASSWORD_GRANT: 'true', AUTHMESH_LOGIN_MAX_FAILURES: '3' });
    const admin = await t.bearer();
    const mk = async (client: Partial<Client>) => {
      const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client } as never), { bearer: admin });
      return { id: res.client!.clientId, secret: res.clientSecret };
    };
    trusted = await mk({ clientName: 'first-party cli', clientType: ClientType.CLIENT_TYPE_TRUSTED, grantTypes: [GrantType.GRANT_TYPE_PASSWORD, GrantType.GRANT_TYPE_REFRESH_TOKEN], scopes: ['read'] });
    plain = await mk({ clientName: 'third party', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'] });
    userId = (await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: 'bob' }, password: PASSWORD }), { bearer: admin })).user!.userId;
  }, 60_000);
  afterAll(async () => t?.close());

  const password = (c: { id: string; secret: string }, username: string, pw: string) =>
    t.anon.token.token(TokenRequest.fromPartial({ client: creds(c.id, c.secret), grant: { $case: 'password', value: { username, password: pw, scope: 'read' } } }));

  it('issues tokens to a trusted client for the right password, with a refresh token', async () => {
    const res = await password(trusted, 'BOB', PASSWORD);
    expect(res.scope).toBe('read');
    expect(res.refreshToken).not.toBe('');
    const info = await t.anon.token.introspectToken({ client: creds(trusted.id, trusted.secret), token: res.accessToken, tokenTypeHint: '', remoteIp: '' });
    expect(info.sub).toBe(userId);
  });

  it('answers invalid_grant for a wrong password or an unknown user, alike', async () => {
    await expect(password(trusted, 'bob', 'wrong password here')).rejects.toMatchObject({ code: 'invalid_grant', description: 'invalid username or password' });
    await expect(password(trusted, 'nobody', PASSWORD)).rejects.toMatchObject({ code: 'invalid_grant', description: 'invalid username or password' });
  });

  it('refuses a client that is not trusted and a client not registered for the grant', async () => {
    await expect(password(plain, 'bob', PASSWORD)).rejects.toMatchObject({ code: 'unauthorized_client' });
  });
});

describe('password grant, default configuration', () => {
  let t: TestMesh;
  afterAll(async () => t?.close());
  it('is unsupported even for a trusted client', async () => {
    t = await startTestMesh();
    const res = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({ client: { clientName: 'cli', clientType: ClientType.CLIENT_TYPE_TRUSTED, grantTypes: [GrantType.GRANT_TYPE_PASSWORD], scopes: ['read'] } } as never),
      { bearer: await t.bearer() },
    );
    await expect(
      t.anon.token.token(TokenRequest.fromPartial({ client: creds(res.client!.clientId, res.clientSecret), grant: { $case: 'password', value: { username: 'x', password: 'y' } } })),
    ).rejects.toMatchObject({ code: 'unsupported_grant_type' });
  }, 60_000);
});
