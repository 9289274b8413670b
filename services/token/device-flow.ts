// The Device Authorization Grant (RFC 8628) in the token service: the device authorization
// endpoint (§3.1–3.2), the verification page's lookup and decision (§3.3), and the device access
// token request (§3.4–3.5). The rules are in core/oauth/device-authorization.ts; the state lives
// in the grid, so a device may be authorized through one instance and poll another:
//
//   device-code       deviceCodeKey(device_code) → the request (client, scopes, expiry, interval)
//   device-user-code  normalised user code       → which device code it names
//   device-decision   deviceCodeKey              → approved (user, auth_time…) | denied | consumed
//   device-poll       deviceCodeKey              → when it was last polled, the current interval
//   device-user-code-failures                    → wrong user codes per browser and per address
//
// A decision is written with putIfAbsent (the first one wins) and an approval is consumed with
// replace (of concurrent polls exactly one gets the tokens). The device code itself is never
// stored, only its SHA-256.
import type { DeviceCodeGrant, TokenResponse } from '../../gen/ts/authmesh/token/v1/token.js';
import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  hasErrorCode,
  InvalidGrant,
  InvalidRequest,
  NotFound,
  ServerError,
  SlowDown,
} from '../core/errors/index.js';
import {
  assertGrantAllowed,
  decidePoll,
  DEVICE_CODE_GRANT,
  deviceCodeKey,
  formatUserCode,
  generateDeviceCode,
  generateId,
  generateUserCode,
  grantScope,
  hashToken,
  isOidcRequest,
  mayIssueRefreshToken,
  normalizeUserCode,
  scopesForUser,
  parseScope,
  type DeviceDecision,
  type DevicePollState,
  authorizedTargets,
  validateResourceIndicators,
} from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { lookUpResources, type NamedResource, resolveAuthorizationResources } from '../resource-registry.js';
import { audienceFor } from './audience.js';
import type { ClientView } from './client-view.js';
import { issueRefresh, response, type GrantContext } from './grants.js';
import { mintIdToken } from './id-token-minter.js';

export const DEVICE_CODE_MAP = 'device-code';
export const DEVICE_USER_CODE_MAP = 'device-user-code';
export const DEVICE_DECISION_MAP = 'device-decision';
export const DEVICE_POLL_MAP = 'device-poll';
export const DEVICE_USER_CODE_FAILURES_MAP = 'device-user-code-failures';
/** Window of the wrong-user-code counters, seconds. */
export const USER_CODE_FAILURE_WINDOW_SECONDS = 15 * 60;
/**
 * How long a device code's records outlive its expiry, ms: a device polling a little late hears
 * expired_token (RFC 8628 §3.5) rather than invalid_grant.
 */
const EXPIRED_GRACE_MS = 10 * 60 * 1000;
/** Draws of a user code before giving up on finding a free one (20^8 codes: never in practice). */
const USER_CODE_ATTEMPTS = 5;
/** A device code is 43 characters; anything much longer is refused without hashing it. */
const MAX_DEVICE_CODE_LENGTH = 512;

/** The device authorization request as stored (under the hash of its device code). */
interface DeviceRequestRecord {
  clientId: string;
  scopes: string[];
  /** The tokens' audience (RFC 8707 resources, else the client's default), resolved when asked. */
  audience: string[];
  /** RFC 8707 §2.1: the resources the request named, the only ones the token request may name; absent when none. */
  resources?: string[];
  /** The same resources with their services' display names, for the approval page. */
  resourceNames?: NamedResource[];
  /** Normalised user code. */
  userCode: string;
  /** epoch ms */
  expiresAt: number;
  /** The interval announced, seconds. */
  interval: number;
}

interface UserCodeRecord {
  deviceKey: string;
}

export interface DeviceAuthorizationResult {
  deviceCode: string;
  /** As shown: XXXX-XXXX. */
  userCode: string;
  expiresIn: number;
  interval: number;
}

export interface PendingDeviceAuthorization {
  /** As shown: XXXX-XXXX. */
  userCode: string;
  clientId: string;
  clientName: string;
  logoUri: string;
  scopes: string[];
  /** RFC 8707 §2.1: the APIs the request named, with their display names; [] when none. */
  resources: NamedResource[];
}

export interface DeviceDecisionInput {
  userCode: string;
  approve: boolean;
  userId: string;
  authTime: Date | undefined;
  sessionId: string;
  amr: string[];
  scopes: string[];
}

