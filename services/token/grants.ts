// The grants of the token endpoint (RFC 6749 §4.1.3, §4.3, §4.4, §6; RFC 8693). Each one checks
// everything it can before it consumes anything, so a bad request changes nothing.
import type {
  AuthorizationCodeGrant,
  ClientCredentialsGrant,
  PasswordGrant,
  RefreshTokenGrant,
  TokenExchangeGrant,
  TokenResponse,
} from '../../gen/ts/authmesh/token/v1/token.js';
import { AuthmeshError, hasErrorCode, InvalidDpopProof, InvalidGrant, InvalidRequest, InvalidTarget, ServerError } from '../core/errors/index.js';
import {
  assertAuthorizationCodeKey,
  assertExchangeAllowed,
  assertExchangePossession,
  assertGrantAllowed,
  authorizedTargets,
  buildActClaim,
  assertExchangeCertificate,
  exchangeAudience,
  exchangeScope,
  exchangeSourceChain,
  formatScope,
  generateId,
  grantScope,
  isOidcRequest,
  mayCallService,
  mayIssueRefreshToken,
  hasRoleGatedScope,
  narrowScope,
  parseScope,
  scopesForUser,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE_ACCESS_TOKEN,
  validateTokenExchangeRequest,
  type AccessTokenClaims,
} from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { lookUpResources } from '../resource-registry.js';
import { audienceFor, resolveAudience, resolveResources } from './audience.js';
import type { ClientView } from './client-view.js';
import { mintIdToken } from './id-token-minter.js';
import type { TokenMinter } from './token-minter.js';

export interface GrantContext {
  deps: MeshDeps;
  minter: TokenMinter;
  client: ClientView;
  remoteIp: string;
  /** RFC 9449 §6.1: the DPoP key thumbprint this request's tokens are bound to, if any. */
  dpopJkt?: string | undefined;
  /** RFC 8705 §3.1: the client certificate thumbprint (x5t#S256) of this request, if any. */
  certificateThumbprint?: string | undefined;
}

type Response = TokenResponse;

export function response(access: { accessToken: string; expiresIn: number }, scopes: string[], extra: Partial<Response> = {}): Response {
  return {
    accessToken: access.accessToken,
    tokenType: 'Bearer',
    expiresIn: access.expiresIn,
    refreshToken: '',
    // RFC 6749 §5.1: scope is returned; we always return it so clients never have to guess.
    scope: formatScope(scopes),
    issuedTokenType: '',
    idToken: '',
    dpopNonce: '',
    ...extra,
  };
}


export async function issueRefresh(
  ctx: GrantContext,
  input: { userId: string; scopes: string[]; audience: string[]; familyId: string; authTime?: Date | undefined; idTokenClaims?: string[] | undefined },
) {
  // RFC 6749 §1.5: refresh tokens only for clients registered for the refresh_token grant.
  if (!ctx.client.grantTypes.includes('refresh_token')) return '';
  const res = await ctx.deps.peers.refreshToken.issueRefreshToken({
    clientId: ctx.client.clientId,
    userId: input.userId,
    scopes: input.scopes,
    audience: input.audience,
    familyId: input.familyId,
    ttlSeconds: ctx.client.refreshTokenTtlSeconds,
    authTime: input.authTime,
    // OIDC Core §5.5 / §12.2: the refreshed ID Tokens release the claims the request asked for.
    idTokenClaims: input.idTokenClaims ?? [],
    // RFC 9449 §5: a public client's refresh token is bound to the DPoP key of the request; a
    // confidential client's is already bound to its authentication.
    dpopJkt: ctx.client.clientType === 'public' ? (ctx.dpopJkt ?? '') : '',
    // RFC 8705 §4: likewise to the client certificate of a public client using mutual TLS.
    certificateThumbprint: ctx.client.clientType === 'public' ? (ctx.certificateThumbprint ?? '') : '',
  });
  return res.refreshToken;
}

