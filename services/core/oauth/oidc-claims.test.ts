// Table tests of the claims rule: scope values (OIDC Core §5.4), the claims parameter (§5.5) and
// the claim set built from a user (§5.1, §5.3.2).
import { describe, expect, it } from 'vitest';
import {
  buildClaimSet,
  CLAIM_SCOPES,
  claimScopesOf,
  idTokenClaimsRequest,
  idTokenUserClaims,
  MAX_CLAIMS_PARAMETER_LENGTH,
  requestedIdTokenClaims, essentialAcrUnmet, parseClaimsParameter, subjectRequestMatches, releasedClaims, SUPPORTED_USER_CLAIMS, type ClaimSource } from './oidc-claims.js';

const sorted = (s: Set<string>) => [...s].sort();

describe('releasedClaims by scope (OIDC Core §5.4)', () => {
  it.each([
    ['openid alone', ['openid'], []],
    ['email', ['openid', 'email'], ['email', 'email_verified']],
    ['phone', ['openid', 'phone'], ['phone_number', 'phone_number_verified']],
    ['address', ['openid', 'address'], ['address']],
    ['profile', ['openid', 'profile'], ['birthdate', 'family_name', 'gender', 'given_name', 'locale', 'middle_name', 'name', 'nickname', 'picture', 'preferred_username', 'profile', 'updated_at', 'website', 'zoneinfo']],
    ['email without openid', ['email', 'profile'], []],
    ['unrelated scopes', ['openid', 'orders:read', 'offline_access'], []],
  ])('%s', (_name, scopes, expected) => {
    expect(sorted(releasedClaims(scopes, undefined, 'userinfo'))).toEqual([...expected].sort());
  });

  it('puts no scope claims in the ID Token of the code flow', () => {
    expect(releasedClaims(['openid', 'profile', 'email'], undefined, 'id_token').size).toBe(0);
  });
});

describe('releasedClaims with the claims parameter (OIDC Core §5.5)', () => {
  const req = parseClaimsParameter(
    JSON.stringify({
      userinfo: { email: null, phone_number: { essential: true }, 'https://example.com/custom': null },
      id_token: { email: { essential: true }, given_name: null, address: null, acr: { values: ['urn:mace:incommon:iap:silver'] } },
    }),
  );

  it.each([
    ['moves a consented claim, with its verified flag (§5.1), into the ID Token', ['openid', 'email', 'profile'], 'id_token', ['email', 'email_verified', 'given_name']],
    ['never widens consent: address not granted stays out', ['openid', 'email'], 'id_token', ['email', 'email_verified']],
    ['never widens consent in UserInfo either', ['openid'], 'userinfo', []],
    ['adds nothing beyond the granted groups to UserInfo', ['openid', 'phone'], 'userinfo', ['phone_number', 'phone_number_verified']],
    ['ignores unknown claims and non-user claims', ['openid', 'email', 'phone', 'address', 'profile'], 'id_token', ['address', 'email', 'email_verified', 'given_name']],
    ['releases nothing without openid', ['email', 'profile'], 'id_token', []],
  ] as [string, string[], 'userinfo' | 'id_token', string[]][])('%s', (_name, scopes, target, expected) => {
    expect(sorted(releasedClaims(scopes, req, target))).toEqual(expected);
  });
});

