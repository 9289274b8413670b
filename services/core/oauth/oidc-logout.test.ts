// Tables of the pure logout rules: logout-token claims (Back-Channel Logout 1.0 §2.4),
// post_logout_redirect_uri matching (RP-Initiated Logout 1.0 §3) and id_token_hint claims.
import { describe, expect, it } from 'vitest';
import { BACKCHANNEL_LOGOUT_EVENT, idTokenHintClaims, logoutTokenClaims, LOGOUT_TOKEN_TTL_SECONDS, matchPostLogoutRedirectUri, postLogoutRedirect } from './oidc-logout.js';

const ISS = 'https://as.example.com';
const base = { issuer: ISS, clientId: 'cli_rp', sub: 'usr_1', sid: 'a'.repeat(64), iat: 1_700_000_000, jti: 'jti_1' };

describe('logoutTokenClaims', () => {
  it('carries iss, aud, iat, a short exp, jti, the back-channel event, sub and sid, and never a nonce', () => {
    const c = logoutTokenClaims(base);
    expect(c).toEqual({
      iss: ISS,
      aud: 'cli_rp',
      iat: base.iat,
      exp: base.iat + LOGOUT_TOKEN_TTL_SECONDS,
      jti: 'jti_1',
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
      sub: 'usr_1',
      sid: base.sid,
    });
    expect(c).not.toHaveProperty('nonce');
    expect(LOGOUT_TOKEN_TTL_SECONDS).toBeLessThanOrEqual(120);
  });

  it.each([
    ['only sid', { sub: '' }, { sid: base.sid }, ['sub']],
    ['only sub', { sid: '' }, { sub: 'usr_1' }, ['sid']],
  ])('with %s keeps the one given', (_n, change, present, absent) => {
    const c = logoutTokenClaims({ ...base, ...change });
    expect(c).toMatchObject(present);
    for (const a of absent) expect(c).not.toHaveProperty(a);
  });

  it.each([
    ['neither sub nor sid', { sub: '', sid: '' }],
    ['no audience', { clientId: '' }],
    ['no issuer', { issuer: '' }],
    ['no jti', { jti: '' }],
    ['an iat that is not epoch seconds', { iat: 1.5 }],
  ])('refuses %s', (_n, change) => {
    expect(() => logoutTokenClaims({ ...base, ...change })).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});

describe('matchPostLogoutRedirectUri', () => {
  const registered = ['https://app.example.com/logged-out', 'http://127.0.0.1:8400/bye'];
  it.each([
    ['the registered URI', 'https://app.example.com/logged-out', true],
    ['a loopback URI with its registered port', 'http://127.0.0.1:8400/bye', true],
    ['another port on loopback (no RFC 8252 exception here)', 'http://127.0.0.1:9999/bye', false],
    ['a trailing slash', 'https://app.example.com/logged-out/', false],
    ['an added query', 'https://app.example.com/logged-out?x=1', false],
    ['other case in the host', 'https://APP.example.com/logged-out', false],
    ['a prefix of a registered URI', 'https://app.example.com/logged', false],
    ['an attacker host', 'https://evil.example/logged-out', false],
    ['an empty value', '', false],
  ])('%s → %s', (_n, requested, expected) => {
    expect(matchPostLogoutRedirectUri(registered, requested)).toBe(expected);
  });
  it('nothing matches when the client registered none', () => {
    expect(matchPostLogoutRedirectUri([], 'https://app.example.com/logged-out')).toBe(false);
  });
});

describe('postLogoutRedirect', () => {
  it.each([
    ['https://app.example.com/out', 'xyz', 'https://app.example.com/out?state=xyz'],
    ['https://app.example.com/out?lang=fr', 'a b&c', 'https://app.example.com/out?lang=fr&state=a+b%26c'],
    ['https://app.example.com/out', '', 'https://app.example.com/out'],
  ])('%s with state %j → %s', (uri, state, expected) => {
    expect(postLogoutRedirect(uri, state)).toBe(expected);
  });
});

describe('idTokenHintClaims', () => {
  const payload = { iss: ISS, sub: 'usr_1', aud: 'cli_rp', exp: 1, iat: 0, sid: 'b'.repeat(64), nonce: 'n' };
  it('accepts an expired ID Token of ours and says whom it names', () => {
    expect(idTokenHintClaims({ alg: 'ES256', typ: 'JWT' }, payload, ISS)).toEqual({ sub: 'usr_1', audiences: ['cli_rp'], sid: 'b'.repeat(64) });
    expect(idTokenHintClaims({ alg: 'ES256' }, { ...payload, aud: ['cli_rp', 'cli_2'], sid: undefined }, ISS)).toEqual({ sub: 'usr_1', audiences: ['cli_rp', 'cli_2'], sid: undefined });
  });
  it.each([
    ['an access token (typ at+jwt)', { typ: 'at+jwt' }, {}],
    ['a logout token (typ logout+jwt)', { typ: 'logout+jwt' }, {}],
    ['an access token without typ (client_id and scope)', {}, { client_id: 'cli_rp', scope: 'openid' }],
    ['another issuer', {}, { iss: 'https://other.example.com' }],
    ['no sub', {}, { sub: '' }],
    ['no audience', {}, { aud: [] }],
    ['a non-string audience', {}, { aud: [1] }],
    // OIDC Core §2: a signed UserInfo response (typ JWT, iss/aud/sub) is no ID Token: no exp, no iat.
    ['a signed UserInfo response (no exp, no iat)', { typ: 'JWT' }, { exp: undefined, iat: undefined, sid: undefined, nonce: undefined }],
    ['a JWT without exp', { typ: 'JWT' }, { exp: undefined }],
    ['a JWT without iat', { typ: 'JWT' }, { iat: undefined }],
    ['a JWT whose exp is not a number', { typ: 'JWT' }, { exp: '1' }],
  ])('refuses %s', (_n, header, change) => {
    expect(() => idTokenHintClaims({ alg: 'ES256', ...header }, { ...payload, ...change }, ISS)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});
