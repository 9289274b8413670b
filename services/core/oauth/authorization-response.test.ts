import { describe, expect, it } from 'vitest';
import { InvalidRedirectUri } from '../errors/index.js';
import { addQueryParameters, buildAuthorizationErrorRedirect, buildAuthorizationSuccessRedirect } from './authorization-response.js';

const ISS = 'https://auth.example.com';

describe('buildAuthorizationSuccessRedirect', () => {
  it.each<[string, string, string | undefined, string]>([
    ['a URI without query', 'https://app.example.com/cb', 'xyz', 'https://app.example.com/cb?code=c0de&state=xyz&iss=https%3A%2F%2Fauth.example.com'],
    ['no state', 'https://app.example.com/cb', undefined, 'https://app.example.com/cb?code=c0de&iss=https%3A%2F%2Fauth.example.com'],
    ['an empty state (treated as absent)', 'https://app.example.com/cb', '', 'https://app.example.com/cb?code=c0de&iss=https%3A%2F%2Fauth.example.com'],
    ['an existing query kept verbatim', 'https://app.example.com/cb?tenant=a%20b&x=1', 's', 'https://app.example.com/cb?tenant=a%20b&x=1&code=c0de&state=s&iss=https%3A%2F%2Fauth.example.com'],
    ['a URI ending in ?', 'https://app.example.com/cb?', 's', 'https://app.example.com/cb?code=c0de&state=s&iss=https%3A%2F%2Fauth.example.com'],
    ['a query ending in &', 'https://app.example.com/cb?a=1&', 's', 'https://app.example.com/cb?a=1&code=c0de&state=s&iss=https%3A%2F%2Fauth.example.com'],
    ['a loopback URI with a port', 'http://127.0.0.1:49152/cb', 's', 'http://127.0.0.1:49152/cb?code=c0de&state=s&iss=https%3A%2F%2Fauth.example.com'],
    ['a private-use scheme', 'com.example.app:/oauth2redirect', 's', 'com.example.app:/oauth2redirect?code=c0de&state=s&iss=https%3A%2F%2Fauth.example.com'],
    ['a state needing encoding', 'https://app.example.com/cb', 'a b&c=d?e#f+g/é', 'https://app.example.com/cb?code=c0de&state=a+b%26c%3Dd%3Fe%23f%2Bg%2F%C3%A9&iss=https%3A%2F%2Fauth.example.com'],
  ])('%s', (_name, redirectUri, state, expected) => {
    expect(buildAuthorizationSuccessRedirect({ redirectUri, code: 'c0de', state, issuer: ISS })).toBe(expected);
  });

  it('round-trips every value through a standard URL parser', () => {
    const state = 'x y&z=1;%25"<>';
    const out = new URL(buildAuthorizationSuccessRedirect({ redirectUri: 'https://app.example.com/cb?keep=1', code: 'abc-_123', state, issuer: `${ISS}/tenant?` }));
    expect(out.searchParams.getAll('keep')).toEqual(['1']);
    expect(out.searchParams.get('code')).toBe('abc-_123');
    expect(out.searchParams.get('state')).toBe(state);
    expect(out.searchParams.get('iss')).toBe(`${ISS}/tenant?`);
    expect(out.origin + out.pathname).toBe('https://app.example.com/cb');
  });
});

describe('buildAuthorizationErrorRedirect', () => {
  it.each<[string, Parameters<typeof buildAuthorizationErrorRedirect>[0], string]>([
    [
      'access_denied with description and state',
      { redirectUri: 'https://app.example.com/cb', error: 'access_denied', errorDescription: 'the user denied the request', state: 'xyz', issuer: ISS },
      'https://app.example.com/cb?error=access_denied&error_description=the+user+denied+the+request&state=xyz&iss=https%3A%2F%2Fauth.example.com',
    ],
    [
      'no description, no state',
      { redirectUri: 'https://app.example.com/cb', error: 'invalid_scope', issuer: ISS },
      'https://app.example.com/cb?error=invalid_scope&iss=https%3A%2F%2Fauth.example.com',
    ],
    [
      'existing query preserved',
      { redirectUri: 'https://app.example.com/cb?tenant=t1', error: 'invalid_request', errorDescription: 'a=b', state: 's', issuer: ISS },
      'https://app.example.com/cb?tenant=t1&error=invalid_request&error_description=a%3Db&state=s&iss=https%3A%2F%2Fauth.example.com',
    ],
  ])('%s', (_name, input, expected) => {
    expect(buildAuthorizationErrorRedirect(input)).toBe(expected);
  });
});

describe('addQueryParameters', () => {
  it('returns the URI unchanged when nothing is added', () => {
    expect(addQueryParameters('https://app.example.com/cb?a=1', [['x', undefined], ['y', '']])).toBe('https://app.example.com/cb?a=1');
  });

  it('refuses a URI with a fragment (RFC 6749 §3.1.2)', () => {
    expect(() => addQueryParameters('https://app.example.com/cb#f', [['code', 'c']])).toThrow(InvalidRedirectUri);
  });
});
