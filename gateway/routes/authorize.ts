// The authorization endpoint (RFC 6749 §3.1, §4.1) and its pages: login, consent, logout. The
// code service holds every rule (client, redirect URI, scope, PKCE); this module parses the
// browser's requests, keeps the login session and CSRF tokens, renders pages and sends the user
// agent back to the client exactly as the code service says.
//
// Flow: GET|POST /oauth2/authorize → (no session) login page → POST /oauth2/login → 303 back to
// /oauth2/authorize → (consent needed) consent page → POST /oauth2/consent → 303 to the client.
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AuthorizationRequest, type ValidateAuthorizationRequestResponse } from '../../gen/ts/authmesh/code/v1/code.js';
import { toAuthmeshError } from '../../services/core/errors/index.js';
import { afterAccountChoice, afterFreshLogin, buildAuthorizationErrorRedirect, hashToken, parseDpopJkt } from '../../services/core/oauth/index.js';
import { remoteAddress } from '../client-ip.js';
import { createCsrf, CSRF_FIELD } from '../csrf.js';
import { bodyPairs, collectParameters, queryPairs } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import type { ClientDisplay } from '../pages/client-brand.js';
import { sendConsentPage } from '../pages/consent-page.js';
import { sendErrorPage } from '../pages/error-page.js';
import { html, sendPage } from '../pages/html.js';
import { sendLoginPage, type ChooserAccount } from '../pages/login-page.js';
import { AUTHORIZATION_PARAM_NAMES, type AuthorizationParams, RESOURCE_PARAM, createPendingAuthorizations, type PendingAuthorization, RESUME_PARAM } from '../pending-authorization.js';
import { createSessions, type Session } from '../session.js';

export const AUTHORIZE_PATH = '/oauth2/authorize';
export const LOGIN_PATH = '/oauth2/login';
export const CONSENT_PATH = '/oauth2/consent';
export const LOGOUT_PATH = '/oauth2/logout';
export const SELECT_ACCOUNT_PATH = '/oauth2/select_account';

const PENDING_FIELD = 'authorization_request';
const LOGIN_FAILED = 'Invalid username or password.';
const FORM_TYPE = 'application/x-www-form-urlencoded';
// Methods fastify routes that the endpoints do not allow; they get 405 with Allow.
const OTHER_METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

type Fields = Map<string, string>;

interface ParsedInput {
  /** Each recognized parameter's first value. */
  fields: Fields;
  /** Names that appeared more than once (RFC 6749 §3.1: "MUST NOT be included more than once"). */
  repeated: Set<string>;
  /** RFC 8707 §2.1: every resource value, in arrival order (the code service bounds and checks them). */
  resources: string[];
}

const AUTHORIZATION_PARAMETERS: ReadonlySet<string> = new Set([...AUTHORIZATION_PARAM_NAMES, RESOURCE_PARAM, RESUME_PARAM]);

/**
 * The parameters of a request by the one rule of form-params.ts (empty = omitted, unrecognized
 * ignored, recognized ones counted), from the raw query string and, for a POST, the body.
 * @throws InvalidRequest for too many parameters
 */
function parseInput(req: FastifyRequest, recognized: ReadonlySet<string> | 'all', withQuery: boolean): ParsedInput {
  const pairs = function* () {
    if (withQuery) yield* queryPairs(req.raw.url ?? '');
    if (req.method === 'POST') yield* bodyPairs(req.body);
  };
  // RFC 8707 §2.1: resource may be sent more than once; every other parameter at most once.
  const { values, repeated } = collectParameters(pairs(), recognized, [RESOURCE_PARAM]);
  return { fields: new Map([...values].map(([name, list]) => [name, list[0]!])), repeated, resources: values.get(RESOURCE_PARAM) ?? [] };
}

function isForm(req: FastifyRequest): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.split(';')[0]?.trim().toLowerCase() === FORM_TYPE;
}

function toRequest(params: AuthorizationParams): AuthorizationRequest {
  return AuthorizationRequest.fromPartial({
    responseType: params.response_type,
    clientId: params.client_id,
    redirectUri: params.redirect_uri,
    scope: params.scope,
    state: params.state,
    codeChallenge: params.code_challenge,
    codeChallengeMethod: params.code_challenge_method,
    nonce: params.nonce,
    prompt: params.prompt,
    maxAge: params.max_age,
    loginHint: params.login_hint,
    idTokenHint: params.id_token_hint,
    uiLocales: params.ui_locales,
    claimsLocales: params.claims_locales,
    claims: params.claims,
    dpopJkt: params.dpop_jkt,
    request: params.request,
    requestUri: params.request_uri,
    resource: params.resource,
  });
}

