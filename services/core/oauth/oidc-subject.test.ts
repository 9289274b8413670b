import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { sectorIdentifier, type SubjectClient, subjectIdentifier, validateSubjectMetadata } from './oidc-subject.js';

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
