import type { AuditEvent, NewAuditEvent, Page, PageRequest } from './types.js';

/** Longest value any text filter may carry: the audit_events columns are VARCHAR(255). */
export const AUDIT_FILTER_MAX_LENGTH = 255;

/**
 * What an audit listing selects; every filter is optional and they combine with AND.
 * Text filters are at most AUDIT_FILTER_MAX_LENGTH characters (longer: InvalidRequest).
 */
export interface AuditFilter {
  /** Exactly this event type, e.g. `client.created`. */
  type?: string;
  /** Event types starting with this text, e.g. `client.` (compared literally, no wildcards). */
  typePrefix?: string;
  subject?: string;
  /** Who acted (an admin token's subject, or `mesh`). */
  actor?: string;
  clientId?: string;
  /** Only events at or after this instant (1970 to 9999, else InvalidRequest). */
  since?: Date;
  /**
   * A tail cursor: only events whose id is greater than this one, listed OLDEST first (so a
   * poller passing the last id it saw gets each later event once). Cannot be combined with
   * pageToken: the last item's id is the next cursor. Decimal digits, at most 18.
   */
  after?: string;
}

export interface AuditStore {
  /** `at` defaults to now. */
  append(event: NewAuditEvent): Promise<AuditEvent>;
  /** Several events in one statement where the engine allows it (the audit queue's batches). */
  appendMany(events: NewAuditEvent[]): Promise<void>;
  /**
   * Newest first (oldest first with `after`); filters combine with AND.
   * @throws InvalidRequest for a bad page_token or cursor, a filter too long, or pageToken with after.
   */
  list(request?: PageRequest & AuditFilter): Promise<Page<AuditEvent>>;
}
