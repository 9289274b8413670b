import type { ServiceFactory } from '../mesh-deps.js';
import { createRefreshTokenServiceRegistration } from './refresh-token-service.js';

export { REFRESH_TOKEN_SERVICE_NAME } from './refresh-token-service.js';

export const createRefreshTokenService: ServiceFactory = (deps) => ({
  registration: createRefreshTokenServiceRegistration(deps),
});
