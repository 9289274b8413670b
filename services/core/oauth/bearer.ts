// Bearer tokens in HTTP and gRPC metadata (RFC 6750): reading the credential and writing the
// WWW-Authenticate challenge.

/**
 * The token of an `Authorization: Bearer <token>` value, or undefined when the value is not a
 * well-formed Bearer credential.
 */
export function parseBearer(authorization: string): string | undefined {
  // RFC 6750 §2.1: "Bearer" (case-insensitive), one or more spaces, then a b64token.
  return /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization)?.[1];
}

/** A value for an auth-param quoted-string: '"', '\' and line breaks are replaced by spaces. */
export function quoteAuthParam(value: string): string {
  // RFC 6750 §3: the values are quoted-strings; we never emit escapes.
  return value.replace(/["\\\r\n]/g, ' ');
}

export interface BearerChallenge {
  realm: string;
  /** invalid_request, invalid_token or insufficient_scope; absent when no token was sent. */
  error?: string | undefined;
  description?: string | undefined;
  /** The scope the resource needs (insufficient_scope). */
  scope?: string | undefined;
  /** The URL of the resource's metadata document (RFC 9728 §5.1), when it has one. */
  resourceMetadata?: string | undefined;
}

/** The WWW-Authenticate value for a protected-resource error (RFC 6750 §3). */
export function bearerChallenge(c: BearerChallenge): string {
  // RFC 6750 §3.1: a request that carried no token gets the challenge without an error code.
  let out = `Bearer realm="${quoteAuthParam(c.realm)}"`;
  if (c.error) out += `, error="${c.error}", error_description="${quoteAuthParam(c.description ?? '')}"`;
  if (c.scope) out += `, scope="${quoteAuthParam(c.scope)}"`;
  // RFC 9728 §5.1: where a client learns which authorization server issues tokens for this resource.
  if (c.resourceMetadata) out += `, resource_metadata="${quoteAuthParam(c.resourceMetadata)}"`;
  return out;
}

export interface DpopChallenge {
  /** invalid_token, invalid_dpop_proof, use_dpop_nonce or insufficient_scope; absent when no token was sent. */
  error?: string | undefined;
  description?: string | undefined;
  /** The proof algorithms the resource server accepts (RFC 9449 §7.1 algs), space-separated in the value. */
  algs: readonly string[];
  scope?: string | undefined;
  /** RFC 9728 §5.1: the protected resource metadata URL of the resource, when it has one. */
  resourceMetadata?: string | undefined;
}

/**
 * The WWW-Authenticate value of a DPoP-protected resource (RFC 9449 §7.1): scheme DPoP with
 * algs, and error/error_description when a credential was refused (§7.1, §12.2 error codes). The
 * nonce to use is not a challenge parameter: it travels in the DPoP-Nonce header (RFC 9449 §9).
 */
export function dpopChallenge(c: DpopChallenge): string {
  const params: string[] = [];
  if (c.error) params.push(`error="${c.error}"`, `error_description="${quoteAuthParam(c.description ?? '')}"`);
  if (c.scope) params.push(`scope="${quoteAuthParam(c.scope)}"`);
  // RFC 9449 §7.1: algs lists the JWS algorithms accepted for proofs.
  params.push(`algs="${quoteAuthParam(c.algs.join(' '))}"`);
  if (c.resourceMetadata) params.push(`resource_metadata="${quoteAuthParam(c.resourceMetadata)}"`);
  return `DPoP ${params.join(', ')}`;
}
