// The end_session_endpoint of OpenID Connect RP-Initiated Logout 1.0: GET and POST
// /oauth2/end_session. A request that proves its client (an id_token_hint we issued for the user
// of this browser's session) ends the session at once; any other request is confirmed by the user
// on a page with a CSRF-protected form first, so a third-party page cannot log a user out by
// linking here. After logout the user agent goes to post_logout_redirect_uri (with state) only
// when it is exactly one of the client's registered post_logout_redirect_uris; otherwise the
// signed-out page is shown (never an open redirect, RFC 9700 §4.11).
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JWK } from 'jose';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { toAuthmeshError } from '../../services/core/errors/index.js';
import { hashToken, ID_TOKEN_HINT_ALGS, idTokenHintClaims, matchPostLogoutRedirectUri, postLogoutRedirect, type IdTokenHint } from '../../services/core/oauth/index.js';
import { createCsrf, CSRF_FIELD } from '../csrf.js';
import { bodyPairs, collectParameters, queryPairs } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendErrorPage } from '../pages/error-page.js';
import { html, sendPage } from '../pages/html.js';
import { createSessions, type Session } from '../session.js';

export const END_SESSION_PATH = '/oauth2/end_session';
export const END_SESSION_CONFIRM_PATH = '/oauth2/end_session/confirm';

// RP-Initiated Logout 1.0 §2: the request parameters (logout_hint and ui_locales are accepted;
// the single-language pages and the cookie's session make them advisory only).
const PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'logout_hint', 'ui_locales'] as const;
type Params = Record<(typeof PARAMS)[number], string>;
const RECOGNIZED: ReadonlySet<string> = new Set(PARAMS);
// Bounds on what is echoed into the redirect or a page (as the authorization endpoint bounds
// state): an unbounded value would make an oversized Location header instead of a clear error.
const MAX_LENGTH: Readonly<Record<(typeof PARAMS)[number], number>> = {
  id_token_hint: 16_384,
  client_id: 256,
  post_logout_redirect_uri: 4096,
  state: 2048,
  logout_hint: 512,
  ui_locales: 512,
};
const CONFIRM_FIELDS: ReadonlySet<string> = new Set([CSRF_FIELD, 'client_id', 'post_logout_redirect_uri', 'state', 'decision']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
// Compact ID Tokens are a few hundred bytes; anything this long was never issued here.
const MAX_HINT_CHARS = 8192;

function isForm(req: FastifyRequest): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.split(';')[0]?.trim().toLowerCase() === FORM_TYPE;
}

function redirect(reply: FastifyReply, location: string, status: 302 | 303): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').header('referrer-policy', 'no-referrer').redirect(location, status);
}

function signedOutPage(reply: FastifyReply): FastifyReply {
  return sendPage(reply, 200, {
    title: 'Signed out',
    body: html`<header class="brand"><p class="service">authmesh</p></header>
<h1>You are signed out</h1>
<p>You can close this page.</p>`,
  });
}

