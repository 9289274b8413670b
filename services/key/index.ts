import { resolveMasterKey } from '../core/config/data-dir-secrets.js';
import type { ServiceFactory } from '../mesh-deps.js';
import { createKeyRing } from './key-ring.js';
import { createKeyService } from './key-service.js';

export { createKeyRing } from './key-ring.js';
export { createKeyService, KEY_SERVICE_NAME } from './key-service.js';

export const createKeyServiceModule: ServiceFactory = (deps) => {
  const ring = createKeyRing({
    store: deps.store.keys,
    grid: deps.grid,
    masterKey: resolveMasterKey(deps.config, deps.log),
    defaultAlg: deps.config.signingAlg,
    // A retired key must verify every token it signed: the longest access token lifetime plus skew.
    retiredKeyTtlSeconds: deps.config.accessTokenTtlSeconds + 300,
  });
  return { registration: createKeyService(ring), start: () => ring.ensureReady() };
};
