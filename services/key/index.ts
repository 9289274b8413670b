import { resolveMasterKey } from '../core/config/data-dir-secrets.js';
import { StartupError } from '../core/config/startup-error.js';
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
  let removeKeyAge: (() => void) | undefined;
  return {
    registration: createKeyService(ring),
    async start() {
      await ring.ensureReady();
      // authmesh_signing_key_age_seconds: read at each scrape from the ring (memoised, grid-cached).
      removeKeyAge = deps.metrics.addSigningKeyAge(async () => {
        const active = (await ring.list()).filter((k) => k.status === 'active').sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
        return active ? (deps.now().getTime() - active.createdAt.getTime()) / 1000 : undefined;
      });
      // A master key that does not decrypt the active signing key would fail every token
      // request; fail the start instead, while the operator is looking.
      try {
        await ring.signer();
      } catch (err) {
        throw new StartupError({
          failed: 'cannot decrypt the active signing key with the master key',
          cause: err,
          fix: deps.config.masterKey
            ? 'set AUTHMESH_MASTER_KEY to the key the signing keys were encrypted with (the one this store was first started with)'
            : 'set AUTHMESH_MASTER_KEY to the key the signing keys were encrypted with, or restore master.key in AUTHMESH_DATA_DIR from a backup',
          exitCode: 2,
        });
      }
    },
    async stop() {
      removeKeyAge?.();
    },
  };
};