export async function authorizationCodeGrant(ctx: GrantContext, g: AuthorizationCodeGrant): Promise<Response> {
  assertGrantAllowed(ctx.client, 'authorization_code');
  // RFC 6749 §4.1.3: code is REQUIRED.
  if (!g.code) throw new InvalidRequest('code is required');
  // RFC 8707 §2: the resources are judged before the code is redeemed, so an invalid_target
  // leaves the single-use code usable (a refused request changes nothing).
  const resources = await resolveResources(ctx.deps, ctx.client, g.resource);
  let grant;
  try {
    ({ grant } = await ctx.deps.peers.code.redeemCode({
      code: g.code,
      clientId: ctx.client.clientId,
      redirectUri: g.redirectUri,
      codeVerifier: g.codeVerifier,
      // RFC 8707 §2.2: checked against the code's own resources before it is consumed.
      resource: resources?.targets ?? [],
    }));
  } catch (err) {
    const grantId = err instanceof AuthmeshError ? err.metadata.grant_id : undefined;
    if (hasErrorCode(err, 'invalid_grant') && grantId) {
      // RFC 6749 §4.1.2 / RFC 9700 §4.5: a replayed code revokes every token the grant produced.
      const revokedAccess = await ctx.minter.revokeGrant(grantId);
      const revokedRefresh = await ctx.deps.peers.refreshToken.revokeRefreshTokens({ target: { $case: 'familyId', value: grantId } });
      await ctx.deps.audit({
        type: 'code.replay_revoked',
        clientId: ctx.client.clientId,
        ip: ctx.remoteIp,
        // The grant's access tokens are revoked by grant (gid), whatever their number; legacy_access_tokens
        // counts those minted before the gid claim and revoked one by one.
        details: { grant_id: grantId, grant_revoked: true, legacy_access_tokens: revokedAccess, refresh_tokens: revokedRefresh.revokedCount },
      });
      throw new InvalidGrant('the authorization code has already been used');
    }
    throw err;
  }
  if (!grant) throw new InvalidGrant('the authorization code is invalid');
  // RFC 9449 §10: a code bound by dpop_jkt is redeemed only with a proof by that key.
  assertAuthorizationCodeKey(grant.dpopJkt, ctx.dpopJkt);
  // RFC 8707 §2.1: a code bound to resources yields tokens for them (all of them, or those the
  // token request named among them, §2.2); its refresh tokens keep all of them.
  const bound = grant.resources.length > 0;
  const targets = bound ? authorizedTargets(grant.resources, resources?.targets ?? []) : undefined;
  const resolved = targets !== undefined && resources === undefined ? await lookUpResources(ctx.deps, ctx.client.clientId, targets) : resources;
  const { audience, scopes } = audienceFor(ctx.client, resolved, grant.scopes, false);
  const refreshAudience = bound ? grant.resources : audience;
  // Both at once: neither depends on the other, and the access token carries the grant (gid) a
  // replay of this code revokes, so nothing needs recording between them.
  const openid = isOidcRequest(grant.scopes);
  const [access, refreshToken] = await Promise.all([
    ctx.minter.mint({ client: ctx.client, subject: grant.userId, scopes, audience, authTime: grant.authTime, grantId: grant.grantId }),
    // OIDC Core §11: an OpenID Connect grant gets a refresh token only with offline_access.
    mayIssueRefreshToken(grant.scopes)
      ? issueRefresh(ctx, { userId: grant.userId, scopes: grant.scopes, audience: refreshAudience, familyId: grant.grantId, authTime: grant.authTime, idTokenClaims: grant.idTokenClaims })
      : Promise.resolve(''),
  ]);
  // OIDC Core §3.1.3.3: an openid grant's token response carries the ID Token, with the nonce
  // bound to the code (§3.1.3.6) and the login session's sid.
  const idToken = openid
    ? await mintIdToken(ctx.deps, {
        client: ctx.client,
        userId: grant.userId,
        accessToken: access.accessToken,
        authTime: grant.authTime,
        nonce: grant.nonce,
        sid: grant.sid,
        amr: grant.amr,
        scopes: grant.scopes,
        idTokenClaims: grant.idTokenClaims,
      })
    : '';
  await ctx.deps.audit({ type: 'token.issued', subject: grant.userId, clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { grant: 'authorization_code', jti: access.claims.jti, grant_id: grant.grantId, id_token: openid } });
  return response(access, scopes, { refreshToken, idToken });
}

