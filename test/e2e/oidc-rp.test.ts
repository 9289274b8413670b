// Real relying-party libraries sign a user in at a running authmesh: openid-client (Node),
// github.com/coreos/go-oidc/v3 + golang.org/x/oauth2 (Go) and Authlib (Python), each as the
// example program README's "Sign in with OpenID Connect" shows, run with README's own commands
// (the sh blocks between the oidc-rp-readme-test markers, placeholders filled in). The test plays
// the browser with a cookie jar and submits the real login and consent forms (CSRF fields
// included); the programs discover the provider, redeem the code with PKCE, validate the ID Token
// (JWKS signature, iss, aud, exp, nonce), call UserInfo, refresh, and log out. Needs
// `scripts/oidc-rps.sh install` (.ci/run does it); under AUTHMESH_REQUIRE_STACK=1 a missing Go or
// Python toolchain fails here instead of skipping.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, createUser, formFor, locationOf, readForms, runAuthorization } from '../../gateway/routes/authorize-test-support.js';
import { repoRoot } from '../../services/core/rpc/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { readmeShCommands, type ReadmeCommand } from '../support/readme.js';

const REGION = 'oidc-rp-readme-test';
/** The redirect URI (and post_logout_redirect_uri) README registers; the browser never loads it. */
const REDIRECT_URI = 'https://rp.example.com/callback';
// The first Go build compiles go-oidc and go-jose: generous, but bounded.
const RUN_TIMEOUT_MS = 240_000;

const LANGS = ['node', 'go', 'python'] as const;
type Lang = (typeof LANGS)[number];

function toolchainMissing(): string[] {
  const missing: string[] = [];
  if (spawnSync('go', ['version']).status !== 0) missing.push('go');
  if (!existsSync(join(repoRoot, '.tools', 'venv', '.oidc-rp-requirements.sha256'))) missing.push('Authlib in .tools/venv');
  return missing;
}
const missing = toolchainMissing();
const required = process.env.AUTHMESH_REQUIRE_STACK === '1';
const skipReason = `relying-party toolchains missing (${missing.join(', ')}): run scripts/oidc-rps.sh install`;
if (missing.length > 0 && !required) console.warn(`oidc-rp.test.ts skipped: ${skipReason}`);

/** README's commands between the oidc-rp-readme-test markers, in order. */
function readmeCommands(): ReadmeCommand[] {
  const commands = readmeShCommands().filter((c) => c.region === REGION);
  if (commands.length === 0) throw new Error(`README.md has no sh commands between the ${REGION} markers`);
  return commands;
}

/** README's command text with the placeholders a reader replaces by hand. */
function fill(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [placeholder, value] of Object.entries(values)) out = out.split(placeholder).join(value);
  if (/<[a-z_]+>/.test(out)) throw new Error(`README command still has a placeholder: ${out}`);
  return out;
}

const childEnv = () => ({
  ...process.env,
  GOTOOLCHAIN: 'local',
  GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim(),
  PYTHONDONTWRITEBYTECODE: '1',
});

