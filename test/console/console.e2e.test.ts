// The admin console end to end in a real headless Chromium (Debian's chromium package driven by
// playwright-core; nothing downloaded): an administrator signs in through the real login form,
// creates a client and sees its secret once (not after a reload), rotates it, creates a user,
// revokes that user's session, and reads the audit entry of each action; a user who is not an
// administrator is refused. Screenshots of the main screens go to docs/console/ (README links them).
// With Prometheus installed (CI installs it), a real Prometheus scrapes the server's metrics and
// the overview shows the token and error rates it reads from there; without, the overview says
// the rates need a Prometheus. The page never asks /favicon.ico (it names its own icon).
//
// Skipped only when chromium is missing and AUTHMESH_REQUIRE_STACK is unset (CI sets it, and
// installs the browser with scripts/browser.sh install).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startMetricsListener, type MetricsListener } from '../../services/core/metrics/index.js';
import { repoRoot } from '../../services/core/rpc/paths.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { freePort } from '../support/ports.js';
import { prometheusSkipReason, startTestPrometheus, type TestPrometheus } from '../support/prometheus.js';

const BROWSER = process.env.AUTHMESH_BROWSER ?? '/usr/bin/chromium';
const required = process.env.AUTHMESH_REQUIRE_STACK === '1';
const available = existsSync(BROWSER);
if (!available && required) throw new Error(`AUTHMESH_REQUIRE_STACK=1 but no browser at ${BROWSER}: run scripts/browser.sh install`);
const SHOTS = join(repoRoot, 'docs', 'console');
const PASSWORD = 'correct horse battery staple';
/** Bounded waits for the audit trail (events are written shortly after they happen). */
const AUDIT_TRIES = 20;
/** Rates on the overview only with a Prometheus to read them from (CI has one: AUTHMESH_REQUIRE_STACK). */
const withPrometheus = available && prometheusSkipReason() === undefined;

