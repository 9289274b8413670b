// The Device Authorization Grant's HTTP side (RFC 8628): the device authorization endpoint
// (§3.1–3.2) and the verification URI the user visits on another device (§3.3). The token
// service holds the rules and the state (in the grid); this module parses, authenticates the
// browser (the login session and CSRF of the authorization endpoint's pages) and renders pages.
//
// Flow: GET /oauth2/device[?user_code=…] → code page → POST /oauth2/device → (no session) the
// login page posting to /oauth2/device/login → the approval page → POST /oauth2/device/decision.
// verification_uri_complete only prefills the code: nothing is approved without the user's click.
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { DeviceAuthorizationRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { toAuthmeshError } from '../../services/core/errors/index.js';
import { hashToken } from '../../services/core/oauth/index.js';
import { remoteAddress } from '../client-ip.js';
import { extractClientCredentials } from '../client-auth.js';
import { withClientCertificate } from '../forwarded-client-cert.js';
import { createCsrf, CSRF_FIELD } from '../csrf.js';
import { registerEndpoint } from '../endpoint.js';
import { bodyPairs, collectParameters, readForm as readOAuthForm, requireFormBody } from '../form-params.js';
import type { GatewayContext, RouteModule } from '../gateway.js';
import { sendOAuthError } from '../oauth-errors.js';
import { DEVICE_DECISION_PATH, DEVICE_LOGIN_PATH, DEVICE_PATH, sendDeviceCodePage, sendDeviceConsentPage, sendDeviceDonePage } from '../pages/device-page.js';
import { sendErrorPage } from '../pages/error-page.js';
import { sendLoginPage } from '../pages/login-page.js';
import { createSessions, type Session } from '../session.js';

export const DEVICE_AUTHORIZATION_PATH = '/oauth2/device_authorization';
/** RFC 8628 §3.1: client_id (and client authentication) and scope; RFC 8707 §2: resource. */
const DEVICE_AUTHORIZATION_PARAMETERS = ['client_id', 'client_secret', 'client_assertion_type', 'client_assertion', 'scope', 'resource'];
const FORM_TYPE = 'application/x-www-form-urlencoded';
// RFC 8176 §2: the login page's logins are password logins.
const PASSWORD_AMR = ['pwd'];
const LOGIN_FAILED = 'Invalid username or password.';
const WRONG_CODE = 'That code is not valid or has expired. Check the code on your device and try again.';
const TOO_MANY = 'Too many wrong codes were entered. Wait a few minutes and try again.';

type Fields = Map<string, string>;

export const deviceRoutes: RouteModule = (ctx: GatewayContext) => {
  const { app, config, peers, log } = ctx;
  const issuer = config.issuer;
  const sessions = createSessions(issuer);
  const csrf = createCsrf(issuer);

  // RFC 8628 §3.1–3.2: the device authorization endpoint, client authentication as at the token endpoint.
  registerEndpoint(app, {
    url: DEVICE_AUTHORIZATION_PATH,
    corsOrigins: config.corsOrigins,
    onRequest: [requireFormBody],
    handlers: {
      POST: async (req, reply) => {
        const authorization = req.headers.authorization;
        try {
          const form = readOAuthForm(req.body, DEVICE_AUTHORIZATION_PARAMETERS);
          // RFC 8705 §2: over mutual TLS, a client_id alone authenticates with the certificate.
          const client = withClientCertificate(extractClientCredentials(authorization, form, `${issuer}${DEVICE_AUTHORIZATION_PATH}`), req);
          const res = await peers.token.deviceAuthorization(
            DeviceAuthorizationRequest.fromPartial({ client: client.credentials, scope: form.one('scope') ?? '', resource: form.many('resource'), remoteIp: remoteAddress(req) }),
          );
          if (client.clientId !== undefined) (req as { clientId?: string }).clientId = client.clientId.replace(/[^\x21-\x7e]/g, '?').slice(0, 128);
          const verificationUri = `${issuer}${DEVICE_PATH}`;
          // RFC 8628 §3.2: the response; no-store, as token responses (it carries the device code).
          return reply
            .header('cache-control', 'no-store')
            .header('pragma', 'no-cache')
            .type('application/json')
            .send({
              device_code: res.deviceCode,
              user_code: res.userCode,
              verification_uri: verificationUri,
              // RFC 8628 §3.3.1: the code in the URI, for a QR code; the page still asks to confirm.
              verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(res.userCode)}`,
              expires_in: res.expiresIn,
              interval: res.interval,
            });
        } catch (err) {
          const domain = toAuthmeshError(err);
          if (domain.code === 'server_error') req.log.error({ err: domain.cause ?? err }, 'request failed');
          // RFC 8628 §3.2: errors as at the token endpoint (RFC 6749 §5.2).
          return sendOAuthError(reply, domain, { authorizationSent: authorization !== undefined, realm: issuer, authentication: 'client', endpoint: 'token' });
        }
      },
    },
  });

  function badForm(reply: FastifyReply, description: string): FastifyReply {
    return sendErrorPage(reply, 400, { title: 'This request cannot be completed', error: 'invalid_request', description });
  }

  function failed(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    const e = toAuthmeshError(err);
    if (e.code === 'temporarily_unavailable') {
      return sendErrorPage(reply.header('retry-after', '1'), 503, { title: 'Service unavailable', error: e.code, description: 'The service is temporarily unavailable. Please try again in a moment.' });
    }
    if (e.code === 'server_error') {
      req.log.error({ err: e.cause ?? err }, 'device verification failed');
      return sendErrorPage(reply, 500, { title: 'Something went wrong', error: e.code, description: 'The server could not complete the request. Please try again later.' });
    }
    return sendErrorPage(reply, 400, { title: 'This request cannot be completed', error: e.code, description: e.description });
  }

  /** A POSTed form of these pages: urlencoded, every field once, CSRF checked; undefined when refused (answered). */
  function readPageForm(req: FastifyRequest, reply: FastifyReply): Fields | undefined {
    const type = req.headers['content-type'];
    if (typeof type !== 'string' || type.split(';')[0]?.trim().toLowerCase() !== FORM_TYPE) {
      void sendErrorPage(reply, 415, { title: 'Unsupported form', error: 'invalid_request', description: `The form must be sent as ${FORM_TYPE}.` });
      return undefined;
    }
    let collected;
    try {
      collected = collectParameters(bodyPairs(req.body), 'all', []);
    } catch (err) {
      void badForm(reply, toAuthmeshError(err).description);
      return undefined;
    }
    if (collected.repeated.size > 0) {
      void badForm(reply, `The form field ${[...collected.repeated][0]} was sent more than once.`);
      return undefined;
    }
    const fields: Fields = new Map([...collected.values].map(([name, list]) => [name, list[0]!]));
    if (!csrf.verify(req, fields.get(CSRF_FIELD))) {
      void sendErrorPage(reply, 403, {
        title: 'This form has expired',
        error: 'access_denied',
        description: 'The form could not be verified (it may be too old or come from another site). Nothing was changed. Start again from the code page.',
      });
      return undefined;
    }
    return fields;
  }

  /** The login session when its cookie is valid and the user service says it is still active. */
  async function currentSession(req: FastifyRequest): Promise<Session | undefined> {
    const session = sessions.read(req);
    if (session === undefined) return undefined;
    const { active } = await peers.user.checkSession({ sessionId: session.sessionId, userId: session.userId });
    return active ? session : undefined;
  }

  /**
   * RFC 8628 §5.1: who is guessing, for the wrong-code limits: the login session when there is
   * one, else the browser's CSRF token (hashed: the token service never sees either secret).
   */
  function browserKey(req: FastifyRequest, fields: Fields): string {
    const session = sessions.read(req);
    return session !== undefined ? hashToken(`session:${session.sessionId}`) : hashToken(`csrf:${fields.get(CSRF_FIELD) ?? ''}`);
  }

  /**
   * Looks up the typed code (rate-limited in the token service) and renders the next page: the
   * login page without a session, the approval page with one; the code page again on a wrong code.
   */
  async function showCode(req: FastifyRequest, reply: FastifyReply, fields: Fields, typed: string): Promise<FastifyReply> {
    const token = csrf.issue(req, reply);
    let found;
    try {
      found = await peers.token.lookupDeviceAuthorization({ userCode: typed, remoteIp: remoteAddress(req), browserKey: browserKey(req, fields) });
    } catch (err) {
      const e = toAuthmeshError(err);
      if (e.code === 'not_found') return sendDeviceCodePage(reply, 200, { csrfToken: token, userCode: typed, error: WRONG_CODE });
      // RFC 6585 §4: too many wrong codes from this browser or network.
      if (e.code === 'slow_down') return sendDeviceCodePage(reply.header('retry-after', e.metadata.retry_after ?? '60'), 429, { csrfToken: token, error: TOO_MANY });
      return failed(req, reply, err);
    }
    const session = await currentSession(req);
    if (session === undefined) {
      return sendLoginPage(reply, 200, {
        client: { clientId: found.clientId, clientName: found.clientName, logoUri: found.logoUri },
        csrfToken: token,
        pending: '',
        form: { action: DEVICE_LOGIN_PATH, fields: [['user_code', found.userCode]] },
      });
    }
    sessions.touch(req, reply, session);
    const { user } = await peers.user.getUser({ userId: session.userId });
    return sendDeviceConsentPage(reply, {
      client: { clientId: found.clientId, clientName: found.clientName, logoUri: found.logoUri },
      userCode: found.userCode,
      scopes: found.scopes,
      // RFC 8707 §2.1: the APIs the device will reach.
      resources: found.resources,
      csrfToken: token,
      account: user ? user.displayName || user.username : session.userId,
    });
  }

  // RFC 8628 §3.3: the verification URI; with user_code (verification_uri_complete) the code is prefilled.
  async function codePage(req: FastifyRequest, reply: FastifyReply) {
    const query = req.query as Record<string, unknown>;
    const prefill = typeof query.user_code === 'string' ? query.user_code.slice(0, 64) : undefined;
    return sendDeviceCodePage(reply, 200, { csrfToken: csrf.issue(req, reply), userCode: prefill });
  }

  async function enterCode(req: FastifyRequest, reply: FastifyReply) {
    const fields = readPageForm(req, reply);
    if (fields === undefined) return reply;
    try {
      return await showCode(req, reply, fields, fields.get('user_code') ?? '');
    } catch (err) {
      return failed(req, reply, err);
    }
  }

  async function login(req: FastifyRequest, reply: FastifyReply) {
    const fields = readPageForm(req, reply);
    if (fields === undefined) return reply;
    const userCode = fields.get('user_code') ?? '';
    const username = fields.get('username') ?? '';
    const password = fields.get('password') ?? '';
    try {
      // The code first: a wrong or expired one goes back to the code page before any password is checked.
      const found = await peers.token.lookupDeviceAuthorization({ userCode, remoteIp: remoteAddress(req), browserKey: browserKey(req, fields) });
      const client = { clientId: found.clientId, clientName: found.clientName, logoUri: found.logoUri };
      const again = (status: number, error: string) =>
        sendLoginPage(reply, status, { client, csrfToken: csrf.issue(req, reply), pending: '', username, error, form: { action: DEVICE_LOGIN_PATH, fields: [['user_code', found.userCode]] } });
      if (username === '' || password === '') return again(200, 'Enter your username and password.');
      let res;
      try {
        res = await peers.user.authenticateUser({ username, password, clientId: found.clientId, remoteIp: remoteAddress(req), startSession: true });
        if (res.user === undefined || res.sessionId === '') throw new Error('authenticateUser returned no user or session');
      } catch (err) {
        const e = toAuthmeshError(err);
        // One message for unknown user, wrong password and locked account: no account enumeration.
        if (e.code === 'access_denied' || e.code === 'invalid_request' || e.code === 'invalid_grant') return again(200, LOGIN_FAILED);
        // Too many sign-ins at once from this address (services/user/login-guard.ts): RFC 6585 §4.
        if (e.code === 'slow_down') {
          reply.header('retry-after', e.metadata.retry_after ?? '1');
          return again(429, 'Too many sign-in attempts from your network at once. Wait a moment and try again.');
        }
        throw err;
      }
      // A fresh session value on every login; sessions the cookie no longer names end server-side.
      const forgotten = sessions.start(req, reply, res.user.userId, res.authTime ?? new Date(), res.sessionId);
      for (const old of forgotten) {
        try {
          await peers.user.endSession({ sessionId: old.sessionId });
        } catch (err) {
          log.warn({ err }, 'ending a session the browser no longer holds failed');
        }
      }
      log.info({ client_id: found.clientId, user_id: res.user.userId }, 'user logged in');
      // The approval page for the session just started (its cookie is set on this answer).
      return sendDeviceConsentPage(reply, {
        client,
        userCode: found.userCode,
        scopes: found.scopes,
        resources: found.resources,
        csrfToken: csrf.issue(req, reply),
        account: res.user.displayName || res.user.username,
      });
    } catch (err) {
      const e = toAuthmeshError(err);
      if (e.code === 'not_found') return sendDeviceCodePage(reply, 200, { csrfToken: csrf.issue(req, reply), userCode, error: WRONG_CODE });
      if (e.code === 'slow_down') return sendDeviceCodePage(reply.header('retry-after', e.metadata.retry_after ?? '60'), 429, { csrfToken: csrf.issue(req, reply), error: TOO_MANY });
      return failed(req, reply, err);
    }
  }

  async function decision(req: FastifyRequest, reply: FastifyReply) {
    const fields = readPageForm(req, reply);
    if (fields === undefined) return reply;
    const userCode = fields.get('user_code') ?? '';
    const choice = fields.get('decision');
    if (choice !== 'allow' && choice !== 'deny') return badForm(reply, 'Choose Allow or Deny.');
    try {
      const session = await currentSession(req);
      // Signed out (or the session ended) since the page was shown: start again from the code page.
      if (session === undefined) return sendDeviceCodePage(reply, 200, { csrfToken: csrf.issue(req, reply), userCode, error: 'Your sign-in has ended. Enter the code again.' });
      await peers.token.decideDeviceAuthorization({
        userCode,
        approve: choice === 'allow',
        userId: session.userId,
        authTime: session.authTime,
        sessionId: session.sessionId,
        amr: PASSWORD_AMR,
        // Exactly the scopes the page showed, so nothing the user did not see is granted.
        scopes: (fields.get('scope') ?? '').split(' ').filter((s) => s !== ''),
      });
      log.info({ user_id: session.userId, approved: choice === 'allow' }, 'device authorization decided');
      return sendDeviceDonePage(reply, choice === 'allow');
    } catch (err) {
      const e = toAuthmeshError(err);
      if (e.code === 'not_found') return sendDeviceCodePage(reply, 200, { csrfToken: csrf.issue(req, reply), error: WRONG_CODE });
      return failed(req, reply, err);
    }
  }

  // Parse failures of these pages (malformed or oversized bodies) are shown as pages, not JSON.
  function pageErrorHandler(err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) {
    const status = err.statusCode;
    if (status === 413) return sendErrorPage(reply, 413, { title: 'Request too large', error: 'invalid_request', description: 'The request is too large.' });
    if (status === 415) return sendErrorPage(reply, 415, { title: 'Unsupported request', error: 'invalid_request', description: `The request must be sent as ${FORM_TYPE}.` });
    if (status !== undefined && status >= 400 && status < 500 && !('description' in err)) return badForm(reply, 'The request is malformed.');
    return failed(req, reply, err);
  }

  const route = (method: RouteOptions['method'], url: string, handler: RouteOptions['handler']) => app.route({ method, url, handler, errorHandler: pageErrorHandler });
  const methodNotAllowed = (allow: string) => async (_req: FastifyRequest, reply: FastifyReply) =>
    // RFC 9110 §15.5.6: 405 names the allowed methods.
    sendErrorPage(reply.header('allow', allow), 405, { title: 'Method not allowed', error: 'invalid_request', description: `This address accepts ${allow} only.` });

  route('GET', DEVICE_PATH, codePage);
  route('POST', DEVICE_PATH, enterCode);
  route(['PUT', 'DELETE', 'PATCH', 'OPTIONS'], DEVICE_PATH, methodNotAllowed('GET, HEAD, POST'));
  for (const [path, handler] of [
    [DEVICE_LOGIN_PATH, login],
    [DEVICE_DECISION_PATH, decision],
  ] as const) {
    route('POST', path, handler);
    route(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], path, methodNotAllowed('POST'));
  }
};
