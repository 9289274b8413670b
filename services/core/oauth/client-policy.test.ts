import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { InvalidClientMetadata, InvalidRedirectUri, UnauthorizedClient, UnsupportedGrantType } from '../errors/index.js';
import { type ClientMetadataInput, type GrantClient, TOKEN_EXCHANGE_GRANT, assertGrantAllowed, pkceRequired, validateClientMetadata, validatePublicJwks } from './client-policy.js';
import { DEVICE_CODE_GRANT } from './device-authorization.js';

const EC_KEY = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' };
const RSA_KEY = { kty: 'RSA', n: 'sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw', e: 'AQAB' };
const OKP_KEY = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };

const spa: ClientMetadataInput = { clientType: 'public', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://app.example.com/cb'] };
const web: ClientMetadataInput = { clientType: 'confidential', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://app.example.com/cb'], tokenEndpointAuthMethod: 'client_secret_basic' };

describe('validateClientMetadata', () => {
  it.each<[string, ClientMetadataInput]>([
    ['a public SPA', spa],
    ['a public native app with loopback and private-use URIs', { clientType: 'public', redirectUris: ['http://127.0.0.1/cb', 'com.example.app:/cb'], tokenEndpointAuthMethod: 'none' }],
    ['a confidential web app', web],
    ['a confidential client_secret_post client', { ...web, tokenEndpointAuthMethod: 'client_secret_post' }],
    ['a confidential service with client_credentials only', { clientType: 'confidential', grantTypes: ['client_credentials'] }],
    ['a private_key_jwt service with an EC key', { clientType: 'confidential', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [EC_KEY] } }],
    ['a private_key_jwt service with RSA and OKP keys', { clientType: 'confidential', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [RSA_KEY, OKP_KEY] } }],
    ['a trusted client with the password grant', { clientType: 'trusted', grantTypes: ['password', 'refresh_token'] }],
    ['a confidential token-exchange client', { clientType: 'confidential', grantTypes: [TOKEN_EXCHANGE_GRANT] }],
    ['a client with scope', { ...web, scope: 'read write' }],
    // RFC 8628: a device (public, no redirect URI) and a confidential CLI.
    ['a public device client without redirect URIs', { clientType: 'public', tokenEndpointAuthMethod: 'none', grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'] }],
    ['a confidential device client', { clientType: 'confidential', grantTypes: [DEVICE_CODE_GRANT] }],
  ])('accepts %s', (_name, input) => {
    expect(() => validateClientMetadata(input)).not.toThrow();
  });

  it('applies RFC 7591 defaults', () => {
    expect(validateClientMetadata({ clientType: 'public', redirectUris: ['https://a.example/cb'] })).toEqual({
      clientType: 'public',
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['authorization_code'],
      redirectUris: ['https://a.example/cb'],
      scope: [],
    });
    expect(validateClientMetadata({ clientType: 'confidential', redirectUris: ['https://a.example/cb'] }).tokenEndpointAuthMethod).toBe('client_secret_basic');
  });

  it('deduplicates grant types, redirect URIs and scope', () => {
    const m = validateClientMetadata({ ...web, grantTypes: ['authorization_code', 'authorization_code'], redirectUris: ['https://a.example/cb', 'https://a.example/cb'], scope: 'a b a' });
    expect(m.grantTypes).toEqual(['authorization_code']);
    expect(m.redirectUris).toEqual(['https://a.example/cb']);
    expect(m.scope).toEqual(['a', 'b']);
  });

  it.each<[string, ClientMetadataInput]>([
    ['an unknown client type', { ...web, clientType: 'admin' }],
    ['an unknown auth method', { ...web, tokenEndpointAuthMethod: 'client_secret_jwt' }],
    ['an empty grant list', { ...web, grantTypes: [] }],
    ['an unknown grant', { ...web, grantTypes: ['implicit'] }],
    ['a public client with a secret', { ...spa, tokenEndpointAuthMethod: 'client_secret_basic' }],
    ['a public client with private_key_jwt', { ...spa, tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [EC_KEY] } }],
    ['a public client with client_credentials', { clientType: 'public', grantTypes: ['client_credentials'] }],
    ['a public client with password', { clientType: 'public', grantTypes: ['password'] }],
    ['a public client with token exchange', { clientType: 'public', grantTypes: [TOKEN_EXCHANGE_GRANT] }],
    ['a confidential client with none', { ...web, tokenEndpointAuthMethod: 'none' }],
    ['a trusted client with none', { clientType: 'trusted', grantTypes: ['password'], tokenEndpointAuthMethod: 'none' }],
    ['a confidential client with password', { clientType: 'confidential', grantTypes: ['password'] }],
    ['private_key_jwt without jwks', { clientType: 'confidential', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt' }],
    ['private_key_jwt with an empty jwks', { clientType: 'confidential', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [] } }],
    ['private_key_jwt with a private EC key', { clientType: 'confidential', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...EC_KEY, d: 'secret' }] } }],
    ['authorization_code without redirect URIs', { clientType: 'confidential', grantTypes: ['authorization_code'] }],
    ['authorization_code with an empty redirect list', { ...web, redirectUris: [] }],
    ['a malformed scope', { ...web, scope: 'read  write' }],
  ])('rejects %s with invalid_client_metadata', (_name, input) => {
    const err = thrown(() => validateClientMetadata(input));
    expect(err).toBeInstanceOf(InvalidClientMetadata);
    expect(err.code).toBe('invalid_client_metadata');
  });

  it.each<[string, ClientMetadataInput]>([
    ['an http redirect URI on a public host', { ...web, redirectUris: ['http://app.example.com/cb'] }],
    ['a fragment', { ...spa, redirectUris: ['https://a.example/cb#x'] }],
    ['one bad URI among good ones', { ...spa, redirectUris: ['https://a.example/cb', 'javascript:alert(1)'] }],
    ['a bad URI on a client without the code grant', { clientType: 'confidential', grantTypes: ['client_credentials'], redirectUris: ['https://*.example/cb'] }],
  ])('rejects %s with invalid_redirect_uri', (_name, input) => {
    const err = thrown(() => validateClientMetadata(input));
    expect(err).toBeInstanceOf(InvalidRedirectUri);
    expect(err.code).toBe('invalid_redirect_uri');
  });

  it('passes the redirect policy through', () => {
    const input = { ...web, redirectUris: ['http://localhost:3000/cb'] };
    expect(() => validateClientMetadata(input)).not.toThrow();
    expect(thrown(() => validateClientMetadata(input, { allowHttpLocalhost: false }))).toBeInstanceOf(InvalidRedirectUri);
  });
});