export function createDeviceFlow(deps: MeshDeps) {
  const codes = deps.grid.map<DeviceRequestRecord>(DEVICE_CODE_MAP);
  const userCodes = deps.grid.map<UserCodeRecord>(DEVICE_USER_CODE_MAP);
  const decisions = deps.grid.map<DeviceDecision>(DEVICE_DECISION_MAP);
  const polls = deps.grid.map<DevicePollState>(DEVICE_POLL_MAP);
  const failures = deps.grid.map<number>(DEVICE_USER_CODE_FAILURES_MAP);
  const windowMs = USER_CODE_FAILURE_WINDOW_SECONDS * 1000;
  const now = () => deps.now().getTime();
  /** TTL of the records that live as long as a device code's request, ms (never below 1). */
  const keepFor = (record: DeviceRequestRecord) => Math.max(1, record.expiresAt + EXPIRED_GRACE_MS - now());

  const failureKeys = (remoteIp: string, browserKey: string) => [
    ...(remoteIp === '' ? [] : [{ key: `ip:${remoteIp.slice(0, 64)}`, limit: deps.config.deviceUserCodeMaxFailuresPerSource }]),
    ...(browserKey === '' ? [] : [{ key: `browser:${browserKey.slice(0, 128)}`, limit: deps.config.deviceUserCodeMaxFailures }]),
  ];

  /** RFC 8628 §5.1: refuses a browser or address that entered too many wrong user codes. */
  async function assertMayTry(remoteIp: string, browserKey: string): Promise<void> {
    for (const { key, limit } of failureKeys(remoteIp, browserKey)) {
      const count = await failures.get(key);
      if (typeof count === 'number' && count >= limit) {
        throw new SlowDown('too many wrong codes were entered; wait a few minutes and try again', { metadata: { retry_after: String(USER_CODE_FAILURE_WINDOW_SECONDS) } });
      }
    }
  }

  async function countFailure(remoteIp: string, browserKey: string): Promise<void> {
    for (const { key } of failureKeys(remoteIp, browserKey)) await failures.increment(key, windowMs);
  }

  /** The pending (undecided, unexpired) request of a typed user code, or undefined. */
  async function findPending(typed: string): Promise<{ key: string; record: DeviceRequestRecord } | undefined> {
    const userCode = normalizeUserCode(typed);
    if (userCode === undefined) return undefined;
    const entry = await userCodes.get(userCode);
    if (entry === undefined) return undefined;
    const record = await codes.get(entry.deviceKey);
    if (record === undefined || record.userCode !== userCode || record.expiresAt <= now()) return undefined;
    if ((await decisions.get(entry.deviceKey)) !== undefined) return undefined;
    return { key: entry.deviceKey, record };
  }

  /**
   * The audience and scope of the device grant's access token (RFC 8707 §2.2): for a request that
   * named resources, those the token request names among them (all of them when it names none);
   * for one that named none, the resources the token request names (registered for this client) or
   * the client's defaults. With resources the scope is narrowed to what they offer, as for a code.
   * @throws InvalidTarget
   */
  async function targetOf(ctx: GrantContext, record: DeviceRequestRecord, resource: readonly string[]): Promise<{ audience: string[]; scopes: string[] }> {
    const requested = validateResourceIndicators(resource);
    if (requested.length === 0 && record.resources === undefined) return { audience: record.audience, scopes: record.scopes };
    const targets = record.resources === undefined ? requested : authorizedTargets(record.resources, requested);
    return audienceFor(ctx.client, await lookUpResources(deps, ctx.client.clientId, targets), record.scopes, false);
  }

  return {
    /**
     * RFC 8628 §3.1–3.2: a new device code and user code for `client`, the requested scope and
     * resource indicators (RFC 8707, checked now so the user approves exactly what will be issued).
     * @throws UnauthorizedClient when the client may not use the device_code grant; InvalidScope; InvalidTarget
     */
    async authorize(client: ClientView, scope: string, resources: string[] = []): Promise<DeviceAuthorizationResult> {
      // RFC 8628 §3.1 / RFC 6749 §5.2: only clients registered for the grant.
      assertGrantAllowed(client, DEVICE_CODE_GRANT);
      // RFC 8628 §3.1: scope as in RFC 6749 §3.3.
      const requested = parseScope(scope);
      const granted = grantScope({ requested, allowed: client.scopes });
      // RFC 8707 §2.1: the authorization endpoint's rule: at most 10 resources, each a registered
      // service this client may call (or this server); scope narrowed to theirs, user scopes kept.
      const { resources: named, scope: scopes } = await resolveAuthorizationResources(deps, client.clientId, resources, granted);
      const audience = named?.targets ?? client.audience;
      const deviceCode = generateDeviceCode();
      const key = deviceCodeKey(deviceCode);
      const ttlSeconds = deps.config.deviceCodeTtlSeconds;
      const expiresAt = now() + ttlSeconds * 1000;
      let userCode: string | undefined;
      for (let i = 0; i < USER_CODE_ATTEMPTS && userCode === undefined; i++) {
        const candidate = generateUserCode();
        if (await userCodes.putIfAbsent(candidate, { deviceKey: key }, ttlSeconds * 1000)) userCode = candidate;
      }
      if (userCode === undefined) throw new ServerError('no free user code was found');
      const record: DeviceRequestRecord = { clientId: client.clientId, scopes, audience, userCode, expiresAt, interval: deps.config.devicePollIntervalSeconds };
      if (named !== undefined) {
        record.resources = named.targets;
        record.resourceNames = named.named;
      }
      await codes.set(key, record, keepFor(record));
      return { deviceCode, userCode: formatUserCode(userCode), expiresIn: ttlSeconds, interval: record.interval };
    },

    /**
     * RFC 8628 §3.3: the pending request of a user code, for the verification page.
     * @throws SlowDown after too many wrong codes from this browser or address (RFC 8628 §5.1);
     *   NotFound for an unknown, expired or already decided code (counted as a wrong code)
     */
    async lookup(typed: string, remoteIp: string, browserKey: string): Promise<PendingDeviceAuthorization> {
      await assertMayTry(remoteIp, browserKey);
      const found = await findPending(typed);
      if (found === undefined) {
        await countFailure(remoteIp, browserKey);
        throw new NotFound('the code is not valid: check it and try again');
      }
      let clientName = '';
      let logoUri = '';
      try {
        const { client } = await deps.peers.client.getClient({ clientId: found.record.clientId });
        clientName = client?.clientName ?? '';
        logoUri = client?.logoUri ?? '';
      } catch (err) {
        // A client deleted since: its request can no longer be approved.
        if (hasErrorCode(err, 'not_found')) throw new NotFound('the code is not valid: check it and try again');
        throw err;
      }
      return { userCode: formatUserCode(found.record.userCode), clientId: found.record.clientId, clientName, logoUri, scopes: found.record.scopes, resources: found.record.resourceNames ?? [] };
    },

    /**
     * RFC 8628 §3.3: records the user's approval or denial; the first decision wins.
     * @throws NotFound for an unknown, expired or already decided code; InvalidRequest when an
     *   approval names no user or other scopes than the request's; AccessDenied for a disabled user
     */
    async decide(input: DeviceDecisionInput): Promise<void> {
      const found = await findPending(input.userCode);
      if (found === undefined) throw new NotFound('the code is not valid or was already used');
      const { key, record } = found;
      let decision: DeviceDecision;
      if (input.approve) {
        if (input.userId === '') throw new InvalidRequest('user_id is required to approve');
        // The page showed the request's scopes; an approval of anything else was not seen.
        const shown = new Set(input.scopes);
        if (shown.size !== record.scopes.length || record.scopes.some((s) => !shown.has(s))) {
          throw new InvalidRequest('the scopes approved are not the scopes requested');
        }
        const { user } = await deps.peers.user.getUser({ userId: input.userId });
        if (!user || user.disabled) throw new AccessDenied('the user account is not active');
        const authTime = input.authTime ?? deps.now();
        decision = {
          status: 'approved',
          userId: input.userId,
          // RFC 6749 §3.3: the admin scopes only for a user holding the admin role (admin-role.ts).
          scopes: scopesForUser(record.scopes, user.roles),
          authTime: Math.floor(authTime.getTime() / 1000),
          // The public session id (the ID Token's sid) is the hash of the session, never the secret.
          sid: input.sessionId === '' ? '' : hashToken(input.sessionId),
          amr: [...new Set(input.amr)].slice(0, 8),
        };
      } else {
        decision = { status: 'denied' };
      }
      if (!(await decisions.putIfAbsent(key, decision, keepFor(record)))) throw new NotFound('the code was already used');
      // The user code has served its purpose: it can no longer be looked up or guessed.
      await userCodes.delete(record.userCode);
      await deps.audit({
        type: input.approve ? 'device.approved' : 'device.denied',
        subject: input.userId || undefined,
        clientId: record.clientId,
        details: { scope: record.scopes.join(' ') },
      });
    },

    /**
     * RFC 8628 §3.4–3.5: the device access token request. Tokens are issued once per approval.
     * @throws AuthorizationPending, SlowDown (interval + 5 s), AccessDenied, ExpiredToken;
     *   InvalidGrant for an unknown or spent device code or one issued to another client
     */
    async grant(ctx: GrantContext, g: DeviceCodeGrant): Promise<TokenResponse> {
      assertGrantAllowed(ctx.client, DEVICE_CODE_GRANT);
      // RFC 8628 §3.4: device_code is REQUIRED.
      if (!g.deviceCode) throw new InvalidRequest('device_code is required');
      if (g.deviceCode.length > MAX_DEVICE_CODE_LENGTH) throw new InvalidGrant('the device code is invalid');
      const key = deviceCodeKey(g.deviceCode);
      const record = await codes.get(key);
      // RFC 8628 §3.4 / RFC 6749 §5.2: a code issued to another client is invalid_grant.
      if (record === undefined || record.clientId !== ctx.client.clientId) throw new InvalidGrant('the device code is invalid');
      // RFC 8707 §2.2: the token request's resources, judged before anything is recorded or consumed.
      const target = await targetOf(ctx, record, g.resource);
      const [decision, poll] = await Promise.all([decisions.get(key), polls.get(key)]);
      const d = decidePoll({ now: now(), expiresAt: record.expiresAt, interval: record.interval, decision, poll });
      switch (d.outcome) {
        case 'expired_token':
          throw new ExpiredToken('the device code has expired: start a new device authorization');
        case 'access_denied':
          throw new AccessDenied('the user denied the authorization request');
        case 'already_used':
          throw new InvalidGrant('the device code was already used');
        case 'authorization_pending':
          await polls.set(key, d.poll, keepFor(record));
          throw new AuthorizationPending('the user has not yet approved the request');
        case 'slow_down':
          await polls.set(key, d.poll, keepFor(record));
          throw new SlowDown(`polling too fast: wait at least ${d.poll.interval} seconds between requests`, { metadata: { interval: String(d.poll.interval) } });
        case 'approved':
          break;
      }
      const approved = decision as Extract<DeviceDecision, { status: 'approved' }>;
      // Of concurrent polls exactly one turns the approval into "consumed" and gets the tokens.
      if (!(await decisions.replace(key, approved, { status: 'consumed' }))) throw new InvalidGrant('the device code was already used');
      // replace leaves no TTL: put the lifetime back (only the winner writes this key now).
      await decisions.set(key, { status: 'consumed' }, keepFor(record));
      const grantId = generateId('g');
      const authTime = new Date(approved.authTime * 1000);
      const { audience } = target;
      // An approval recorded before approvals carried their scopes keeps the request's.
      const approvedScopes = approved.scopes ?? record.scopes;
      const scopes = target.scopes.filter((s) => approvedScopes.includes(s));
      const [access, refreshToken] = await Promise.all([
        ctx.minter.mint({ client: ctx.client, subject: approved.userId, scopes, audience, authTime, grantId }),
        // OIDC Core §11: an OpenID Connect grant gets a refresh token only with offline_access.
        // RFC 8707 §2.2: the refresh token keeps every resource the user approved.
        mayIssueRefreshToken(approvedScopes) ? issueRefresh(ctx, { userId: approved.userId, scopes: approvedScopes, audience: record.resources ?? audience, familyId: grantId, authTime }) : Promise.resolve(''),
      ]);
      // OIDC Core §3.1.3.3: with openid the response carries an ID Token (no nonce: there was no
      // authorization request to carry one).
      const idToken = isOidcRequest(approvedScopes)
        ? await mintIdToken(ctx.deps, {
            client: ctx.client,
            userId: approved.userId,
            accessToken: access.accessToken,
            authTime,
            sid: approved.sid || undefined,
            amr: approved.amr,
            scopes: approvedScopes,
          })
        : '';
      await ctx.deps.audit({
        type: 'token.issued',
        subject: approved.userId,
        clientId: ctx.client.clientId,
        ip: ctx.remoteIp,
        details: { grant: 'device_code', jti: access.claims.jti, grant_id: grantId, id_token: idToken !== '' },
      });
      return response(access, scopes, { refreshToken, idToken });
    },
  };
}

export type DeviceFlow = ReturnType<typeof createDeviceFlow>;