export async function clientCredentialsGrant(ctx: GrantContext, g: ClientCredentialsGrant): Promise<Response> {
  assertGrantAllowed(ctx.client, 'client_credentials');
  const requested = parseScope(g.scope);
  const granted = grantScope({ requested, allowed: ctx.client.scopes });
  const { audience, scopes } = await resolveAudience(ctx.deps, ctx.client, g.resource, granted, requested.length > 0);
  // RFC 9068 §2.2: with no resource owner, sub is the client's own identifier.
  const access = await ctx.minter.mint({ client: ctx.client, subject: ctx.client.clientId, scopes, audience });
  await ctx.deps.audit({ type: 'token.issued', subject: ctx.client.clientId, clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { grant: 'client_credentials', jti: access.claims.jti } });
  // RFC 6749 §4.4.3: a refresh token should not be included.
  return response(access, scopes);
}

/**
 * A refresh token can outlive its user's account. Disabling or deleting a user revokes the user's
 * refresh tokens, but that is a second write after the account change; checking the account here
 * as well means a grant ends with the account even when that revocation never happened (or the
 * account was changed in the database directly). A locked account keeps its sessions: the lock
 * protects the password from guessing, by anyone, and must not let a guesser end a user's grants.
 * (A plain refresh leaves this to the rotation, which reads the account in the store.)
 */
async function assertUserMayRefresh(ctx: GrantContext, userId: string): Promise<void> {
  let user;
  try {
    ({ user } = await ctx.deps.peers.user.getUser({ userId }));
  } catch (err) {
    if (!hasErrorCode(err, 'not_found')) throw err;
  }
  if (!user || user.disabled) throw new InvalidGrant('the user account behind the refresh token is not active');
}

/**
 * Rotates the presented refresh token (RFC 9700 §4.14.2) through the refresh-token service. On
 * reuse (the service revoked the family and names it), the grant's access tokens are revoked too
 * (RFC 6749 §10.4), through the same entry point as a replayed code. @throws InvalidGrant
 */
async function rotateRefreshToken(ctx: GrantContext, refreshToken: string) {
  try {
    return await ctx.deps.peers.refreshToken.rotateRefreshToken({
      refreshToken,
      clientId: ctx.client.clientId,
      // The client's own window, else the server's (AUTHMESH_REFRESH_REUSE_GRACE); 0 is strict.
      reuseGraceSeconds: ctx.client.refreshTokenReuseGraceSeconds ?? ctx.deps.config.refreshReuseGraceSeconds,
    });
  } catch (err) {
    const familyId = err instanceof AuthmeshError ? err.metadata.family_id : undefined;
    if (hasErrorCode(err, 'invalid_grant') && familyId) {
      // RFC 9700 §4.14.2 / RFC 6749 §10.4: reuse means two parties hold the grant; its access
      // tokens die with its refresh tokens.
      const revokedAccess = await ctx.minter.revokeGrant(familyId);
      await ctx.deps.audit({ type: 'refresh.reuse_revoked', clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { family_id: familyId, grant_revoked: true, legacy_access_tokens: revokedAccess } });
      throw new InvalidGrant('the refresh token was already used');
    }
    throw err;
  }
}

/**
 * OIDC Core §12.2: a refresh of an openid grant returns a new ID Token with the same sub and aud,
 * the original auth_time, and no nonce; '' for a grant without openid (or a narrowed scope that
 * dropped it, or a client's own token without a user). The standard claims the authorization
 * request's `claims` parameter asked for (§5.5) are released again, within `scopes`.
 */
