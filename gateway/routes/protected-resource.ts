// Protected Resource Metadata (RFC 9728) for every API in the service registry whose resource
// identifier (its audience) is a URL on the edge's public origin (the issuer's): GET
// /.well-known/oauth-protected-resource/<path> answers the document of the resource
// <origin>/<path> (RFC 9728 §3.1), built from the registry entry, never from the request's Host
// header, so the document's `resource` is always the URL it was fetched for (§3.3).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Service } from '../../gen/ts/authmesh/service/v1/service.js';
import { hasErrorCode } from '../../services/core/errors/index.js';
import { DPOP_SIGNING_ALGS, PROTECTED_RESOURCE_WELL_KNOWN, protectedResourceMetadata, resourcesForMetadataPath } from '../../services/core/oauth/index.js';
import { registerEndpoint } from '../endpoint.js';
import type { GatewayContext, RouteModule } from '../gateway.js';

/** How long a registry answer (found or not) is reused by this gateway instance, in ms. */
export const PROTECTED_RESOURCE_CACHE_MS = 30_000;
/** Entries kept at most: paths are chosen by callers, so the cache must not grow with them. */
const CACHE_ENTRIES = 1_000;
// Clients and shared caches may keep a document a minute: a registry change shows within that.
const CACHE_CONTROL = 'public, max-age=60';

export const protectedResourceRoutes: RouteModule = ({ app, config, peers }: GatewayContext) => {
  const origin = new URL(config.issuer).origin;
  // Registry answers by metadata path; undefined = no such resource.
  const cache = new Map<string, { at: number; body: string | undefined }>();

  async function lookup(resource: string): Promise<Service | undefined> {
    try {
      return (await peers.service.lookupService({ audience: resource })).service;
    } catch (err) {
      if (hasErrorCode(err, 'not_found') || hasErrorCode(err, 'invalid_request')) return undefined;
      throw err;
    }
  }

  async function documentFor(suffix: string): Promise<string | undefined> {
    for (const resource of resourcesForMetadataPath(origin, suffix)) {
      const service = await lookup(resource);
      // Exact: the registry found the service by this very string (RFC 9728 §3.3).
      if (service && service.audience === resource) {
        // RFC 9728 §2: DPoP members for a service that requires DPoP-bound tokens.
        const dpop = service.dpopBoundAccessTokensRequired ? { algs: DPOP_SIGNING_ALGS, required: true } : undefined;
        return JSON.stringify(protectedResourceMetadata({ resource, issuer: config.issuer, name: service.displayName, scopes: service.scopes, dpop }));
      }
    }
    return undefined;
  }

  async function handle(req: FastifyRequest, reply: FastifyReply) {
    const path = req.url.split('?')[0] ?? '';
    const suffix = path.slice(PROTECTED_RESOURCE_WELL_KNOWN.length);
    const now = Date.now();
    let hit = cache.get(suffix);
    if (!hit || now - hit.at > PROTECTED_RESOURCE_CACHE_MS) {
      hit = { at: now, body: await documentFor(suffix) };
      cache.delete(suffix);
      if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(suffix, hit);
    }
    reply.header('cache-control', CACHE_CONTROL);
    // RFC 9728 §3.2: an unknown resource is an error response; we use the gateway's 404 shape.
    if (hit.body === undefined) return reply.code(404).type('application/json').send({ error: 'not_found', error_description: 'no protected resource is registered for this URL' });
    // RFC 9728 §3.2: the document is application/json.
    return reply.type('application/json').send(hit.body);
  }

  for (const url of [PROTECTED_RESOURCE_WELL_KNOWN, `${PROTECTED_RESOURCE_WELL_KNOWN}/*`]) {
    // Public and cross-origin readable like the AS metadata: browser-based clients discover with it.
    registerEndpoint(app, { url, corsOrigins: config.corsOrigins, handlers: { GET: handle } });
  }
};
