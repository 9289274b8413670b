// Audience and scope of a token from resource indicators and the service registry.
import { hasErrorCode, InvalidTarget } from '../core/errors/index.js';
import { mayCallService, ownApiScopes, scopeForResources, validateResourceIndicators } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/** The resources a token request named, checked against the registry (see resolveResources). */
export interface ResolvedResources {
  /** The resource indicators, de-duplicated, in request order: the token's `aud`, exactly. */
  targets: string[];
  /** Every scope the registered services among them require. */
  serviceScopes: string[];
  /** Whether this server's own API (resource = the issuer) is among them. */
  ownApi: boolean;
}

/**
 * RFC 8707 §2: the `resource` values of a token request, each of which must be a registered
 * service this client may call (some endpoint admits it) or this server's issuer (its own API).
 * Runs before anything is consumed (a code, a refresh token), so a refused request changes
 * nothing. undefined when no resource was named. @throws InvalidTarget
 */
export async function resolveResources(deps: MeshDeps, client: ClientView, resources: readonly string[]): Promise<ResolvedResources | undefined> {
  const targets = validateResourceIndicators(resources);
  if (targets.length === 0) return undefined;
  const serviceScopes = new Set<string>();
  let ownApi = false;
  for (const target of targets) {
    // RFC 8707 §2: this server is itself a resource (its admin and self-service RPCs).
    if (target === deps.config.issuer) {
      ownApi = true;
      continue;
    }
    let service;
    try {
      ({ service } = await deps.peers.service.lookupService({ audience: target }));
    } catch (err) {
      // RFC 8707 §2: a resource the server does not know is invalid_target.
      if (hasErrorCode(err, 'not_found')) throw new InvalidTarget(`unknown resource: ${target}`);
      throw err;
    }
    // RFC 8707 §2: a resource the client is not allowed to use is invalid_target too: a token for
    // an API whose every endpoint admits only other clients would be refused there anyway.
    if (!service || !mayCallService(service.endpoints, client.clientId)) throw new InvalidTarget(`this client may not use the resource: ${target}`);
    for (const s of service.scopes) serviceScopes.add(s);
  }
  return { targets, serviceScopes: [...serviceScopes], ownApi };
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
