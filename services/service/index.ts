import type { ServiceFactory } from '../mesh-deps.js';
import { createServiceManager } from './service-manager.js';
import { createServiceRegistryRegistration } from './service-registry-service.js';

export { createServiceManager, type ServiceDraft, type ServiceManager } from './service-manager.js';
export { toServiceMessage } from './service-mapping.js';
export { createServiceRegistryRegistration, REGISTRY_READ, SERVICE_REGISTRY_SERVICE_NAME } from './service-registry-service.js';

export const createServiceRegistryService: ServiceFactory = (deps) => ({
  registration: createServiceRegistryRegistration(createServiceManager(deps)),
});
