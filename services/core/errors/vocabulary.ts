// The one error vocabulary of authmesh. Every failure a caller can act on is one of these codes;
// the names are the RFC error codes (RFC 6749 §4.1.2.1/§5.2, RFC 6750 §3.1, RFC 7009 §2.2.1,
// RFC 7591 §3.2.2, OpenID Connect Core §3.1.2.6, RFC 9101 §6.2, RFC 9126 §2.3, RFC 9449 §5/§8, RFC 8628 §3.5) plus three resource codes for admin calls. The wire mappings live in
// ./grpc.ts (gRPC status + google.rpc.ErrorInfo) and ./oauth-json.ts (RFC 6749 §5.2 JSON).

export const ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'unsupported_response_type',
  'invalid_scope',
  'access_denied',
  'invalid_token',
  'insufficient_scope',
  'unsupported_token_type',
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_target',
  'slow_down',
  'server_error',
  'temporarily_unavailable',
  'not_found',
  'already_exists',
  'conflict',
  // OpenID Connect Core §3.1.2.6: authentication errors returned to the client's redirect URI.
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
  'request_not_supported',
  'request_uri_not_supported',
  // RFC 9101 §6.2 / RFC 9126 §2.3, §4: a request object or request_uri that is invalid, unknown, expired or used.
  'invalid_request_object',
  'invalid_request_uri',
  // RFC 9449 §5, §8: a DPoP proof that fails validation; a proof that lacks the server's nonce.
  'invalid_dpop_proof',
  'use_dpop_nonce',
  // RFC 8628 §3.5: the device access token request's answers while the user has not approved.
  'authorization_pending',
  'expired_token',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: string): value is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(value);
}

/** ErrorInfo.reason on the wire: the code in upper snake case, e.g. INVALID_GRANT. */
export function reasonOf(code: ErrorCode): string {
  return code.toUpperCase();
}

export function codeOfReason(reason: string): ErrorCode | undefined {
  const code = reason.toLowerCase();
  return isErrorCode(code) ? code : undefined;
}

/** ErrorInfo.domain for every authmesh error. */
export const ERROR_DOMAIN = 'authmesh';

/**
 * A domain error. `description` is safe to show to the caller (RFC 6749 error_description:
 * printable ASCII, no secrets); `metadata` travels in ErrorInfo.metadata (e.g. the scope an
 * insufficient_scope error needs). Internal causes stay in `cause` and are never sent.
 */
export class AuthmeshError extends Error {
  readonly code: ErrorCode;
  readonly description: string;
  readonly metadata: Record<string, string>;

  constructor(code: ErrorCode, description?: string, options?: { metadata?: Record<string, string>; cause?: unknown }) {
    super(description ?? code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = toClassName(code);
    this.code = code;
    this.description = sanitizeDescription(description ?? defaultDescription(code));
    this.metadata = options?.metadata ?? {};
  }
}

function toClassName(code: ErrorCode): string {
  return code.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

// RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
function sanitizeDescription(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}

function defaultDescription(code: ErrorCode): string {
  switch (code) {
    case 'server_error':
      return 'the server encountered an unexpected condition';
    case 'temporarily_unavailable':
      return 'the server is temporarily unable to handle the request';
    default:
      return code.replace(/_/g, ' ');
  }
}

type Options = { metadata?: Record<string, string>; cause?: unknown };
const make = (code: ErrorCode) =>
  class extends AuthmeshError {
    constructor(description?: string, options?: Options) {
      super(code, description, options);
    }
  };

export class InvalidRequest extends make('invalid_request') {}
export class InvalidClient extends make('invalid_client') {}
export class InvalidGrant extends make('invalid_grant') {}
export class UnauthorizedClient extends make('unauthorized_client') {}
export class UnsupportedGrantType extends make('unsupported_grant_type') {}
export class UnsupportedResponseType extends make('unsupported_response_type') {}
export class InvalidScope extends make('invalid_scope') {}
export class AccessDenied extends make('access_denied') {}
export class InvalidToken extends make('invalid_token') {}
export class InsufficientScope extends make('insufficient_scope') {}
export class UnsupportedTokenType extends make('unsupported_token_type') {}
export class InvalidRedirectUri extends make('invalid_redirect_uri') {}
export class InvalidClientMetadata extends make('invalid_client_metadata') {}
export class InvalidTarget extends make('invalid_target') {}
export class SlowDown extends make('slow_down') {}
export class ServerError extends make('server_error') {}
export class TemporarilyUnavailable extends make('temporarily_unavailable') {}
export class NotFound extends make('not_found') {}
export class AlreadyExists extends make('already_exists') {}
export class Conflict extends make('conflict') {}
export class LoginRequired extends make('login_required') {}
export class ConsentRequired extends make('consent_required') {}
export class InteractionRequired extends make('interaction_required') {}
export class AccountSelectionRequired extends make('account_selection_required') {}
export class RequestNotSupported extends make('request_not_supported') {}
export class RequestUriNotSupported extends make('request_uri_not_supported') {}
export class AuthorizationPending extends make('authorization_pending') {}
export class ExpiredToken extends make('expired_token') {}
export class InvalidRequestObject extends make('invalid_request_object') {}
export class InvalidRequestUri extends make('invalid_request_uri') {}
export class InvalidDpopProof extends make('invalid_dpop_proof') {}
export class UseDpopNonce extends make('use_dpop_nonce') {}

/** Whether a thrown value is the domain error with this code. */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof AuthmeshError && err.code === code;
}

/** Any thrown value as an AuthmeshError; unknown failures become server_error without details. */
export function toAuthmeshError(err: unknown): AuthmeshError {
  if (err instanceof AuthmeshError) return err;
  return new ServerError(undefined, { cause: err });
}
