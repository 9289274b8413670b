// Mapping 2 of 2: domain errors -> HTTP status and the RFC 6749 §5.2 / RFC 6750 §3 JSON body.
import type { AuthmeshError, ErrorCode } from './vocabulary.js';

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  invalid_token: 401,
  insufficient_scope: 403,
  unsupported_token_type: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  invalid_target: 400,
  slow_down: 429,
  server_error: 500,
  temporarily_unavailable: 503,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  // OpenID Connect Core §3.1.2.6: these travel in redirects; 400 should one ever reach a JSON body.
  login_required: 400,
  consent_required: 400,
  interaction_required: 400,
  account_selection_required: 400,
  request_not_supported: 400,
  request_uri_not_supported: 400,
  // RFC 9126 §2.3 / RFC 9101 §6.2: 400 at the pushed authorization request endpoint.
  invalid_request_object: 400,
  invalid_request_uri: 400,
  // RFC 9449 §5, §8: the token endpoint answers both with 400.
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  // RFC 8628 §3.5: errors of the token endpoint (RFC 6749 §5.2: 400).
  authorization_pending: 400,
  expired_token: 400,
};

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export interface OAuthErrorBody {
  error: ErrorCode;
  error_description: string;
}

/**
 * The HTTP status and RFC 6749 §5.2 body of an error. `endpoint: 'token'` is the token endpoint,
 * where RFC 6749 §5.2 answers 400: the device grant's access_denied and slow_down (RFC 8628 §3.5)
 * are 400 there, while the failed-authentication throttle's slow_down (it carries retry_after)
 * stays 429 (RFC 6585 §4).
 */
export function toOAuthJson(error: AuthmeshError, endpoint?: 'token'): { status: number; body: OAuthErrorBody } {
  let status = HTTP_STATUS[error.code];
  if (endpoint === 'token' && (error.code === 'access_denied' || (error.code === 'slow_down' && error.metadata.retry_after === undefined))) status = 400;
  return { status, body: { error: error.code, error_description: error.description } };
}