async function refreshedIdToken(
  ctx: GrantContext,
  userId: string,
  scopes: readonly string[],
  accessToken: string,
  authTime: Date | undefined,
  idTokenClaims: readonly string[],
): Promise<string> {
  if (!isOidcRequest(scopes) || userId === '') return '';
  return mintIdToken(ctx.deps, { client: ctx.client, userId, accessToken, authTime, scopes, idTokenClaims });
}

/**
 * RFC 9449 §5: a refresh token bound to a DPoP key is only refreshed with a proof by that key.
 * @throws InvalidDpopProof without a proof; InvalidGrant with a proof by another key.
 */
export function assertRefreshKey(boundJkt: string, presentedJkt: string | undefined): void {
  if (boundJkt === '') return;
  // RFC 9449 §5: the refresh request must carry a proof...
  if (presentedJkt === undefined) throw new InvalidDpopProof('this refresh token is bound to a DPoP key: a DPoP proof is required');
  // ...by the key the refresh token is bound to.
  if (presentedJkt !== boundJkt) throw new InvalidGrant('the refresh token is bound to another DPoP key');
}

/**
 * RFC 8705 §4: a refresh token bound to a client certificate is refreshed only by a request
 * presenting that certificate.
 * @throws InvalidGrant without it or with another one
 */
export function assertRefreshCertificate(boundThumbprint: string, presented: string | undefined): void {
  if (boundThumbprint === '') return;
  if (presented !== boundThumbprint) throw new InvalidGrant('the refresh token is bound to a client certificate this request did not present');
}

/**
 * The scopes of a refreshed user token the user may still hold: an admin scope granted while the
 * user held the admin role ends with the role (admin-role.ts). Reads the user only when the
 * scopes hold an admin scope, so an ordinary refresh costs nothing more.
 */
async function scopesUserStillHolds(ctx: GrantContext, userId: string, scopes: string[]): Promise<string[]> {
  if (userId === '' || !hasRoleGatedScope(scopes)) return scopes;
  let roles: string[] = [];
  try {
    roles = (await ctx.deps.peers.user.getUser({ userId })).user?.roles ?? [];
  } catch (err) {
    if (!hasErrorCode(err, 'not_found')) throw err;
  }
  // RFC 6749 §3.3: the server may issue fewer scopes than the grant had, by its policy.
  return scopesForUser(scopes, roles);
}