/** Runs a bash script in the repository to its end (no stdin). */
function sh(script: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: repoRoot, env: { ...childEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

interface Summary {
  library: string;
  issuer: string;
  sub: string;
  scope: string;
  id_token_claims: Record<string, unknown>;
  userinfo: Record<string, unknown> | null;
  refreshed_id_token_claims: Record<string, unknown> | null;
  steps: string[];
  skipped: Record<string, string>;
}

interface Drive {
  code: number;
  stderr: string;
  /** Every URL the program asked the user to open, in order. */
  opened: URL[];
  /** Every line it printed on stdout. */
  lines: string[];
  summary?: Summary;
}

/**
 * Runs a relying-party program as the user would: each {"open": URL} it prints is handled by
 * `onOpen` (the browser), whose landing URL is typed back on stdin; the {"summary"} line is kept.
 */
function drive(script: string, onOpen: (url: URL, index: number) => Promise<URL>): Promise<Drive> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: repoRoot, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
    const out: Drive = { code: -1, stderr: '', opened: [], lines: [] };
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    // A program that exits early closes its stdin: a late write must not crash the test.
    child.stdin.on('error', () => {});
    createInterface({ input: child.stdout }).on('line', (line) => {
      out.lines.push(line);
      let msg: { open?: string; summary?: Summary };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        out.stderr += `(not JSON on stdout) ${line}\n`;
        return;
      }
      if (msg.summary !== undefined) out.summary = msg.summary;
      if (msg.open !== undefined) {
        const url = new URL(msg.open);
        out.opened.push(url);
        onOpen(url, out.opened.length - 1).then(
          (landed) => child.stdin.write(`${landed.href}\n`),
          (err: unknown) => {
            child.kill();
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
    });
    child.on('close', (code) => resolve({ ...out, code: code ?? -1 }));
  });
}

/**
 * The browser at the end-session endpoint: follows redirects and submits a confirmation form if
 * the provider shows one, until it is sent off to another origin (the relying party).
 */
async function playLogout(browser: Browser, url: URL): Promise<URL> {
  let res = await browser.get(url.href);
  for (let step = 0; step < 5; step++) {
    if (res.status === 302 || res.status === 303) {
      const next = locationOf(res, browser.baseUrl);
      if (next.origin !== new URL(browser.baseUrl).origin) return next;
      res = await browser.get(next.href);
      continue;
    }
    const page = await res.text();
    if (res.status !== 200) throw new Error(`logout: unexpected status ${res.status}: ${page.slice(0, 300)}`);
    const form = readForms(page).find((f) => f.method === 'post');
    if (form === undefined) throw new Error(`logout: a page with no form: ${page.slice(0, 300)}`);
    res = await browser.submit(formFor(page, form.action));
  }
  throw new Error('logout: too many steps');
}

describe.skipIf(missing.length > 0 && !required)('OpenID Connect relying-party libraries against a running authmesh', () => {
  let t: TestGateway;
  let commands: ReadmeCommand[];
  let values: Record<string, string>;
  let discovery: Record<string, unknown>;
  let user: { username: string; userId: string };
  const programs = {} as Record<Lang, string>;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${skipReason}`);
    commands = readmeCommands();
    const byStart = (start: string) => {
      const c = commands.find((x) => x.command.startsWith(start));
      if (c === undefined) throw new Error(`README's ${REGION} region has no command starting ${start}`);
      return c;
    };

    // README: install the relying-party libraries. They are installed already (the toolchain
    // check above), so this re-run must succeed with the Go module proxy and PyPI out of reach.
    const install = await sh(byStart('scripts/oidc-rps.sh install').text, { GOPROXY: 'off', PIP_NO_INDEX: '1' });
    expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(install.stdout).toContain('python relying party (Authlib) up to date in .tools/venv');

    t = await startTestGateway();
    user = await createUser(t);
    const readmeIssuer = 'http://127.0.0.1:8080';
    const base = { [readmeIssuer]: t.baseUrl, '<access_token>': await t.bearer() };

    // README: register the relying party (RFC 7591) with the redirect and post-logout URIs.
    const registered = await sh(fill(byStart('curl ').text, base));
    expect(registered.code, registered.stderr).toBe(0);
    const client = JSON.parse(registered.stdout) as Record<string, unknown>;
    expect(client, registered.stdout).toMatchObject({ client_id: expect.any(String), client_secret: expect.any(String), redirect_uris: [REDIRECT_URI] });
    values = { ...base, '<client_id>': client.client_id as string, '<client_secret>': client.client_secret as string };

    const exported = fill(byStart('export OIDC_ISSUER=').text, values);
    for (const [lang, start] of [
      ['node', 'node examples/oidc/node/rp.mjs'],
      ['go', '(cd examples/oidc/go'],
      ['python', '.tools/venv/bin/python examples/oidc/python/rp.py'],
    ] as const) {
      programs[lang] = `${exported}\n${fill(byStart(start).text, values)}`;
    }
    const res = await fetch(`${t.baseUrl}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    discovery = (await res.json()) as Record<string, unknown>;
  }, RUN_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it("README's region holds the install, registration, configuration and one command per language", () => {
    expect(commands.map((c) => c.command)).toEqual([
      'scripts/oidc-rps.sh install',
      expect.stringMatching(/^curl -s -H "authorization: Bearer <access_token>" .* http:\/\/127\.0\.0\.1:8080\/oauth2\/register$/),
      expect.stringMatching(/^export OIDC_ISSUER=http:\/\/127\.0\.0\.1:8080 OIDC_CLIENT_ID=<client_id> OIDC_CLIENT_SECRET=<client_secret> OIDC_REDIRECT_URI=https:\/\/rp\.example\.com\/callback$/),
      'node examples/oidc/node/rp.mjs',
      '(cd examples/oidc/go && go run .)',
      '.tools/venv/bin/python examples/oidc/python/rp.py',
    ]);
  });

  for (const lang of LANGS) {
    describe(lang, () => {
      it(
        'signs the user in: discovery, code + PKCE, a validated ID Token with the nonce, UserInfo, refresh with a new ID Token, logout back to the registered URI with state, and the session is gone',
        async () => {
          const browser = new Browser(t.baseUrl);
          const pages: string[][] = [];
          const run = await drive(programs[lang], async (url, index) => {
            if (index === 0) {
              expect(url.origin + url.pathname).toBe(discovery.authorization_endpoint);
              const flow = await runAuthorization(browser, url.href, { username: user.username });
              pages.push(flow.pages);
              return flow.location;
            }
            expect(url.origin + url.pathname).toBe(discovery.end_session_endpoint);
            return playLogout(browser, url);
          });
          expect(run.code, run.stderr).toBe(0);
          const s = run.summary!;
          expect(s, run.stderr).toBeDefined();

          // The authorization request the library built: PKCE S256, a nonce, a state, openid.
          const authorize = run.opened[0]!.searchParams;
          expect(authorize.get('response_type')).toBe('code');
          expect(authorize.get('code_challenge_method')).toBe('S256');
          expect(authorize.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
          expect(authorize.get('scope')?.split(' ')).toContain('openid');
          const nonce = authorize.get('nonce');
          expect(nonce).toBeTruthy();
          expect(authorize.get('state')).toBeTruthy();
          // The browser went through the real login and consent pages.
          expect(pages).toEqual([['login', 'consent']]);

          // The ID Token the library validated.
          const id = s.id_token_claims;
          expect(s.issuer).toBe(t.baseUrl);
          expect(id.iss).toBe(t.baseUrl);
          expect([id.aud].flat()).toContain(values['<client_id>']);
          expect(id.sub).toBe(user.userId);
          expect(s.sub).toBe(user.userId);
          expect(id.nonce).toBe(nonce);
          expect(id.exp).toBeGreaterThan(Date.now() / 1000);
          expect(typeof id.iat).toBe('number');
          expect(typeof id.auth_time).toBe('number');

          const steps = ['discovery', 'authorize', 'token', 'id_token'];
          // UserInfo and logout are asserted wherever the provider advertises them.
          if (discovery.userinfo_endpoint) {
            steps.push('userinfo');
            expect(s.userinfo?.sub).toBe(id.sub);
          } else expect(s.skipped.userinfo).toMatch(/no userinfo_endpoint/);

          steps.push('refresh', 'refreshed_id_token');
          const again = s.refreshed_id_token_claims!;
          expect(again).toMatchObject({ iss: id.iss, sub: id.sub });
          expect([again.aud].flat()).toContain(values['<client_id>']);
          expect(again.exp).toBeGreaterThan(Date.now() / 1000);
          // OIDC Core §12.2: auth_time is still the original authentication's.
          expect(again.auth_time).toBe(id.auth_time);

          if (discovery.end_session_endpoint) {
            steps.push('logout');
            const logout = run.opened[1]!.searchParams;
            expect(logout.get('post_logout_redirect_uri')).toBe(REDIRECT_URI);
            expect(logout.get('id_token_hint')).toBeTruthy();
            expect(logout.get('state')).toBeTruthy();
            // The browser's session is gone: a new authorization asks for the login again.
            const next = await runAuthorization(browser, run.opened[0]!.href.replace(/([?&]state=)[^&]*/, '$1after-logout'), { username: user.username });
            expect(next.pages[0]).toBe('login');
          } else expect(s.skipped.logout).toMatch(/no end_session_endpoint/);
          expect(s.steps).toEqual(steps);
          const notAdvertised = [...(discovery.userinfo_endpoint ? [] : ['userinfo']), ...(discovery.end_session_endpoint ? [] : ['logout'])];
          expect(Object.keys(s.skipped).sort()).toEqual(notAdvertised.sort());
          expect(run.opened).toHaveLength(discovery.end_session_endpoint ? 2 : 1);
          // No token on stdout or stderr: the only JWT printed is the ID Token in the logout URL
          // the user must open (its id_token_hint).
          const jwt = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
          const logoutLine = discovery.end_session_endpoint ? run.lines.findIndex((l) => l.includes('id_token_hint')) : -1;
          expect(run.lines.filter((_l, i) => i !== logoutLine).filter((l) => jwt.test(l))).toEqual([]);
          expect(run.stderr).not.toMatch(jwt);
        },
        RUN_TIMEOUT_MS + 30_000,
      );

      it(
        'rejects an ID Token whose nonce is not the one it sent (a code from another authorization request)',
        async () => {
          const browser = new Browser(t.baseUrl);
          let injected = '';
          const run = await drive(programs[lang], async (url) => {
            // The attacker's request: the same client, state and PKCE challenge, another nonce.
            const forged = new URL(url);
            injected = `forged-${forged.searchParams.get('nonce') ?? ''}`.slice(0, 60);
            forged.searchParams.set('nonce', injected);
            const flow = await runAuthorization(browser, forged.href, { username: user.username });
            return flow.location;
          });
          expect(injected).not.toBe('');
          expect(run.code).not.toBe(0);
          expect(run.summary).toBeUndefined();
          expect(run.stderr).toMatch(/nonce/i);
        },
        RUN_TIMEOUT_MS + 30_000,
      );

      it(
        'rejects an authorization response whose state is not its own, before redeeming the code',
        async () => {
          const browser = new Browser(t.baseUrl);
          const run = await drive(programs[lang], async (url) => {
            const flow = await runAuthorization(browser, url.href, { username: user.username });
            const landed = new URL(flow.location);
            landed.searchParams.set('state', 'state-of-another-session');
            return landed;
          });
          expect(run.code).not.toBe(0);
          expect(run.summary).toBeUndefined();
          expect(run.stderr).toMatch(/state/i);
        },
        RUN_TIMEOUT_MS + 30_000,
      );
    });
  }
});
