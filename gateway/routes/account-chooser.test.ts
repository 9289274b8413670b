// The account chooser as a browser sees it: with several accounts signed in, prompt=select_account
// and the login page offer them (escaped, never the secret session id) next to "use another
// account"; choosing one continues as that user; the choice is CSRF-protected; signing one
// account out leaves the others offered but not used.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';
import { hashToken } from '../../services/core/oauth/index.js';
import { SESSION_COOKIE } from '../session.js';
import { Browser, createFixtures, FIRST_CB, type Fixtures, formFor, locationOf, PASSWORD, readForms, runAuthorization } from './authorize-test-support.js';
import { SELECT_ACCOUNT_PATH } from './authorize.js';

const VERIFIER = 'dBjftJeZ4CVP-mJ0kzWD9c3zO33rlzm0X3J2gaOLe7M';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

let t: TestGateway;
let f: Fixtures;

beforeAll(async () => {
  t = await startTestGateway();
  f = await createFixtures(t);
}, 60_000);
afterAll(async () => t?.close());

function authorizeUrl(prompt?: string): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: f.firstId, redirect_uri: FIRST_CB, scope: 'read', state: 'st', code_challenge: CHALLENGE, code_challenge_method: 'S256' });
  if (prompt) q.set('prompt', prompt);
  return `/oauth2/authorize?${q.toString()}`;
}

async function newUser(displayName: string) {
  const username = uniqueId('chooser');
  const res = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username, displayName }, password: PASSWORD }), { bearer: await t.bearer() });
  return { username, userId: res.user!.userId };
}

/** The user a code issued to FIRST_CB belongs to, by redeeming it. */
async function codeOwner(location: URL): Promise<string> {
  expect(`${location.origin}${location.pathname}`).toBe(FIRST_CB);
  const code = location.searchParams.get('code')!;
  const res = await fetch(`${t.baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${f.firstId}:${f.firstSecret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: FIRST_CB, code_verifier: VERIFIER }),
  });
  const body = (await res.json()) as { access_token?: string };
  expect(body, JSON.stringify(body)).toHaveProperty('access_token');
  return JSON.parse(Buffer.from(body.access_token!.split('.')[1]!, 'base64url').toString('utf8')).sub as string;
}

/** The chooser's form for the user's session (found by its public sid through the admin API). */
async function choiceOf(page: string, userId: string) {
  const [session] = (await t.anon.user.listUserSessions({ userId }, { bearer: await t.bearer() })).sessions;
  const form = readForms(page).find((x) => x.action === SELECT_ACCOUNT_PATH && x.fields.account === session!.sid);
  expect(form).toBeDefined();
  return form!;
}

/** A browser signed in as both users, the second one current. */
async function twoAccounts() {
  const ann = await newUser('Ann <script>alert(1)</script>');
  const bob = await newUser('Bob');
  const browser = new Browser(t.baseUrl);
  await runAuthorization(browser, authorizeUrl(), { username: ann.username });
  // Bob signs in through the chooser's "use another account" form (prompt=select_account).
  const page = await (await browser.get(authorizeUrl('select_account'))).text();
  const login = formFor(page, '/oauth2/login');
  const res = await browser.submit(login, { username: bob.username, password: PASSWORD });
  expect(res.status).toBe(303);
  return { ann, bob, browser };
}

describe('account chooser', () => {
  it('prompt=select_account lists the signed-in accounts, escaped, without the secret session ids, plus the login form', async () => {
    const { ann, bob, browser } = await twoAccounts();
    const res = await browser.get(authorizeUrl('select_account'));
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('Choose an account');
    expect(page).toContain('Use another account');
    expect(page).toContain('Continue as Ann &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).toContain(`Continue as Bob (${bob.username})`);
    expect(page).toContain(ann.username);
    const choices = readForms(page).filter((x) => x.action === SELECT_ACCOUNT_PATH);
    expect(choices).toHaveLength(2);
    // The cookie's secret session ids never appear on the page, only their public sid.
    const cookie = decodeURIComponent(browser.cookies.get(SESSION_COOKIE)!.value);
    const payload = JSON.parse(Buffer.from(cookie.slice(3, cookie.lastIndexOf('.')), 'base64url').toString('utf8')) as { a: { sid: string }[] };
    for (const { sid } of payload.a) {
      expect(page).not.toContain(sid);
      expect(choices.map((c) => c.fields.account)).toContain(hashToken(sid));
    }
    expect(formFor(page, '/oauth2/login')).toBeDefined();
  });

  it('choosing an account continues as that user; without prompt the current account is used', async () => {
    const { ann, bob, browser } = await twoAccounts();
    // Bob is current.
    const direct = await browser.get(authorizeUrl());
    expect(await codeOwner(locationOf(direct, t.baseUrl))).toBe(bob.userId);
    const page = await (await browser.get(authorizeUrl('select_account'))).text();
    const annChoice = await choiceOf(page, ann.userId);
    const chosen = await browser.submit(annChoice);
    expect(chosen.status).toBe(303);
    const back = await browser.get(locationOf(chosen, t.baseUrl).href);
    expect(await codeOwner(locationOf(back, t.baseUrl))).toBe(ann.userId);
    // Ann is now current.
    expect(await codeOwner(locationOf(await browser.get(authorizeUrl()), t.baseUrl))).toBe(ann.userId);
  });

  it('refuses a choice without the CSRF token (and changes nothing)', async () => {
    const { ann, bob, browser } = await twoAccounts();
    const page = await (await browser.get(authorizeUrl('select_account'))).text();
    const choice = await choiceOf(page, ann.userId);
    const stranger = new Browser(t.baseUrl);
    stranger.cookies.set(SESSION_COOKIE, browser.cookies.get(SESSION_COOKIE)!);
    expect((await stranger.submit(choice)).status).toBe(403);
    expect((await browser.submit(choice, { csrf_token: '' })).status).toBe(403);
    expect(await codeOwner(locationOf(await browser.get(authorizeUrl()), t.baseUrl))).toBe(bob.userId);
  });

  it('signing the current account out (end_session with its ID Token as hint) keeps the other offered but not used', async () => {
    const { ann, bob, browser } = await twoAccounts();
    const bobSid = (await t.anon.user.listUserSessions({ userId: bob.userId }, { bearer: await t.bearer() })).sessions[0]!.sid;
    const now = Math.floor(Date.now() / 1000);
    const hint = (await t.peers.key.signJwt({ claims: { iss: t.baseUrl, aud: f.firstId, sub: bob.userId, sid: bobSid, iat: now, exp: now + 60 }, typ: 'JWT' })).jwt;
    expect((await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: hint })}`)).status).toBe(200);
    const res = await browser.get(authorizeUrl());
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('action="/oauth2/login"');
    expect(page).toContain(ann.username);
    expect(page).not.toContain('Bob');
  });
});