export async function refreshTokenGrant(ctx: GrantContext, g: RefreshTokenGrant): Promise<Response> {
  assertGrantAllowed(ctx.client, 'refresh_token');
  // RFC 6749 §6: refresh_token is REQUIRED.
  if (!g.refreshToken) throw new InvalidRequest('refresh_token is required');
  const requested = parseScope(g.scope);
  // Only public clients' refresh tokens are DPoP-bound (issueRefresh): theirs are checked against
  // the key before the rotation consumes anything, so a refused request changes nothing.
  const mayBeBound = ctx.client.clientType === 'public';
  if (requested.length === 0 && g.resource.length === 0 && !mayBeBound) {
    // RFC 6749 §6: an omitted scope is the original grant's, and no resource asks for nothing
    // new, so nothing can be refused after the rotation. The rotation itself checks what is left
    // (bound to this client, RFC 6749 §6; not expired or revoked; the user's account not
    // disabled) and consumes nothing when a check fails: one call, one statement.
    const rotated = await rotateRefreshToken(ctx, g.refreshToken);
    const info = rotated.info;
    if (!info) throw new ServerError('the refresh-token service returned no token information');
    const subject = info.userId || ctx.client.clientId;
    const scopes = await scopesUserStillHolds(ctx, info.userId, info.scopes);
    // The token carries its grant (gid = the family): a concurrent reuse that revokes the family,
    // before or after this mint, revokes this token with it (RFC 9700 §4.14.2).
    const access = await ctx.minter.mint({ client: ctx.client, subject, scopes, audience: info.audience, authTime: info.authTime, grantId: info.familyId });
    const idToken = await refreshedIdToken(ctx, info.userId, scopes, access.accessToken, info.authTime, info.idTokenClaims);
    await ctx.deps.audit({ type: 'token.issued', subject, clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { grant: 'refresh_token', jti: access.claims.jti, family_id: info.familyId } });
    return response(access, scopes, { refreshToken: rotated.refreshToken, idToken });
  }
  // A narrower scope or a resource: checked against the current token before it is rotated
  // (consumed), so a refused request changes nothing.
  const found = await ctx.deps.peers.refreshToken.lookupRefreshToken({ refreshToken: g.refreshToken });
  const info = found.info;
  // RFC 6749 §6: the token must have been issued to the authenticated client.
  if (!info || info.clientId !== ctx.client.clientId) throw new InvalidGrant('the refresh token is invalid');
  assertRefreshKey(info.dpopJkt, ctx.dpopJkt);
  assertRefreshCertificate(info.certificateThumbprint, ctx.certificateThumbprint);
  if (info.userId) await assertUserMayRefresh(ctx, info.userId);
  // RFC 6749 §6: the new scope must not exceed the original grant's.
  const narrowed = narrowScope(requested, info.scopes);
  const resources = g.resource.length > 0 ? g.resource : [];
  // RFC 8707 §2.2: a refresh may only target resources the original grant covered.
  if (resources.some((r) => !info.audience.includes(r))) {
    throw new InvalidTarget('the refresh token was not granted for that resource');
  }
  const target = resources.length > 0 ? await resolveAudience(ctx.deps, ctx.client, resources, narrowed, requested.length > 0) : { audience: info.audience, scopes: narrowed };
  const audience = target.audience;
  const scopes = await scopesUserStillHolds(ctx, info.userId, target.scopes);
  const subject = info.userId || ctx.client.clientId;
  // Signed while the rotation runs (minting records nothing, so a token whose rotation fails is
  // simply never handed out). It carries its grant (gid = the family), as above.
  const minting = ctx.minter.mint({ client: ctx.client, subject, scopes, audience, authTime: info.authTime, grantId: info.familyId });
  minting.catch(() => undefined); // awaited below unless the rotation fails first
  const rotated = await rotateRefreshToken(ctx, g.refreshToken);
  const access = await minting;
  const idToken = await refreshedIdToken(ctx, info.userId, scopes, access.accessToken, info.authTime, info.idTokenClaims);
  await ctx.deps.audit({ type: 'token.issued', subject, clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { grant: 'refresh_token', jti: access.claims.jti, family_id: info.familyId } });
  return response(access, scopes, { refreshToken: rotated.refreshToken, idToken });
}

export async function passwordGrant(ctx: GrantContext, g: PasswordGrant): Promise<Response> {
  assertGrantAllowed(ctx.client, 'password', { passwordGrantEnabled: ctx.deps.config.passwordGrantEnabled });
  // RFC 6749 §4.3.2: username and password are REQUIRED.
  if (!g.username || !g.password) throw new InvalidRequest('username and password are required');
  const requested = parseScope(g.scope);
  const granted = grantScope({ requested, allowed: ctx.client.scopes });
  const { audience, scopes } = await resolveAudience(ctx.deps, ctx.client, g.resource, granted, requested.length > 0);
  let user;
  let authTime: Date | undefined;
  try {
    ({ user, authTime } = await ctx.deps.peers.user.authenticateUser({
      username: g.username,
      password: g.password,
      clientId: ctx.client.clientId,
      remoteIp: ctx.remoteIp,
      startSession: false,
    }));
  } catch (err) {
    // RFC 6749 §5.2: invalid resource owner credentials are invalid_grant.
    if (hasErrorCode(err, 'access_denied')) throw new InvalidGrant('invalid username or password');
    throw err;
  }
  if (!user) throw new InvalidGrant('invalid username or password');
  const familyId = generateId('g');
  // RFC 6749 §3.3: the admin scopes only for a user holding the admin role (admin-role.ts).
  const userScopes = scopesForUser(scopes, user.roles);
  const access = await ctx.minter.mint({ client: ctx.client, subject: user.userId, scopes: userScopes, audience, authTime, grantId: familyId });
  const refreshToken = await issueRefresh(ctx, { userId: user.userId, scopes: scopesForUser(granted, user.roles), audience, familyId, authTime });
  await ctx.deps.audit({ type: 'token.issued', subject: user.userId, clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { grant: 'password', jti: access.claims.jti } });
  return response(access, userScopes, { refreshToken });
}

