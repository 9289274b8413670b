import type { ServiceFactory } from '../mesh-deps.js';
import { createExtAuthz } from './ext-authz.js';
import { createTokenMinter } from './token-minter.js';
import { createTokenRpc } from './token-service.js';

export { EXT_AUTHZ_SERVICE_NAME, IDENTITY_HEADERS } from './ext-authz.js';
export { TOKEN_SERVICE_NAME } from './token-service.js';

export const createTokenService: ServiceFactory = (deps) => {
  const minter = createTokenMinter(deps);
  // On a shared grid (Hazelcast), load the revocation buckets the grid lacks once, in the
  // background: ext_authz Check and introspection then read SQL only for a bucket the grid loses,
  // so a database restart alone does not fail them (issue 18; revocation-list.ts). The in-process
  // grid lives and dies with this process, so there is nothing to gain there.
  if (deps.config.grid === 'hazelcast') {
    deps.verifier.warmRevocations().then(
      (loaded) => deps.log.debug({ loaded }, 'revocation buckets loaded into the grid'),
      (err: unknown) => deps.log.warn({ err }, 'loading the revocation buckets into the grid stopped; reads load the rest'),
    );
  }
  return { registration: createTokenRpc(deps, minter), extra: [createExtAuthz(deps)] };
};
