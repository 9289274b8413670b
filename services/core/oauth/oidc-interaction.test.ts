import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { afterAccountChoice, afterFreshLogin, authenticationAge, decideInteraction, type InteractionInput } from './oidc-interaction.js';

const NOW = new Date('2026-11-30T12:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);
const session = (authAgeSeconds: number, userId = 'u1') => ({ userId, authTime: ago(authAgeSeconds) });
const base: InteractionInput = { prompt: [], consentNeeded: false, now: NOW };

describe('authenticationAge', () => {
  it.each([
    [ago(0), 0],
    // Both clocks in whole seconds, as the RP sees auth_time.
    [ago(59.5), 60],
    [new Date(NOW.getTime() + 5000), 0],
  ] as const)('%s → %s s', (authTime, expected) => {
    expect(authenticationAge(authTime, NOW)).toBe(expected);
  });
});

describe('decideInteraction (OIDC Core §3.1.2.1, §3.1.2.6)', () => {
  it.each<[string, Partial<InteractionInput>, ReturnType<typeof decideInteraction>]>([
    ['no session → login', {}, { kind: 'login', reason: 'no_session' }],
    ['session, nothing else needed → none', { session: session(10) }, { kind: 'none' }],
    ['session, consent needed → consent', { session: session(10), consentNeeded: true }, { kind: 'consent' }],
    ['prompt=consent with consent remembered → consent', { session: session(10), prompt: ['consent'] }, { kind: 'consent' }],
    ['prompt=login with a session → login', { session: session(10), prompt: ['login'] }, { kind: 'login', reason: 'prompt_login' }],
    ['prompt=select_account → login page', { session: session(10), prompt: ['select_account'] }, { kind: 'login', reason: 'prompt_login' }],
    ['max_age=0 with a session → login', { session: session(1), maxAge: 0 }, { kind: 'login', reason: 'max_age' }],
    // OIDC Core §3.1.2.1 (errata): max_age=0 is prompt=login, even within the second of the login.
    ['max_age=0 in the login second → login', { session: session(0), maxAge: 0 }, { kind: 'login', reason: 'max_age' }],
    ['max_age=1 in the login second → none', { session: session(0), maxAge: 1 }, { kind: 'none' }],
    ['claims sub value of another user → login', { session: session(10), subjectClaimMatches: false }, { kind: 'login', reason: 'claims_sub' }],
    ['claims sub value of the session user → none', { session: session(10), subjectClaimMatches: true }, { kind: 'none' }],
    ['max_age exceeded → login', { session: session(301), maxAge: 300 }, { kind: 'login', reason: 'max_age' }],
    ['max_age exactly reached → none', { session: session(300), maxAge: 300 }, { kind: 'none' }],
    ['id_token_hint of another user → login', { session: session(10), idTokenHintMatches: false }, { kind: 'login', reason: 'id_token_hint' }],
    ['id_token_hint of the session user → none', { session: session(10), idTokenHintMatches: true }, { kind: 'none' }],
    ['prompt=none with a fresh enough session → none', { session: session(10), prompt: ['none'], maxAge: 60 }, { kind: 'none' }],
  ])('%s', (_name, input, expected) => {
    expect(decideInteraction({ ...base, ...input })).toEqual(expected);
  });

  it.each<[string, Partial<InteractionInput>, string]>([
    ['prompt=none without a session → login_required', { prompt: ['none'] }, 'login_required'],
    ['prompt=none with max_age exceeded → login_required', { prompt: ['none'], session: session(100), maxAge: 50 }, 'login_required'],
    ['prompt=none with an id_token_hint of another user → login_required', { prompt: ['none'], session: session(1), idTokenHintMatches: false }, 'login_required'],
    ['prompt=none with max_age=0 in the login second → login_required', { prompt: ['none'], session: session(0), maxAge: 0 }, 'login_required'],
    ['prompt=none with a claims sub value of another user → login_required', { prompt: ['none'], session: session(1), subjectClaimMatches: false }, 'login_required'],
    ['prompt=none with consent needed → consent_required', { prompt: ['none'], session: session(1), consentNeeded: true }, 'consent_required'],
  ])('%s', (_name, input, code) => {
    expect(thrown(() => decideInteraction({ ...base, ...input })).code).toBe(code);
  });
});

describe('afterFreshLogin', () => {
  it.each([
    [{ prompt: 'login', max_age: '0', id_token_hint: 'a.b.c', scope: 'openid' }, { prompt: '', max_age: '1800', id_token_hint: '', scope: 'openid' }],
    [{ prompt: 'login consent', max_age: '600', id_token_hint: '', scope: 'openid' }, { prompt: 'consent', max_age: '1800', id_token_hint: '', scope: 'openid' }],
    [{ prompt: 'select_account', max_age: '', id_token_hint: '', scope: 'openid' }, { prompt: '', max_age: '1800', id_token_hint: '', scope: 'openid' }],
    [{ prompt: 'consent', max_age: '', id_token_hint: '', scope: 'read' }, { prompt: 'consent', max_age: '1800', id_token_hint: '', scope: 'read' }],
  ])('%j → %j', (params, expected) => {
    expect(afterFreshLogin(params)).toEqual(expected);
  });
});

describe('afterAccountChoice', () => {
  it.each([
    [{ prompt: 'select_account', max_age: '0', id_token_hint: 'a.b.c' }, { prompt: '', max_age: '0', id_token_hint: '' }],
    [{ prompt: 'select_account consent', max_age: '', id_token_hint: '' }, { prompt: 'consent', max_age: '', id_token_hint: '' }],
    [{ prompt: 'login select_account', max_age: '60', id_token_hint: '' }, { prompt: 'login', max_age: '60', id_token_hint: '' }],
  ])('%j → %j (max_age and prompt=login still apply to the chosen session)', (params, expected) => {
    expect(afterAccountChoice(params)).toEqual(expected);
  });
});