describe.skipIf(!available)('admin console in Chromium', () => {
  let t: TestGateway;
  let browser: Browser;
  let prometheus: TestPrometheus | undefined;
  let metrics: MetricsListener | undefined;
  let adminId = '';
  const admin = { username: 'console-admin', password: PASSWORD };
  const plain = { username: 'console-user', password: PASSWORD };

  beforeAll(async () => {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-console.mjs'), '--quiet'], { cwd: repoRoot, stdio: 'inherit' });
    mkdirSync(SHOTS, { recursive: true });
    // The shortest access-token lifetime (30 s): the console refreshes a token with under 30 s left,
    // so every console call here refreshes first, rotating the refresh token each time (RFC 9700
    // §4.14.2); a refresh token used twice would revoke the family and fail the rest of the test.
    // Every token issuance is audited, so the test can see the refreshes.
    const prometheusPort = withPrometheus ? await freePort() : 0;
    t = await startTestGateway({
      AUTHMESH_ACCESS_TOKEN_TTL: '30',
      AUTHMESH_AUDIT_SUCCESS: 'all',
      ...(withPrometheus ? { AUTHMESH_CONSOLE_PROMETHEUS_URL: `http://127.0.0.1:${prometheusPort}` } : {}),
    });
    if (withPrometheus) {
      metrics = await startMetricsListener(t.mesh.deps.metrics, '127.0.0.1', 0);
      prometheus = await startTestPrometheus([`127.0.0.1:${metrics.port}`], prometheusPort);
    }
    const bearer = await t.bearer();
    adminId = (await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: admin.username, roles: ['authmesh.admin'], email: 'admin@example.com' }, password: admin.password }), { bearer })).user!.userId;
    // Headless, no sandbox (CI runs as root), no network other than the test's loopback server.
    browser = await chromium.launch({ executablePath: BROWSER, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await prometheus?.stop();
    await metrics?.close();
    await t?.close();
  });

  async function signIn(page: Page, who: { username: string; password: string }) {
    await page.goto(`${t.baseUrl}/console/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The authorization server's own login page (gateway/pages/login-page.ts).
    await page.waitForURL(/\/oauth2\/authorize|\/login/);
    await page.locator('#username').fill(who.username);
    await page.locator('#password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.baseUrl}/console/**`);
  }

  /** Form controls on the page without an accessible name (a label, aria-label or aria-labelledby). */
  // Runs in the page (a string: this file is type-checked without the DOM library).
  const unlabelled = (page: Page): Promise<string[]> =>
    page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((c) => c.type !== 'hidden')
      .filter((c) => !((c.labels && c.labels.length > 0) || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby') || (c.tagName === 'BUTTON' && c.textContent.trim() !== '')))
      .map((c) => c.outerHTML.slice(0, 120))`);

  /** Waits (bounded) until the audit screen lists an event of `type` whose row contains `text`. */
  async function auditEntry(page: Page, type: string, text: string) {
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByLabel('Type').fill(type);
    for (let i = 0; i < AUDIT_TRIES; i++) {
      await page.getByRole('button', { name: 'Apply' }).click();
      const row = page.locator(`tr[data-event-type="${type}"]`, { hasText: text });
      if ((await row.count()) > 0) return row.first();
      await page.waitForTimeout(250);
    }
    throw new Error(`no audit event ${type} mentioning ${text}; the screen lists: ${(await page.locator('tbody').innerText()).slice(0, 2000)}`);
  }

  it('an administrator manages clients, users and sessions, and each action is in the audit trail', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    const page = await context.newPage();
    // The page loads nothing from another origin (no CDN, font or tracker).
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(t.baseUrl) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('dialog', (d) => void d.accept());
    // Nothing of the console's own answers 404 (the favicon included: the page names its icon).
    const missing: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 404 && r.request().method() === 'GET') missing.push(r.url());
    });
    const faviconAsked: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/favicon.ico') faviconAsked.push(r.url());
    });

    await page.goto(`${t.baseUrl}/console/`);
    await expect(page.getByRole('button', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    // console_favicon: the page names its own icon, from this origin, and it is served (headless
    // Chromium fetches no icon by itself, so the test fetches what the page names).
    const icon = await page.locator('link[rel="icon"]').getAttribute('href');
    expect(icon).toMatch(/^\/console\/favicon-[A-Z2-7]{8}\.svg$/);
    const iconRes = await page.request.get(`${t.baseUrl}${icon}`);
    expect(iconRes.status()).toBe(200);
    expect(iconRes.headers()['content-type']).toBe('image/svg+xml');
    // By keyboard alone: Tab reaches the button, Enter starts the sign-in.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#username').fill(admin.username);
    await page.locator('#password').fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.baseUrl}/console/**`);
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
    await page.getByTestId('username').filter({ hasText: admin.username }).waitFor();

    // Create a client: a redirect URI the server refuses is explained next to its field.
    await page.getByRole('button', { name: 'New client' }).click();
    expect(await unlabelled(page)).toEqual([]);
    await page.getByLabel('Name', { exact: true }).fill('Orders web app');
    await page.getByLabel('Redirect URIs').fill('http://app.example.com/cb');
    await page.getByRole('button', { name: 'Save' }).click();
    const fieldError = page.locator('.field.invalid', { has: page.getByLabel('Redirect URIs') }).getByRole('alert');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/redirect URI/i);
    await page.screenshot({ path: join(SHOTS, 'client-redirect-error.png') });
    await page.getByLabel('Redirect URIs').fill('https://app.example.com/cb');
    await page.getByLabel('Scopes').fill('orders.read');
    await page.getByRole('button', { name: 'Save' }).click();
    const secretBox = page.getByTestId('client-secret');
    await secretBox.waitFor();
    const secret = (await secretBox.textContent())!.trim();
    expect(secret.length).toBeGreaterThanOrEqual(40);
    const created = (await page.locator('.notice').textContent())!;
    const clientId = /Client (\S+) created/.exec(created)![1]!;
    await page.screenshot({ path: join(SHOTS, 'client-secret-once.png') });

    // Shown once: after a reload (a new sign-in through the server's session) it is nowhere.
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
    await page.locator(`tr[data-client-id="${clientId}"]`).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.getByLabel('Search').fill('Orders web');
    await page.screenshot({ path: join(SHOTS, 'clients.png') });

    // Rotate: a new secret, shown once.
    await page.getByRole('button', { name: `Rotate secret of ${clientId}` }).click();
    await page.getByTestId('client-secret').waitFor();
    const rotated = (await page.getByTestId('client-secret').textContent())!.trim();
    expect(rotated.length).toBeGreaterThanOrEqual(40);
    expect(rotated).not.toBe(secret);

    // Edit it: the new name is saved and listed.
    await page.getByRole('button', { name: `Edit ${clientId}` }).click();
    await page.getByLabel('Name', { exact: true }).fill('Orders web app (renamed)');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.notice, .error, .field-error').first().waitFor({ timeout: 5000 }).catch(async () => {
      throw new Error(`after Save: ${(await page.locator('main').innerText()).slice(0, 1500)}`);
    });
    expect(await page.locator('.notice, .error, .field-error').first().textContent()).toBe(`Client ${clientId} saved.`);
    await page.locator(`tr[data-client-id="${clientId}"]`, { hasText: 'Orders web app (renamed)' }).waitFor();

    // Create a user.
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'New user' }).click();
    expect(await unlabelled(page)).toEqual([]);
    await page.getByLabel('Username').fill(plain.username);
    await page.getByLabel('Initial password').fill(plain.password);
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('.notice').filter({ hasText: `User ${plain.username} created.` }).waitFor();

    // That user, not an administrator, signs in to the console in another browser and is refused.
    const other = await browser.newContext({ viewport: { width: 390, height: 760 } });
    const otherPage = await other.newPage();
    // Opened under another name of the same server, the console moves to the issuer's (where its
    // redirect URI is registered) before signing in.
    await otherPage.goto(t.baseUrl.replace('127.0.0.1', 'localhost') + '/console/');
    await otherPage.getByRole('button', { name: 'Sign in' }).click();
    await otherPage.waitForURL(`${t.baseUrl}/console/`);
    await signIn(otherPage, plain);
    await otherPage.getByRole('heading', { name: 'Not an administrator' }).waitFor();
    await otherPage.screenshot({ path: join(SHOTS, 'not-an-administrator.png') });
    await other.close();

    // The administrator revokes that user's login session.
    await page.getByRole('button', { name: `Manage ${plain.username}` }).click();
    const revoke = page.getByRole('button', { name: 'Revoke session' });
    await revoke.first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'user-sessions.png') });
    await revoke.first().click();
    await page.locator('.notice').filter({ hasText: 'Session revoked.' }).waitFor();
    await page.getByText('No active login session.').waitFor();

    // Reset the password, disable the user.
    await page.getByLabel('New password').fill('another correct horse battery');
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.locator('.notice').filter({ hasText: `Password of ${plain.username} reset.` }).waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page
      .locator('.notice')
      .filter({ hasText: `${plain.username} disabled.` })
      .first()
      .waitFor({ timeout: 5000 })
      .catch(async () => {
        throw new Error(`after Disable: ${(await page.locator('main').innerText()).slice(0, 1500)}`);
      });
    await page.getByRole('row', { name: new RegExp(`${plain.username}.*disabled`) }).waitFor();

    // Delete the client.
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('button', { name: `Delete ${clientId}` }).click();
    await page.locator('.notice').filter({ hasText: `Client ${clientId} deleted.` }).waitFor();
    await page.locator(`tr[data-client-id="${clientId}"]`).waitFor({ state: 'detached' });

    expect(await unlabelled(page)).toEqual([]);

    // The audit trail has each action.
    await auditEntry(page, 'client.created', clientId);
    await auditEntry(page, 'client.updated', clientId);
    await auditEntry(page, 'client.deleted', clientId);
    await auditEntry(page, 'user.password_set', 'revokedRefreshTokens=');
    await auditEntry(page, 'user.updated', 'disabled');
    await auditEntry(page, 'client.secret_rotated', clientId);
    await auditEntry(page, 'user.created', `username=${plain.username}`);
    await auditEntry(page, 'session.ended', 'reason=revoked');
    await page.getByLabel('Type').fill('');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('tr[data-event-type]').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'audit.png') });

    // The overview counts the last hour's audit events, failures first.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('row', { name: /client\.created/ }).waitFor();
    if (withPrometheus) {
      // The rates from Prometheus: the console's refreshes are token requests (refresh_token grant);
      // the panel reads again every 15 s until Prometheus has two samples of them.
      await page.locator('[data-testid="rates-state"][data-state="available"]').waitFor({ timeout: 60_000 });
      await page.getByTestId('token-rate').filter({ hasText: /[1-9]/ }).waitFor({ timeout: 60_000 });
      await page.getByRole('row', { name: /refresh_token/ }).waitFor();
      expect(await page.getByTestId('token-error-rate').textContent()).toMatch(/^\d+(\.\d+)?%$/);
      await page.getByRole('heading', { name: /Current rates \(last 5 minutes\)/ }).waitFor();
    } else {
      await page.getByText(/need a Prometheus/).waitFor();
    }
    expect(await unlabelled(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });

    await page.getByRole('link', { name: 'Keys' }).click();
    await page.locator('tbody tr').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'keys.png') });

    // Refreshed with rotation, never a reuse.
    await auditEntry(page, 'token.issued', 'grant=refresh_token');
    await page.getByLabel('Type').fill('refresh.reuse_detected');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No events.').waitFor();

    // Sign out: the refresh token is revoked and the server's session ends (after the user confirms:
    // the console holds no ID Token to prove itself, RP-Initiated Logout 1.0 §2), back to the console.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${t.baseUrl}/console/**`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // Neither the refresh token of the first page (revoked when the reload ended it) nor the
    // signed-out one is still valid.
    const bearer = await t.bearer();
    let live = -1;
    for (let i = 0; i < AUDIT_TRIES && live !== 0; i++) {
      const listed = await t.anon.refreshToken.listRefreshTokens({ owner: { $case: 'userId', value: adminId }, pageSize: 100, pageToken: '' }, { bearer });
      live = listed.refreshTokens.length;
      if (live !== 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(live).toBe(0);
    // Signed out of the server too: signing in again shows the login form.
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#password').waitFor();

    expect(foreign).toEqual([]);
    expect(cspViolations).toEqual([]);
    expect(faviconAsked).toEqual([]);
    expect(missing).toEqual([]);
    await context.close();
  }, 240_000);
});
