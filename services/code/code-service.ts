// gRPC adapter of the code service: the authorization endpoint's logic (RFC 6749 §4.1) between
// the gateway's pages and the token endpoint.
import {
  CodeGrant,
  CodeServiceService,
  DenyAuthorizationResponse,
  IssueCodeResponse,
  RedeemCodeResponse,
  ResolveAuthorizationRequestResponse,
  ValidateAuthorizationRequestResponse,
} from '../../gen/ts/authmesh/code/v1/code.js';
import { AccessDenied, AuthmeshError, InvalidGrant, InvalidRequest, InvalidScope, LoginRequired, NotFound } from '../core/errors/index.js';
import {
  assertCodeRedirectUri,
  authenticationAge,
  authorizedTargets,
  buildAuthorizationErrorRedirect,
  buildAuthorizationSuccessRedirect,
  consentCovers,
  decideInteraction,
  essentialAcrUnmet,
  generateId,
  hashToken,
  type Interaction,
  isSubset,
  mergeConsent,
  parseDpopJkt,
  type RememberedConsent,
  pkceDowngradeCheck,
  requestedConsentPairs,
  requestedIdTokenClaims,
  scopesForUser,
  subjectIdentifier,
  subjectRequestMatches,
  validateCodeVerifier,
  type ValidatedAuthorizationRequest,
  validateResourceIndicators,
} from '../core/oauth/index.js';
import { resolvePairwiseSalt } from '../core/config/data-dir-secrets.js';
import { INTERNAL, registration } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { checkAuthorizationRequest, redirectableError } from './authorization-check.js';
import type { CodeClient } from './client-lookup.js';
import { type CodeGrants, createCodeGrants, type StoredCode } from './code-grants.js';
import { verifyIdTokenHint } from './id-token-hint.js';
import { createRequestResolution } from './request-resolution.js';

export const CODE_SERVICE_NAME = 'authmesh.code.v1.CodeService';

// Generated codes are 43 characters; anything much longer is not ours and is refused unread.
const MAX_CODE_LENGTH = 512;
const MAX_USER_ID_LENGTH = 256;
const MAX_CLIENT_ID_LENGTH = 256;
const MAX_REDIRECT_URI_LENGTH = 4096;
// An auth_time ahead of our clock by more than this is not a time the user logged in.
const AUTH_TIME_SKEW_MS = 60_000;

// RFC 8176 §2 amr values are short registered names; a gateway sending more is refused.
const MAX_AMR_VALUES = 8;
const AMR_VALUE = /^[a-z0-9_-]{1,32}$/;
// Raw session ids are 43 characters; anything much longer is not one.
const MAX_SESSION_ID_LENGTH = 256;

function assertUserId(userId: string, required: boolean): void {
  if (userId === '') {
    if (required) throw new InvalidRequest('user_id is required');
    return;
  }
  if (userId.length > MAX_USER_ID_LENGTH) throw new InvalidRequest(`user_id must be at most ${MAX_USER_ID_LENGTH} characters`);
}

