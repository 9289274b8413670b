import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { InvalidDpopProof, InvalidRequest, InvalidScope, InvalidTarget } from '../errors/index.js';
import type { ActClaim } from './access-token-claims.js';
import {
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
  type TokenExchangeParams,
  assertExchangeAllowed,
  assertExchangePossession,
  buildActClaim,
  exchangeSourceChain,
  exchangedTokenLifetime,
  exchangeAudience,
  exchangeScope,
  validateTokenExchangeRequest,
} from './token-exchange.js';

const good: TokenExchangeParams = { subject_token: 'eyJ.subject.token', subject_token_type: TOKEN_TYPE_ACCESS_TOKEN };

describe('validateTokenExchangeRequest', () => {
  it('normalizes a minimal request', () => {
    expect(validateTokenExchangeRequest(good)).toEqual({
      subjectToken: 'eyJ.subject.token',
      subjectTokenType: TOKEN_TYPE_ACCESS_TOKEN,
      requestedTokenType: TOKEN_TYPE_ACCESS_TOKEN,
      audience: [],
      resource: [],
      scope: [],
    });
  });

  it.each<[string, TokenExchangeParams, Record<string, unknown>]>([
    ['a jwt subject token', { ...good, subject_token_type: TOKEN_TYPE_JWT }, { subjectTokenType: TOKEN_TYPE_JWT }],
    ['an explicit access_token requested type', { ...good, requested_token_type: TOKEN_TYPE_ACCESS_TOKEN }, { requestedTokenType: TOKEN_TYPE_ACCESS_TOKEN }],
    ['an empty requested type (omitted)', { ...good, requested_token_type: '' }, { requestedTokenType: TOKEN_TYPE_ACCESS_TOKEN }],
    ['an actor token', { ...good, actor_token: 'eyJ.actor', actor_token_type: TOKEN_TYPE_JWT }, { actorToken: 'eyJ.actor', actorTokenType: TOKEN_TYPE_JWT }],
    ['one audience', { ...good, audience: 'orders' }, { audience: ['orders'] }],
    ['repeated audiences, deduplicated', { ...good, audience: ['orders', 'billing', 'orders'] }, { audience: ['orders', 'billing'] }],
    ['resources', { ...good, resource: ['https://orders.example/api', 'urn:example:billing'] }, { resource: ['https://orders.example/api', 'urn:example:billing'] }],
    ['a scope', { ...good, scope: 'orders:read orders:read' }, { scope: ['orders:read'] }],
  ])('accepts %s', (_name, params, expected) => {
    expect(validateTokenExchangeRequest(params)).toMatchObject(expected);
  });

  it.each<[string, TokenExchangeParams]>([
    ['no subject_token', { subject_token_type: TOKEN_TYPE_ACCESS_TOKEN }],
    ['an empty subject_token', { ...good, subject_token: '' }],
    ['no subject_token_type', { subject_token: 'x' }],
    ['a refresh_token subject type', { ...good, subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }],
    ['an id_token subject type', { ...good, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }],
    ['a SAML subject type', { ...good, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }],
    ['an actor token without type', { ...good, actor_token: 'eyJ.actor' }],
    ['an actor type without token', { ...good, actor_token_type: TOKEN_TYPE_JWT }],
    ['an unsupported actor type', { ...good, actor_token: 'a', actor_token_type: 'urn:ietf:params:oauth:token-type:saml1' }],
    ['a refresh_token requested type', { ...good, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }],
    ['a jwt requested type', { ...good, requested_token_type: TOKEN_TYPE_JWT }],
  ])('rejects %s with invalid_request', (_name, params) => {
    const err = thrown(() => validateTokenExchangeRequest(params));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.code).toBe('invalid_request');
  });

  it.each<[string, TokenExchangeParams]>([
    ['a relative resource', { ...good, resource: '/api' }],
    ['a resource with a fragment', { ...good, resource: 'https://orders.example/api#x' }],
    ['a resource with spaces', { ...good, resource: 'https://orders.example/a b' }],
    ['a bad resource among good ones', { ...good, resource: ['https://orders.example/api', 'orders'] }],
  ])('rejects %s with invalid_target', (_name, params) => {
    const err = thrown(() => validateTokenExchangeRequest(params));
    expect(err).toBeInstanceOf(InvalidTarget);
    expect(err.code).toBe('invalid_target');
  });

  it('rejects a malformed scope with invalid_scope', () => {
    expect(thrown(() => validateTokenExchangeRequest({ ...good, scope: 'a "b"' }))).toBeInstanceOf(InvalidScope);
  });
});