describe('validatePublicJwks', () => {
  it.each([
    ['one EC key', { keys: [EC_KEY] }],
    ['several keys', { keys: [EC_KEY, RSA_KEY, OKP_KEY] }],
  ])('accepts %s', (_name, jwks) => {
    expect(validatePublicJwks(jwks).keys).toHaveLength(jwks.keys.length);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an array', [EC_KEY]],
    ['a single JWK', EC_KEY],
    ['keys not an array', { keys: EC_KEY }],
    ['no keys', { keys: [] }],
    ['a key without kty', { keys: [{ x: 'abc' }] }],
    ['a key that is a string', { keys: ['k'] }],
    ['a symmetric key', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }],
    ['an unknown kty', { keys: [{ kty: 'XYZ' }] }],
    ['a private RSA key', { keys: [{ ...RSA_KEY, d: 'x', p: 'x', q: 'x' }] }],
    ['a private OKP key', { keys: [{ ...OKP_KEY, d: 'x' }] }],
    ['RSA CRT members only', { keys: [{ ...RSA_KEY, dp: 'x' }] }],
    ['a good key then a private key', { keys: [EC_KEY, { ...EC_KEY, d: 'x' }] }],
  ])('rejects %s with invalid_client_metadata', (_name, jwks) => {
    const err = thrown(() => validatePublicJwks(jwks));
    expect(err).toBeInstanceOf(InvalidClientMetadata);
    expect(err.code).toBe('invalid_client_metadata');
  });
});

