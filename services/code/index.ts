import type { ServiceFactory } from '../mesh-deps.js';
import { createCodeServiceRegistration } from './code-service.js';

export { CODE_SERVICE_NAME, createCodeServiceRegistration } from './code-service.js';
export { CODES_MAP, REDEEMED_CODES_MAP, createCodeGrants, type CodeGrants, type StoredCode } from './code-grants.js';

export const createCodeService: ServiceFactory = (deps) => ({ registration: createCodeServiceRegistration(deps) });