export async function tokenExchangeGrant(ctx: GrantContext, g: TokenExchangeGrant): Promise<Response> {
  assertGrantAllowed(ctx.client, TOKEN_EXCHANGE_GRANT);
  const req = validateTokenExchangeRequest({
    subject_token: g.subjectToken,
    subject_token_type: g.subjectTokenType,
    actor_token: g.actorToken,
    actor_token_type: g.actorTokenType,
    requested_token_type: g.requestedTokenType,
    audience: g.audience,
    resource: g.resource,
    scope: g.scope,
  });
  const verify = async (token: string, what: string): Promise<AccessTokenClaims> => {
    try {
      return await ctx.deps.verifier.verify(token);
    } catch (err) {
      // RFC 8693 §2.2.2: an invalid subject or actor token is invalid_request.
      if (hasErrorCode(err, 'invalid_token')) throw new InvalidRequest(`the ${what} is invalid`);
      throw err;
    }
  };
  const subject = await verify(req.subjectToken, 'subject_token');
  const actor = req.actorToken ? await verify(req.actorToken, 'actor_token') : undefined;
  // RFC 8705 §3: a certificate-bound token the client holds is exchanged only with that certificate.
  assertExchangeCertificate({ clientId: ctx.client.clientId, subject, actor, presentedThumbprint: ctx.certificateThumbprint });
  // RFC 8693 §5: only subject tokens issued or addressed to this client, only its own actor token.
  assertExchangeAllowed({ clientId: ctx.client.clientId, subject, actor });
  // RFC 9449 §7: a bound token the client holds is exchanged only with a proof by its key.
  assertExchangePossession({ clientId: ctx.client.clientId, subject, actor, presentedJkt: ctx.dpopJkt });
  // RFC 8693 §4.1: act identifies the party acting for the subject: the actor token's subject,
  // or the authenticated client itself.
  const act = buildActClaim(actor ? actor.sub : ctx.client.clientId, subject.act);
  const sourceJtis = exchangeSourceChain(subject);
  const scopes = exchangeScope({ requested: req.scope, subjectScope: parseScope(subject.scope), clientAllowed: ctx.client.scopes });
  const targets = [...req.audience, ...req.resource];
  // RFC 8693 §2.1: the audiences a client may ask for are the registered services it may call.
  const allowed: string[] = [];
  for (const t of targets) {
    try {
      const { service } = await ctx.deps.peers.service.lookupService({ audience: t });
      if (service && mayCallService(service.endpoints, ctx.client.clientId)) allowed.push(t);
    } catch (err) {
      if (!hasErrorCode(err, 'not_found') && !hasErrorCode(err, 'invalid_request')) throw err;
    }
  }
  const audience = exchangeAudience({ audience: req.audience, resource: req.resource, allowed, defaultAudience: ctx.client.audience });
  const access = await ctx.minter.mint({
    client: ctx.client,
    subject: subject.sub,
    scopes,
    audience,
    act,
    authTime: subject.auth_time ? new Date(subject.auth_time * 1000) : undefined,
    // RFC 8693 §5: never outlive the subject token, and die with it (src_jti) and with its grant (gid).
    notAfter: subject.exp,
    sourceJtis,
    grantId: subject.gid,
  });
  await ctx.deps.audit({ type: 'token.exchanged', subject: subject.sub, clientId: ctx.client.clientId, ip: ctx.remoteIp, details: { jti: access.claims.jti, subject_jti: subject.jti, actor: act.sub } });
  // RFC 8693 §2.2.1: issued_token_type is REQUIRED; no refresh token for delegated tokens.
  return response(access, scopes, { issuedTokenType: TOKEN_TYPE_ACCESS_TOKEN });
}
