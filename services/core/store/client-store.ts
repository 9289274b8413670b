import type { Client, ClientPatch, ClientType, NewClient, Page, PageRequest } from './types.js';

export interface ClientFilter {
  clientType?: ClientType;
}

export interface ClientStore {
  /** @throws AlreadyExists when the clientId is taken. */
  create(client: NewClient): Promise<Client>;
  /** @throws NotFound */
  get(clientId: string): Promise<Client>;
  /** Ordered by clientId. */
  list(request?: PageRequest & { filter?: ClientFilter }): Promise<Page<Client>>;
  /** Bumps version and updatedAt. @throws NotFound, Conflict when expectedVersion is stale. */
  update(clientId: string, patch: ClientPatch, expectedVersion?: number): Promise<Client>;
  /** Also removes the client's consents and refresh tokens. @throws NotFound */
  delete(clientId: string): Promise<void>;
}
