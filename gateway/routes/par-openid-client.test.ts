// End to end with a real relying-party library: openid-client v6 discovers the server, signs its
// authorization request as a request object (RFC 9101, buildAuthorizationUrlWithJAR), pushes it
// with private_key_jwt client authentication (RFC 9126, buildAuthorizationUrlWithPAR), the user
// signs in through the login form and consents, and the code is redeemed for tokens whose ID Token
// openid-client validates (signature, iss, aud, nonce).
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';
import { Browser, createUser, runAuthorization } from './authorize-test-support.js';

const CB = 'https://rp.example.com/cb';

let t: TestGateway;
let username: string;

beforeAll(async () => {
  t = await startTestGateway();
  ({ username } = await createUser(t));
}, 60_000);

afterAll(async () => {
  await t?.close();
});

/** A private_key_jwt relying party that must push and sign its requests, as openid-client configures it. */
async function relyingParty(): Promise<{ config: oidc.Configuration; key: oidc.PrivateKey; id: string }> {
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const res = await t.anon.client.createClient(
    CreateClientRequest.fromPartial({
      client: Client.fromPartial({
        clientId: uniqueId('jar'),
        clientName: 'Signed RP',
        clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
        redirectUris: [CB],
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
        scopes: ['openid', 'profile'],
        requirePushedAuthorizationRequests: true,
        requireSignedRequestObject: true,
        requestObjectSigningAlg: 'ES256',
      }),
    }),
    { bearer: await t.bearer() },
  );
  const id = res.client!.clientId;
  const key = { key: privateKey, kid };
  const config = await oidc.discovery(new URL(t.baseUrl), id, undefined, oidc.PrivateKeyJwt(key), { execute: [oidc.allowInsecureRequests] });
  return { config, key, id };
}

describe('openid-client with PAR and JAR', () => {
  it('pushes a signed request object, signs the user in through the login form and redeems the code for validated tokens', async () => {
    const rp = await relyingParty();
    // The metadata names the PAR endpoint; openid-client uses it.
    expect(rp.config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${t.baseUrl}/oauth2/par`);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const params = { redirect_uri: CB, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce };
    const signed = await oidc.buildAuthorizationUrlWithJAR(rp.config, params, rp.key);
    expect(signed.searchParams.get('request')).toMatch(/^ey/);
    const url = await oidc.buildAuthorizationUrlWithPAR(rp.config, signed.searchParams);
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

    const run = await runAuthorization(new Browser(t.baseUrl), url.href, { username });
    expect(run.pages).toEqual(['login', 'consent']);
    const tokens = await oidc.authorizationCodeGrant(rp.config, run.location, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.claims()).toMatchObject({ iss: t.baseUrl, aud: [rp.id], nonce });

    // The same request_uri again: refused (RFC 9126 §4), shown to the user rather than redirected.
    const again = await new Browser(t.baseUrl).get(url.href);
    expect(again.status).toBe(400);
    expect(again.headers.get('location')).toBeNull();
    expect(await again.text()).toContain('invalid_request_uri');
  });

  it('is refused by the server when it sends the same parameters unsigned and unpushed', async () => {
    const rp = await relyingParty();
    const plain = oidc.buildAuthorizationUrl(rp.config, { redirect_uri: CB, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const res = await new Browser(t.baseUrl).get(plain.href);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});
