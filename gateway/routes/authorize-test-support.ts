// Test helpers for the authorization endpoint: a minimal browser (fetch with manual redirects and
// a cookie jar), an HTML form reader, and real clients and users created over the admin gRPC API.
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import * as oidc from 'openid-client';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import type { TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';

export const PASSWORD = 'correct horse battery staple';
export const APP_CB = 'https://app.example.com/cb';
export const WEB_CB = 'https://web.example.com/cb';
export const FIRST_CB = 'https://first.example.com/cb';

export interface Fixtures {
  /** Public client, PKCE, auth method none, with a logo; consent required. */
  publicId: string;
  /** Confidential client (client_secret_basic); consent required. */
  webId: string;
  webSecret: string;
  /** Confidential client an admin marked skip_consent. */
  firstId: string;
  firstSecret: string;
  username: string;
  userId: string;
}

export async function createFixtures(t: TestGateway): Promise<Fixtures> {
  const bearer = await t.bearer();
  const create = async (client: Partial<Client>) => {
    const res = await t.anon.client.createClient(CreateClientRequest.fromPartial({ client: Client.fromPartial(client) }), { bearer });
    return { id: res.client!.clientId, secret: res.clientSecret };
  };
  const pub = await create({
    clientId: uniqueId('spa'),
    clientName: 'Photo <Book> & "Friends"',
    logoUri: 'https://app.example.com/logo.png',
    clientType: ClientType.CLIENT_TYPE_PUBLIC,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
    redirectUris: [APP_CB, 'http://127.0.0.1/native'],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
    scopes: ['read', 'write'],
  });
  const web = await create({
    clientId: uniqueId('web'),
    clientName: 'Web App',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
    redirectUris: [WEB_CB],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
    scopes: ['read', 'write'],
  });
  const first = await create({
    clientId: uniqueId('first'),
    clientName: 'First Party',
    clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
    redirectUris: [FIRST_CB],
    grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
    scopes: ['read'],
    skipConsent: true,
  });
  const { username, userId } = await createUser(t);
  return { publicId: pub.id, webId: web.id, webSecret: web.secret, firstId: first.id, firstSecret: first.secret, username, userId };
}

/** A new user with PASSWORD. */
export async function createUser(t: TestGateway): Promise<{ username: string; userId: string }> {
  const username = uniqueId('alice');
  const user = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username, email: 'alice@example.com' }, password: PASSWORD }), { bearer: await t.bearer() });
  return { username, userId: user.user!.userId };
}

/** Decodes the entities our escaper produces (and numeric ones). */
function unescapeHtml(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export interface HtmlForm {
  action: string;
  method: string;
  /** Hidden inputs and inputs with a value. */
  fields: Record<string, string>;
}

/** The forms of a page, as a browser would submit them (hidden fields and prefilled values). */
export function readForms(page: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const m of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const attrs = m[1] ?? '';
    const action = unescapeHtml(/action="([^"]*)"/.exec(attrs)?.[1] ?? '');
    const method = (/method="([^"]*)"/.exec(attrs)?.[1] ?? 'get').toLowerCase();
    const fields: Record<string, string> = {};
    for (const input of (m[2] ?? '').matchAll(/<input\b([^>]*)>/g)) {
      const a = input[1] ?? '';
      const name = /name="([^"]*)"/.exec(a)?.[1];
      const value = /value="([^"]*)"/.exec(a)?.[1];
      const type = /type="([^"]*)"/.exec(a)?.[1];
      if (name === undefined) continue;
      if (type === 'checkbox' && !/\bchecked\b/.test(a)) continue;
      fields[unescapeHtml(name)] = unescapeHtml(value ?? '');
    }
    forms.push({ action, method, fields });
  }
  return forms;
}

export function formFor(page: string, action: string): HtmlForm {
  const form = readForms(page).find((f) => f.action === action);
  if (form === undefined) throw new Error(`no form posting to ${action} on the page`);
  return form;
}

interface StoredCookie {
  value: string;
  raw: string;
}

