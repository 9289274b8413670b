import type { AuditEvent, NewAuditEvent, Page, PageRequest } from './types.js';

export interface AuditFilter {
  type?: string;
  subject?: string;
  clientId?: string;
}

export interface AuditStore {
  /** `at` defaults to now. */
  append(event: NewAuditEvent): Promise<AuditEvent>;
  /** Several events in one statement where the engine allows it (the audit queue's batches). */
  appendMany(events: NewAuditEvent[]): Promise<void>;
  /** Newest first; filters combine with AND. */
  list(request?: PageRequest & AuditFilter): Promise<Page<AuditEvent>>;
}
