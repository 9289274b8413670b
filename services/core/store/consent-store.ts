import type { Consent, NewConsent, Page, PageRequest } from './types.js';

export interface ConsentStore {
  /** @throws NotFound */
  get(userId: string, clientId: string): Promise<Consent>;
  /** Creates or replaces the scopes and resource scopes; createdAt survives a replacement. @throws NotFound for an unknown user or client. */
  put(consent: NewConsent): Promise<Consent>;
  /** @throws NotFound */
  delete(userId: string, clientId: string): Promise<void>;
  /** Ordered by clientId. */
  listByUser(userId: string, request?: PageRequest): Promise<Page<Consent>>;
}
