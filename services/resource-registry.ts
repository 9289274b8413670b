// RFC 8707 resource indicators against the service registry: the one check shared by the token
// endpoint (services/token/audience.ts) and the authorization endpoint (services/code), so a
// resource is accepted or refused by the same rule wherever a client names it.
import { hasErrorCode, InvalidTarget } from './core/errors/index.js';
import { mayCallService, ownApiScopes, scopeForAuthorizedResources, validateAuthorizationResources } from './core/oauth/index.js';
import type { MeshDeps } from './mesh-deps.js';

/** One resource as the pages show it: the indicator and the registered service's display name. */
export interface NamedResource {
  resource: string;
  /** The service's display name; '' for this server's own API (resource = the issuer). */
  name: string;
}

/** Resource indicators checked against the registry (see lookUpResources). */
export interface ResolvedResources {
  /** The resource indicators, de-duplicated, in request order: the token's `aud`, exactly. */
  targets: string[];
  /** Every scope the registered services among them require. */
  serviceScopes: string[];
  /** Whether this server's own API (resource = the issuer) is among them. */
  ownApi: boolean;
  /** Each target with its service's display name, for the consent page. */
  named: NamedResource[];
}

/**
 * RFC 8707 §2: each of `targets` (already syntax-checked, de-duplicated) must be a registered
 * service this client may call (some endpoint admits it) or this server's issuer (its own API).
 * @returns the targets with their services' scopes and names
 * @throws InvalidTarget for an unknown resource or one the client may not use; the registry's own
 *   errors (unavailable) unchanged
 */
export async function lookUpResources(deps: Pick<MeshDeps, 'config' | 'peers'>, clientId: string, targets: readonly string[]): Promise<ResolvedResources> {
  const serviceScopes = new Set<string>();
  const named: NamedResource[] = [];
  let ownApi = false;
  for (const target of targets) {
    // RFC 8707 §2: this server is itself a resource (its admin and self-service RPCs).
    if (target === deps.config.issuer) {
      ownApi = true;
      named.push({ resource: target, name: '' });
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
    if (!service || !mayCallService(service.endpoints, clientId)) throw new InvalidTarget(`this client may not use the resource: ${target}`);
    for (const s of service.scopes) serviceScopes.add(s);
    named.push({ resource: target, name: service.displayName });
  }
  return { targets: [...targets], serviceScopes: [...serviceScopes], ownApi, named };
}

/**
 * RFC 8707 §2.1: the resource indicators of an authorization request (the authorization endpoint,
 * a pushed request, a request object, the device authorization endpoint), bounded, checked against
 * the registry by the token endpoint's rule, and the scope narrowed to what they offer (the
 * issuer as a resource offers the authmesh.* scopes; user scopes are kept).
 * @param resource the values as received; scope the scope the request would be granted without them
 * @returns undefined resources and the scope unchanged when the request named none
 * @throws InvalidRequest (more than 10, longer than 2048 characters), InvalidTarget (malformed,
 *   unknown, not for this client), InvalidScope (nothing requested remains); the registry's
 *   unavailability unchanged
 */
export async function resolveAuthorizationResources(
  deps: Pick<MeshDeps, 'config' | 'peers'>,
  clientId: string,
  resource: readonly string[],
  scope: string[],
): Promise<{ resources: ResolvedResources | undefined; scope: string[] }> {
  const targets = validateAuthorizationResources(resource);
  if (targets.length === 0) return { resources: undefined, scope };
  const resources = await lookUpResources(deps, clientId, targets);
  // RFC 8707 §2 / RFC 9068 §4: the issuer as a resource offers this server's own (authmesh.*) scopes.
  const offered = [...resources.serviceScopes, ...(resources.ownApi ? ownApiScopes(scope) : [])];
  return { resources, scope: scopeForAuthorizedResources({ scope, offered }) };
}
