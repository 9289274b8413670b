// Which registered endpoint of a protected API a request hits, and whether the caller may call it.
// This is an authorization rule: the service registry's CheckAccess and the token service's
// ext_authz Check both decide with it, so a path is read exactly one way everywhere.
import { InvalidRequest } from '../errors/index.js';
import { isScopeToken } from './scope.js';

/** One operation of a protected API (mirrors the store's ServiceEndpoint). */
export interface EndpointRule {
  /** Upper-case HTTP method or '*'. */
  method: string;
  /** Template: literal segments, {name} for one segment, a final ** for any remainder. */
  path: string;
  /** Required scope; '' means any valid token. */
  scope: string;
  /** Empty means any client holding the scope. */
  allowedClientIds: readonly string[];
}

export type AccessDecisionKind = 'allow' | 'deny_no_endpoint' | 'deny_insufficient_scope' | 'deny_client_not_allowed';

export interface AccessDecisionResult<E extends EndpointRule = EndpointRule> {
  decision: AccessDecisionKind;
  /** The endpoint that matched, if any. */
  endpoint?: E;
  /** The matched endpoint's scope ('' when none matched or it needs none). */
  requiredScope: string;
}

export interface AccessQuery {
  method: string;
  /** Request path relative to the API root; a query string is ignored. */
  path: string;
  scopes: readonly string[];
  clientId?: string | undefined;
}

export const MAX_ENDPOINT_PATH_LENGTH = 1024;
export const MAX_REQUEST_PATH_LENGTH = 8192;

