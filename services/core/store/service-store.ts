import type { NewService, Page, PageRequest, Service, ServicePatch } from './types.js';

export interface ServiceStore {
  /** @throws AlreadyExists when the serviceId or the audience is taken. */
  create(service: NewService): Promise<Service>;
  /** @throws NotFound */
  get(serviceId: string): Promise<Service>;
  /** undefined when no service has that audience. */
  getByAudience(audience: string): Promise<Service | undefined>;
  /** Ordered by serviceId. */
  list(request?: PageRequest): Promise<Page<Service>>;
  /** Bumps version and updatedAt. @throws NotFound, Conflict, AlreadyExists (audience taken) */
  update(serviceId: string, patch: ServicePatch, expectedVersion?: number): Promise<Service>;
  /** @throws NotFound */
  delete(serviceId: string): Promise<void>;
}