/** The parameters of a resolved request (the code service's AuthorizationRequest) in the gateway's shape. */
function fromRequest(r: AuthorizationRequest): AuthorizationParams {
  return {
    response_type: r.responseType,
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: r.scope,
    state: r.state,
    code_challenge: r.codeChallenge,
    code_challenge_method: r.codeChallengeMethod,
    nonce: r.nonce,
    prompt: r.prompt,
    max_age: r.maxAge,
    login_hint: r.loginHint,
    id_token_hint: r.idTokenHint,
    ui_locales: r.uiLocales,
    claims_locales: r.claimsLocales,
    claims: r.claims,
    dpop_jkt: r.dpopJkt,
    resource: [...r.resource],
    // Resolved: a request object or request_uri never survives resolution.
    request: '',
    request_uri: '',
  };
}

// RFC 8176 §2: every login of the login page is a password login.
const PASSWORD_AMR = ['pwd'];

/** The authorization parameters; unknown parameters are ignored (RFC 6749 §3.1). */
function toParams(fields: Fields, resources: readonly string[], leaveOut: ReadonlySet<string> = new Set()): AuthorizationParams {
  const params = { resource: [...resources] } as unknown as AuthorizationParams;
  for (const name of AUTHORIZATION_PARAM_NAMES) params[name] = leaveOut.has(name) ? '' : (fields.get(name) ?? '');
  return params;
}

/** Where the login and logout forms continue: the authorization endpoint with the same request. */
function authorizeUrl(params: AuthorizationParams): string {
  const query = new URLSearchParams();
  for (const name of AUTHORIZATION_PARAM_NAMES) if (params[name] !== '') query.append(name, params[name]);
  for (const r of params.resource) query.append(RESOURCE_PARAM, r);
  return `${AUTHORIZE_PATH}?${query.toString()}`;
}

/** Redirect to a client or back to the endpoint; nothing of the response may be cached or leak a Referer. */
function redirect(reply: FastifyReply, location: string, status: 302 | 303): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').header('referrer-policy', 'no-referrer').redirect(location, status);
}

function display(v: ValidateAuthorizationRequestResponse): ClientDisplay {
  return { clientId: v.clientId, clientName: v.clientName, logoUri: v.logoUri };
}

function methodNotAllowed(allow: string) {
  return async (_req: FastifyRequest, reply: FastifyReply) => {
    // RFC 9110 §15.5.6: 405 names the allowed methods.
    return sendErrorPage(reply.header('allow', allow), 405, {
      title: 'Method not allowed',
      error: 'invalid_request',
      description: `This address accepts ${allow.replace(/, /g, ' and ')} only.`,
    });
  };
}

