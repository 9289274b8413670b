// Who gets the admin scope through a user's sign-in (services/core/oauth/admin-role.ts): only a user
// holding the role authmesh.admin, and only through a client allowed the scope, such as the
// console's own client (services/client/console-bootstrap.ts). Over the real gateway and mesh.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationRequest, IssueCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { CreateUserRequest, UpdateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { CONSOLE_CLIENT_ID } from '../../services/client/index.js';
import { computeS256Challenge } from '../../services/core/oauth/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';

const PASSWORD = 'correct horse battery staple';

describe('the admin scope through a user sign-in', () => {
  let t: TestGateway;
  let bearer: string;
  let adminId: string;
  let plainId: string;
  let otherAdminClient: string;
  let otherClient: string;
  let trusted: { id: string; secret: string };
  const otherRedirect = 'https://app.example.com/cb';

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_PASSWORD_GRANT: 'true' });
    bearer = await t.bearer();
    const user = async (username: string, roles: string[]) =>
      (await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username, roles }, password: PASSWORD }), { bearer })).user!.userId;
    adminId = await user(`admin-${randomBytes(3).toString('hex')}`, ['authmesh.admin']);
    plainId = await user(`plain-${randomBytes(3).toString('hex')}`, ['admin', 'orders:reader']);
    const client = async (scopes: string[]) =>
      (
        await t.anon.client.createClient(
          CreateClientRequest.fromPartial({
            client: Client.fromPartial({
              clientName: 'third party',
              clientType: ClientType.CLIENT_TYPE_PUBLIC,
              tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
              redirectUris: [otherRedirect],
              grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
              scopes,
            }),
          }),
          { bearer },
        )
      ).client!.clientId;
    otherAdminClient = await client(['openid', 'offline_access', 'authmesh.admin']);
    otherClient = await client(['openid', 'offline_access', 'read']);
    const first = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientName: 'first-party cli',
          clientType: ClientType.CLIENT_TYPE_TRUSTED,
          grantTypes: [GrantType.GRANT_TYPE_PASSWORD],
          scopes: ['read', 'authmesh.admin', 'authmesh.read'],
        }),
      }),
      { bearer },
    );
    trusted = { id: first.client!.clientId, secret: first.clientSecret };
  });
  afterAll(() => t?.close());

  /** Code flow with PKCE as the authorization endpoint runs it after login, then the token request. */
  async function signIn(clientId: string, redirectUri: string, userId: string, scope: string) {
    const verifier = randomBytes(32).toString('base64url');
    const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId, redirectUri, scope, state: 's', codeChallenge: computeS256Challenge(verifier), codeChallengeMethod: 'S256' });
    await t.peers.code.validateAuthorizationRequest({ request, userId, authTime: undefined });
    const { code } = await t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId, authTime: new Date() }));
    const res = await fetch(`${t.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId }).toString(),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token?: string; scope?: string };
  }
  const consoleRedirect = () => `${t.baseUrl}/console/callback`;
  const listClients = (token: string) =>
    fetch(`${t.baseUrl}/authmesh.client.v1.ClientService/ListClients`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}' });

  it('console_redirect_exact_port: the console client’s code cannot be sent to another port of the loopback issuer (review F1)', async () => {
    const issuerPort = new URL(t.baseUrl).port;
    const otherPort = String((Number(issuerPort) % 60000) + 1024);
    const elsewhere = `http://127.0.0.1:${otherPort}/console/callback`;
    const query = new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, response_type: 'code', scope: 'authmesh.admin', redirect_uri: elsewhere, code_challenge: computeS256Challenge(randomBytes(32).toString('base64url')), code_challenge_method: 'S256', state: 'x', prompt: 'none' });
    const res = await fetch(`${t.baseUrl}/oauth2/authorize?${query}`, { redirect: 'manual' });
    // RFC 6749 §4.1.2.1: shown, never redirected.
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId: CONSOLE_CLIENT_ID, redirectUri: elsewhere, scope: 'authmesh.admin', state: 's', codeChallenge: computeS256Challenge(randomBytes(32).toString('base64url')), codeChallengeMethod: 'S256' });
    await expect(t.peers.code.validateAuthorizationRequest({ request, userId: adminId, authTime: undefined })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('the console client is created at first start: public, PKCE, redirect URI under the issuer, no consent page', async () => {
    const { client } = await t.anon.client.getClient({ clientId: CONSOLE_CLIENT_ID }, { bearer });
    expect(client).toMatchObject({
      clientType: ClientType.CLIENT_TYPE_PUBLIC,
      tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
      redirectUris: [consoleRedirect()],
      postLogoutRedirectUris: [`${t.baseUrl}/console/`],
      requirePkce: true,
      skipConsent: true,
    });
    expect(client!.scopes).toContain('authmesh.admin');
  });

  it('an administrator signing in to the console gets authmesh.admin, and the admin RPCs answer', async () => {
    const tokens = await signIn(CONSOLE_CLIENT_ID, consoleRedirect(), adminId, 'authmesh.admin');
    expect(tokens.scope).toBe('authmesh.admin');
    // RFC 6749 §6: the console refreshes (a plain OAuth request: no OIDC offline_access rule applies).
    expect(tokens.refresh_token).toBeTruthy();
    expect((await listClients(tokens.access_token)).status).toBe(200);
  });

  it('non-admin user gets no admin scope through the console client, and the admin RPCs refuse the token', async () => {
    const tokens = await signIn(CONSOLE_CLIENT_ID, consoleRedirect(), plainId, 'authmesh.admin authmesh.read');
    // RFC 6749 §5.1: the grant (nothing) differs from the request, so scope is present, and empty.
    expect(tokens).toHaveProperty('scope', '');
    expect((await listClients(tokens.access_token)).status).toBe(403);
  });

  it('non-admin user gets no admin scope through another client allowed it either', async () => {
    const tokens = await signIn(otherAdminClient, otherRedirect, plainId, 'openid authmesh.admin');
    expect(tokens.scope).toBe('openid');
  });

  it('admin scope not granted to another client for an admin user unless that client is allowed it', async () => {
    const request = AuthorizationRequest.fromPartial({ responseType: 'code', clientId: otherClient, redirectUri: otherRedirect, scope: 'openid authmesh.admin', state: 's', codeChallenge: computeS256Challenge('v'.repeat(43)), codeChallengeMethod: 'S256' });
    await expect(t.peers.code.validateAuthorizationRequest({ request, userId: adminId, authTime: undefined })).rejects.toMatchObject({ code: 'invalid_scope', description: expect.stringMatching(/not allowed the scope: authmesh\.admin/) });
    // With no scope asked for, the client's default has no admin scope either.
    const tokens = await signIn(otherClient, otherRedirect, adminId, 'openid read');
    expect(tokens.scope?.split(' ')).not.toContain('authmesh.admin');
  });

  it('an administrator whose role is removed loses the admin scope at the next refresh', async () => {
    const demoted = (await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: `demoted-${randomBytes(3).toString('hex')}`, roles: ['authmesh.admin'] }, password: PASSWORD }), { bearer })).user!;
    const tokens = await signIn(CONSOLE_CLIENT_ID, consoleRedirect(), demoted.userId, 'authmesh.admin');
    expect(tokens.scope).toBe('authmesh.admin');
    await t.anon.user.updateUser(UpdateUserRequest.fromPartial({ user: { ...demoted, roles: [] }, updateMask: ['roles'] }), { bearer });
    const res = await fetch(`${t.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: CONSOLE_CLIENT_ID }).toString(),
    });
    expect(res.status).toBe(200);
    const refreshed = (await res.json()) as { access_token: string; scope?: string };
    // RFC 6749 §5.1, §6: the refreshed grant (nothing left) differs from the original, so scope is stated.
    expect(refreshed).toHaveProperty('scope', '');
    expect((await listClients(refreshed.access_token)).status).toBe(403);
  });

  /** The password grant (RFC 6749 §4.3) over HTTP, as the trusted first-party client. */
  async function passwordGrant(username: string, scope: string) {
    const res = await fetch(`${t.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(trusted.id)}:${encodeURIComponent(trusted.secret)}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD, scope }).toString(),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; scope?: string };
  }

  describe('token_response_states_narrowed_scope (review F5, RFC 6749 §5.1)', () => {
    it('code grant: some requested scopes removed → scope is the rest', async () => {
      const tokens = await signIn(otherAdminClient, otherRedirect, plainId, 'openid authmesh.admin');
      expect(tokens).toHaveProperty('scope', 'openid');
    });

    it('code grant: every requested scope removed → scope is present and empty', async () => {
      const tokens = await signIn(otherAdminClient, otherRedirect, plainId, 'authmesh.admin');
      expect(tokens).toHaveProperty('scope', '');
    });

    it('password grant: some requested scopes removed → scope is the rest', async () => {
      const { user } = await t.anon.user.getUser({ userId: plainId }, { bearer });
      const tokens = await passwordGrant(user!.username, 'read authmesh.admin');
      expect(tokens).toHaveProperty('scope', 'read');
    });

    it('password grant: every requested scope removed → scope is present and empty', async () => {
      const { user } = await t.anon.user.getUser({ userId: plainId }, { bearer });
      const tokens = await passwordGrant(user!.username, 'authmesh.admin authmesh.read');
      expect(tokens).toHaveProperty('scope', '');
      // And the token holds no admin scope: the admin RPCs refuse it.
      expect((await listClients(tokens.access_token)).status).toBe(403);
    });

    it('password grant: nothing removed → scope equals the request', async () => {
      const { user } = await t.anon.user.getUser({ userId: adminId }, { bearer });
      const tokens = await passwordGrant(user!.username, 'read authmesh.read');
      expect(tokens).toHaveProperty('scope', 'read authmesh.read');
    });

    it('refresh grant: the role removed takes some scopes → scope is the rest', async () => {
      const demoted = (await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: `half-${randomBytes(3).toString('hex')}`, roles: ['authmesh.admin'] }, password: PASSWORD }), { bearer })).user!;
      // A plain OAuth grant (no openid): refresh tokens need no offline_access consent (OIDC Core §11).
      const tokens = await signIn(otherAdminClient, otherRedirect, demoted.userId, 'offline_access authmesh.admin');
      expect(tokens.scope).toBe('offline_access authmesh.admin');
      await t.anon.user.updateUser(UpdateUserRequest.fromPartial({ user: { ...demoted, roles: [] }, updateMask: ['roles'] }), { bearer });
      const res = await fetch(`${t.baseUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: otherAdminClient }).toString(),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toHaveProperty('scope', 'offline_access');
    });
  });
});
