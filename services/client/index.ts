import { createActivityRates } from '../activity-rates.js';
import { createAuditServiceRegistration } from '../audit-service.js';
import type { ServiceFactory } from '../mesh-deps.js';
import { bootstrapAdminClient } from './client-bootstrap.js';
import { bootstrapConsoleClient } from './console-bootstrap.js';
import { createClientManager } from './client-manager.js';
import { createClientServiceRegistration } from './client-service.js';

export { CONSOLE_CLIENT_ID, consoleUrls } from './console-bootstrap.js';
export { JWT_BEARER_ASSERTION_TYPE } from './client-assertion.js';
export { clientRequiresPkce, isValidClientId, usesSecret, type ClientDraft, type ClientDraftField } from './client-draft.js';
export { createClientCache, createClientManager, type ClientCreated, type ClientManager, type PresentedCredentials } from './client-manager.js';
export { draftFromMessage, toClientMessage } from './client-mapping.js';
export { CLIENT_SERVICE_NAME, createClientServiceRegistration } from './client-service.js';

// The process running the client service also serves the audit trail's reading side
// (authmesh.audit.v1.AuditService; proto/authmesh/audit/v1/audit.proto says why).
export const createClientService: ServiceFactory = (deps) => {
  const clients = createClientManager(deps);
  return {
    registration: createClientServiceRegistration(clients),
    extra: [createAuditServiceRegistration(deps.store.audit, createActivityRates(deps.config.consolePrometheusUrl))],
    start: async () => {
      await bootstrapAdminClient(deps, clients);
      await bootstrapConsoleClient(deps, clients);
    },
  };
};
