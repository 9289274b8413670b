// The API (resource server) registry's domain logic: versioned CRUD with unique audiences, hot
// copies in the grid by id and by audience, and access decisions over the endpoint table.
import { Conflict, InvalidRequest, NotFound } from '../core/errors/index.js';
import { createReadThroughCache, datesToJson, jsonWithDates, type ReadThroughCache } from '../core/grid/index.js';
import { decideAccess, generateId, validateEndpointRule, type AccessDecisionResult, type AccessQuery } from '../core/oauth/index.js';
import type { Page, PageRequest, Service, ServiceEndpoint, ServicePatch } from '../core/store/types.js';
import type { MeshDeps } from '../mesh-deps.js';

/** Every mutable property of a service. */
export interface ServiceDraft {
  name: string;
  description: string;
  audience: string;
  endpoints: ServiceEndpoint[];
  /** RFC 9728 §2 / RFC 9449 §7.1: only DPoP-bound access tokens are accepted. */
  dpopBoundAccessTokensRequired: boolean;
}
export type ServiceDraftField = keyof ServiceDraft;
export const SERVICE_DRAFT_FIELDS: readonly ServiceDraftField[] = ['name', 'description', 'audience', 'endpoints', 'dpopBoundAccessTokensRequired'];

export const MAX_ENDPOINTS = 500;
const SERVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DATE_FIELDS = ['createdAt', 'updatedAt'] as const;

export interface ServiceManager {
  create(serviceId: string, draft: ServiceDraft, actor?: string): Promise<Service>;
  /** @throws NotFound */
  get(serviceId: string): Promise<Service>;
  /** @throws NotFound */
  lookup(audience: string): Promise<Service>;
  list(request: PageRequest): Promise<Page<Service>>;
  update(serviceId: string, draft: ServiceDraft, fields: readonly ServiceDraftField[], etag: string, actor?: string): Promise<Service>;
  delete(serviceId: string, actor?: string): Promise<void>;
  /** The service named by id (preferred) or audience, and the decision for the call. */
  checkAccess(target: { serviceId: string; audience: string }, query: AccessQuery): Promise<AccessDecisionResult<ServiceEndpoint>>;
}

function validateDraft(d: ServiceDraft): ServiceDraft {
  if (d.name.length > 200 || /[^\x20-\x7e\u00a0-\uffff]/.test(d.name)) throw new InvalidRequest('display_name must be at most 200 characters without control characters');
  if (d.description.length > 2000) throw new InvalidRequest('description must be at most 2000 characters');
  // RFC 9068 §3 / RFC 7519 §4.1.3: the audience is the StringOrURI tokens for this API carry in aud.
  if (!/^[\x21-\x7e]{1,2048}$/.test(d.audience)) throw new InvalidRequest('audience is required: a printable string without spaces, e.g. https://api.example.com');
  if (d.endpoints.length > MAX_ENDPOINTS) throw new InvalidRequest(`a service has at most ${MAX_ENDPOINTS} endpoints`);
  const endpoints = d.endpoints.map((e) => {
    const copy = { method: e.method, path: e.path, scope: e.scope, allowedClientIds: [...new Set(e.allowedClientIds)] };
    validateEndpointRule(copy);
    return copy;
  });
  return { name: d.name, description: d.description, audience: d.audience, endpoints, dpopBoundAccessTokensRequired: d.dpopBoundAccessTokensRequired === true };
}

function parseEtag(etag: string): number | undefined {
  if (etag === '') return undefined;
  if (!/^[1-9]\d{0,9}$/.test(etag)) throw new Conflict('the etag does not match the current version of the service');
  return Number(etag);
}

