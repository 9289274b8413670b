// Protected Resource Metadata (RFC 9728) of the APIs in the service registry. A registered
// service's resource identifier is its audience (RFC 8707 §2, RFC 9068 §3: the value a client
// names in `resource` and finds in `aud`), so the registry stays the only source of truth: a
// service whose audience is an http(s) URL on the edge's public origin gets a metadata document
// there, at the well-known URL RFC 9728 §3.1 derives from that identifier.

/** RFC 9728 §3: the well-known URI suffix (registered in §8.3). */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const MAX_RESOURCE_LENGTH = 2048;

/**
 * The URL of a resource identifier that may have metadata, or undefined. RFC 9728 §1.2: an https
 * URL without query or fragment (http only on loopback, as for the issuer), written in the form
 * the WHATWG parser gives back (no default port, lowercase host, no dot segments), so that the
 * identifier and its metadata URL map to each other one to one (§3.3).
 */
export function parseResourceIdentifier(resource: string): URL | undefined {
  if (resource.length === 0 || resource.length > MAX_RESOURCE_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return undefined;
  }
  // RFC 9728 §1.2: the resource identifier uses the https scheme and has no fragment; a query
  // component is discouraged and would make the well-known URL ambiguous, so none is accepted.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return undefined;
  if (url.search !== '' || url.hash !== '' || resource.includes('?') || resource.includes('#')) return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  // The canonical spelling only: "https://a.example:443/x" or "https://A.example/x" would publish a
  // document whose `resource` differs from the URL it was fetched for.
  const canonical = url.pathname === '/' && !resource.endsWith('/') ? url.origin : url.href;
  return canonical === resource ? url : undefined;
}

/**
 * The metadata URL of `resource` (RFC 9728 §3.1: the well-known suffix inserted between the host
 * and the path), when the gateway at `origin` (the edge's public origin, e.g.
 * "https://auth.example.com") serves it; undefined for an identifier on another origin or one that
 * cannot have metadata (see parseResourceIdentifier).
 */
export function resourceMetadataUrl(resource: string, origin: string): string | undefined {
  const url = parseResourceIdentifier(resource);
  if (!url || url.origin !== origin) return undefined;
  // RFC 9728 §3.1: a resource without a path component uses the bare well-known URL.
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${url.pathname === '/' ? '' : url.pathname}`;
}

/**
 * RFC 9728 §3.1 backwards: the resource identifiers whose metadata URL is `origin` +
 * PROTECTED_RESOURCE_WELL_KNOWN + `pathSuffix` (the raw path after the well-known suffix, "" or
 * starting with "/"). Two for the origin itself (with and without the final slash), one otherwise,
 * none for a suffix no identifier maps to. Built from the registry's origin, never from the Host
 * header, so a caller cannot make the document name a resource of its choosing (§3.3).
 */
export function resourcesForMetadataPath(origin: string, pathSuffix: string): string[] {
  if (pathSuffix !== '' && !pathSuffix.startsWith('/')) return [];
  const candidates = pathSuffix === '' ? [origin, `${origin}/`] : [`${origin}${pathSuffix}`];
  const expected = `${origin}${PROTECTED_RESOURCE_WELL_KNOWN}${pathSuffix}`;
  // Only identifiers that map back to exactly this URL: the document must be the one for it (§3.3).
  return candidates.filter((r) => resourceMetadataUrl(r, origin) === expected);
}

export interface ProtectedResourceInput {
  /** The resource identifier (the service's audience). */
  resource: string;
  /** The authorization server's issuer identifier (RFC 8414 §2). */
  issuer: string;
  /** Human-readable name (RFC 9728 §2 resource_name); omitted when empty. */
  name: string;
  /** Every scope some endpoint of the resource requires. */
  scopes: readonly string[];
  /**
   * DPoP (RFC 9449) as the resource server checks it: the proof algorithms it accepts, and whether
   * it refuses tokens that are not DPoP-bound. Absent when the resource server does not check DPoP.
   */
  dpop?: { algs: readonly string[]; required: boolean } | undefined;
}

/** The RFC 9728 §2 metadata document of one protected resource, as a JSON object. */
export function protectedResourceMetadata(input: ProtectedResourceInput): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    // RFC 9728 §2: resource is REQUIRED; §3.3: it equals the identifier the metadata URL was built from.
    resource: input.resource,
    // RFC 9728 §2: the issuers of authorization servers that issue tokens this resource accepts.
    authorization_servers: [input.issuer],
    // RFC 9728 §2: scopes used in authorization requests to access this resource.
    scopes_supported: [...new Set(input.scopes)].sort(),
    // RFC 9728 §2 / RFC 6750 §2.1: tokens only in the Authorization header (never query or body).
    bearer_methods_supported: ['header'],
  };
  if (input.name !== '') doc.resource_name = input.name;
  if (input.dpop) {
    // RFC 9728 §2: the DPoP proof algorithms accepted, and whether every token must be DPoP-bound.
    doc.dpop_signing_alg_values_supported = [...input.dpop.algs];
    doc.dpop_bound_access_tokens_required = input.dpop.required;
  }
  return doc;
}