describe('exchangeScope', () => {
  it.each([
    ['nothing requested → subject ∩ allowed', [], ['a', 'b', 'c'], ['b', 'c', 'd'], ['b', 'c']],
    ['a narrower scope', ['b'], ['a', 'b', 'c'], ['b', 'c'], ['b']],
    ['the whole intersection', ['c', 'b'], ['a', 'b', 'c'], ['b', 'c'], ['c', 'b']],
    ['nothing requested, disjoint → empty', [], ['a'], ['b'], []],
  ])('grants %s', (_name, requested, subjectScope, clientAllowed, expected) => {
    expect(exchangeScope({ requested, subjectScope, clientAllowed })).toEqual(expected);
  });

  it.each([
    ['a scope the subject token lacks', ['d'], ['a', 'b'], ['a', 'b', 'd']],
    ['a scope the client may not have', ['a'], ['a', 'b'], ['b']],
    ['any scope of a scopeless subject token', ['a'], [], ['a']],
  ])('rejects %s with invalid_scope', (_name, requested, subjectScope, clientAllowed) => {
    const err = thrown(() => exchangeScope({ requested, subjectScope, clientAllowed }));
    expect(err).toBeInstanceOf(InvalidScope);
    expect(err.code).toBe('invalid_scope');
  });
});

describe('exchangeAudience', () => {
  const allowed = ['orders', 'https://billing.example/api'];
  it.each([
    ['an allowed audience', ['orders'], [], ['billing'], ['orders']],
    ['an allowed resource', [], ['https://billing.example/api'], [], ['https://billing.example/api']],
    ['both, deduplicated', ['orders', 'orders'], ['https://billing.example/api'], [], ['orders', 'https://billing.example/api']],
    ['the default when none requested', [], [], ['orders'], ['orders']],
  ])('resolves %s', (_name, audience, resource, defaultAudience, expected) => {
    expect(exchangeAudience({ audience, resource, allowed, defaultAudience })).toEqual(expected);
  });

  it.each([
    ['an audience not allowed', ['payroll'], [], ['orders']],
    ['a resource not allowed', [], ['https://payroll.example/api'], ['orders']],
    ['one bad target among good ones', ['orders', 'payroll'], [], ['orders']],
    ['no target and no default', [], [], []],
  ])('rejects %s with invalid_target', (_name, audience, resource, defaultAudience) => {
    const err = thrown(() => exchangeAudience({ audience, resource, allowed, defaultAudience }));
    expect(err).toBeInstanceOf(InvalidTarget);
    expect(err.code).toBe('invalid_target');
  });
});

describe('buildActClaim', () => {
  const chain = (depth: number): ActClaim | undefined => {
    let act: ActClaim | undefined;
    for (let i = 1; i <= depth; i += 1) act = act === undefined ? { sub: `s${i}` } : { sub: `s${i}`, act };
    return act;
  };

  it.each<[string, ActClaim | undefined, ActClaim]>([
    ['a first delegation', undefined, { sub: 'svc-b' }],
    ['a second delegation nests the previous actor', { sub: 'svc-a' }, { sub: 'svc-b', act: { sub: 'svc-a' } }],
    ['a third delegation keeps the whole chain', { sub: 'svc-a', act: { sub: 'svc-0' } }, { sub: 'svc-b', act: { sub: 'svc-a', act: { sub: 'svc-0' } } }],
  ])('builds %s', (_name, previous, expected) => {
    expect(buildActClaim('svc-b', previous)).toEqual(expected);
  });

  it('accepts a chain reaching the depth limit', () => {
    expect(() => buildActClaim('svc', chain(9))).not.toThrow();
  });

  it('rejects a chain beyond the depth limit with invalid_request', () => {
    const err = thrown(() => buildActClaim('svc', chain(10)));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.code).toBe('invalid_request');
  });
});

