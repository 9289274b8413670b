import { describe, expect, it } from 'vitest';
import { type AuthorizationParams, createPendingAuthorizations, PENDING_TTL_SECONDS } from './pending-authorization.js';

const params: AuthorizationParams = {
  response_type: 'code',
  client_id: 'spa',
  redirect_uri: 'https://app.example.com/cb',
  scope: 'read write',
  state: 's',
  code_challenge: 'c',
  code_challenge_method: 'S256',
  nonce: '',
  prompt: 'login',
  max_age: '0',
  login_hint: '',
  id_token_hint: '',
  ui_locales: '',
  claims_locales: '',
  claims: '',
  request: '',
  request_uri: '',
  dpop_jkt: '',
  // RFC 8707 §2.1: the resources travel with the pending request (the consent page granted for them).
  resource: ['https://api.example.com/orders', 'https://api.example.com/billing'],
};

describe('pending authorization envelope', () => {
  let clock = new Date('2030-01-01T00:00:00Z');
  const pendings = createPendingAuthorizations('secret-1', () => clock);

  it('round-trips the request, the user and the shown scopes', () => {
    const sealed = pendings.seal({ params, userId: 'u1', scopes: ['read'] }, 'csrf-a');
    expect(pendings.open(sealed, 'csrf-a')).toEqual({ params, userId: 'u1', scopes: ['read'], resolved: false });
  });

  it('round-trips that the request was resolved from a pushed request or a request object', () => {
    expect(pendings.open(pendings.seal({ params, resolved: true }, 'csrf-a'), 'csrf-a')?.resolved).toBe(true);
  });

  it('opens a continuation of a resolved request as its parameters, and nothing else as one', () => {
    const resume = pendings.sealResume(params);
    expect(pendings.openResume(resume)).toEqual(params);
    // A form's pending request is no continuation, and a continuation opens no form.
    expect(pendings.openResume(pendings.seal({ params, resolved: true }, 'csrf-a'))).toBeUndefined();
    expect(pendings.open(resume, 'authmesh resume')).toBeUndefined();
    expect(pendings.openResume(`${resume}A`)).toBeUndefined();
    expect(createPendingAuthorizations('secret-2', () => clock).openResume(resume)).toBeUndefined();
  });

  it.each([
    ['another CSRF token', (s: string) => s, 'csrf-b'],
    ['an altered payload', (s: string) => `${Buffer.from(JSON.stringify({ p: { ...params, scope: 'admin' } })).toString('base64url')}.${s.split('.')[1]}`, 'csrf-a'],
    ['an altered signature', (s: string) => `${s}A`, 'csrf-a'],
    ['no signature', (s: string) => s.split('.')[0] ?? '', 'csrf-a'],
    ['garbage', () => '!!!.???', 'csrf-a'],
    ['empty', () => '', 'csrf-a'],
  ])('refuses %s', (_label, mutate, token) => {
    const sealed = pendings.seal({ params }, 'csrf-a');
    expect(pendings.open(mutate(sealed), token)).toBeUndefined();
  });

  it('refuses an envelope sealed with another secret', () => {
    const other = createPendingAuthorizations('secret-2', () => clock);
    expect(pendings.open(other.seal({ params }, 'csrf-a'), 'csrf-a')).toBeUndefined();
  });

  it('expires after the TTL', () => {
    const sealed = pendings.seal({ params }, 'csrf-a');
    clock = new Date(clock.getTime() + PENDING_TTL_SECONDS * 1000);
    expect(pendings.open(sealed, 'csrf-a')).toBeDefined();
    clock = new Date(clock.getTime() + 1000);
    expect(pendings.open(sealed, 'csrf-a')).toBeUndefined();
  });
});
