// Mapping 1 of 2: domain errors <-> gRPC status with google.rpc.Status details carrying
// google.rpc.ErrorInfo{reason, domain, metadata} in the grpc-status-details-bin trailer.
import { Metadata, status as Status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ErrorInfo } from '../../../gen/ts/google/rpc/error_details.js';
import { Status as RpcStatus } from '../../../gen/ts/google/rpc/status.js';
import {
  AuthmeshError,
  ERROR_DOMAIN,
  ServerError,
  TemporarilyUnavailable,
  codeOfReason,
  reasonOf,
  type ErrorCode,
} from './vocabulary.js';

const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
const DETAILS_KEY = 'grpc-status-details-bin';

const GRPC_STATUS: Record<ErrorCode, Status> = {
  invalid_request: Status.INVALID_ARGUMENT,
  invalid_client: Status.UNAUTHENTICATED,
  invalid_grant: Status.FAILED_PRECONDITION,
  unauthorized_client: Status.PERMISSION_DENIED,
  unsupported_grant_type: Status.INVALID_ARGUMENT,
  unsupported_response_type: Status.INVALID_ARGUMENT,
  invalid_scope: Status.INVALID_ARGUMENT,
  access_denied: Status.PERMISSION_DENIED,
  invalid_token: Status.UNAUTHENTICATED,
  insufficient_scope: Status.PERMISSION_DENIED,
  unsupported_token_type: Status.INVALID_ARGUMENT,
  invalid_redirect_uri: Status.INVALID_ARGUMENT,
  invalid_client_metadata: Status.INVALID_ARGUMENT,
  invalid_target: Status.INVALID_ARGUMENT,
  slow_down: Status.RESOURCE_EXHAUSTED,
  server_error: Status.INTERNAL,
  temporarily_unavailable: Status.UNAVAILABLE,
  not_found: Status.NOT_FOUND,
  already_exists: Status.ALREADY_EXISTS,
  conflict: Status.ABORTED,
  login_required: Status.FAILED_PRECONDITION,
  consent_required: Status.FAILED_PRECONDITION,
  interaction_required: Status.FAILED_PRECONDITION,
  account_selection_required: Status.FAILED_PRECONDITION,
  request_not_supported: Status.INVALID_ARGUMENT,
  request_uri_not_supported: Status.INVALID_ARGUMENT,
  invalid_request_object: Status.INVALID_ARGUMENT,
  invalid_request_uri: Status.INVALID_ARGUMENT,
  // RFC 9449 §7.1, §9: a refused proof is a refused credential (HTTP 401 at a resource), as over
  // gRPC; the token endpoint's OAuth JSON answer (400) is decided from the code, not from this.
  invalid_dpop_proof: Status.UNAUTHENTICATED,
  use_dpop_nonce: Status.UNAUTHENTICATED,
  authorization_pending: Status.FAILED_PRECONDITION,
  expired_token: Status.FAILED_PRECONDITION,
};

export function grpcStatusOf(code: ErrorCode): Status {
  return GRPC_STATUS[code];
}

/**
 * Largest ErrorInfo metadata sent, in UTF-16 code units of keys plus values. The error travels
 * in HTTP/2 trailers: a header block over 64 KiB is never delivered and wedges the connection
 * every other call to that server shares until their deadlines pass (an invalid_scope echoing a
 * 60,000-character scope did exactly that). Entries are kept in order while they fit.
 */
export const MAX_ERROR_METADATA_CHARS = 16_384;
const MAX_ERROR_METADATA_KEY = 64;

/** The metadata entries that fit the trailer budget, in order; larger ones are left out. */
export function boundedErrorMetadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let used = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (key.length > MAX_ERROR_METADATA_KEY) continue;
    const size = key.length + value.length;
    if (used + size > MAX_ERROR_METADATA_CHARS) continue;
    out[key] = value;
    used += size;
  }
  return out;
}

/**
 * A domain error as the StatusObject a grpc-js handler passes to its callback / emits. The
 * description is already bounded (vocabulary.ts); the metadata is bounded here (see
 * MAX_ERROR_METADATA_CHARS), so the trailers stay far below HTTP/2 header-list limits.
 */
export function toGrpcStatus(error: AuthmeshError): Partial<StatusObject> & { code: Status; details: string; metadata: Metadata } {
  const code = GRPC_STATUS[error.code];
  const info = ErrorInfo.encode({ reason: reasonOf(error.code), domain: ERROR_DOMAIN, metadata: boundedErrorMetadata(error.metadata) }).finish();
  const details = RpcStatus.encode({
    code,
    message: error.description,
    details: [{ typeUrl: ERROR_INFO_TYPE, value: Buffer.from(info) }],
  }).finish();
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(details));
  return { code, details: error.description, metadata };
}

/** The ErrorInfo of a failed call, if the peer sent one. */
export function errorInfoOf(err: Partial<ServiceError>): ErrorInfo | undefined {
  const raw = err.metadata?.get(DETAILS_KEY)[0];
  if (!(raw instanceof Buffer)) return undefined;
  try {
    const status = RpcStatus.decode(raw);
    const any = status.details.find((d) => d.typeUrl === ERROR_INFO_TYPE);
    return any ? ErrorInfo.decode(any.value) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A failed gRPC call as a domain error: the reason decides, never the message text. A transport
 * failure (peer down, deadline) becomes temporarily_unavailable; anything else server_error.
 */
export function fromGrpcError(err: unknown): AuthmeshError {
  if (err instanceof AuthmeshError) return err;
  const se = err as Partial<ServiceError>;
  const info = errorInfoOf(se);
  const code = info && info.domain === ERROR_DOMAIN ? codeOfReason(info.reason) : undefined;
  if (code) return new AuthmeshError(code, se.details, { metadata: info?.metadata ?? {}, cause: err });
  if (se.code === Status.UNAVAILABLE || se.code === Status.DEADLINE_EXCEEDED) {
    return new TemporarilyUnavailable(undefined, { cause: err });
  }
  return new ServerError(undefined, { cause: err });
}