describe('assertExchangeAllowed (RFC 8693 §5 policy)', () => {
  it.each<[string, Parameters<typeof assertExchangeAllowed>[0]]>([
    ['a subject token issued to the client', { clientId: 'api', subject: { client_id: 'api', aud: 'https://orders' } }],
    ['a subject token addressed to the client', { clientId: 'api', subject: { client_id: 'spa', aud: ['https://orders', 'api'] } }],
    ['its own actor token', { clientId: 'api', subject: { client_id: 'api', aud: 'x' }, actor: { client_id: 'api' } }],
  ])('allows %s', (_name, input) => {
    expect(() => assertExchangeAllowed(input)).not.toThrow();
  });

  it.each<[string, Parameters<typeof assertExchangeAllowed>[0]]>([
    ["another client's token that only reached it", { clientId: 'api', subject: { client_id: 'spa', aud: 'https://orders' } }],
    ['a token addressed to a client whose id merely contains it', { clientId: 'api', subject: { client_id: 'spa', aud: ['api2', 'xapi'] } }],
    ["another client's actor token", { clientId: 'api', subject: { client_id: 'api', aud: 'x' }, actor: { client_id: 'spa' } }],
  ])('refuses %s with invalid_request', (_name, input) => {
    expect(thrown(() => assertExchangeAllowed(input))).toBeInstanceOf(InvalidRequest);
  });
});

describe('assertExchangePossession (RFC 9449 §7: a bound token is exchanged only by its key holder)', () => {
  const jkt = 'a'.repeat(43);
  const other = 'b'.repeat(43);
  it.each<[string, Parameters<typeof assertExchangePossession>[0]]>([
    ['an unbound subject token without a proof', { clientId: 'api', subject: { client_id: 'api' }, presentedJkt: undefined }],
    ['its own bound subject token with a proof by the same key', { clientId: 'api', subject: { client_id: 'api', cnf: { jkt } }, presentedJkt: jkt }],
    ['a bound token it received as audience, without a proof', { clientId: 'api', subject: { client_id: 'spa', cnf: { jkt } }, presentedJkt: undefined }],
    ['its bound actor token with a proof by that key', { clientId: 'api', subject: { client_id: 'spa', cnf: { jkt: other } }, actor: { cnf: { jkt } }, presentedJkt: jkt }],
  ])('allows %s', (_name, input) => {
    expect(() => assertExchangePossession(input)).not.toThrow();
  });

  it('refuses its own bound subject token without a proof (a stolen bound token would become a bearer one)', () => {
    expect(thrown(() => assertExchangePossession({ clientId: 'api', subject: { client_id: 'api', cnf: { jkt } }, presentedJkt: undefined }))).toBeInstanceOf(InvalidDpopProof);
  });
  it.each<[string, Parameters<typeof assertExchangePossession>[0]]>([
    ['its own bound subject token with a proof by another key', { clientId: 'api', subject: { client_id: 'api', cnf: { jkt } }, presentedJkt: other }],
    ['a bound actor token with a proof by another key', { clientId: 'api', subject: { client_id: 'spa' }, actor: { cnf: { jkt } }, presentedJkt: other }],
    ['subject and actor tokens bound to two keys', { clientId: 'api', subject: { client_id: 'api', cnf: { jkt } }, actor: { cnf: { jkt: other } }, presentedJkt: jkt }],
  ])('refuses %s with invalid_request', (_name, input) => {
    expect(thrown(() => assertExchangePossession(input))).toBeInstanceOf(InvalidRequest);
  });
});

describe('exchangedTokenLifetime', () => {
  const now = new Date(1_000_000 * 1000);
  it('keeps the configured lifetime when the subject token lives longer', () => {
    expect(exchangedTokenLifetime(600, 1_000_000 + 3600, now)).toBe(600);
  });
  it('never outlives the subject token', () => {
    expect(exchangedTokenLifetime(600, 1_000_000 + 45, now)).toBe(45);
  });
  it('refuses a subject token with no time left', () => {
    expect(thrown(() => exchangedTokenLifetime(600, 1_000_000, now))).toBeInstanceOf(InvalidRequest);
  });
});

describe('exchangeSourceChain', () => {
  it('puts the subject token first, then its own sources', () => {
    expect(exchangeSourceChain({ jti: 'b' })).toEqual(['b']);
    expect(exchangeSourceChain({ jti: 'c', src_jti: ['b', 'a'] })).toEqual(['c', 'b', 'a']);
  });
  it('is bounded like the act chain', () => {
    expect(thrown(() => exchangeSourceChain({ jti: 'x', src_jti: Array.from({ length: 10 }, (_, i) => `j${i}`) }))).toBeInstanceOf(InvalidRequest);
  });
});