// RFC 9110 §5.6.2: a method is a token; registrations are written in upper case.
const TEMPLATE_METHOD = /^[A-Z][A-Z0-9_-]{0,31}$/;
// RFC 9110 §9.1 / §5.6.2: token characters.
const REQUEST_METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
// RFC 3986 §3.3 pchar without '%' (templates are written decoded) and without '*' (reserved for **).
const LITERAL_SEGMENT = /^[A-Za-z0-9\-._~!$&'()+,;=:@]+$/;
const PARAM_SEGMENT = /^\{([A-Za-z_][A-Za-z0-9_]{0,63})\}$/;
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/** Checks a registered endpoint; throws InvalidRequest naming what is wrong. */
export function validateEndpointRule(endpoint: EndpointRule): void {
  if (endpoint.method !== '*' && !TEMPLATE_METHOD.test(endpoint.method)) {
    throw new InvalidRequest('endpoint method must be an upper-case HTTP method such as GET, or *');
  }
  validatePathTemplate(endpoint.path);
  // RFC 6749 §3.3: a required scope is a single scope token.
  if (endpoint.scope !== '' && !isScopeToken(endpoint.scope)) throw new InvalidRequest('endpoint scope must be one scope token or empty');
  for (const id of endpoint.allowedClientIds) {
    if (!CLIENT_ID.test(id)) throw new InvalidRequest('endpoint allowed_client_ids must be client ids');
  }
}

/** Checks a path template such as /orders/{id} or /files/**; throws InvalidRequest. */
export function validatePathTemplate(path: string): void {
  if (!path.startsWith('/')) throw new InvalidRequest('endpoint path must start with /');
  if (path.length > MAX_ENDPOINT_PATH_LENGTH) throw new InvalidRequest('endpoint path is too long');
  if (path === '/') return;
  const segments = path.slice(1).split('/');
  const names = new Set<string>();
  segments.forEach((segment, i) => {
    if (segment === '**') {
      if (i !== segments.length - 1) throw new InvalidRequest('** may only be the last segment of an endpoint path');
      return;
    }
    const param = PARAM_SEGMENT.exec(segment);
    if (param) {
      const name = param[1] as string;
      if (names.has(name)) throw new InvalidRequest(`endpoint path repeats the parameter {${name}}`);
      names.add(name);
      return;
    }
    if (segment === '') throw new InvalidRequest('endpoint path must not contain empty segments');
    // RFC 3986 §5.2.4: dot segments are removed by normalisation, so they can never match.
    if (isDotSegment(segment)) throw new InvalidRequest('endpoint path must not contain . or .. segments');
    if (!LITERAL_SEGMENT.test(segment)) {
      throw new InvalidRequest('endpoint path segments must be literal path characters, {name} or a final **');
    }
  });
}

/**
 * The decoded segments of a request path, or InvalidRequest for a path that different parsers
 * could read differently (the upstream must see the resource this rule matched).
 */
export function normalizeRequestPath(rawPath: string): string[] {
  if (rawPath.length > MAX_REQUEST_PATH_LENGTH) throw new InvalidRequest('path is too long');
  // RFC 3986 §3.4 / §3.5: the query and fragment are not part of the path.
  const cut = rawPath.search(/[?#]/);
  const path = cut === -1 ? rawPath : rawPath.slice(0, cut);
  // RFC 9110 §4.2.1 / RFC 3986 §3.3: an origin-form path is absolute.
  if (!path.startsWith('/')) throw new InvalidRequest('path must start with /');
  // A backslash, raw space, control or non-ASCII character is read differently by different servers.
  if (/[^\x21-\x5b\x5d-\x7e]/.test(path)) throw new InvalidRequest('path contains a character that is not allowed');
  if (path === '/') return [];
  const raw = path.slice(1).split('/');
  return raw.map((segment, i) => {
    // Empty inner segments (//) are merged by some servers and not by others.
    if (segment === '' && i !== raw.length - 1) throw new InvalidRequest('path must not contain empty segments');
    let decoded: string;
    try {
      // RFC 3986 §2.1: percent-encoded octets are decoded once, per segment.
      decoded = decodeURIComponent(segment);
    } catch {
      throw new InvalidRequest('path contains malformed percent-encoding');
    }
    // An encoded '/' or '\' would split differently upstream; a remaining '%' means double encoding.
    if (/[/\\%]|[^\x20-\x7e\u00a0-\uffff]/.test(decoded)) throw new InvalidRequest('path contains an encoded separator or double encoding');
    // RFC 3986 §5.2.4: dot segments (also encoded ones) could climb out of the matched prefix.
    if (isDotSegment(decoded)) throw new InvalidRequest('path must not contain . or .. segments');
    return decoded;
  });
}

function templateSegments(template: string): string[] {
  return template === '/' ? [] : template.slice(1).split('/');
}

/** Whether decoded request segments match a (valid) path template. */
export function matchPathTemplate(template: string, segments: readonly string[]): boolean {
  const parts = templateSegments(template);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    // '**' matches the remainder, including nothing at all.
    if (part === '**') return true;
    const segment = segments[i];
    if (segment === undefined) return false;
    if (PARAM_SEGMENT.test(part)) {
      if (segment === '') return false;
      continue;
    }
    if (part !== segment) return false;
  }
  return parts.length === segments.length;
}

/** Normalises a request method; throws InvalidRequest for a non-token. */
export function normalizeRequestMethod(method: string): string {
  // RFC 9110 §9.1: a method is a token.
  if (!REQUEST_METHOD.test(method)) throw new InvalidRequest('method must be an HTTP method token');
  return method.toUpperCase();
}

/** The first endpoint matching METHOD PATH, or undefined. Throws InvalidRequest for a bad method or path. */
export function findEndpoint<E extends EndpointRule>(endpoints: readonly E[], method: string, path: string): E | undefined {
  const m = normalizeRequestMethod(method);
  const segments = normalizeRequestPath(path);
  return endpoints.find((e) => (e.method === '*' || e.method === m) && matchPathTemplate(e.path, segments));
}

/**
 * Decides a call: the first matching endpoint decides; no match denies (unknown routes are
 * closed). Throws InvalidRequest for a malformed method or path.
 */
export function decideAccess<E extends EndpointRule>(endpoints: readonly E[], query: AccessQuery): AccessDecisionResult<E> {
  const endpoint = findEndpoint(endpoints, query.method, query.path);
  if (endpoint === undefined) return { decision: 'deny_no_endpoint', requiredScope: '' };
  const requiredScope = endpoint.scope;
  // A client outside the allow-list can never succeed, so say so before asking for a scope.
  if (endpoint.allowedClientIds.length > 0 && (query.clientId === undefined || !endpoint.allowedClientIds.includes(query.clientId))) {
    return { decision: 'deny_client_not_allowed', endpoint, requiredScope };
  }
  // RFC 6750 §3.1: a token without the required scope is insufficient_scope.
  if (requiredScope !== '' && !query.scopes.includes(requiredScope)) {
    return { decision: 'deny_insufficient_scope', endpoint, requiredScope };
  }
  return { decision: 'allow', endpoint, requiredScope };
}

/** Every scope some endpoint requires, sorted and unique. */
export function endpointScopes(endpoints: readonly EndpointRule[]): string[] {
  return [...new Set(endpoints.map((e) => e.scope).filter((s) => s !== ''))].sort();
}

/**
 * Whether a client may call a protected API at all: some endpoint admits it (an empty allow-list
 * admits every client). Token exchange uses it to bound the audiences a client may ask for.
 */
export function mayCallService(endpoints: readonly EndpointRule[], clientId: string): boolean {
  return endpoints.some((e) => e.allowedClientIds.length === 0 || e.allowedClientIds.includes(clientId));
}
