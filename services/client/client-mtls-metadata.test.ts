// RFC 8705 client metadata through the admin API's and RFC 7591's one validation (validateDraft):
// tls_client_auth names exactly one expected certificate value (§2.1.2), self_signed_tls_client_auth
// registers its key in jwks (§2.2), tls_client_certificate_bound_access_tokens (§3.4); stored in
// Client.metadata under the RFC names and read back by draftOf.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../test/support/thrown.js';
import type { Client } from '../core/store/types.js';
import { type ClientDraft, draftOf, serverClientDraft, tlsClientAuthExpectationOf, validateDraft } from './client-draft.js';

// The no-metadata draft of serverClientDraft, as a registered (consent-asking) client.
const base: ClientDraft = serverClientDraft({
  name: 'service',
  clientType: 'confidential',
  redirectUris: [],
  grantTypes: ['client_credentials'],
  scopes: ['read'],
  tokenEndpointAuthMethod: 'tls_client_auth',
  skipConsent: false,
});

const stored = (d: ClientDraft): Client => {
  const v = validateDraft(d);
  return { ...v.fields, clientId: 'c', metadata: v.extra, version: 1, createdAt: new Date(), updatedAt: new Date() } as Client;
};

describe('validateDraft: RFC 8705 metadata', () => {
  it('stores the one expected value and the bound-tokens flag, and reads them back', () => {
    const c = stored({ ...base, tlsClientAuthSubjectDn: 'CN=orders,O=Example', tlsClientCertificateBoundAccessTokens: true });
    expect(c.metadata).toMatchObject({ tls_client_auth_subject_dn: 'CN=orders,O=Example', tls_client_certificate_bound_access_tokens: 'true' });
    expect(tlsClientAuthExpectationOf(c)).toEqual({ name: 'tls_client_auth_subject_dn', value: 'CN=orders,O=Example' });
    expect(draftOf(c)).toMatchObject({ tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSubjectDn: 'CN=orders,O=Example', tlsClientCertificateBoundAccessTokens: true });
  });

  it.each<[string, Partial<ClientDraft>, RegExp]>([
    ['none of the five', {}, /requires exactly one of/],
    ['two of them', { tlsClientAuthSanDns: 'a.example', tlsClientAuthSanUri: 'https://a.example/id' }, /only one of/],
    ['a malformed IP', { tlsClientAuthSanIp: '300.1.1.1' }, /tls_client_auth_san_ip/],
    ['a DN that is not RFC 4514', { tlsClientAuthSubjectDn: 'orders' }, /RFC 4514/],
  ])('refuses tls_client_auth with %s (invalid_client_metadata)', (_, over, message) => {
    const err = thrown(() => validateDraft({ ...base, ...over }));
    expect(err).toMatchObject({ code: 'invalid_client_metadata' });
    expect((err as Error).message).toMatch(message);
  });

  it('refuses tls_client_auth_* on a client of another method', () => {
    expect(thrown(() => validateDraft({ ...base, tokenEndpointAuthMethod: 'client_secret_basic', tlsClientAuthSanDns: 'a.example' }))).toMatchObject({ code: 'invalid_client_metadata' });
  });

  it('refuses both mutual-TLS methods where the edge terminates no mutual TLS (RFC 7591 §3.2.2), whatever the rest says', () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    for (const draft of [{ ...base, tlsClientAuthSanDns: 'svc.example.com' }, { ...base, tokenEndpointAuthMethod: 'self_signed_tls_client_auth', jwks: { keys: [jwk] } }]) {
      expect(thrown(() => validateDraft(draft, { mutualTls: false }))).toMatchObject({ code: 'invalid_client_metadata', description: expect.stringContaining('mutual TLS') });
      expect(() => validateDraft(draft, { mutualTls: true })).not.toThrow();
    }
  });

  it('self_signed_tls_client_auth needs jwks with the certificate key', () => {
    expect(thrown(() => validateDraft({ ...base, tokenEndpointAuthMethod: 'self_signed_tls_client_auth' }))).toMatchObject({ code: 'invalid_client_metadata' });
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const v = validateDraft({ ...base, tokenEndpointAuthMethod: 'self_signed_tls_client_auth', jwks: { keys: [jwk] } });
    expect(v.fields.tokenEndpointAuthMethod).toBe('self_signed_tls_client_auth');
  });

  it('a public client keeps method none: a certificate only binds its tokens', () => {
    expect(thrown(() => validateDraft({ ...base, clientType: 'public', grantTypes: ['authorization_code'], redirectUris: ['https://a.example/cb'] }))).toMatchObject({ code: 'invalid_client_metadata' });
  });
});
