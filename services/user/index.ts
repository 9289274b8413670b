import type { ServiceFactory } from '../mesh-deps.js';
import { createLoginGuard } from './login-guard.js';
import { resolvePairwiseSalt } from '../core/config/data-dir-secrets.js';
import { subjectIdentifier } from '../core/oauth/index.js';
import { createBackchannelLogout } from './backchannel-logout.js';
import { createLoginSessions } from './login-sessions.js';
import { createUserCache } from './user-cache.js';
import { createUserServiceRegistration, type SubjectOf } from './user-service.js';

export { USER_SERVICE_NAME, LOGIN_DENIED } from './user-service.js';

export const createUserService: ServiceFactory = (deps) => {
  const cache = createUserCache(deps.grid, deps.store.users);
  const guard = createLoginGuard({
    users: deps.store.users,
    cache,
    policy: { threshold: deps.config.loginAccountMaxFailures, lockMs: deps.config.loginLockSeconds * 1000 },
    source: { threshold: deps.config.loginMaxFailures, windowMs: deps.config.loginLockSeconds * 1000 },
    grid: deps.grid,
    now: deps.now,
    audit: deps.audit,
    log: deps.log,
  });
  // The pairwise salt (OIDC Core §8.1), read or generated once, on first use by a pairwise client.
  let salt: string | undefined;
  const subjectOf: SubjectOf = (client, userId) =>
    client.subjectType === 'pairwise'
      ? subjectIdentifier({ subjectType: 'pairwise', sectorIdentifierUri: client.sectorIdentifierUri, redirectUris: client.redirectUris }, userId, (salt ??= resolvePairwiseSalt(deps.config, deps.log)))
      : userId;
  const logout = createBackchannelLogout({
    issuer: deps.config.issuer,
    peers: () => deps.peers,
    audit: deps.audit,
    log: deps.log,
    now: deps.now,
    allowLoopback: deps.config.backchannelLogoutAllowHttpLoopback,
    subjectOf,
  });
  return {
    registration: createUserServiceRegistration({ mesh: deps, cache, guard, sessions: createLoginSessions(deps.grid, deps.now), logout, subjectOf }),
    // The dummy hash for unknown users is computed before serving, so the first unknown-user
    // login does not pay for it twice (a timing difference that would reveal non-existence).
    start: () => guard.warmUp(),
    stop: async () => logout.close(),
  };
};