/** Enough of a browser for the authorization flow: cookies, manual redirects, form posts. */
export class Browser {
  readonly cookies = new Map<string, StoredCookie>();
  /** Every Set-Cookie header received, for attribute checks. */
  readonly setCookies: string[] = [];

  constructor(readonly baseUrl: string) {}

  private store(res: Response): void {
    for (const raw of res.headers.getSetCookie()) {
      this.setCookies.push(raw);
      const [pair = '', ...attrs] = raw.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1] ?? '').getTime() < Date.now());
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, raw });
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([n, c]) => `${n}=${c.value}`).join('; ');
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', this.cookieHeader());
    const res = await fetch(new URL(url, this.baseUrl), { ...init, headers, redirect: 'manual' });
    this.store(res);
    return res;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(url, { headers });
  }

  async post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
  }

  async submit(form: HtmlForm, extra: Record<string, string> = {}): Promise<Response> {
    return this.post(form.action, { ...form.fields, ...extra });
  }
}

/** Where a redirect response points, resolved against the gateway. */
export function locationOf(res: Response, baseUrl: string): URL {
  const location = res.headers.get('location');
  if (location === null) throw new Error(`expected a redirect, got ${res.status}`);
  return new URL(location, baseUrl);
}

/**
 * Drives a browser through the pages until the gateway redirects back to the client, logging in
 * and consenting as needed; returns the final redirect and which pages were shown.
 */
export async function runAuthorization(
  browser: Browser,
  authorizationUrl: string,
  opts: { username: string; password?: string; decision?: 'allow' | 'deny'; remember?: boolean },
): Promise<{ location: URL; pages: string[]; statuses: number[] }> {
  const pages: string[] = [];
  const statuses: number[] = [];
  let res = await browser.get(authorizationUrl);
  for (let step = 0; step < 6; step++) {
    statuses.push(res.status);
    if (res.status === 302 || res.status === 303) {
      const next = locationOf(res, browser.baseUrl);
      if (next.origin !== new URL(browser.baseUrl).origin) return { location: next, pages, statuses };
      res = await browser.get(next.href);
      continue;
    }
    if (res.status !== 200) throw new Error(`unexpected status ${res.status}: ${await res.text()}`);
    const page = await res.text();
    if (page.includes('action="/oauth2/login"')) {
      pages.push('login');
      res = await browser.submit(formFor(page, '/oauth2/login'), { username: opts.username, password: opts.password ?? PASSWORD });
    } else if (page.includes('action="/oauth2/consent"')) {
      pages.push('consent');
      const form = formFor(page, '/oauth2/consent');
      const fields: Record<string, string> = { ...form.fields, decision: opts.decision ?? 'allow' };
      if (opts.remember === false) delete fields.remember;
      res = await browser.post(form.action, fields);
    } else {
      throw new Error(`unexpected page: ${page.slice(0, 300)}`);
    }
  }
  throw new Error('too many steps');
}

/** A confidential relying party (Basic auth, code + refresh) with `scopes`, as openid-client discovers it. */
export async function oidcRelyingParty(t: TestGateway, redirectUri: string, scopes: string[]): Promise<{ id: string; secret: string; config: oidc.Configuration }> {
  const res = await t.anon.client.createClient(
    CreateClientRequest.fromPartial({
      client: Client.fromPartial({
        clientId: uniqueId('rp'),
        clientName: 'Relying Party',
        clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
        tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
        redirectUris: [redirectUri],
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
        scopes,
      }),
    }),
    { bearer: await t.bearer() },
  );
  const id = res.client!.clientId;
  // OpenID Connect Discovery: the issuer URL, client id and secret are all the RP is given.
  const config = await oidc.discovery(new URL(t.baseUrl), id, undefined, oidc.ClientSecretBasic(res.clientSecret), { execute: [oidc.allowInsecureRequests] });
  return { id, secret: res.clientSecret, config };
}

/** An authorization request as the RP starts it. */
export interface OidcStart {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** An openid-client authorization URL with PKCE (S256), a fresh state and nonce, plus `params`. */
export async function startOidcAuthorization(cfg: oidc.Configuration, redirectUri: string, params: Record<string, string>): Promise<OidcStart> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(cfg, {
    redirect_uri: redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}
