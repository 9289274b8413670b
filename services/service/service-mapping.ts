// Between the proto contract and the domain Service.
import { AccessDecision, Endpoint, Service as ServiceMessage } from '../../gen/ts/authmesh/service/v1/service.js';
import { endpointScopes, type AccessDecisionKind } from '../core/oauth/index.js';
import { resolveUpdateMask } from '../core/rpc/index.js';
import type { Service, ServiceEndpoint } from '../core/store/types.js';
import { SERVICE_DRAFT_FIELDS, type ServiceDraft, type ServiceDraftField } from './service-manager.js';

export function endpointMessage(e: ServiceEndpoint): Endpoint {
  return Endpoint.fromPartial({ method: e.method, path: e.path, scope: e.scope, allowedClientIds: e.allowedClientIds });
}

export function toServiceMessage(s: Service): ServiceMessage {
  return ServiceMessage.fromPartial({
    serviceId: s.serviceId,
    displayName: s.name,
    description: s.description,
    audience: s.audience,
    endpoints: s.endpoints.map(endpointMessage),
    scopes: endpointScopes(s.endpoints),
    // A copy cached in the grid before the field existed has none: false.
    dpopBoundAccessTokensRequired: s.dpopBoundAccessTokensRequired === true,
    createTime: s.createdAt,
    updateTime: s.updatedAt,
    etag: String(s.version),
  });
}

export function draftFromMessage(m: ServiceMessage): ServiceDraft {
  return {
    name: m.displayName,
    description: m.description,
    audience: m.audience,
    endpoints: m.endpoints.map((e) => ({ method: e.method, path: e.path, scope: e.scope, allowedClientIds: [...e.allowedClientIds] })),
    dpopBoundAccessTokensRequired: m.dpopBoundAccessTokensRequired,
  };
}

const MASK_FIELDS: Record<string, ServiceDraftField> = {
  display_name: 'name',
  description: 'description',
  audience: 'audience',
  endpoints: 'endpoints',
  dpop_bound_access_tokens_required: 'dpopBoundAccessTokensRequired',
};
const NOT_UPDATABLE = ['service_id', 'scopes', 'create_time', 'update_time', 'etag'];

/** The draft fields an update_mask names; every mutable field for an empty mask. */
export function fieldsOfMask(paths: readonly string[] | undefined): ServiceDraftField[] {
  return resolveUpdateMask(paths, { fields: MASK_FIELDS, immutable: NOT_UPDATABLE, all: SERVICE_DRAFT_FIELDS }).fields;
}

export const DECISIONS: Record<AccessDecisionKind, AccessDecision> = {
  allow: AccessDecision.ACCESS_DECISION_ALLOW,
  deny_no_endpoint: AccessDecision.ACCESS_DECISION_DENY_NO_ENDPOINT,
  deny_insufficient_scope: AccessDecision.ACCESS_DECISION_DENY_INSUFFICIENT_SCOPE,
  deny_client_not_allowed: AccessDecision.ACCESS_DECISION_DENY_CLIENT_NOT_ALLOWED,
};