export function createServiceManager(deps: Pick<MeshDeps, 'grid' | 'store' | 'audit'>): ServiceManager {
  const store = deps.store.services;
  const codec = {
    toJson: (s: Service) => datesToJson(s),
    fromJson: (j: Parameters<typeof jsonWithDates>[0]) => jsonWithDates<Service>(j, DATE_FIELDS),
    // The store version; by audience, a moved audience is evicted (a tombstone), so versions of two services never meet.
    version: (s: Service) => s.version,
  };
  const byId: ReadThroughCache<Service> = createReadThroughCache<Service>({
    grid: deps.grid,
    name: 'services',
    load: async (id) => {
      try {
        return await store.get(id);
      } catch (err) {
        if (err instanceof NotFound) return undefined;
        throw err;
      }
    },
    ...codec,
  });
  const byAudience: ReadThroughCache<Service> = createReadThroughCache<Service>({
    grid: deps.grid,
    name: 'services-by-audience',
    load: (audience) => store.getByAudience(audience),
    ...codec,
  });

  async function get(serviceId: string): Promise<Service> {
    const s = SERVICE_ID.test(serviceId) ? await byId.get(serviceId) : undefined;
    if (!s) throw new NotFound('service not found');
    return s;
  }

  async function lookup(audience: string): Promise<Service> {
    const s = audience !== '' && audience.length <= 2048 ? await byAudience.get(audience) : undefined;
    if (!s) throw new NotFound('no service is registered for this audience');
    return s;
  }

  async function cacheWrite(before: Service | undefined, after: Service): Promise<void> {
    await byId.put(after.serviceId, after);
    if (before && before.audience !== after.audience) await byAudience.evict(before.audience);
    await byAudience.put(after.audience, after);
  }

  return {
    async create(serviceId, draft, actor) {
      const id = serviceId === '' ? generateId('s') : serviceId;
      if (!SERVICE_ID.test(id)) throw new InvalidRequest("service_id must be 1-128 letters, digits, '.', '_', ':' or '-'");
      const v = validateDraft(draft);
      const created = await store.create({ serviceId: id, ...v });
      await cacheWrite(undefined, created);
      await deps.audit({ type: 'service.created', actor, subject: id, details: { audience: created.audience } });
      return created;
    },

    get,
    lookup,

    list(request) {
      return store.list(request);
    },

    async update(serviceId, draft, fields, etag, actor) {
      if (!SERVICE_ID.test(serviceId)) throw new NotFound('service not found');
      const expected = parseEtag(etag);
      for (let attempt = 0; ; attempt++) {
        const current = await store.get(serviceId);
        if (expected !== undefined && expected !== current.version) throw new Conflict('the etag does not match the current version of the service');
        const merged: ServiceDraft = {
          name: current.name,
          description: current.description,
          audience: current.audience,
          endpoints: current.endpoints,
          dpopBoundAccessTokensRequired: current.dpopBoundAccessTokensRequired,
        };
        for (const f of fields) (merged as unknown as Record<string, unknown>)[f] = draft[f];
        const v = validateDraft(merged);
        const patch: ServicePatch = { ...v };
        try {
          const after = await store.update(serviceId, patch, current.version);
          await cacheWrite(current, after);
          await deps.audit({ type: 'service.updated', actor, subject: serviceId, details: { fields: [...fields] } });
          return after;
        } catch (err) {
          if (!(err instanceof Conflict) || expected !== undefined || attempt >= 2) throw err;
        }
      }
    },

    async delete(serviceId, actor) {
      if (!SERVICE_ID.test(serviceId)) throw new NotFound('service not found');
      const current = await store.get(serviceId);
      await store.delete(serviceId);
      await byId.evict(serviceId);
      await byAudience.evict(current.audience);
      await deps.audit({ type: 'service.deleted', actor, subject: serviceId, details: { audience: current.audience } });
    },

    async checkAccess(target, query) {
      if (target.serviceId === '' && target.audience === '') throw new InvalidRequest('service_id or audience is required');
      const service = target.serviceId !== '' ? await get(target.serviceId) : await lookup(target.audience);
      if (target.serviceId !== '' && target.audience !== '' && service.audience !== target.audience) {
        throw new InvalidRequest('audience does not belong to the service named by service_id');
      }
      return decideAccess(service.endpoints, query);
    },
  };
}
