// Sign-in for the console: OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256) as the
// public client `authmesh-console` (services/client/console-bootstrap.ts), against this origin's
// authorization server. Tokens live in this module's memory only (no localStorage, no cookie):
// a reload signs in again through the server's login session. Only the PKCE verifier, state and
// nonce of a sign-in in progress wait in sessionStorage across the redirect, and are removed when
// the callback reads them. Refresh tokens rotate on every use (RFC 9700 §4.14.2): the new one
// replaces the old at once. Sign-out revokes the refresh token (RFC 7009) and ends the server's
// session (OpenID Connect RP-Initiated Logout 1.0).

export const CLIENT_ID = 'authmesh-console';
const ADMIN_SCOPE = 'authmesh.admin';
// A plain OAuth request (no openid): RFC 6749 §6 refresh tokens without OIDC's offline_access rule
// (OIDC Core §11 would need prompt=consent each time). The user's name comes from the admin RPCs.
const SCOPE = ADMIN_SCOPE;
const PENDING = 'authmesh.console.signin';

export interface Session {
  accessToken: string;
  refreshToken: string;
  idToken: string;
  scopes: string[];
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  /** The subject (user id) of the access token. */
  subject: string;
}

let session: Session | undefined;
let refreshing: Promise<Session | undefined> | undefined;
const listeners = new Set<() => void>();

export const currentSession = (): Session | undefined => session;
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
function setSession(next: Session | undefined) {
  session = next;
  for (const l of listeners) l();
}

/** True when the token carries the admin scope (the server grants it to administrators only). */
export const isAdministrator = (s: Session): boolean => s.scopes.includes(ADMIN_SCOPE);

const origin = () => window.location.origin;
export const redirectUri = () => `${origin()}/console/callback`;
const home = () => `${origin()}/console/`;

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

/**
 * The issuer's origin from its metadata (RFC 8414 §3). The console's redirect URI is registered
 * under the issuer, so a console opened under another name of the same server (localhost for
 * 127.0.0.1, the gateway behind Envoy) must move to the issuer's before signing in.
 */
async function issuerOrigin(): Promise<string | undefined> {
  try {
    const res = await fetch('/.well-known/oauth-authorization-server', { credentials: 'omit' });
    const issuer = ((await res.json()) as { issuer?: unknown }).issuer;
    return typeof issuer === 'string' ? new URL(issuer).origin : undefined;
  } catch {
    return undefined;
  }
}

/** Sends the browser to the authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3). */
export async function signIn(): Promise<void> {
  const issuer = await issuerOrigin();
  if (issuer !== undefined && issuer !== origin()) {
    window.location.assign(`${issuer}/console/`);
    return;
  }
  // RFC 7636 §4.1: a high-entropy verifier (43 characters of base64url here).
  const verifier = randomString();
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const state = randomString();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const url = new URL('/oauth2/authorize', origin());
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: SCOPE,
    state,
    // RFC 7636 §4.2: S256, never plain.
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
}

function claimsOf(jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split('.')[1] ?? '';
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function tokenRequest(params: Record<string, string>): Promise<Session> {
  const res = await fetch('/oauth2/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ ...params, client_id: CLIENT_ID }).toString(),
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok || typeof body.access_token !== 'string') {
    // RFC 6749 §5.2: error and error_description.
    throw new Error(`${String(body.error ?? 'token request failed')}: ${String(body.error_description ?? res.status)}`);
  }
  const idToken = typeof body.id_token === 'string' ? body.id_token : (session?.idToken ?? '');
  const accessClaims = claimsOf(body.access_token);
  return {
    accessToken: body.access_token,
    // RFC 6749 §6: a refresh response may omit a new refresh token; keep the current one then.
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : (session?.refreshToken ?? ''),
    idToken,
    // RFC 6749 §5.1: the scope actually granted (the server may grant less than asked).
    scopes: typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [],
    expiresAt: Date.now() + Number(body.expires_in ?? 300) * 1000,
    subject: String(accessClaims.sub ?? ''),
  };
}

/**
 * At /console/callback: checks the state (RFC 6749 §10.12) and the issuer (RFC 9207 §2.4),
 * redeems the code with the PKCE verifier and keeps the tokens. Returns an error message to show,
 * or undefined when signed in.
 */
export async function completeSignIn(): Promise<string | undefined> {
  const params = new URLSearchParams(window.location.search);
  const pendingRaw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  // The code and state leave the address bar and the history at once.
  window.history.replaceState(null, '', '/console/');
  const pending = pendingRaw ? (JSON.parse(pendingRaw) as { verifier: string; state: string }) : undefined;
  if (!pending || params.get('state') !== pending.state) return 'The sign-in answer does not belong to a sign-in started here: sign in again.';
  // RFC 9207 §2.4: authmesh advertises authorization_response_iss_parameter_supported, so the
  // answer must carry iss, naming the server the request went to (review F6: a missing one passed).
  if (params.get('iss') !== origin()) return 'The sign-in answer came from another authorization server, or did not say which.';
  const error = params.get('error');
  if (error) return `Sign-in failed: ${params.get('error_description') ?? error}`;
  const code = params.get('code');
  if (!code) return 'The sign-in answer carries no code.';
  try {
    const next = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri(), code_verifier: pending.verifier });
    setSession(next);
    return undefined;
  } catch (err) {
    return `Sign-in failed: ${(err as Error).message}`;
  }
}

/**
 * A valid access token: the current one, or a refreshed one when it expires within 30 s. Concurrent
 * callers share one refresh (a rotated refresh token is good once). undefined when signed out.
 */
export async function accessToken(forceRefresh = false): Promise<string | undefined> {
  const s = session;
  if (!s) return undefined;
  if (!forceRefresh && s.expiresAt - Date.now() > 30_000) return s.accessToken;
  if (s.refreshToken === '') return forceRefresh ? undefined : s.accessToken;
  refreshing ??= tokenRequest({ grant_type: 'refresh_token', refresh_token: s.refreshToken })
    .then((next) => {
      setSession(next);
      return next;
    })
    .catch(() => {
      setSession(undefined);
      return undefined;
    })
    .finally(() => {
      refreshing = undefined;
    });
  return (await refreshing)?.accessToken;
}

/**
 * The refresh token dies with the page: it lives in this page's memory only, so after a reload or
 * a closed tab nothing could use it again, and it is revoked (RFC 7009) rather than left valid until
 * it expires. sendBeacon outlives the page.
 */
window.addEventListener('pagehide', () => {
  const token = session?.refreshToken;
  if (!token) return;
  navigator.sendBeacon('/oauth2/revoke', new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: CLIENT_ID }));
});

/**
 * Signs out: revokes the refresh token, forgets the tokens, ends the server's login session. With
 * no ID Token to prove the client, the server asks the user to confirm (RP-Initiated Logout 1.0 §2),
 * then returns to the console (its registered post_logout_redirect_uri).
 */
export async function signOut(): Promise<void> {
  const s = session;
  setSession(undefined);
  if (s?.refreshToken) {
    // RFC 7009 §2.1: a public client revokes with its client_id.
    await fetch('/oauth2/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: s.refreshToken, token_type_hint: 'refresh_token', client_id: CLIENT_ID }).toString(),
      credentials: 'omit',
    }).catch(() => undefined);
  }
  const url = new URL('/oauth2/end_session', origin());
  const params: Record<string, string> = { client_id: CLIENT_ID, post_logout_redirect_uri: home() };
  if (s?.idToken) params.id_token_hint = s.idToken;
  url.search = new URLSearchParams(params).toString();
  window.location.assign(url.toString());
}
