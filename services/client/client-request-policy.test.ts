// RFC 9126 §6 require_pushed_authorization_requests, RFC 9101 §10.5 require_signed_request_object
// and OpenID Connect Registration §2 request_object_signing_alg: validation, storage in
// Client.metadata and the way back (draftOf, requestObjectPolicyOf).
import { describe, expect, it } from 'vitest';
import { thrown } from '../../test/support/thrown.js';
import type { Client } from '../core/store/types.js';
import { type ClientDraft, draftOf, serverClientDraft, requestObjectPolicyOf, validateDraft } from './client-draft.js';
import { fieldsOfMask } from './client-mapping.js';

const JWKS = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }] };

// The no-metadata draft of serverClientDraft, as a registered (consent-asking) client.
const base: ClientDraft = serverClientDraft({
  name: 'RP',
  clientType: 'confidential',
  redirectUris: ['https://rp.example.com/cb'],
  grantTypes: ['authorization_code'],
  scopes: [],
  tokenEndpointAuthMethod: 'private_key_jwt',
  jwks: JWKS,
  skipConsent: false,
});

describe('validateDraft: the request policy', () => {
  it('stores nothing for the defaults: plain requests allowed, any allow-listed alg', () => {
    const v = validateDraft(base);
    expect(v.extra).not.toHaveProperty('require_pushed_authorization_requests');
    expect(v.extra).not.toHaveProperty('require_signed_request_object');
    expect(v.extra).not.toHaveProperty('request_object_signing_alg');
    expect(requestObjectPolicyOf({ metadata: v.extra })).toEqual({ requirePushedAuthorizationRequests: false, requireSignedRequestObject: false, requestObjectSigningAlg: '' });
  });

  it('keeps every field and reads it back as the draft (an update merges into it)', () => {
    const v = validateDraft({ ...base, requirePushedAuthorizationRequests: true, requireSignedRequestObject: true, requestObjectSigningAlg: 'ES256' });
    expect(v.extra).toMatchObject({ require_pushed_authorization_requests: 'true', require_signed_request_object: 'true', request_object_signing_alg: 'ES256' });
    const stored = { ...v.fields, metadata: v.extra, clientId: 'c', version: 1 } as unknown as Client;
    expect(draftOf(stored)).toMatchObject({ requirePushedAuthorizationRequests: true, requireSignedRequestObject: true, requestObjectSigningAlg: 'ES256' });
  });

  it.each<[string, Partial<ClientDraft>]>([
    ['request_object_signing_alg none (an unsigned request proves nothing)', { requestObjectSigningAlg: 'none' }],
    ['request_object_signing_alg HS256 (the client has no shared secret with the server for it)', { requestObjectSigningAlg: 'HS256' }],
    ['an unknown request_object_signing_alg', { requestObjectSigningAlg: 'ES999' }],
    ['require_signed_request_object without registered keys', { requireSignedRequestObject: true, jwks: undefined, tokenEndpointAuthMethod: 'client_secret_basic' }],
  ])('refuses %s as invalid_client_metadata', (_name, change) => {
    expect(thrown(() => validateDraft({ ...base, ...change })).code).toBe('invalid_client_metadata');
  });

  it('names the three fields as update_mask paths of the admin API (Client fields 60-62)', () => {
    expect(fieldsOfMask(['require_pushed_authorization_requests', 'require_signed_request_object', 'request_object_signing_alg'])).toEqual([
      'requirePushedAuthorizationRequests',
      'requireSignedRequestObject',
      'requestObjectSigningAlg',
    ]);
  });
});