export function createCodeServiceRegistration(deps: MeshDeps, grants: CodeGrants = createCodeGrants(deps.grid, deps.config.codeTtlSeconds)) {
  // Read (or generated into the data directory) on first use by a pairwise client only.
  let salt: string | undefined;
  const pairwiseSalt = (): string => (salt ??= resolvePairwiseSalt(deps.config, deps.log));
  const requests = createRequestResolution(deps);

  // A login session can outlive the account: a deleted, disabled or locked user gets no new code,
  // and the client learns access_denied (RFC 6749 §4.1.2.1).
  async function assertUserActive(userId: string, redirectUri: string, state: string | undefined): Promise<{ roles: string[] }> {
    let user;
    try {
      ({ user } = await deps.peers.user.getUser({ userId }));
    } catch (err) {
      if (err instanceof AuthmeshError && err.code === 'not_found') user = undefined;
      else throw err;
    }
    // A lock after failed logins is not checked: it guards the password against guessing, and a
    // stranger's guesses must not cut the owner's existing session off (refresh tokens likewise).
    if (!user || user.disabled) {
      throw redirectableError(new AccessDenied('the user account is not active'), redirectUri, state);
    }
    return user;
  }

  /** The consent the user gave this client before, if any. */
  async function rememberedConsent(userId: string, clientId: string): Promise<RememberedConsent | undefined> {
    try {
      return await deps.store.consents.get(userId, clientId);
    } catch (err) {
      if (err instanceof NotFound) return undefined;
      throw err;
    }
  }

  /**
   * RFC 8252 §8.6 / RFC 6749 §10.2: a public client's identity cannot be proven (any app can send
   * its client_id with its own PKCE challenge and a loopback redirect on another port), so a
   * remembered consent would approve an impersonator without asking. Public clients' users are
   * asked every time; only an admin's skip_consent (a first-party app) spares the page.
   */
  const consentRememberable = (client: CodeClient): boolean => client.clientType !== 'public';

  /** RFC 8707 §2.1: the remembered consent must cover the requested APIs as well as the scopes. */
  async function consentNotRequired(client: CodeClient, userId: string, requested: readonly string[]): Promise<boolean> {
    if (client.skipConsent) return true;
    if (!consentRememberable(client)) return false;
    return userId !== '' && consentCovers(await rememberedConsent(userId, client.clientId), requested);
  }

  /** The user's subject identifier for the client (OIDC Core §8), as its ID Tokens carry it. */
  const subjectFor = (client: CodeClient, userId: string): string => subjectIdentifier(client, userId, client.subjectType === 'pairwise' ? pairwiseSalt() : '');

  /**
   * Whether the id_token_hint of the request names this user (OIDC Core §3.1.2.1); undefined
   * when there is no hint. The hint's sub is compared with the user's subject for the client.
   * @throws the redirectable invalid_request of a hint that is not our ID Token for this client
   */
  async function hintMatches(client: CodeClient, request: ValidatedAuthorizationRequest, userId: string, deadline?: Date): Promise<boolean | undefined> {
    const hint = request.oidc.idTokenHint;
    if (hint === undefined) return undefined;
    let sub: string;
    try {
      sub = await verifyIdTokenHint(deps, hint, client.clientId, deadline);
    } catch (err) {
      if (err instanceof AuthmeshError && err.code === 'invalid_request') throw redirectableError(err, request.redirectUri, request.state);
      throw err;
    }
    return userId !== '' && sub === subjectFor(client, userId);
  }

  /**
   * The interaction the request needs (OIDC Core §3.1.2.1 prompt, max_age, id_token_hint).
   * @throws LOGIN_REQUIRED / CONSENT_REQUIRED for prompt=none, redirectable (OIDC Core §3.1.2.6)
   */
  async function interactionFor(
    client: CodeClient,
    request: ValidatedAuthorizationRequest,
    user: { userId: string; authTime: Date | undefined },
    consentNeeded: boolean,
    deadline?: Date,
  ): Promise<Interaction> {
    const now = deps.now();
    const session = user.userId === '' ? undefined : { userId: user.userId, authTime: user.authTime ?? now };
    const idTokenHintMatches = await hintMatches(client, request, user.userId, deadline);
    // OIDC Core §5.5.1: a sub value in the claims parameter names the only user who may be answered.
    const subjectClaimMatches = user.userId === '' ? undefined : subjectRequestMatches(request.oidc.claims, subjectFor(client, user.userId));
    try {
      return decideInteraction({ prompt: request.oidc.prompt, maxAge: request.oidc.maxAge, session, idTokenHintMatches, subjectClaimMatches, consentNeeded, now });
    } catch (err) {
      if (err instanceof AuthmeshError) throw redirectableError(err, request.redirectUri, request.state);
      throw err;
    }
  }

  /**
   * OIDC Core §5.5.1.1: an essential acr this server cannot satisfy (it knows no acr values) is a
   * failed authentication, answered before any login page. The error is access_denied (RFC 6749
   * §4.1.2.1, the one every client handles), not unmet_authentication_requirements (OpenID Connect
   * Core Error Code unmet_authentication_requirements 1.0, an extension clients need not know).
   * @throws the redirectable access_denied
   */
  function assertAcrSatisfiable(request: ValidatedAuthorizationRequest): void {
    if (essentialAcrUnmet(request.oidc.claims)) {
      throw redirectableError(new AccessDenied('the essential acr requested cannot be satisfied'), request.redirectUri, request.state);
    }
  }

  return registration(
    CODE_SERVICE_NAME,
    CodeServiceService,
    {
      async validateAuthorizationRequest(req, ctx) {
        assertUserId(req.userId, false);
        const { client, request, resources } = await checkAuthorizationRequest(deps, req.request, ctx.deadline);
        assertAcrSatisfiable(request);
        const requested = requestedConsentPairs(request.scope, resources?.targets);
        const consentNeeded = !(await consentNotRequired(client, req.userId, requested));
        const interaction = await interactionFor(client, request, { userId: req.userId, authTime: req.authTime }, consentNeeded, ctx.deadline);
        return ValidateAuthorizationRequestResponse.fromPartial({
          clientId: client.clientId,
          clientName: client.clientName,
          logoUri: client.logoUri,
          redirectUri: request.redirectUri,
          scopes: request.scope,
          // OIDC Core §3.1.2.1: prompt=consent asks again even when consent was remembered.
          consentNotRequired: !consentNeeded && !request.oidc.prompt.includes('consent'),
          consentRememberable: consentRememberable(client),
          loginRequired: interaction.kind === 'login',
          loginHint: request.oidc.loginHint ?? '',
          // RFC 8707 §2.1: the APIs the user is asked to let the client reach.
          resources: resources?.named ?? [],
        });
      },

      async issueCode(req, ctx) {
        // The gateway validated before, but it is not trusted with the rules: check everything again.
        const { client, request, resources } = await checkAuthorizationRequest(deps, req.request, ctx.deadline);
        assertUserId(req.userId, true);
        assertAcrSatisfiable(request);
        const user = await assertUserActive(req.userId, request.redirectUri, request.state);
        const now = deps.now();
        const authTime = req.authTime ?? now;
        if (Number.isNaN(authTime.getTime()) || authTime.getTime() > now.getTime() + AUTH_TIME_SKEW_MS) {
          throw new InvalidRequest('auth_time must not be in the future');
        }
        if (req.sessionId.length > MAX_SESSION_ID_LENGTH) throw new InvalidRequest('session_id is not a session id');
        const amr = [...new Set(req.amr)];
        if (amr.length > MAX_AMR_VALUES || amr.some((v) => !AMR_VALUE.test(v))) throw new InvalidRequest('amr must be at most 8 RFC 8176 method names');
        let dpopJkt: string | undefined;
        try {
          // RFC 9449 §10: dpop_jkt binds the code to the client's DPoP key.
          dpopJkt = parseDpopJkt(req.dpopJkt);
        } catch (err) {
          throw redirectableError(err as AuthmeshError, request.redirectUri, request.state);
        }
        // OIDC Core §3.1.2.1: the login must be recent enough for max_age and be the hinted user's;
        // the gateway sent the user to the login page otherwise, so this only catches a stale page.
        if (request.oidc.maxAge !== undefined && authenticationAge(authTime, now) > request.oidc.maxAge) {
          throw redirectableError(new LoginRequired('the authentication is older than max_age'), request.redirectUri, request.state);
        }
        if ((await hintMatches(client, request, req.userId, ctx.deadline)) === false) {
          throw redirectableError(new LoginRequired('the logged-in user is not the one id_token_hint names'), request.redirectUri, request.state);
        }
        // OIDC Core §5.5.1: only the user a requested sub value names may get a code.
        if (subjectRequestMatches(request.oidc.claims, subjectFor(client, req.userId)) === false) {
          throw redirectableError(new LoginRequired('the logged-in user is not the one the claims parameter names by sub'), request.redirectUri, request.state);
        }

        const consented = [...new Set(req.consentedScopes)];
        // The user can only narrow what the client asked for (RFC 6749 §3.3); empty means all.
        if (!isSubset(consented, request.scope)) {
          throw redirectableError(new InvalidScope('the consented scopes must be a subset of the requested scopes'), request.redirectUri, request.state);
        }
        const approved = consented.length === 0 ? request.scope : request.scope.filter((s) => consented.includes(s));
        // RFC 6749 §3.3: the admin scopes only for a user holding the admin role (admin-role.ts).
        const scopes = scopesForUser(approved, user.roles);

        // RFC 8252 §8.6: never remembered for a public client (see consentRememberable).
        const remember = req.rememberConsent && consentRememberable(client);
        if (remember) {
          const previous = await rememberedConsent(req.userId, client.clientId);
          // Each scope at each API approved (RFC 8707 §2.1), so a later request for another API asks again.
          const approvedPairs = requestedConsentPairs(scopes, resources?.targets);
          try {
            await deps.store.consents.put({ userId: req.userId, clientId: client.clientId, ...mergeConsent(previous, scopes, approvedPairs) });
          } catch (err) {
            if (err instanceof NotFound) throw new InvalidRequest('user_id does not name a registered user');
            throw err;
          }
        }

        const grant: StoredCode = {
          grantId: generateId('g'),
          clientId: client.clientId,
          userId: req.userId,
          scopes,
          redirectUri: request.redirectUri,
          redirectUriWasSent: request.redirectUriWasSent,
          authTime: authTime.toISOString(),
          issuedAt: now.toISOString(),
        };
        // RFC 7636 §4.4: the challenge is bound to the code for the token endpoint to check.
        if (request.codeChallenge !== undefined) grant.codeChallenge = request.codeChallenge;
        if (request.codeChallengeMethod !== undefined) grant.codeChallengeMethod = request.codeChallengeMethod;
        // OIDC Core §3.1.2.1 / §3.1.3.6: the nonce is bound to the code and echoed in the ID Token.
        if (request.nonce !== undefined) grant.nonce = request.nonce;
        // The public session id (the ID Token's sid) is the hash of the session, never the cookie's secret.
        if (req.sessionId !== '') grant.sid = hashToken(req.sessionId);
        if (amr.length > 0) grant.amr = amr;
        // OIDC Core §5.5: the ID Token claims the request asked for travel with the code (names
        // only; what is released is decided against the granted scope when each ID Token is minted).
        const idTokenClaims = requestedIdTokenClaims(request.oidc.claims);
        if (idTokenClaims.length > 0) grant.idTokenClaims = idTokenClaims;
        if (dpopJkt !== undefined) grant.dpopJkt = dpopJkt;
        // RFC 8707 §2.1: the code is good for the resources the user approved, and only for them.
        if (resources !== undefined) grant.resources = resources.targets;
        const code = await grants.issue(grant);

        await deps.audit({
          type: 'code.issued',
          actor: req.userId,
          subject: req.userId,
          clientId: client.clientId,
          details: { grantId: grant.grantId, scopes, remembered: remember, ...(grant.resources ? { resources: grant.resources } : {}) },
        });
        return IssueCodeResponse.fromPartial({
          // RFC 6749 §4.1.2 / RFC 9207 §2: code, state and iss go to the redirect URI.
          redirectTo: buildAuthorizationSuccessRedirect({ redirectUri: request.redirectUri, code, state: request.state, issuer: deps.config.issuer }),
          code,
          expiresIn: deps.config.codeTtlSeconds,
        });
      },

      async denyAuthorization(req, ctx) {
        const { client, request } = await checkAuthorizationRequest(deps, req.request, ctx.deadline);
        await deps.audit({ type: 'authorization.denied', clientId: client.clientId, details: { scopes: request.scope } });
        return DenyAuthorizationResponse.fromPartial({
          // RFC 6749 §4.1.2.1: the resource owner denied the request → access_denied, with state and iss (RFC 9207 §2).
          redirectTo: buildAuthorizationErrorRedirect({
            redirectUri: request.redirectUri,
            error: 'access_denied',
            errorDescription: 'the resource owner denied the request',
            state: request.state,
            issuer: deps.config.issuer,
          }),
        });
      },

      async redeemCode(req) {
        // RFC 6749 §4.1.3: code is REQUIRED.
        if (req.code === '') throw new InvalidRequest('code is required');
        if (req.clientId === '') throw new InvalidRequest('client_id is required');
        if (req.clientId.length > MAX_CLIENT_ID_LENGTH) throw new InvalidRequest(`client_id must be at most ${MAX_CLIENT_ID_LENGTH} characters`);
        if (req.redirectUri.length > MAX_REDIRECT_URI_LENGTH) throw new InvalidRequest(`redirect_uri must be at most ${MAX_REDIRECT_URI_LENGTH} characters`);
        // Malformed input is refused before the code is touched, so it burns nothing.
        if (req.code.length > MAX_CODE_LENGTH) throw new InvalidGrant('the authorization code is invalid or expired');
        // RFC 7636 §4.1: a verifier outside the grammar can never match; refuse it as invalid_grant (§4.6).
        if (req.codeVerifier !== '') validateCodeVerifier(req.codeVerifier);

        const pending = await grants.peek(req.code);
        if (req.resource.length > 0) {
          // RFC 8707 §2.2: a code bound to resources is good only for them; a token request naming
          // another is refused before the code is consumed, so the client can still redeem it.
          if (pending?.resources !== undefined && pending.clientId === req.clientId) authorizedTargets(pending.resources, validateResourceIndicators(req.resource));
        }
        // RFC 6749 §4.1.2: the replay marker is written before the code is taken, so a redemption
        // that loses the take to a concurrent one always finds it and has the winner's tokens
        // revoked. Written after the take, a loser inside that window found neither the code nor
        // the marker: refused, but as an unknown code, and the winner's tokens stayed valid (the
        // soak's code races caught it).
        if (pending !== undefined) await grants.markRedeemed(hashToken(req.code), pending.grantId);
        // RFC 6749 §4.1.2: a code is single use; take is atomic, so concurrent redemptions get it once.
        const { hash, grant } = await grants.take(req.code);
        if (grant === undefined) {
          const firstGrantId = await grants.redeemedGrantId(hash);
          if (firstGrantId !== undefined) {
            // RFC 6749 §4.1.2: a replayed code should revoke what it produced; the token service does that by grant_id.
            await deps.audit({ type: 'code.replay_detected', clientId: req.clientId, details: { grantId: firstGrantId } });
            throw new InvalidGrant('the authorization code has already been used', { metadata: { grant_id: firstGrantId } });
          }
          throw new InvalidGrant('the authorization code is invalid or expired');
        }
        // The code is consumed whatever follows: any further attempt is a recognised replay (marked above).
        if (pending?.grantId !== grant.grantId) await grants.markRedeemed(hash, grant.grantId);

        try {
          // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
          if (grant.clientId !== req.clientId) throw new InvalidGrant('the authorization code was not issued to this client');
          // RFC 6749 §4.1.3: redirect_uri must repeat the authorization request's when it had one.
          assertCodeRedirectUri({ issuedRedirectUri: grant.redirectUri, redirectUriWasSent: grant.redirectUriWasSent, requested: req.redirectUri });
          // RFC 7636 §4.6 / RFC 9700 §2.1.1: verify the proof, and refuse a verifier the code never asked for.
          pkceDowngradeCheck({ challenge: grant.codeChallenge, method: grant.codeChallengeMethod, verifier: req.codeVerifier });
        } catch (err) {
          const reason = err instanceof AuthmeshError ? err.description : 'check failed';
          await deps.audit({ type: 'code.rejected', clientId: req.clientId, subject: grant.userId, details: { grantId: grant.grantId, reason } });
          throw err;
        }

        await deps.audit({ type: 'code.redeemed', subject: grant.userId, clientId: grant.clientId, details: { grantId: grant.grantId } });
        return RedeemCodeResponse.fromPartial({
          grant: CodeGrant.fromPartial({
            grantId: grant.grantId,
            clientId: grant.clientId,
            userId: grant.userId,
            scopes: grant.scopes,
            authTime: new Date(grant.authTime),
            nonce: grant.nonce ?? '',
            redirectUri: grant.redirectUri,
            sid: grant.sid ?? '',
            amr: grant.amr ?? [],
            idTokenClaims: grant.idTokenClaims ?? [],
            dpopJkt: grant.dpopJkt ?? '',
            resources: grant.resources ?? [],
          }),
        });
      },

      async pushAuthorizationRequest(req) {
        return requests.push(req);
      },

      async resolveAuthorizationRequest(req) {
        if (req.request === undefined) throw new InvalidRequest('request is required');
        return ResolveAuthorizationRequestResponse.fromPartial(await requests.resolve(req.request));
      },
    },
    {
      validateAuthorizationRequest: INTERNAL,
      pushAuthorizationRequest: INTERNAL,
      resolveAuthorizationRequest: INTERNAL,
      issueCode: INTERNAL,
      denyAuthorization: INTERNAL,
      redeemCode: INTERNAL,
    },
  );
}