describe('parseClaimsParameter (OIDC Core §5.5)', () => {
  it('parses null, essential, value and values, and ignores other members', () => {
    const parsed = parseClaimsParameter(
      '{"userinfo":{"nickname":null,"email":{"essential":true,"purpose":"x"}},"id_token":{"sub":{"value":"usr_1"},"auth_time":{"essential":true},"locale":{"values":["fr","en"]}},"other":1}',
    );
    expect(parsed).toEqual({
      userinfo: { nickname: null, email: { essential: true } },
      idToken: { sub: { value: 'usr_1' }, auth_time: { essential: true }, locale: { values: ['fr', 'en'] } },
    });
  });

  it('treats an absent or empty parameter as no request', () => {
    expect(parseClaimsParameter(undefined)).toEqual({ userinfo: {}, idToken: {} });
    expect(parseClaimsParameter('')).toEqual({ userinfo: {}, idToken: {} });
    expect(parseClaimsParameter('{}')).toEqual({ userinfo: {}, idToken: {} });
  });

  it('is not fooled by a claim named __proto__', () => {
    const parsed = parseClaimsParameter('{"userinfo":{"__proto__":{"essential":true}}}');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(releasedClaims(['openid', 'email'], parsed, 'userinfo').has('__proto__')).toBe(false);
  });

  it.each([
    ['not JSON', '{userinfo:', 'must be a JSON object'],
    ['a JSON array', '[]', 'must be a JSON object'],
    ['a JSON string', '"email"', 'must be a JSON object'],
    ['userinfo an array', '{"userinfo":["email"]}', 'claims.userinfo must be a JSON object'],
    ['id_token a string', '{"id_token":"email"}', 'claims.id_token must be a JSON object'],
    ['a claim request that is a string', '{"userinfo":{"email":"yes"}}', 'claims.userinfo.email must be null or a JSON object'],
    ['essential not a boolean', '{"id_token":{"email":{"essential":"true"}}}', 'essential must be true or false'],
    ['value an object', '{"id_token":{"sub":{"value":{"a":1}}}}', 'value must be a string, number or boolean'],
    ['values not an array', '{"id_token":{"acr":{"values":"a"}}}', 'values must be an array'],
    ['too many values', JSON.stringify({ id_token: { acr: { values: Array.from({ length: 17 }, (_, i) => `v${i}`) } } }), 'at most 16'],
    ['too many claims', JSON.stringify({ userinfo: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`c${i}`, null])) }), 'at most 64 claims'],
    ['an empty claim name', '{"userinfo":{"":null}}', 'claim name'],
    // OIDC Core §2: a sub is a string of at most 255 characters; a requested sub value is bounded alike.
    ['a sub value that is a number', '{"id_token":{"sub":{"value":42}}}', 'sub.value must be a string of 1 to 255 characters'],
    ['a sub value over 255 characters', JSON.stringify({ userinfo: { sub: { value: 'u'.repeat(256) } } }), 'sub.value must be a string of 1 to 255 characters'],
    ['an empty sub value', '{"id_token":{"sub":{"value":""}}}', 'sub.value must be a string'],
    ['a parameter over the size limit', JSON.stringify({ userinfo: { email: { value: 'x'.repeat(MAX_CLAIMS_PARAMETER_LENGTH) } } }), `at most ${MAX_CLAIMS_PARAMETER_LENGTH} characters`],
  ])('refuses %s with invalid_request', (_name, raw, message) => {
    expect(() => parseClaimsParameter(raw)).toThrow(expect.objectContaining({ code: 'invalid_request', message: expect.stringContaining(message) }));
  });
});

describe('buildClaimSet (OIDC Core §5.1, §5.3.2)', () => {
  const user: ClaimSource = {
    username: 'zoe',
    email: 'zoe@example.com',
    displayName: 'Zoë Ünal',
    updatedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
    claims: { givenName: 'Zoë', phoneNumber: '+33123456789', phoneNumberVerified: true, address: { locality: 'Paris', postalCode: '75002' } },
  };

  it('returns sub and the released claims that have a value, in snake_case', () => {
    const all = new Set(SUPPORTED_USER_CLAIMS);
    expect(buildClaimSet('usr_1', user, all)).toEqual({
      sub: 'usr_1',
      name: 'Zoë Ünal',
      given_name: 'Zoë',
      preferred_username: 'zoe',
      updated_at: Math.floor(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000),
      email: 'zoe@example.com',
      email_verified: false,
      address: { locality: 'Paris', postal_code: '75002' },
      phone_number: '+33123456789',
      phone_number_verified: true,
    });
  });

  it('returns only sub when nothing is released, and never a claim outside the released set', () => {
    expect(buildClaimSet('usr_1', user, new Set())).toEqual({ sub: 'usr_1' });
    expect(buildClaimSet('usr_1', user, releasedClaims(['openid', 'email'], undefined, 'userinfo'))).toEqual({ sub: 'usr_1', email: 'zoe@example.com', email_verified: false });
  });

  it('never invents a verified flag without the email or number it verifies', () => {
    const bare: ClaimSource = { username: 'u', updatedAt: new Date(0), claims: { emailVerified: true, phoneNumberVerified: true } };
    expect(buildClaimSet('s', bare, new Set(SUPPORTED_USER_CLAIMS))).toEqual({ sub: 's', preferred_username: 'u', updated_at: 0 });
  });

  it('lists the groups of granted scopes in page order', () => {
    expect(claimScopesOf(['address', 'openid', 'email', 'profile'])).toEqual(['profile', 'email', 'address']);
  });
});

describe('idTokenUserClaims (OIDC Core §5.5 for the code flow)', () => {
  const user: ClaimSource = { username: 'zoe', email: 'zoe@example.com', updatedAt: new Date(0), claims: { emailVerified: true, givenName: 'Zoë' } };

  it.each([
    ['nothing requested: sub only', ['openid', 'email', 'profile'], undefined, { sub: 's' }],
    ['a consented claim requested for the ID Token', ['openid', 'email'], '{"id_token":{"email":null,"email_verified":{"essential":true}}}', { sub: 's', email: 'zoe@example.com', email_verified: true }],
    ['a claim whose group was not consented', ['openid', 'email'], '{"id_token":{"given_name":null}}', { sub: 's' }],
    ['claims requested for UserInfo only', ['openid', 'profile'], '{"userinfo":{"given_name":null}}', { sub: 's' }],
  ] as [string, string[], string | undefined, Record<string, unknown>][])('%s', (_name, scopes, raw, expected) => {
    expect(idTokenUserClaims('s', user, scopes, parseClaimsParameter(raw))).toEqual(expected);
  });
});

