// Certificate-bound access tokens at a resource server (RFC 8705 §3): the pure rule shared by
// authmesh's own APIs (the admin RPCs, UserInfo). No I/O: the caller establishes which client
// certificate the request came with, from a source it trusts (see mesh-authenticator.ts).
import { InvalidToken } from '../errors/index.js';
import type { AccessTokenClaims } from './access-token-claims.js';
import { constantTimeEqual } from './secrets.js';

/**
 * RFC 8705 §3: a token carrying cnf.x5t#S256 is usable only on a request made over mutual TLS with
 * the certificate of that SHA-256 thumbprint. Tokens without it are not affected.
 * @param presentedThumbprint x5t#S256 (base64url SHA-256 of the DER) of the request's client
 *   certificate, or undefined when the request did not come over mutual TLS (or its certificate
 *   cannot be believed)
 * @throws InvalidToken when the token is certificate-bound and the certificate is missing or another
 */
export function assertCertificateBinding(claims: Pick<AccessTokenClaims, 'cnf'>, presentedThumbprint: string | undefined): void {
  const bound = claims.cnf?.['x5t#S256'];
  if (bound === undefined) return;
  // RFC 8705 §3: the presented certificate's thumbprint must equal cnf.x5t#S256 (constant time).
  if (presentedThumbprint === undefined || !constantTimeEqual(presentedThumbprint, bound)) {
    throw new InvalidToken('the access token is bound to a client certificate this request did not present');
  }
}
