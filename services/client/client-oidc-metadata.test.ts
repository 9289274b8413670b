// OpenID Connect Registration 1.0 §2 client metadata: validation, storage in Client.metadata and
// the way back (draftOf), for the fields of the ID Token and pairwise subjects.
import { describe, expect, it } from 'vitest';
import { thrown } from '../../test/support/thrown.js';
import type { Client } from '../core/store/types.js';
import { type ClientDraft, draftOf, serverClientDraft, oidcMetadataOf, validateDraft } from './client-draft.js';

// The no-metadata draft of serverClientDraft, as a registered (consent-asking) client.
const base: ClientDraft = serverClientDraft({
  name: 'RP',
  clientType: 'confidential',
  redirectUris: ['https://rp.example.com/cb'],
  grantTypes: ['authorization_code'],
  scopes: ['openid'],
  tokenEndpointAuthMethod: 'client_secret_basic',
  skipConsent: false,
});
const ES256_ONLY = { idTokenAlgs: ['ES256'] };

describe('validateDraft: OpenID Connect metadata', () => {
  it('stores nothing for the defaults (public subjects, the server alg, no default_max_age)', () => {
    const v = validateDraft(base, ES256_ONLY);
    expect(Object.keys(v.extra)).toEqual(['require_pkce']);
    expect(oidcMetadataOf({ metadata: v.extra })).toEqual({ idTokenSignedResponseAlg: '', defaultMaxAge: undefined, requireAuthTime: false, subjectType: 'public', sectorIdentifierUri: '' });
  });

  it('keeps every field and reads it back as the draft (an update merges into it)', () => {
    const draft = { ...base, idTokenSignedResponseAlg: 'ES256', defaultMaxAge: 0, requireAuthTime: true, subjectType: 'pairwise', sectorIdentifierUri: 'https://rp.example.com/sector.json' };
    const v = validateDraft(draft, ES256_ONLY);
    expect(v.extra).toMatchObject({
      id_token_signed_response_alg: 'ES256',
      default_max_age: '0',
      require_auth_time: 'true',
      subject_type: 'pairwise',
      sector_identifier_uri: 'https://rp.example.com/sector.json',
    });
    const stored = { ...v.fields, metadata: v.extra, clientId: 'c', version: 1 } as unknown as Client;
    expect(draftOf(stored)).toMatchObject({ idTokenSignedResponseAlg: 'ES256', defaultMaxAge: 0, requireAuthTime: true, subjectType: 'pairwise', sectorIdentifierUri: 'https://rp.example.com/sector.json' });
  });

  it.each<[string, Partial<ClientDraft>]>([
    ['an alg the key service does not sign with', { idTokenSignedResponseAlg: 'RS256' }],
    ['alg none', { idTokenSignedResponseAlg: 'none' }],
    ['an HMAC alg', { idTokenSignedResponseAlg: 'HS256' }],
    ['a negative default_max_age', { defaultMaxAge: -1 }],
    ['a fractional default_max_age', { defaultMaxAge: 1.5 }],
    ['an unknown subject_type', { subjectType: 'private' }],
    ['an http sector_identifier_uri', { sectorIdentifierUri: 'http://rp.example.com/s' }],
    ['a sector_identifier_uri on another host than the redirect URIs (no fetch to vouch for them)', { sectorIdentifierUri: 'https://other.example.net/s' }],
    ['a pairwise client on two hosts without sector_identifier_uri', { subjectType: 'pairwise', redirectUris: ['https://a.example.com/cb', 'https://b.example.com/cb'] }],
  ])('refuses %s as invalid_client_metadata', (_name, change) => {
    expect(thrown(() => validateDraft({ ...base, ...change }, ES256_ONLY)).code).toBe('invalid_client_metadata');
  });

  it('accepts any alg the key service can sign with when not narrowed', () => {
    for (const alg of ['ES256', 'RS256', 'EdDSA']) expect(validateDraft({ ...base, idTokenSignedResponseAlg: alg }).extra.id_token_signed_response_alg).toBe(alg);
  });
});
