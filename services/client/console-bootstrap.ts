// The admin console's OAuth client (console/, served by the gateway under /console): a public
// client using the authorization code flow with PKCE (RFC 7636, S256) and refresh-token rotation,
// created at first start so the console works on a fresh installation. Its scope includes the
// admin scopes, but a user's token carries them only when the user holds the admin role
// (services/core/oauth/admin-role.ts), so signing in to the console as anyone else gives a token
// the admin RPCs refuse.
import { AlreadyExists, AuthmeshError } from '../core/errors/index.js';
import { ADMIN_SCOPE, READ_SCOPE } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientManager } from './client-manager.js';
import { serverClientDraft } from './client-draft.js';

/** The console's client_id (console/src/auth.ts uses the same). */
export const CONSOLE_CLIENT_ID = 'authmesh-console';

/** The console's URLs under the issuer: RFC 6749 §3.1.2 redirect URI and the page after sign-out. */
export function consoleUrls(issuer: string): { redirectUri: string; home: string } {
  const base = issuer.replace(/\/+$/, '');
  return { redirectUri: `${base}/console/callback`, home: `${base}/console/` };
}

/**
 * Creates the console's client once (another instance creating it first is fine). An existing
 * client is left as an admin made it, with a warning when it lacks the redirect URI of the
 * current issuer. An issuer a redirect URI cannot use (http on a host that is not loopback, RFC
 * 9700 §2.1) leaves the console without a client and says so; the server starts anyway.
 */
export async function bootstrapConsoleClient(deps: Pick<MeshDeps, 'config' | 'log'>, clients: ClientManager): Promise<void> {
  const { redirectUri, home } = consoleUrls(deps.config.issuer);
  const existing = await clients.find(CONSOLE_CLIENT_ID);
  if (existing) {
    if (!existing.redirectUris.includes(redirectUri)) {
      deps.log.warn({ clientId: CONSOLE_CLIENT_ID, redirectUri }, 'the console client does not list the console redirect URI of this issuer: add it with UpdateClient to sign in to the console');
    }
    return;
  }
  try {
    await clients.create(
      CONSOLE_CLIENT_ID,
      serverClientDraft({
        name: 'authmesh console',
        clientType: 'public',
        redirectUris: [redirectUri],
        grantTypes: ['authorization_code', 'refresh_token'],
        // Only the admin scopes: the console asks for no OpenID Connect scope (RFC 6749 §6 refresh
        // tokens then need no offline_access, OIDC Core §11), and reads the user through the admin RPCs.
        scopes: [ADMIN_SCOPE, READ_SCOPE],
        tokenEndpointAuthMethod: 'none',
        // A first-party application of this server: the user is not asked to consent to it (and
        // PKCE is required: serverClientDraft's defaults).
        postLogoutRedirectUris: [home],
      }),
      { actor: 'bootstrap' },
    );
  } catch (err) {
    if (err instanceof AlreadyExists) return;
    if (err instanceof AuthmeshError && (err.code === 'invalid_redirect_uri' || err.code === 'invalid_client_metadata' || err.code === 'invalid_request')) {
      deps.log.warn({ clientId: CONSOLE_CLIENT_ID, redirectUri, reason: err.message }, 'the console client was not created: the issuer cannot serve as its redirect URI');
      return;
    }
    throw err;
  }
  deps.log.info({ clientId: CONSOLE_CLIENT_ID }, 'console client created');
}
