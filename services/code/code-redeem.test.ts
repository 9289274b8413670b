// RedeemCode over real gRPC: binding checks, PKCE, single use, replay detection, concurrency.
// Expiry is not tested here: the shortest configurable code TTL is 10 s, too slow for this file;
// the grid contract tests (services/core/grid) cover that entries vanish after their TTL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationRequest, IssueCodeRequest, RedeemCodeRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { hashToken } from '../core/oauth/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { CODES_MAP, REDEEMED_CODES_MAP } from './code-grants.js';
import { APP_CB, createFixtures, type Fixtures, publicRequest, rejection, VERIFIER, WEB_CB } from './code-test-support.js';

let t: TestMesh;
let f: Fixtures;

beforeAll(async () => {
  // code.redeemed rows are success events, written only when AUTHMESH_AUDIT_SUCCESS asks.
  t = await startTestMesh({ AUTHMESH_AUDIT_SUCCESS: 'all' });
  f = await createFixtures(t);
});
afterAll(async () => {
  await t?.close();
});

async function issueFor(request: AuthorizationRequest, authTime?: Date): Promise<string> {
  const res = await t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId: f.userId, authTime }));
  return res.code;
}
const issuePublic = (overrides: Partial<AuthorizationRequest> = {}) => issueFor(publicRequest(f, overrides));
const issueConfidential = (overrides: Partial<AuthorizationRequest> = {}) =>
  issueFor(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.confidentialId, scope: 'read', ...overrides }));

const redeem = (r: Partial<RedeemCodeRequest>) => t.peers.code.redeemCode(RedeemCodeRequest.fromPartial(r));
const redeemPublic = (code: string, more: Partial<RedeemCodeRequest> = {}) =>
  redeem({ code, clientId: f.publicId, redirectUri: APP_CB, codeVerifier: VERIFIER, ...more });
const codeIsStored = async (code: string) => (await t.mesh.deps.grid.map(CODES_MAP).get(hashToken(code))) !== undefined;

