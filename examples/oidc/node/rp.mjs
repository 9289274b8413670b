// A relying party on openid-client (Node): signs a user in at an OpenID Provider with the
// authorization code flow + PKCE, validates the ID Token, calls UserInfo, refreshes, and logs out
// (RP-Initiated Logout). Configuration is the issuer URL, client id, client secret and redirect
// URI only (environment: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI);
// everything else comes from the provider's discovery document.
//
// It talks to you on stdout, one JSON object a line: {"open": URL} means "open URL in a browser,
// then paste the URL the browser lands on" (on stdin); the last line is {"summary": {...}}: the
// subject, the claims seen, and every step done or skipped (with why). No token is printed but
// the ID Token inside the logout URL (its id_token_hint, RP-Initiated Logout 1.0 §2).
// The redirect URI doubles as the post_logout_redirect_uri: register it as both.
import { createInterface } from 'node:readline';
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const issuer = new URL(env('OIDC_ISSUER'));
const clientId = env('OIDC_CLIENT_ID');
const clientSecret = env('OIDC_CLIENT_SECRET');
const redirectUri = env('OIDC_REDIRECT_URI');

const print = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const lines = createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
/** Shows `url` to the user and returns the URL the browser landed on. */
async function visit(url) {
  print({ open: url.href });
  const { value, done } = await lines.next();
  if (done) throw new Error('stdin closed before the landing URL was given');
  return new URL(value.trim());
}

// Plain http only to a provider on this machine (a local test server); anything else needs https.
const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
const execute = issuer.protocol === 'http:' && loopback ? [client.allowInsecureRequests] : [];

const steps = [];
const skipped = {};

async function main() {
  // OpenID Connect Discovery 1.0 §4: the provider's metadata; openid-client checks its issuer.
  const config = await client.discovery(issuer, clientId, { redirect_uris: [redirectUri] }, client.ClientSecretBasic(clientSecret), { execute });
  // Validate every ID Token's signature against the provider's JWKS (not only its claims).
  client.enableNonRepudiationChecks(config);
  const metadata = config.serverMetadata();
  steps.push('discovery');

  // Ask for the standard scopes the provider offers; offline_access (a refresh token) needs
  // prompt=consent (OIDC Core §11).
  const offered = metadata.scopes_supported;
  const scope = ['openid', ...['profile', 'email', 'offline_access'].filter((s) => offered === undefined || offered.includes(s))].join(' ');
  const codeVerifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    prompt: 'consent',
  });
  const landed = await visit(authorizationUrl);
  steps.push('authorize');

  // Checks state, iss (RFC 9207), the ID Token (signature, iss, aud, exp, iat, nonce, azp, at_hash).
  const tokens = await client.authorizationCodeGrant(config, landed, { pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true });
  steps.push('token');
  const idClaims = tokens.claims();
  if (idClaims === undefined) throw new Error('the token response has no ID Token');
  steps.push('id_token');

  let userinfo = null;
  if (metadata.userinfo_endpoint) {
    // OIDC Core §5.3.2: the UserInfo sub must equal the ID Token's (openid-client checks it).
    userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    steps.push('userinfo');
  } else skipped.userinfo = 'the provider advertises no userinfo_endpoint';

  let idToken = tokens.id_token;
  let refreshedClaims = null;
  if (tokens.refresh_token) {
    // OIDC Core §12.2: a refreshed ID Token has the same iss, sub and aud (openid-client checks it).
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    steps.push('refresh');
    refreshedClaims = refreshed.claims() ?? null;
    if (refreshedClaims === null) throw new Error('the refresh response has no ID Token');
    if (refreshed.id_token === idToken) throw new Error('the refresh returned the same ID Token');
    idToken = refreshed.id_token;
    steps.push('refreshed_id_token');
  } else skipped.refresh = 'no refresh token was issued';

  if (metadata.end_session_endpoint) {
    // RP-Initiated Logout 1.0 §2-3: id_token_hint, a registered post_logout_redirect_uri, state.
    const logoutState = client.randomState();
    const logoutUrl = client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: redirectUri, state: logoutState });
    const back = await visit(logoutUrl);
    const expected = new URL(redirectUri);
    if (back.origin !== expected.origin || back.pathname !== expected.pathname) throw new Error(`logout returned to ${back.origin}${back.pathname}, not ${redirectUri}`);
    if (back.searchParams.get('state') !== logoutState) throw new Error('logout returned a different state');
    steps.push('logout');
  } else skipped.logout = 'the provider advertises no end_session_endpoint';

  print({ summary: { library: 'openid-client', issuer: metadata.issuer, sub: idClaims.sub, scope: tokens.scope ?? scope, id_token_claims: idClaims, userinfo, refreshed_id_token_claims: refreshedClaims, steps, skipped } });
}

main().then(
  () => process.exit(0),
  (err) => {
    // openid-client's errors carry the provider's RFC 6749 error code, and the check that failed
    // in their chain of causes (e.g. the nonce or state comparison); never a token.
    const messages = [];
    for (let e = err; e instanceof Error && messages.length < 4; e = e.cause) messages.push(e.message);
    const detail = [err.error, err.error_description].filter(Boolean).join(': ');
    process.stderr.write(`error: ${messages.join(': ')}${detail ? ` (${detail})` : ''}\n`);
    process.exit(1);
  },
);