export const authorizeRoutes: RouteModule = (ctx: GatewayContext) => {
  const { app, config, peers, log, cookieSecret } = ctx;
  const issuer = config.issuer;
  const sessions = createSessions(issuer);
  const csrf = createCsrf(issuer);
  const pendings = createPendingAuthorizations(cookieSecret);

  /**
   * Where the login, consent, logout and account-chooser forms continue: the authorization endpoint
   * with the same request. A resolved request (pushed, RFC 9126, or signed, RFC 9101) continues as
   * a sealed continuation: its request_uri is spent, and its client may not send plain parameters.
   */
  function continueUrl(params: AuthorizationParams, resolved: boolean | undefined): string {
    if (resolved !== true) return authorizeUrl(params);
    return `${AUTHORIZE_PATH}?${new URLSearchParams({ client_id: params.client_id, [RESUME_PARAM]: pendings.sealResume(params) }).toString()}`;
  }

  /**
   * Answers an error of the code service: redirected to the client when the code service says
   * the redirect URI is trusted (RFC 6749 §4.1.2.1, with iss per RFC 9207 §2), shown on a page
   * otherwise — never redirected to an unverified URI (RFC 9700 §4.11 open redirector).
   */
  function sendFlowError(req: FastifyRequest, reply: FastifyReply, err: unknown, redirectStatus: 302 | 303): FastifyReply {
    const e = toAuthmeshError(err);
    const redirectUri = e.metadata.redirect_uri;
    if (redirectUri !== undefined && redirectUri !== '') {
      const location = buildAuthorizationErrorRedirect({ redirectUri, error: e.code, errorDescription: e.description, state: e.metadata.state, issuer });
      return redirect(reply, location, redirectStatus);
    }
    if (e.code === 'server_error') {
      req.log.error({ err: e.cause ?? err }, 'authorization failed');
      return sendErrorPage(reply, 500, { title: 'Something went wrong', error: e.code, description: 'The server could not complete the request. Please try again later.' });
    }
    if (e.code === 'temporarily_unavailable') {
      return sendErrorPage(reply.header('retry-after', '1'), 503, { title: 'Service unavailable', error: e.code, description: 'The service is temporarily unavailable. Please try again in a moment.' });
    }
    return sendErrorPage(reply, 400, { title: 'This request cannot be completed', error: e.code, description: e.description });
  }

  function badForm(reply: FastifyReply, description: string): FastifyReply {
    return sendErrorPage(reply, 400, { title: 'This request cannot be completed', error: 'invalid_request', description });
  }

  function csrfRefused(reply: FastifyReply): FastifyReply {
    return sendErrorPage(reply, 403, {
      title: 'This form has expired',
      error: 'access_denied',
      description: 'The form could not be verified (it may be too old or come from another site). Nothing was changed. Go back to the application and start again.',
    });
  }

  /** Reads a form POST: urlencoded only, every field once; answers the refusal itself otherwise. */
  function readForm(req: FastifyRequest, reply: FastifyReply): Fields | undefined {
    if (!isForm(req)) {
      void sendErrorPage(reply, 415, { title: 'Unsupported form', error: 'invalid_request', description: `The form must be sent as ${FORM_TYPE}.` });
      return undefined;
    }
    let input: ParsedInput;
    try {
      // The login, consent and logout forms are this module's own: every field counts.
      input = parseInput(req, 'all', false);
    } catch (err) {
      void badForm(reply, toAuthmeshError(err).description);
      return undefined;
    }
    if (input.repeated.size > 0) {
      void badForm(reply, `The form field ${[...input.repeated][0]} was sent more than once.`);
      return undefined;
    }
    return input.fields;
  }

  /** Checks the CSRF token and opens the pending request; answers the refusal itself otherwise. */
  function openPending(req: FastifyRequest, reply: FastifyReply, fields: Fields): PendingAuthorization | undefined {
    const token = fields.get(CSRF_FIELD);
    if (!csrf.verify(req, token)) {
      void csrfRefused(reply);
      return undefined;
    }
    const pending = pendings.open(fields.get(PENDING_FIELD) ?? '', token ?? '');
    if (pending === undefined) {
      void badForm(reply, 'The authorization request is missing or has expired. Go back to the application and start again.');
      return undefined;
    }
    return pending;
  }

  /**
   * The request's login session when its cookie is valid and the user service says the
   * server-side session is still active (not logged out, no password change since the login,
   * account not disabled or deleted); undefined otherwise. Rejects when the check cannot be made.
   */
  async function currentSession(req: FastifyRequest): Promise<Session | undefined> {
    const session = sessions.read(req);
    if (session === undefined) return undefined;
    const { active } = await peers.user.checkSession({ sessionId: session.sessionId, userId: session.userId });
    return active ? session : undefined;
  }

  /**
   * Back-Channel Logout 1.0 §2.3 hook: records that the client receives an ID Token (openid scope)
   * in this login session, so the session's end sends it a logout token. Called once a code is
   * issued; a failure is logged and never fails the authorization.
   */
  async function recordIdTokenClient(session: Session, params: AuthorizationParams): Promise<void> {
    if (!params.scope.split(' ').includes('openid')) return;
    try {
      await peers.user.recordSessionClient({ sessionId: session.sessionId, clientId: params.client_id });
    } catch (err) {
      log.warn({ err, client_id: params.client_id }, 'recording the session client for back-channel logout failed');
    }
  }

  /**
   * The browser's other signed-in accounts whose server-side sessions are still active, for the
   * account chooser (OpenID Connect Core §3.1.2.1 prompt=select_account). A failed check leaves
   * the account out: the chooser is a convenience, the login form is always there.
   */
  async function chooserAccounts(req: FastifyRequest): Promise<ChooserAccount[]> {
    const found = await Promise.all(
      sessions.accounts(req).map(async (s) => {
        try {
          if (!(await peers.user.checkSession({ sessionId: s.sessionId, userId: s.userId })).active) return undefined;
          const user = (await peers.user.getUser({ userId: s.userId })).user;
          if (user === undefined) return undefined;
          return { sid: hashToken(s.sessionId), label: user.displayName || user.username, username: user.username };
        } catch {
          return undefined;
        }
      }),
    );
    return found.filter((a): a is ChooserAccount => a !== undefined);
  }

  async function renderLogin(
    req: FastifyRequest,
    reply: FastifyReply,
    v: ValidateAuthorizationRequestResponse,
    params: AuthorizationParams,
    resolved: boolean | undefined,
    status: number,
    extra: { username?: string; error?: string } = {},
  ) {
    const token = csrf.issue(req, reply);
    const accounts = await chooserAccounts(req);
    return sendLoginPage(reply, status, { client: display(v), csrfToken: token, pending: pendings.seal({ params, resolved }, token), accounts, ...extra });
  }

  /** With a session: issue the code at once when consent is not needed, else ask for it. */
  async function continueAsUser(
    req: FastifyRequest,
    reply: FastifyReply,
    session: Session,
    v: ValidateAuthorizationRequestResponse,
    params: AuthorizationParams,
    resolved: boolean | undefined,
    status: 302 | 303,
  ) {
    sessions.touch(req, reply, session);
    if (v.consentNotRequired) {
      // The client skips consent or the user already gave it for these scopes.
      const issued = await peers.code.issueCode({
        request: toRequest(params),
        userId: session.userId,
        authTime: session.authTime,
        consentedScopes: [],
        rememberConsent: false,
        sessionId: session.sessionId,
        amr: PASSWORD_AMR,
        dpopJkt: params.dpop_jkt,
      });
      await recordIdTokenClient(session, params);
      // RFC 6749 §4.1.2: the code goes to the client's redirect URI (with state and iss, RFC 9207).
      return redirect(reply, issued.redirectTo, status);
    }
    const token = csrf.issue(req, reply);
    return sendConsentPage(reply, {
      client: display(v),
      scopes: v.scopes,
      csrfToken: token,
      rememberable: v.consentRememberable,
      // RFC 8707 §2.1: the user sees which APIs the tokens will be good for.
      resources: v.resources,
      pending: pendings.seal({ params, userId: session.userId, scopes: [...v.scopes], resolved }, token),
    });
  }

  // GET and POST (RFC 6749 §3.1: the endpoint MUST support GET and MAY support POST).
  async function authorize(req: FastifyRequest, reply: FastifyReply) {
    // RFC 9700 §4.10 / RFC 6749 §4.1.2: answers to GET are 302, answers to a POST 303 so the body is not re-sent.
    const status = req.method === 'POST' ? 303 : 302;
    if (req.method === 'POST' && !isForm(req)) {
      return sendErrorPage(reply, 415, { title: 'Unsupported request', error: 'invalid_request', description: `The request must be sent as ${FORM_TYPE}.` });
    }
    let input: ParsedInput;
    try {
      input = parseInput(req, AUTHORIZATION_PARAMETERS, true);
    } catch (err) {
      // Too many parameters: nothing is known about the client yet, so the error is shown, never redirected.
      return badForm(reply, toAuthmeshError(err).description);
    }

    const resume = input.fields.get(RESUME_PARAM);
    if (resume !== undefined) {
      // A continuation this gateway sealed for a resolved request (after login, consent, logout).
      const resumed = pendings.openResume(resume);
      if (resumed === undefined) return badForm(reply, 'The authorization request is missing or has expired. Go back to the application and start again.');
      return serve(req, reply, resumed, true, status);
    }

    // RFC 6749 §3.1 / §4.1.2.1: with client_id or redirect_uri ambiguous the redirect target is not known: show, never redirect.
    const ambiguous = ['client_id', 'redirect_uri'].find((n) => input.repeated.has(n));
    if (ambiguous !== undefined) return badForm(reply, `The parameter ${ambiguous} was sent more than once.`);

    const repeated = AUTHORIZATION_PARAM_NAMES.find((n) => input.repeated.has(n));
    if (repeated !== undefined) {
      // RFC 6749 §3.1: repeated parameters are refused (invalid_request). The code service decides
      // whether the client and redirect URI are trusted enough to receive that error: asked with no
      // response_type, it fails with a redirectable error once they are, carrying the target and
      // the state it is safe to echo.
      try {
        const v = await peers.code.validateAuthorizationRequest({ request: toRequest({ ...toParams(input.fields, [], input.repeated), response_type: '' }), userId: '', authTime: undefined });
        return redirect(reply, buildAuthorizationErrorRedirect({ redirectUri: v.redirectUri, error: 'invalid_request', errorDescription: `${repeated} must not be repeated`, issuer }), status);
      } catch (err) {
        const e = toAuthmeshError(err);
        if (e.metadata.redirect_uri === undefined) return sendFlowError(req, reply, err, status);
        const location = buildAuthorizationErrorRedirect({
          redirectUri: e.metadata.redirect_uri,
          error: 'invalid_request',
          errorDescription: `${repeated} must not be repeated`,
          state: input.repeated.has('state') ? undefined : e.metadata.state,
          issuer,
        });
        return redirect(reply, location, status);
      }
    }

    let params: AuthorizationParams;
    let resolved: boolean;
    try {
      // RFC 9126 §4 / RFC 9101 §6.3: a request_uri or request object stands for the parameters; a
      // client required to push or sign may send nothing else (RFC 9126 §6, RFC 9101 §10.5). Its
      // errors are shown: the client and redirect URI are not verified yet.
      const r = await peers.code.resolveAuthorizationRequest({ request: toRequest(toParams(input.fields, input.resources)) });
      if (r.request === undefined) throw new Error('the code service resolved no request');
      params = r.resolved ? fromRequest(r.request) : toParams(input.fields, input.resources);
      resolved = r.resolved;
    } catch (err) {
      return sendFlowError(req, reply, err, status);
    }
    return serve(req, reply, params, resolved, status);
  }

  /** Serves an authorization request whose parameters are final: login page, consent page or code. */
  async function serve(req: FastifyRequest, reply: FastifyReply, params: AuthorizationParams, resolved: boolean, status: 302 | 303) {
    let session: Session | undefined;
    let v: ValidateAuthorizationRequestResponse;
    try {
      session = await currentSession(req);
      v = await peers.code.validateAuthorizationRequest({ request: toRequest(params), userId: session?.userId ?? '', authTime: session?.authTime });
    } catch (err) {
      // prompt=none needing a login or consent arrives here as LOGIN_REQUIRED / CONSENT_REQUIRED,
      // redirected to the client (OpenID Connect Core §3.1.2.6).
      return sendFlowError(req, reply, err, status);
    }
    (req as { clientId?: string }).clientId = v.clientId;
    try {
      // RFC 9449 §10: a malformed dpop_jkt is refused before the login page, back to the client.
      parseDpopJkt(params.dpop_jkt);
    } catch (err) {
      const location = buildAuthorizationErrorRedirect({ redirectUri: v.redirectUri, error: 'invalid_request', errorDescription: toAuthmeshError(err).description, state: params.state || undefined, issuer });
      return redirect(reply, location, status);
    }
    // OIDC Core §3.1.2.1: no session, prompt=login/select_account, max_age exceeded or an
    // id_token_hint of another user: the login page, prefilled with login_hint.
    if (session === undefined || v.loginRequired) return renderLogin(req, reply, v, params, resolved, 200, v.loginHint === '' ? {} : { username: v.loginHint });
    try {
      return await continueAsUser(req, reply, session, v, params, resolved, status);
    } catch (err) {
      return sendFlowError(req, reply, err, status);
    }
  }

  async function login(req: FastifyRequest, reply: FastifyReply) {
    const fields = readForm(req, reply);
    if (fields === undefined) return reply;
    const pending = openPending(req, reply, fields);
    if (pending === undefined) return reply;
    const { params, resolved } = pending;
    let v: ValidateAuthorizationRequestResponse;
    try {
      // The request may have become invalid since the page was shown (client changed or removed).
      v = await peers.code.validateAuthorizationRequest({ request: toRequest(params), userId: '', authTime: undefined });
    } catch (err) {
      return sendFlowError(req, reply, err, 303);
    }
    (req as { clientId?: string }).clientId = v.clientId;
    const username = fields.get('username') ?? '';
    const password = fields.get('password') ?? '';
    if (username === '' || password === '') {
      return renderLogin(req, reply, v, params, resolved, 200, { username, error: 'Enter your username and password.' });
    }
    let userId: string;
    let authTime: Date;
    let sessionId: string;
    try {
      const res = await peers.user.authenticateUser({ username, password, clientId: v.clientId, remoteIp: remoteAddress(req), startSession: true });
      if (res.user === undefined || res.sessionId === '') throw new Error('authenticateUser returned no user or session');
      userId = res.user.userId;
      authTime = res.authTime ?? new Date();
      sessionId = res.sessionId;
    } catch (err) {
      const e = toAuthmeshError(err);
      // One message for unknown user, wrong password and locked account: no account enumeration.
      // 200, not 401: a form login has no WWW-Authenticate challenge to offer (RFC 9110 §15.5.2).
      if (e.code === 'access_denied' || e.code === 'invalid_request' || e.code === 'invalid_grant') {
        return renderLogin(req, reply, v, params, resolved, 200, { username, error: LOGIN_FAILED });
      }
      // Too many sign-ins at once from this address (services/user/login-guard.ts): RFC 6585 §4.
      if (e.code === 'slow_down') {
        return renderLogin(req, reply.header('retry-after', e.metadata.retry_after ?? '1'), v, params, resolved, 429, { username, error: 'Too many sign-in attempts from your network at once. Wait a moment and try again.' });
      }
      return sendFlowError(req, reply, err, 303);
    }
    // A fresh session value on every login: nothing an attacker planted before survives it.
    const forgotten = sessions.start(req, reply, userId, authTime, sessionId);
    // Sessions the cookie no longer names (the same user's earlier one, or beyond the account cap) end server-side.
    for (const old of forgotten) {
      try {
        await peers.user.endSession({ sessionId: old.sessionId });
      } catch (err) {
        log.warn({ err }, 'ending a session the browser no longer holds failed');
      }
    }
    log.info({ client_id: v.clientId, user_id: userId }, 'user logged in');
    // RFC 9700 §4.10: after a POST, 303 so the credentials are not re-posted. The login just made
    // satisfies prompt=login/select_account, max_age and the account choice (OIDC Core §3.1.2.1).
    return redirect(reply, continueUrl(afterFreshLogin(params), resolved), 303);
  }

  async function consent(req: FastifyRequest, reply: FastifyReply) {
    const fields = readForm(req, reply);
    if (fields === undefined) return reply;
    const pending = openPending(req, reply, fields);
    if (pending === undefined) return reply;
    let session: Session | undefined;
    try {
      session = await currentSession(req);
    } catch (err) {
      return sendFlowError(req, reply, err, 303);
    }
    // The session ended or another user logged in since the page was shown: start over, which asks
    // the current user (or the login page) again instead of acting on a decision they did not see.
    if (session === undefined || pending.userId === undefined || session.userId !== pending.userId) {
      return redirect(reply, continueUrl(pending.params, pending.resolved), 303);
    }
    const decision = fields.get('decision');
    const request = toRequest(pending.params);
    (req as { clientId?: string }).clientId = request.clientId;
    try {
      if (decision === 'allow') {
        const issued = await peers.code.issueCode({
          request,
          userId: session.userId,
          authTime: session.authTime,
          // Exactly the scopes the page showed, so nothing the user did not see is granted.
          consentedScopes: pending.scopes ?? [],
          rememberConsent: fields.get('remember') === 'on',
          sessionId: session.sessionId,
          amr: PASSWORD_AMR,
          dpopJkt: pending.params.dpop_jkt,
        });
        await recordIdTokenClient(session, pending.params);
        // RFC 9700 §4.10: 303 after the POST.
        return redirect(reply, issued.redirectTo, 303);
      }
      if (decision === 'deny') {
        // RFC 6749 §4.1.2.1: access_denied goes back to the client.
        const denied = await peers.code.denyAuthorization({ request });
        return redirect(reply, denied.redirectTo, 303);
      }
    } catch (err) {
      return sendFlowError(req, reply, err, 303);
    }
    return badForm(reply, 'Choose Allow or Deny.');
  }

  async function logout(req: FastifyRequest, reply: FastifyReply) {
    const fields = readForm(req, reply);
    if (fields === undefined) return reply;
    const token = fields.get(CSRF_FIELD);
    if (!csrf.verify(req, token)) return csrfRefused(reply);
    const session = sessions.read(req);
    if (session !== undefined) {
      try {
        // Server-side first: a copy of the cookie saved before logout must get nothing afterwards.
        await peers.user.endSession({ sessionId: session.sessionId });
      } catch (err) {
        // Not signed out: say so rather than clear the cookie and pretend.
        return sendFlowError(req, reply, err, 303);
      }
    }
    // Only this account is signed out; the browser's other accounts are offered by the chooser.
    if (session !== undefined) sessions.remove(req, reply, session.sessionId);
    else sessions.clear(reply);
    // From the consent page ("use another account"): back to the same request, which now shows the login page.
    const pending = fields.has(PENDING_FIELD) ? pendings.open(fields.get(PENDING_FIELD) ?? '', token ?? '') : undefined;
    if (pending !== undefined) return redirect(reply, continueUrl(pending.params, pending.resolved), 303);
    return sendPage(reply, 200, {
      title: 'Signed out',
      body: html`<header class="brand"><p class="service">authmesh</p></header>
<h1>You are signed out</h1>
<p>You can close this page.</p>`,
    });
  }

  /** The account chooser's choice: the chosen signed-in account becomes current, then back to the request. */
  async function selectAccount(req: FastifyRequest, reply: FastifyReply) {
    const fields = readForm(req, reply);
    if (fields === undefined) return reply;
    const pending = openPending(req, reply, fields);
    if (pending === undefined) return reply;
    const sid = fields.get('account') ?? '';
    const chosen = sessions.accounts(req).find((s) => hashToken(s.sessionId) === sid);
    try {
      // A session that ended since the page was shown is not chosen: the request starts over.
      if (chosen !== undefined && (await peers.user.checkSession({ sessionId: chosen.sessionId, userId: chosen.userId })).active) {
        sessions.touch(req, reply, chosen);
      }
    } catch (err) {
      return sendFlowError(req, reply, err, 303);
    }
    // OIDC Core §3.1.2.1: the choice answers select_account; max_age still applies to the chosen session.
    return redirect(reply, continueUrl(afterAccountChoice(pending.params), pending.resolved), 303);
  }

  // Parse failures of these routes (malformed or oversized bodies) are shown as pages, not JSON.
  function pageErrorHandler(err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) {
    const status = err.statusCode;
    if (status === 413) return sendErrorPage(reply, 413, { title: 'Request too large', error: 'invalid_request', description: 'The request is too large.' });
    if (status === 415) return sendErrorPage(reply, 415, { title: 'Unsupported request', error: 'invalid_request', description: `The request must be sent as ${FORM_TYPE}.` });
    if (status !== undefined && status >= 400 && status < 500 && !('description' in err)) return badForm(reply, 'The request is malformed.');
    return sendFlowError(req, reply, err, req.method === 'POST' ? 303 : 302);
  }

  // No CORS here (RFC 9700 §2.6 / DESIGN §6): should a CORS plugin be registered globally, its
  // headers are removed from every answer of these routes.
  async function stripCors(_req: FastifyRequest, reply: FastifyReply, payload: unknown) {
    for (const name of Object.keys(reply.getHeaders())) if (name.toLowerCase().startsWith('access-control-')) reply.removeHeader(name);
    return payload;
  }

  const route = (method: RouteOptions['method'], url: string, handler: RouteOptions['handler']) =>
    app.route({ method, url, handler, errorHandler: pageErrorHandler, onSend: stripCors });

  route(['GET', 'POST'], AUTHORIZE_PATH, authorize);
  route([...OTHER_METHODS], AUTHORIZE_PATH, methodNotAllowed('GET, HEAD, POST'));
  for (const [path, handler] of [
    [LOGIN_PATH, login],
    [CONSENT_PATH, consent],
    [LOGOUT_PATH, logout],
    [SELECT_ACCOUNT_PATH, selectAccount],
  ] as const) {
    route('POST', path, handler);
    route(['GET', ...OTHER_METHODS], path, methodNotAllowed('POST'));
  }
};