export const endSessionRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  const issuer = config.issuer;
  const sessions = createSessions(issuer);
  const csrf = createCsrf(issuer);

  const badRequest = (reply: FastifyReply, description: string) =>
    sendErrorPage(reply, 400, { title: 'This sign-out request cannot be completed', error: 'invalid_request', description });

  /**
   * The id_token_hint's claims after checking its signature against our JWKS (RP-Initiated
   * Logout 1.0 §2: expiry ignored, so only the signature, issuer and kind are checked).
   * @throws InvalidRequest when it is not an ID Token we issued
   */
  async function verifyHint(hint: string): Promise<IdTokenHint> {
    const refuse = () => {
      throw Object.assign(new Error('bad hint'), { hint: true });
    };
    if (hint.length > MAX_HINT_CHARS) refuse();
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(hint) as Record<string, unknown>;
    } catch {
      return refuse();
    }
    // RFC 8725 §3.1: an explicit allow-list (never none, never HS*).
    if (typeof header.alg !== 'string' || !ID_TOKEN_HINT_ALGS.includes(header.alg)) refuse();
    const { keys } = await peers.key.getJwks({});
    let payload: Record<string, unknown>;
    try {
      const verified = await compactVerify(hint, createLocalJWKSet({ keys: keys as JWK[] }), { algorithms: [...ID_TOKEN_HINT_ALGS] });
      payload = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return refuse();
    } catch {
      return refuse();
    }
    try {
      return idTokenHintClaims(header, payload, issuer);
    } catch {
      return refuse();
    }
  }

  /** The registered post-logout target, or undefined: unknown client, unregistered or absent URI. */
  async function registeredTarget(clientId: string, uri: string, state: string): Promise<string | undefined> {
    if (clientId === '' || uri === '') return undefined;
    let registered: string[];
    try {
      const res = await peers.client.getClient({ clientId });
      registered = res.client?.postLogoutRedirectUris ?? [];
    } catch (err) {
      if (toAuthmeshError(err).code === 'not_found' || toAuthmeshError(err).code === 'invalid_request') return undefined;
      throw err;
    }
    // RP-Initiated Logout 1.0 §3: only an exactly registered URI is a redirect target.
    return matchPostLogoutRedirectUri(registered, uri) ? postLogoutRedirect(uri, state) : undefined;
  }

  /**
   * Ends the given accounts of this browser server-side (then every copy of the cookie is refused
   * for them) and forgets them in the cookie; `all`: every account of the browser is ended.
   */
  async function endAccounts(req: FastifyRequest, reply: FastifyReply, accounts: readonly Session[], all: boolean): Promise<void> {
    // Server-side first: a copy of the cookie saved before logout must get nothing afterwards.
    for (const account of accounts) await peers.user.endSession({ sessionId: account.sessionId });
    if (accounts.length === 0) return;
    // The browser's other accounts stay, offered by the chooser, none current.
    if (all) sessions.clear(reply);
    else for (const account of accounts) sessions.remove(req, reply, account.sessionId);
  }

  async function finish(req: FastifyRequest, reply: FastifyReply, ending: readonly Session[], all: boolean, clientId: string, uri: string, state: string, status: 302 | 303) {
    await endAccounts(req, reply, ending, all);
    const target = await registeredTarget(clientId, uri, state);
    return target === undefined ? signedOutPage(reply) : redirect(reply, target, status);
  }

  function fail(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    const e = toAuthmeshError(err);
    if (e.code === 'temporarily_unavailable') {
      return sendErrorPage(reply.header('retry-after', '1'), 503, { title: 'Service unavailable', error: e.code, description: 'You are not signed out yet. Please try again in a moment.' });
    }
    req.log.error({ err: e.cause ?? err }, 'end session failed');
    return sendErrorPage(reply, 500, { title: 'Something went wrong', error: 'server_error', description: 'You are not signed out yet. Please try again later.' });
  }

  async function endSession(req: FastifyRequest, reply: FastifyReply) {
    const status = req.method === 'POST' ? 303 : 302;
    if (req.method === 'POST' && !isForm(req)) return badRequest(reply.code(415), `The request must be sent as ${FORM_TYPE}.`);
    let params: Params;
    try {
      const pairs = function* () {
        yield* queryPairs(req.raw.url ?? '');
        if (req.method === 'POST') yield* bodyPairs(req.body);
      };
      const { values, repeated } = collectParameters(pairs(), RECOGNIZED, []);
      const first = [...repeated][0];
      // OpenID Connect Core §3.1.2.1 (as for any OAuth request, RFC 6749 §3.1): no repeated parameters.
      if (first !== undefined) return badRequest(reply, `The parameter ${first} was sent more than once.`);
      params = Object.fromEntries(PARAMS.map((n) => [n, values.get(n)?.[0] ?? ''])) as Params;
      const long = PARAMS.find((n) => params[n].length > MAX_LENGTH[n]);
      if (long !== undefined) return badRequest(reply, `The parameter ${long} is longer than ${MAX_LENGTH[long]} characters.`);
    } catch (err) {
      return badRequest(reply, toAuthmeshError(err).description);
    }

    let hint: IdTokenHint | undefined;
    if (params.id_token_hint !== '') {
      try {
        hint = await verifyHint(params.id_token_hint);
      } catch (err) {
        if ((err as { hint?: boolean }).hint !== true) return fail(req, reply, err);
        // RP-Initiated Logout 1.0 §2: a hint we did not issue is refused; nothing is ended.
        return badRequest(reply, 'The id_token_hint is not an ID Token issued by this server.');
      }
    }
    let clientId = params.client_id;
    if (hint !== undefined) {
      // RP-Initiated Logout 1.0 §2: with both, client_id must be an audience of the hint.
      if (clientId !== '' && !hint.audiences.includes(clientId)) return badRequest(reply, 'The client_id does not match the id_token_hint.');
      if (clientId === '' && hint.audiences.length === 1) clientId = hint.audiences[0]!;
    }
    // RP-Initiated Logout 1.0 §3: a post_logout_redirect_uri needs the client named (hint or client_id).
    if (params.post_logout_redirect_uri !== '' && clientId === '') {
      return badRequest(reply, 'A post_logout_redirect_uri needs a client_id or an id_token_hint.');
    }

    // RP-Initiated Logout 1.0 §2: the End-User to log out is the one the hint names, whichever of
    // this browser's accounts (up to five) that is, current or not. Its sid names the session
    // (pairwise clients' hints included); a hint without sid (a refreshed ID Token) names the user by
    // a public sub. A hint's session this browser does not hold leaves the browser's accounts alone.
    const accounts = sessions.accounts(req);
    let named: Session[] = [];
    if (hint !== undefined) {
      const h = hint;
      named = accounts.filter((a) => (h.sid !== undefined ? hashToken(a.sessionId) === h.sid : a.userId === h.sub));
    }
    const proven = hint !== undefined && (named.length > 0 || hint.sid !== undefined || accounts.length === 0);
    try {
      if (proven) return await finish(req, reply, named, false, clientId, params.post_logout_redirect_uri, params.state, status);
      if (accounts.length === 0) return await finish(req, reply, [], false, clientId, params.post_logout_redirect_uri, params.state, status);
    } catch (err) {
      return fail(req, reply, err);
    }
    // RP-Initiated Logout 1.0 §2: "the OP SHOULD ask the End-User whether to log out" when unproven.
    const token = csrf.issue(req, reply);
    return sendPage(reply, 200, {
      title: 'Sign out?',
      body: html`<header class="brand"><p class="service">authmesh</p></header>
<h1 id="title">Sign out?</h1>
<p>An application asked to sign you out of authmesh${clientId !== '' ? html` (<span class="client">${clientId}</span>)` : undefined}. Signing out ends every account signed in on this browser.</p>
<form method="post" action="${END_SESSION_CONFIRM_PATH}" aria-labelledby="title">
<input type="hidden" name="${CSRF_FIELD}" value="${token}">
<input type="hidden" name="decision" value="logout">
<input type="hidden" name="client_id" value="${clientId}">
<input type="hidden" name="post_logout_redirect_uri" value="${params.post_logout_redirect_uri}">
<input type="hidden" name="state" value="${params.state}">
<button type="submit" class="primary">Sign out</button>
</form>
<form method="post" action="${END_SESSION_CONFIRM_PATH}">
<input type="hidden" name="${CSRF_FIELD}" value="${token}">
<input type="hidden" name="decision" value="stay">
<button type="submit" class="link">Stay signed in</button>
</form>`,
    });
  }

  async function confirm(req: FastifyRequest, reply: FastifyReply) {
    if (!isForm(req)) return badRequest(reply.code(415), `The form must be sent as ${FORM_TYPE}.`);
    let fields: Map<string, string>;
    try {
      const { values, repeated } = collectParameters(bodyPairs(req.body), CONFIRM_FIELDS, []);
      if (repeated.size > 0) return badRequest(reply, `The form field ${[...repeated][0]} was sent more than once.`);
      fields = new Map([...values].map(([n, v]) => [n, v[0]!]));
    } catch (err) {
      return badRequest(reply, toAuthmeshError(err).description);
    }
    if (!csrf.verify(req, fields.get(CSRF_FIELD))) {
      return sendErrorPage(reply, 403, {
        title: 'This form has expired',
        error: 'access_denied',
        description: 'The form could not be verified (it may be too old or come from another site). You are still signed in.',
      });
    }
    if (fields.get('decision') !== 'logout') {
      return sendPage(reply, 200, {
        title: 'Still signed in',
        body: html`<header class="brand"><p class="service">authmesh</p></header>
<h1>You are still signed in</h1>
<p>You can close this page.</p>`,
      });
    }
    try {
      // Unproven, the user confirmed: every account of this browser is signed out, so no one who
      // shares the device stays signed in behind the one they saw.
      return await finish(req, reply, sessions.accounts(req), true, fields.get('client_id') ?? '', fields.get('post_logout_redirect_uri') ?? '', fields.get('state') ?? '', 303);
    } catch (err) {
      return fail(req, reply, err);
    }
  }

  // No CORS here (as on the authorization endpoint): these are browser navigations only.
  const route = (method: RouteOptions['method'], url: string, handler: RouteOptions['handler']) => app.route({ method, url, handler });
  route(['GET', 'POST'], END_SESSION_PATH, endSession);
  route('POST', END_SESSION_CONFIRM_PATH, confirm);
};