describe('RedeemCode', () => {
  it('returns the grant for a code with a matching S256 verifier', async () => {
    const authTime = new Date(Date.now() - 5_000);
    authTime.setMilliseconds(0);
    const code = await issueFor(publicRequest(f), authTime);
    const { grant } = await redeemPublic(code);
    expect(grant).toMatchObject({
      clientId: f.publicId,
      userId: f.userId,
      scopes: ['openid', 'read'],
      nonce: 'n-0S6',
      redirectUri: APP_CB,
      authTime,
    });
    expect(grant?.grantId).toMatch(/^g_/);
    expect(await codeIsStored(code)).toBe(false);
    const audit = await t.store.audit.list({ type: 'code.redeemed', clientId: f.publicId });
    expect(audit.items.some((e) => e.details.grantId === grant?.grantId)).toBe(true);
    expect(JSON.stringify(audit.items)).not.toContain(code);
  });

  it('detects a replay and names the first grant so its tokens can be revoked', async () => {
    const code = await issuePublic();
    const first = await redeemPublic(code);
    const err = await rejection(redeemPublic(code));
    expect(err.code).toBe('invalid_grant');
    expect(err.description).toMatch(/already been used/);
    expect(err.metadata.grant_id).toBe(first.grant?.grantId);
    const audit = await t.store.audit.list({ type: 'code.replay_detected', clientId: f.publicId });
    expect(audit.items.some((e) => e.details.grantId === first.grant?.grantId)).toBe(true);
  });

  it('gives exactly one of 20 concurrent redemptions the grant', async () => {
    const code = await issuePublic();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => redeemPublic(code)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'invalid_grant' });
  });

  it('refuses an unknown code without a grant_id', async () => {
    const err = await rejection(redeemPublic('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'));
    expect(err.code).toBe('invalid_grant');
    expect(err.description).toMatch(/invalid or expired/);
    expect(err.metadata).not.toHaveProperty('grant_id');
  });

  it.each<[string, (code: string) => Partial<RedeemCodeRequest>]>([
    ['a wrong verifier', () => ({ codeVerifier: 'x'.repeat(43) })],
    ['a missing verifier when the code has a challenge', () => ({ codeVerifier: '' })],
    ['another client (RFC 6749 §4.1.3)', () => ({ clientId: f.confidentialId })],
    ['another redirect_uri', () => ({ redirectUri: 'http://127.0.0.1:4000/cb' })],
    ['no redirect_uri although the request had one', () => ({ redirectUri: '' })],
  ])('refuses %s, consumes the code and recognises a later attempt', async (_name, change) => {
    const code = await issuePublic();
    const err = await rejection(redeemPublic(code, change(code)));
    expect(err.code).toBe('invalid_grant');
    expect(await codeIsStored(code)).toBe(false);
    // RFC 6749 §4.1.2: the code must not be usable afterwards, even with the right proof.
    const again = await rejection(redeemPublic(code));
    expect(again.code).toBe('invalid_grant');
    expect(again.metadata.grant_id).toMatch(/^g_/);
  });

  it('refuses a verifier for a code issued without a challenge (downgrade, RFC 9700 §2.1.1)', async () => {
    const code = await issueConfidential();
    const err = await rejection(redeem({ code, clientId: f.confidentialId, codeVerifier: VERIFIER }));
    expect(err.code).toBe('invalid_grant');
    expect(err.description).toMatch(/without a code_challenge/);
  });

  it('redeems a code issued without redirect_uri or challenge when neither is sent', async () => {
    const code = await issueConfidential();
    const { grant } = await redeem({ code, clientId: f.confidentialId });
    expect(grant).toMatchObject({ clientId: f.confidentialId, scopes: ['read'], redirectUri: WEB_CB, nonce: '' });
  });

  it('accepts the loopback redirect_uri with the port the request used', async () => {
    const code = await issuePublic({ redirectUri: 'http://127.0.0.1:51234/cb' });
    await expect(redeemPublic(code, { redirectUri: 'http://127.0.0.1:51235/cb' })).rejects.toMatchObject({ code: 'invalid_grant' });
    const other = await issuePublic({ redirectUri: 'http://127.0.0.1:51234/cb' });
    const { grant } = await redeemPublic(other, { redirectUri: 'http://127.0.0.1:51234/cb' });
    expect(grant?.redirectUri).toBe('http://127.0.0.1:51234/cb');
  });

  it.each<[string, Partial<RedeemCodeRequest>, string]>([
    ['no code', { code: '' }, 'invalid_request'],
    ['no client_id', { clientId: '' }, 'invalid_request'],
    ['an oversized code', { code: 'c'.repeat(513) }, 'invalid_grant'],
    ['a malformed verifier', { codeVerifier: 'short' }, 'invalid_grant'],
    ['a verifier with a forbidden character', { codeVerifier: `${'a'.repeat(42)}+` }, 'invalid_grant'],
  ])('refuses %s without consuming the code', async (_name, change, code) => {
    const issued = await issuePublic();
    const err = await rejection(redeemPublic(issued, change));
    expect(err.code).toBe(code);
    expect(await codeIsStored(issued)).toBe(true);
    expect(await t.mesh.deps.grid.map(REDEEMED_CODES_MAP).get(hashToken(issued))).toBeUndefined();
    expect((await redeemPublic(issued)).grant?.clientId).toBe(f.publicId);
  });
});

describe('access', () => {
  it('refuses RedeemCode with an ordinary bearer token and without credentials, leaving the code', async () => {
    const code = await issuePublic();
    const req = RedeemCodeRequest.fromPartial({ code, clientId: f.publicId, redirectUri: APP_CB, codeVerifier: VERIFIER });
    const bearer = await t.bearer({ scope: ['authmesh.admin'], clientId: f.publicId });
    expect((await rejection(t.anon.code.redeemCode(req, { bearer }))).code).toBe('access_denied');
    expect((await rejection(t.anon.code.redeemCode(req))).code).toBe('invalid_token');
    expect(await codeIsStored(code)).toBe(true);
  });
});
