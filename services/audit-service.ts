// gRPC adapter of the audit trail's reading side (authmesh.audit.v1.AuditService): maps the
// request's filters onto the store's AuditFilter and returns exactly what is stored. Every
// service writes the trail (mesh.ts, audit-queue.ts); this registration is served by the
// process that runs the client service (client/index.ts), see the proto's comment for why.
import { AuditServiceService, ListAuditEventsResponse, type ListAuditEventsRequest } from '../gen/ts/authmesh/audit/v1/audit.js';
import { createActivityRates, type ActivityRates } from './activity-rates.js';
import { InvalidRequest } from './core/errors/index.js';
import { ADMIN_READ, registration } from './core/rpc/index.js';
import type { AuditFilter, AuditStore, PageRequest } from './core/store/index.js';

export const AUDIT_SERVICE_NAME = 'authmesh.audit.v1.AuditService';
/** Largest page ListAuditEvents returns (the proto's bound). */
export const MAX_AUDIT_PAGE_SIZE = 500;

/**
 * The store request for a ListAuditEvents request: `type` ending in `.` is a prefix, empty
 * strings are absent filters. @throws InvalidRequest for a page_size outside 0..500.
 */
export function auditFilterOf(req: ListAuditEventsRequest): PageRequest & AuditFilter {
  if (!Number.isSafeInteger(req.pageSize) || req.pageSize < 0 || req.pageSize > MAX_AUDIT_PAGE_SIZE) {
    throw new InvalidRequest(`page_size must be 1 to ${MAX_AUDIT_PAGE_SIZE} (0 for the default of 50)`);
  }
  const filter: PageRequest & AuditFilter = { pageSize: req.pageSize };
  if (req.type !== '') {
    if (req.type.endsWith('.')) filter.typePrefix = req.type;
    else filter.type = req.type;
  }
  if (req.subject !== '') filter.subject = req.subject;
  if (req.actor !== '') filter.actor = req.actor;
  if (req.clientId !== '') filter.clientId = req.clientId;
  if (req.since !== undefined) filter.since = req.since;
  if (req.after !== '') filter.after = req.after;
  if (req.pageToken !== '') filter.pageToken = req.pageToken;
  return filter;
}

/**
 * The AuditService registration: ListAuditEvents and GetActivityRates under ADMIN_READ
 * (authmesh.admin or authmesh.read). ListAuditEvents answers exactly the stored rows; errors:
 * InvalidRequest (filters, page_size, page_token, after), and the store's failures.
 * GetActivityRates answers `rates.read()` (activity-rates.ts; default: none configured) and
 * ignores its request, which has no fields.
 */
export function createAuditServiceRegistration(audit: Pick<AuditStore, 'list'>, rates: ActivityRates = createActivityRates(undefined)) {
  return registration(
    AUDIT_SERVICE_NAME,
    AuditServiceService,
    {
      async listAuditEvents(req) {
        const page = await audit.list(auditFilterOf(req));
        return ListAuditEventsResponse.fromPartial({
          events: page.items.map((e) => ({
            eventId: e.id,
            eventTime: e.at,
            type: e.type,
            actor: e.actor ?? '',
            subject: e.subject ?? '',
            clientId: e.clientId ?? '',
            ip: e.ip ?? '',
            details: e.details,
          })),
          nextPageToken: page.nextPageToken,
        });
      },
      // Nothing of the request is read: the server alone chooses the queries and where they go.
      async getActivityRates() {
        return rates.read();
      },
    },
    { listAuditEvents: ADMIN_READ, getActivityRates: ADMIN_READ },
  );
}
