// gRPC adapter of the service registry: maps between the proto contract and the ServiceManager.
import {
  CheckAccessResponse,
  CreateServiceResponse,
  DeleteServiceResponse,
  GetServiceResponse,
  ListServicesResponse,
  LookupServiceResponse,
  ServiceRegistryServiceService,
  UpdateServiceResponse,
} from '../../gen/ts/authmesh/service/v1/service.js';
import { InvalidRequest } from '../core/errors/index.js';
import { ADMIN_READ, ADMIN_READ_OR_MESH, ADMIN_WRITE, registration, type Access, type CallContext } from '../core/rpc/index.js';
import type { ServiceManager } from './service-manager.js';
import { DECISIONS, draftFromMessage, endpointMessage, fieldsOfMask, toServiceMessage } from './service-mapping.js';

export const SERVICE_REGISTRY_SERVICE_NAME = 'authmesh.service.v1.ServiceRegistryService';

/** Admin readers and the mesh's own services (token computes scopes and ext_authz decisions). */
export const REGISTRY_READ: Access = ADMIN_READ_OR_MESH;

function actorOf(ctx: CallContext): string {
  return ctx.principal.kind === 'token' ? ctx.principal.subject : ctx.principal.kind;
}

export function createServiceRegistryRegistration(services: ServiceManager) {
  return registration(
    SERVICE_REGISTRY_SERVICE_NAME,
    ServiceRegistryServiceService,
    {
      async createService(req, ctx) {
        if (!req.service) throw new InvalidRequest('service is required');
        const created = await services.create(req.service.serviceId, draftFromMessage(req.service), actorOf(ctx));
        return CreateServiceResponse.fromPartial({ service: toServiceMessage(created) });
      },
      async getService(req) {
        if (!req.serviceId) throw new InvalidRequest('service_id is required');
        return GetServiceResponse.fromPartial({ service: toServiceMessage(await services.get(req.serviceId)) });
      },
      async listServices(req) {
        if (req.pageSize < 0 || req.pageSize > 1000) throw new InvalidRequest('page_size must be 1 to 1000 (0 for the default of 50)');
        const page = await services.list({ pageSize: req.pageSize, pageToken: req.pageToken });
        return ListServicesResponse.fromPartial({ services: page.items.map(toServiceMessage), nextPageToken: page.nextPageToken });
      },
      async updateService(req, ctx) {
        if (!req.service) throw new InvalidRequest('service is required');
        if (!req.service.serviceId) throw new InvalidRequest('service.service_id is required');
        const fields = fieldsOfMask(req.updateMask);
        const updated = await services.update(req.service.serviceId, draftFromMessage(req.service), fields, req.service.etag, actorOf(ctx));
        return UpdateServiceResponse.fromPartial({ service: toServiceMessage(updated) });
      },
      async deleteService(req, ctx) {
        if (!req.serviceId) throw new InvalidRequest('service_id is required');
        await services.delete(req.serviceId, actorOf(ctx));
        return DeleteServiceResponse.fromPartial({});
      },
      async lookupService(req) {
        if (!req.audience) throw new InvalidRequest('audience is required');
        return LookupServiceResponse.fromPartial({ service: toServiceMessage(await services.lookup(req.audience)) });
      },
      async checkAccess(req) {
        if (!req.method) throw new InvalidRequest('method is required');
        if (!req.path) throw new InvalidRequest('path is required');
        const r = await services.checkAccess(
          { serviceId: req.serviceId, audience: req.audience },
          { method: req.method, path: req.path, scopes: req.scopes, clientId: req.clientId === '' ? undefined : req.clientId },
        );
        return CheckAccessResponse.fromPartial({
          decision: DECISIONS[r.decision],
          requiredScope: r.requiredScope,
          endpoint: r.endpoint ? endpointMessage(r.endpoint) : undefined,
        });
      },
    },
    {
      createService: ADMIN_WRITE,
      getService: REGISTRY_READ,
      listServices: ADMIN_READ,
      updateService: ADMIN_WRITE,
      deleteService: ADMIN_WRITE,
      lookupService: REGISTRY_READ,
      checkAccess: REGISTRY_READ,
    },
  );
}
