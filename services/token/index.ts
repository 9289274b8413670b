import type { ServiceFactory } from '../mesh-deps.js';
import { createExtAuthz } from './ext-authz.js';
import { createTokenMinter } from './token-minter.js';
import { createTokenRpc } from './token-service.js';

export { EXT_AUTHZ_SERVICE_NAME, IDENTITY_HEADERS } from './ext-authz.js';
export { TOKEN_SERVICE_NAME } from './token-service.js';

export const createTokenService: ServiceFactory = (deps) => {
  const minter = createTokenMinter(deps);
  return { registration: createTokenRpc(deps, minter), extra: [createExtAuthz(deps)] };
};
