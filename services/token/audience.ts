// Audience and scope of a token from resource indicators and the service registry.
import { ownApiScopes, scopeForResources, validateResourceIndicators } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { lookUpResources, type ResolvedResources } from '../resource-registry.js';
import type { ClientView } from './client-view.js';

export type { ResolvedResources };

/**
 * RFC 8707 §2: the `resource` values of a token request, each of which must be a registered
 * service this client may call (some endpoint admits it) or this server's issuer (its own API).
 * Runs before anything is consumed (a code, a refresh token), so a refused request changes
 * nothing. undefined when no resource was named. @throws InvalidTarget
 */
export async function resolveResources(deps: MeshDeps, client: ClientView, resources: readonly string[]): Promise<ResolvedResources | undefined> {
  const targets = validateResourceIndicators(resources);
  if (targets.length === 0) return undefined;
  return lookUpResources(deps, client.clientId, targets);
}

/**
 * The token's audience and scope: with resources, `aud` is exactly those resources (RFC 9068 §3)
 * and the scope is narrowed to what they offer (RFC 8707 §2.2; an explicit scope none of them
 * offers is invalid_scope); without, the client's default audience and the granted scope.
 * @throws InvalidScope
 */
export function audienceFor(
  client: ClientView,
  resolved: ResolvedResources | undefined,
  granted: string[],
  explicitScope: boolean,
): { audience: string[]; scopes: string[] } {
  if (!resolved) return { audience: client.audience, scopes: granted };
  const offered = [...resolved.serviceScopes, ...(resolved.ownApi ? ownApiScopes(granted) : [])];
  return { audience: resolved.targets, scopes: scopeForResources({ granted, offered, explicit: explicitScope }) };
}

/**
 * resolveResources then audienceFor, for grants that consume nothing before the audience is known.
 * @throws InvalidTarget, InvalidScope
 */
export async function resolveAudience(
  deps: MeshDeps,
  client: ClientView,
  resources: string[],
  granted: string[],
  explicitScope: boolean,
): Promise<{ audience: string[]; scopes: string[] }> {
  return audienceFor(client, await resolveResources(deps, client, resources), granted, explicitScope);
}
