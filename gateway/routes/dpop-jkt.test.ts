// dpop_jkt on the authorization request (RFC 9449 §10), through the real /oauth2/authorize pages
// and token endpoint: the code is bound to the key's thumbprint, redeemed only with a proof by
// that key (else invalid_grant); a malformed dpop_jkt goes back to the client as invalid_request.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpopKey, type DpopKey } from '../../test/support/dpop.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { Browser, createFixtures, FIRST_CB, runAuthorization, type Fixtures } from './authorize-test-support.js';
import { basicAuth, postForm } from './route-test-support.js';

describe('dpop_jkt binds the authorization code to a DPoP key (RFC 9449 §10)', () => {
  let t: TestGateway;
  let f: Fixtures;
  let key: DpopKey;
  let tokenUrl: string;

  beforeAll(async () => {
    t = await startTestGateway();
    f = await createFixtures(t);
    key = await dpopKey('ES256');
    tokenUrl = `${t.baseUrl}/oauth2/token`;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  /** A code from the real pages for the skip-consent client, asked with `extra` parameters. */
  async function authorize(extra: Record<string, string>) {
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: f.firstId,
      redirect_uri: FIRST_CB,
      scope: 'read',
      state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    });
    const { location } = await runAuthorization(new Browser(t.baseUrl), `/oauth2/authorize?${query.toString()}`, { username: f.username });
    return { location, verifier };
  }

  const redeem = (code: string, verifier: string, proof: string | undefined) =>
    postForm(tokenUrl, new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: FIRST_CB, code_verifier: verifier }).toString(), {
      authorization: basicAuth(f.firstId, f.firstSecret),
      ...(proof === undefined ? {} : { dpop: proof }),
    });

  it('redeems the code with a proof by the dpop_jkt key: a DPoP token bound to it', async () => {
    const { location, verifier } = await authorize({ dpop_jkt: key.jkt });
    const res = await redeem(location.searchParams.get('code')!, verifier, await key.proof({ htu: tokenUrl }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token!).cnf).toEqual({ jkt: key.jkt });
  });

  it('refuses the code with a proof by another key (a stolen code with the thief key) with invalid_grant', async () => {
    const { location, verifier } = await authorize({ dpop_jkt: key.jkt });
    const thief = await dpopKey('ES256');
    const res = await redeem(location.searchParams.get('code')!, verifier, await thief.proof({ htu: tokenUrl }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('dpop_jkt') });
  });

  it('refuses the code without a proof (as a Bearer request) with invalid_grant', async () => {
    const { location, verifier } = await authorize({ dpop_jkt: key.jkt });
    const res = await redeem(location.searchParams.get('code')!, verifier, undefined);
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, string>).error).toBe('invalid_grant');
  });

  it('sends a malformed dpop_jkt back to the client as invalid_request, issuing no code', async () => {
    const { location } = await authorize({ dpop_jkt: 'not-a-thumbprint' });
    expect(`${location.origin}${location.pathname}`).toBe(FIRST_CB);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toContain('dpop_jkt');
    expect(location.searchParams.get('code')).toBeNull();
    expect(location.searchParams.get('state')).toBe('st');
  });

  it('a code asked without dpop_jkt stays redeemable with or without a proof', async () => {
    const a = await authorize({});
    expect((await redeem(a.location.searchParams.get('code')!, a.verifier, undefined)).status).toBe(200);
    const b = await authorize({});
    expect((await redeem(b.location.searchParams.get('code')!, b.verifier, await key.proof({ htu: tokenUrl }))).status).toBe(200);
  });
});
