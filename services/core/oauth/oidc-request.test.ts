import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { applyOfflineAccessRule, isOidcRequest, mayIssueRefreshToken, MAX_NONCE_LENGTH, parseLocales, parseMaxAge, parsePrompt, validateOidcParams } from './oidc-request.js';

describe('isOidcRequest', () => {
  it.each([
    [['openid'], true],
    [['read', 'openid', 'profile'], true],
    [['read'], false],
    [[], false],
    [['openid2', 'OPENID'], false],
  ] as const)('%j → %s', (scopes, expected) => {
    expect(isOidcRequest(scopes)).toBe(expected);
  });
});

describe('parsePrompt (OIDC Core §3.1.2.1)', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['none', ['none']],
    ['login', ['login']],
    ['consent', ['consent']],
    ['select_account', ['select_account']],
    ['login consent', ['login', 'consent']],
    ['consent consent', ['consent']],
  ] as const)('accepts %j → %j', (value, expected) => {
    expect(parsePrompt(value)).toEqual(expected);
  });

  it.each([
    ['none login', 'prompt=none must not be combined with other values'],
    ['consent none', 'prompt=none must not be combined with other values'],
    ['none select_account', 'prompt=none must not be combined with other values'],
    ['create', "prompt value 'create' is not supported"],
    ['Login', "prompt value 'Login' is not supported"],
    ['login  consent', 'prompt must be values separated by single spaces'],
    [' login', 'prompt must be values separated by single spaces'],
  ])('refuses %j as invalid_request', (value, description) => {
    const e = thrown(() => parsePrompt(value));
    expect(e.code).toBe('invalid_request');
    expect(e.description).toBe(description);
  });
});

describe('parseMaxAge (OIDC Core §3.1.2.1)', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['0', 0],
    ['3600', 3600],
    ['007', 7],
    ['315360000', 315_360_000],
  ] as const)('accepts %j → %s', (value, expected) => {
    expect(parseMaxAge(value)).toBe(expected);
  });

  it.each(['-1', '1.5', '1e3', ' 1', 'abc', '0x10', '315360001', '9999999999999'])('refuses %j as invalid_request', (value) => {
    expect(thrown(() => parseMaxAge(value)).code).toBe('invalid_request');
  });
});

describe('parseLocales', () => {
  it.each([
    [undefined, []],
    ['en', ['en']],
    ['fr-CA fr en', ['fr-CA', 'fr', 'en']],
    ['de de', ['de']],
    ['zh-Hant-TW', ['zh-Hant-TW']],
  ] as const)('accepts %j → %j', (value, expected) => {
    expect(parseLocales(value, 'ui_locales')).toEqual(expected);
  });

  it.each(['en_US', 'en  fr', '<script>', 'toolongsubtag', `${'en '.repeat(100)}en`])('refuses %j as invalid_request', (value) => {
    expect(thrown(() => parseLocales(value, 'claims_locales')).code).toBe('invalid_request');
  });
});

describe('validateOidcParams', () => {
  it('keeps every checked parameter', () => {
    expect(
      validateOidcParams(
        { nonce: 'n-0S6_WzA2Mj', prompt: 'login consent', max_age: '0', login_hint: 'alice@example.com', id_token_hint: 'a.b.c', ui_locales: 'fr en', claims_locales: 'de' },
        ['openid', 'read'],
      ),
    ).toEqual({
      openid: true,
      prompt: ['login', 'consent'],
      maxAge: 0,
      nonce: 'n-0S6_WzA2Mj',
      loginHint: 'alice@example.com',
      idTokenHint: 'a.b.c',
      uiLocales: ['fr', 'en'],
      claimsLocales: ['de'],
    });
  });

  it('treats empty values as omitted and needs no nonce on the code flow (OIDC Core §3.1.2.1)', () => {
    expect(validateOidcParams({ nonce: '', prompt: '', max_age: '', login_hint: '', id_token_hint: '' }, ['openid'])).toEqual({ openid: true, prompt: [], uiLocales: [], claimsLocales: [] });
  });

  it('parses the claims parameter with the claims rule (OIDC Core §5.5)', () => {
    const oidc = validateOidcParams({ claims: '{"id_token":{"email":{"essential":true}},"userinfo":{"phone_number":null}}' }, ['openid', 'email']);
    expect(oidc.claims?.idToken).toEqual({ email: { essential: true } });
    expect(oidc.claims?.userinfo).toEqual({ phone_number: null });
  });

  it('ignores a claims parameter, even a malformed one, in a plain OAuth request (RFC 6749 §3.1)', () => {
    expect(validateOidcParams({ claims: '{"id_token":' }, ['read']).claims).toBeUndefined();
  });

  it.each([
    ['a nonce longer than the bound', { nonce: 'n'.repeat(MAX_NONCE_LENGTH + 1) }, 'invalid_request'],
    ['a nonce with a control character', { nonce: 'abc\ndef' }, 'invalid_request'],
    ['a nonce with non-ASCII', { nonce: 'nonce-é' }, 'invalid_request'],
    ['a login_hint with a control character', { login_hint: 'alice\u0000' }, 'invalid_request'],
    ['a login_hint longer than the bound', { login_hint: 'a'.repeat(257) }, 'invalid_request'],
    ['an id_token_hint that is not a compact JWS', { id_token_hint: 'not-a-jwt' }, 'invalid_request'],
    ['an id_token_hint longer than the bound', { id_token_hint: `${'a'.repeat(8200)}.b.c` }, 'invalid_request'],
    ['a request object (OIDC Core §6.1)', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
    ['a request_uri (OIDC Core §6.2)', { request_uri: 'https://rp.example.com/r' }, 'request_uri_not_supported'],
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
    ['a negative max_age', { max_age: '-5' }, 'invalid_request'],
    ['a claims parameter that is not JSON (OIDC Core §5.5)', { claims: '{"id_token":' }, 'invalid_request'],
    ['a claims parameter that is a JSON array', { claims: '[]' }, 'invalid_request'],
    ['a claims request whose claim is neither null nor an object (OIDC Core §5.5.1)', { claims: '{"id_token":{"email":true}}' }, 'invalid_request'],
  ])('refuses %s', (_name, params, code) => {
    expect(thrown(() => validateOidcParams(params, ['openid'])).code).toBe(code);
  });
});

describe('offline_access (OIDC Core §11)', () => {
  it.each([
    ['granted with openid and prompt=consent', ['openid', 'offline_access'], { openid: true, prompt: ['consent'] }, ['openid', 'offline_access']],
    ['dropped with openid and no prompt', ['openid', 'offline_access'], { openid: true, prompt: [] }, ['openid']],
    ['dropped with openid and prompt=login only', ['openid', 'offline_access', 'read'], { openid: true, prompt: ['login'] }, ['openid', 'read']],
    ['left alone in a plain OAuth request', ['offline_access', 'read'], { openid: false, prompt: [] }, ['offline_access', 'read']],
  ] as const)('%s', (_name, scopes, oidc, expected) => {
    expect(applyOfflineAccessRule(scopes, { openid: oidc.openid, prompt: [...oidc.prompt] })).toEqual(expected);
  });

  it.each([
    [['openid'], false],
    [['openid', 'offline_access'], true],
    [['read'], true],
    [['offline_access'], true],
  ] as const)('a grant of %j may carry a refresh token: %s', (scopes, expected) => {
    expect(mayIssueRefreshToken(scopes)).toBe(expected);
  });
});
