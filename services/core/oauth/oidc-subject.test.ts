import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { assertSubjectUnchanged, sectorIdentifier, type SubjectClient, subjectIdentifier, validateSubjectMetadata } from './oidc-subject.js';

const SALT = 's'.repeat(32);
const pairwise = (redirectUris: string[], sectorIdentifierUri = ''): SubjectClient => ({ subjectType: 'pairwise', sectorIdentifierUri, redirectUris });

describe('sectorIdentifier (OIDC Core §8.1)', () => {
  it.each([
    ['the single redirect host', pairwise(['https://app.example.com/cb', 'https://app.example.com/other']), 'app.example.com'],
    ['the host with its port', pairwise(['https://app.example.com:8443/cb']), 'app.example.com:8443'],
    ['the sector_identifier_uri host when registered', pairwise(['https://a.example.com/cb', 'https://b.example.com/cb'], 'https://example.com/sector.json'), 'example.com'],
  ])('%s', (_name, client, expected) => {
    expect(sectorIdentifier(client)).toBe(expected);
  });

  it('refuses several redirect hosts without a sector_identifier_uri', () => {
    expect(thrown(() => sectorIdentifier(pairwise(['https://a.example.com/cb', 'https://b.example.com/cb']))).code).toBe('invalid_client_metadata');
  });
});

describe('subjectIdentifier (OIDC Core §8)', () => {
  it('is the user id for public subjects', () => {
    expect(subjectIdentifier({ subjectType: 'public', sectorIdentifierUri: '', redirectUris: ['https://a.example.com/cb'] }, 'user-1', '')).toBe('user-1');
  });

  it('is SHA-256 over length-prefixed sector host, user id and salt for pairwise subjects', () => {
    const part = (s: string) => {
      const b = Buffer.from(s);
      const l = Buffer.alloc(4);
      l.writeUInt32BE(b.length);
      return Buffer.concat([l, b]);
    };
    const expected = createHash('sha256').update(Buffer.concat([part('app.example.com'), part('user-1'), part(SALT)])).digest('base64url');
    expect(subjectIdentifier(pairwise(['https://app.example.com/cb']), 'user-1', SALT)).toBe(expected);
  });

  it('differs between sectors and users, is stable within a sector, and never reveals the user id', () => {
    const a1 = subjectIdentifier(pairwise(['https://a.example.com/cb']), 'user-1', SALT);
    expect(subjectIdentifier(pairwise(['https://a.example.com/other']), 'user-1', SALT)).toBe(a1);
    expect(subjectIdentifier(pairwise(['https://b.example.com/cb']), 'user-1', SALT)).not.toBe(a1);
    expect(subjectIdentifier(pairwise(['https://a.example.com/cb']), 'user-2', SALT)).not.toBe(a1);
    expect(subjectIdentifier(pairwise(['https://a.example.com/cb']), 'user-1', 't'.repeat(32))).not.toBe(a1);
    expect(a1).not.toContain('user-1');
  });

  it('refuses a short salt', () => {
    expect(() => subjectIdentifier(pairwise(['https://a.example.com/cb']), 'u', 'short')).toThrow(RangeError);
  });
});

describe('validateSubjectMetadata (OIDC Registration §2, no outbound fetch)', () => {
  it.each([
    ['a public client', { subjectType: 'public', sectorIdentifierUri: '', redirectUris: ['https://a.example.com/cb', 'https://b.example.com/cb'] }],
    ['a pairwise client on one host', pairwise(['https://a.example.com/cb'])],
    ['a sector_identifier_uri on the redirect host', pairwise(['https://a.example.com/cb'], 'https://a.example.com/sector.json')],
  ] as const)('accepts %s', (_name, client) => {
    expect(() => validateSubjectMetadata(client as SubjectClient)).not.toThrow();
  });

  it.each([
    ['an http sector_identifier_uri', pairwise(['https://a.example.com/cb'], 'http://a.example.com/s')],
    ['a sector_identifier_uri on another host than a redirect URI', pairwise(['https://a.example.com/cb', 'https://evil.example.net/cb'], 'https://a.example.com/s')],
    ['a relative sector_identifier_uri', pairwise(['https://a.example.com/cb'], '/sector.json')],
    ['a pairwise client on several hosts', pairwise(['https://a.example.com/cb', 'https://b.example.com/cb'])],
  ])('refuses %s as invalid_client_metadata', (_name, client) => {
    expect(thrown(() => validateSubjectMetadata(client)).code).toBe('invalid_client_metadata');
  });
});

describe('assertSubjectUnchanged (OIDC Core §8.1, §12.2: an update never changes users\' sub)', () => {
  const pub = (redirectUris: string[]): SubjectClient => ({ subjectType: 'public', sectorIdentifierUri: '', redirectUris });
  it.each([
    ['a pairwise client adding a URI on its own host', pairwise(['https://a.example.com/cb']), pairwise(['https://a.example.com/cb', 'https://a.example.com/cb2'])],
    ['a pairwise client adding a sector_identifier_uri on its own host', pairwise(['https://a.example.com/cb']), pairwise(['https://a.example.com/cb'], 'https://a.example.com/s.json')],
    ['a public client moving its redirect URIs', pub(['https://a.example.com/cb']), pub(['https://b.example.com/cb'])],
  ])('allows %s', (_n, before, after) => {
    expect(() => assertSubjectUnchanged(before, after)).not.toThrow();
    expect(subjectIdentifier(after, 'usr_1', SALT)).toBe(subjectIdentifier(before, 'usr_1', SALT));
  });
  it.each([
    ['moving a pairwise client\'s redirect URIs to another host', pairwise(['https://a.example.com/cb']), pairwise(['https://b.example.com/cb']), 'invalid_redirect_uri'],
    ['moving a pairwise client\'s sector_identifier_uri to another host', pairwise(['https://a.example.com/cb'], 'https://a.example.com/s.json'), pairwise(['https://b.example.com/cb'], 'https://b.example.com/s.json'), 'invalid_client_metadata'],
    ['switching public to pairwise', pub(['https://a.example.com/cb']), pairwise(['https://a.example.com/cb']), 'invalid_client_metadata'],
    ['switching pairwise to public', pairwise(['https://a.example.com/cb']), pub(['https://a.example.com/cb']), 'invalid_client_metadata'],
  ])('refuses %s', (_n, before, after, code) => {
    expect(thrown(() => assertSubjectUnchanged(before, after)).code).toBe(code);
  });
});
