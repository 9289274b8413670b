// Audience and scope of a token from resource indicators and the service registry.
import { hasErrorCode, InvalidTarget } from '../core/errors/index.js';
import { ownApiScopes, scopeForResources, validateResourceIndicators } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/**
 * With resource indicators, the audience is those resources, each of which must be a registered
 * service or this server's issuer (its own API, offering the authmesh.* scopes), and the scope is
 * narrowed to what they offer. Without, the client's default audience.
 */
export async function resolveAudience(
  deps: MeshDeps,
  client: ClientView,
  resources: string[],
  granted: string[],
  explicitScope: boolean,
): Promise<{ audience: string[]; scopes: string[] }> {
  const targets = validateResourceIndicators(resources);
  if (targets.length === 0) return { audience: client.audience, scopes: granted };
  const offered = new Set<string>();
  for (const target of targets) {
    // RFC 8707 §2: this server is itself a resource (its admin and self-service RPCs).
    if (target === deps.config.issuer) {
      for (const s of ownApiScopes(granted)) offered.add(s);
      continue;
    }
    try {
      const { service } = await deps.peers.service.lookupService({ audience: target });
      for (const s of service?.scopes ?? []) offered.add(s);
    } catch (err) {
      // RFC 8707 §2: a resource the server does not know is invalid_target.
      if (hasErrorCode(err, 'not_found')) throw new InvalidTarget(`unknown resource: ${target}`);
      throw err;
    }
  }
  return { audience: targets, scopes: scopeForResources({ granted, offered: [...offered], explicit: explicitScope }) };
}