describe('the claims request carried by a grant (OIDC Core §5.5, §12.2)', () => {
  it('keeps only the known ID Token claim names, in claims_supported order', () => {
    const request = parseClaimsParameter(
      JSON.stringify({ id_token: { phone_number: null, email: { essential: true }, acr: null, 'x-unknown': null, sub: null }, userinfo: { address: null } }),
    );
    expect(requestedIdTokenClaims(request)).toEqual(['email', 'phone_number']);
    expect(requestedIdTokenClaims(undefined)).toEqual([]);
  });

  it('releases the same ID Token claims from the carried names as from the original request', () => {
    const request = parseClaimsParameter(JSON.stringify({ id_token: { email: { essential: true }, email_verified: null, phone_number: { value: '+1' }, name: null } }));
    const scopes = ['openid', 'email', 'profile'];
    expect(sorted(releasedClaims(scopes, idTokenClaimsRequest(requestedIdTokenClaims(request)), 'id_token'))).toEqual(sorted(releasedClaims(scopes, request, 'id_token')));
  });

  // Why the access token needs no claims request for UserInfo: whatever claims.userinfo names,
  // the release equals the scope-only release, for every combination of granted groups.
  it('never lets claims.userinfo change what UserInfo releases beyond the granted scope groups', () => {
    const everything = parseClaimsParameter(JSON.stringify({ userinfo: Object.fromEntries(SUPPORTED_USER_CLAIMS.map((c) => [c, { essential: true }])) }));
    for (let mask = 0; mask < 1 << CLAIM_SCOPES.length; mask++) {
      const scopes = ['openid', ...CLAIM_SCOPES.filter((_, i) => (mask & (1 << i)) !== 0)];
      expect(sorted(releasedClaims(scopes, everything, 'userinfo'))).toEqual(sorted(releasedClaims(scopes, undefined, 'userinfo')));
    }
  });
});

describe('subjectRequestMatches (OIDC Core §5.5.1 sub value)', () => {
  const req = (raw: string) => parseClaimsParameter(raw);
  it.each<[string, string | undefined, boolean | undefined]>([
    ['no claims parameter', undefined, undefined],
    ['sub requested without a value', '{"id_token":{"sub":null},"userinfo":{"sub":{"essential":true}}}', undefined],
    ['the session user under id_token', '{"id_token":{"sub":{"value":"usr_1"}}}', true],
    ['the session user under userinfo', '{"userinfo":{"sub":{"value":"usr_1"}}}', true],
    ['another user under id_token', '{"id_token":{"sub":{"value":"usr_someoneelse"}}}', false],
    ['another user under userinfo', '{"userinfo":{"sub":{"value":"usr_someoneelse"}}}', false],
    ['the user under id_token but another under userinfo', '{"id_token":{"sub":{"value":"usr_1"}},"userinfo":{"sub":{"value":"usr_2"}}}', false],
    ['a differently cased sub (exact comparison)', '{"id_token":{"sub":{"value":"USR_1"}}}', false],
  ])('%s → %s', (_name, raw, expected) => {
    expect(subjectRequestMatches(raw === undefined ? undefined : req(raw), 'usr_1')).toBe(expected);
  });
});

describe('essentialAcrUnmet (OIDC Core §5.5.1.1)', () => {
  it.each<[string, string | undefined, boolean]>([
    ['no claims parameter', undefined, false],
    ['an essential acr with values this server does not know', '{"id_token":{"acr":{"essential":true,"values":["urn:x"]}}}', true],
    ['an essential acr with one value', '{"id_token":{"acr":{"essential":true,"value":"urn:x"}}}', true],
    ['an essential acr under userinfo', '{"userinfo":{"acr":{"essential":true,"values":["urn:x","urn:y"]}}}', true],
    ['a voluntary acr with values', '{"id_token":{"acr":{"values":["urn:x"]}}}', false],
    ['an acr with essential false', '{"id_token":{"acr":{"essential":false,"value":"urn:x"}}}', false],
    ['an essential acr without values (no particular context)', '{"id_token":{"acr":{"essential":true}}}', false],
    ['acr requested in the default manner', '{"id_token":{"acr":null}}', false],
  ])('%s → %s', (_name, raw, expected) => {
    expect(essentialAcrUnmet(raw === undefined ? undefined : parseClaimsParameter(raw))).toBe(expected);
  });

  it('is satisfied when one of the values is supported', () => {
    expect(essentialAcrUnmet(parseClaimsParameter('{"id_token":{"acr":{"essential":true,"values":["urn:x","urn:ok"]}}}'), ['urn:ok'])).toBe(false);
  });
});