describe('assertGrantAllowed', () => {
  const pub: GrantClient = { clientType: 'public', grantTypes: ['authorization_code', 'refresh_token'] };
  const conf: GrantClient = { clientType: 'confidential', grantTypes: ['authorization_code', 'client_credentials', 'refresh_token', TOKEN_EXCHANGE_GRANT] };
  const trusted: GrantClient = { clientType: 'trusted', grantTypes: ['password', 'refresh_token'] };

  it.each<[string, GrantClient, string, boolean]>([
    ['public code', pub, 'authorization_code', false],
    ['public refresh', pub, 'refresh_token', false],
    ['confidential client_credentials', conf, 'client_credentials', false],
    ['confidential token exchange', conf, TOKEN_EXCHANGE_GRANT, false],
    ['trusted password when enabled', trusted, 'password', true],
    // RFC 8628 §3.4: public devices (client_id only) and confidential ones alike.
    ['public device code', { clientType: 'public', grantTypes: [DEVICE_CODE_GRANT] }, DEVICE_CODE_GRANT, false],
    ['confidential device code', { clientType: 'confidential', grantTypes: [DEVICE_CODE_GRANT] }, DEVICE_CODE_GRANT, false],
  ])('allows %s', (_name, client, grant, passwordGrantEnabled) => {
    expect(assertGrantAllowed(client, grant, { passwordGrantEnabled })).toBe(grant);
  });

  it.each<[string, GrantClient, string, boolean]>([
    ['an unknown grant', conf, 'implicit', true],
    ['an empty grant', conf, '', true],
    ['a JWT bearer grant we do not offer', conf, 'urn:ietf:params:oauth:grant-type:jwt-bearer', true],
    ['password while disabled (default)', trusted, 'password', false],
  ])('rejects %s with unsupported_grant_type', (_name, client, grant, passwordGrantEnabled) => {
    const err = thrown(() => assertGrantAllowed(client, grant, { passwordGrantEnabled }));
    expect(err).toBeInstanceOf(UnsupportedGrantType);
    expect(err.code).toBe('unsupported_grant_type');
  });

  it('treats the password grant as disabled when no policy is given', () => {
    expect(thrown(() => assertGrantAllowed(trusted, 'password'))).toBeInstanceOf(UnsupportedGrantType);
  });

  it.each<[string, GrantClient, string]>([
    ['a grant the client did not register', pub, 'client_credentials'],
    ['password for a confidential client that lists it', { clientType: 'confidential', grantTypes: ['password'] }, 'password'],
    ['password for a public client that lists it', { clientType: 'public', grantTypes: ['password'] }, 'password'],
    ['client_credentials for a public client that lists it', { clientType: 'public', grantTypes: ['client_credentials'] }, 'client_credentials'],
    ['token exchange for a public client that lists it', { clientType: 'public', grantTypes: [TOKEN_EXCHANGE_GRANT] }, TOKEN_EXCHANGE_GRANT],
    ['refresh for a client without it', { clientType: 'confidential', grantTypes: ['client_credentials'] }, 'refresh_token'],
  ])('rejects %s with unauthorized_client', (_name, client, grant) => {
    const err = thrown(() => assertGrantAllowed(client, grant, { passwordGrantEnabled: true }));
    expect(err).toBeInstanceOf(UnauthorizedClient);
    expect(err.code).toBe('unauthorized_client');
  });
});

describe('pkceRequired', () => {
  it.each<[GrantClient['clientType'], boolean | undefined, boolean]>([
    ['public', undefined, true],
    ['public', false, true],
    ['public', true, true],
    ['confidential', undefined, true],
    ['confidential', true, true],
    ['confidential', false, false],
    ['trusted', undefined, true],
    ['trusted', false, false],
  ])('%s with requireForConfidential=%s → %s', (clientType, requireForConfidential, expected) => {
    const policy = requireForConfidential === undefined ? {} : { requireForConfidential };
    expect(pkceRequired({ clientType }, policy)).toBe(expected);
  });
});
