import { describe, expect, it } from 'vitest';
import { parseResourceIdentifier, protectedResourceMetadata, resourceMetadataUrl, resourcesForMetadataPath } from './protected-resource-metadata.js';

const ORIGIN = 'https://edge.example';

describe('parseResourceIdentifier (RFC 9728 §1.2)', () => {
  it.each(['https://edge.example', 'https://edge.example/', 'https://edge.example/api', 'https://edge.example/api/v1/', 'http://127.0.0.1:8080/sample', 'http://[::1]:1/x', 'http://localhost:3000'])(
    'accepts %s',
    (r) => {
      expect(parseResourceIdentifier(r)).toBeDefined();
    },
  );

  it.each([
    ['not a URL', 'api'],
    ['a URN', 'urn:example:api'],
    ['http off loopback', 'http://edge.example/api'],
    ['a query', 'https://edge.example/api?x=1'],
    ['an empty query', 'https://edge.example/api?'],
    ['a fragment', 'https://edge.example/api#f'],
    ['user information', 'https://u@edge.example/api'],
    ['the default port spelled out', 'https://edge.example:443/api'],
    ['an upper-case host', 'https://Edge.example/api'],
    ['dot segments', 'https://edge.example/a/../api'],
    ['an empty string', ''],
  ])('refuses %s', (_why, r) => {
    expect(parseResourceIdentifier(r)).toBeUndefined();
  });
});

describe('resourceMetadataUrl (RFC 9728 §3.1)', () => {
  it.each([
    ['https://edge.example/sample', 'https://edge.example/.well-known/oauth-protected-resource/sample'],
    ['https://edge.example/a/b/', 'https://edge.example/.well-known/oauth-protected-resource/a/b/'],
    ['https://edge.example', 'https://edge.example/.well-known/oauth-protected-resource'],
    ['https://edge.example/', 'https://edge.example/.well-known/oauth-protected-resource'],
  ])('inserts the well-known suffix between host and path of %s', (resource, url) => {
    expect(resourceMetadataUrl(resource, ORIGIN)).toBe(url);
  });

  it.each(['https://other.example/sample', 'http://edge.example/sample', 'https://edge.example:8443/sample', 'urn:x:y', 'https://edge.example/x?y'])(
    'has none for %s, which the edge does not serve',
    (resource) => {
      expect(resourceMetadataUrl(resource, ORIGIN)).toBeUndefined();
    },
  );
});

describe('resourcesForMetadataPath (RFC 9728 §3.3: the document is the one for the URL fetched)', () => {
  it.each([
    ['/sample', ['https://edge.example/sample']],
    ['/a/b/', ['https://edge.example/a/b/']],
    ['', ['https://edge.example', 'https://edge.example/']],
    ['/', []],
    ['sample', []],
    ['/a/../b', []],
    ['/x?y=1', []],
  ])('maps %j to %j', (suffix, resources) => {
    expect(resourcesForMetadataPath(ORIGIN, suffix)).toEqual(resources);
  });

  it('maps every candidate back to the URL it came from', () => {
    for (const suffix of ['/sample', '/a/b/', '']) {
      for (const r of resourcesForMetadataPath(ORIGIN, suffix)) {
        expect(resourceMetadataUrl(r, ORIGIN)).toBe(`${ORIGIN}/.well-known/oauth-protected-resource${suffix}`);
      }
    }
  });
});

describe('protectedResourceMetadata (RFC 9728 §2)', () => {
  it('lists the resource, its authorization server, its scopes (sorted, once) and header-only bearer tokens', () => {
    expect(protectedResourceMetadata({ resource: 'https://edge.example/sample', issuer: 'https://as.example', name: 'Sample', scopes: ['b', 'a', 'b'] })).toEqual({
      resource: 'https://edge.example/sample',
      authorization_servers: ['https://as.example'],
      scopes_supported: ['a', 'b'],
      bearer_methods_supported: ['header'],
      resource_name: 'Sample',
    });
  });

  it('omits an empty name, and adds DPoP members only when the resource server checks DPoP', () => {
    const doc = protectedResourceMetadata({ resource: 'https://r', issuer: 'https://as', name: '', scopes: [], dpop: { algs: ['ES256', 'EdDSA'], required: true } });
    expect(doc).not.toHaveProperty('resource_name');
    expect(doc).toMatchObject({ dpop_signing_alg_values_supported: ['ES256', 'EdDSA'], dpop_bound_access_tokens_required: true });
    expect(protectedResourceMetadata({ resource: 'https://r', issuer: 'https://as', name: '', scopes: [] })).not.toHaveProperty('dpop_signing_alg_values_supported');
  });
});
