// The gRPC mapping keeps error trailers far below HTTP/2 header-list limits (issue 10 §2 c).
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { boundedErrorMetadata, errorInfoOf, MAX_ERROR_METADATA_CHARS, toGrpcStatus } from './grpc.js';
import { InvalidDpopProof, InvalidScope, UseDpopNonce } from './vocabulary.js';

describe('error trailers are bounded', () => {
  it('leaves out a metadata value that would not fit, keeps the others in order', () => {
    const huge = 'a'.repeat(60_000);
    expect(boundedErrorMetadata({ redirect_uri: 'https://app.example.com/cb', scope: huge, state: 'xyz' })).toEqual({ redirect_uri: 'https://app.example.com/cb', state: 'xyz' });
  });

  it('a 60,000-character scope in an error becomes a trailer under the budget that still says invalid_scope', () => {
    const status = toGrpcStatus(new InvalidScope(`the client is not allowed the scope: ${'a'.repeat(60_000)}`, { metadata: { scope: 'a'.repeat(60_000) } }));
    const trailer = status.metadata.get('grpc-status-details-bin')[0] as Buffer;
    expect(trailer.length).toBeLessThan(MAX_ERROR_METADATA_CHARS);
    expect(status.details.length).toBeLessThanOrEqual(300);
    expect(errorInfoOf({ metadata: status.metadata })).toMatchObject({ reason: 'INVALID_SCOPE', metadata: {} });
  });
});

describe('DPoP errors of a protected-resource request (RFC 9449 §7.1, §9)', () => {
  it('are UNAUTHENTICATED (HTTP 401) at a resource, INVALID_ARGUMENT / FAILED_PRECONDITION (400) at the token endpoint, with the same reason', () => {
    const cases = [
      [new InvalidDpopProof('the DPoP proof was already used'), Status.INVALID_ARGUMENT, 'INVALID_DPOP_PROOF'],
      [new UseDpopNonce('a nonce is required', { metadata: { dpop_nonce: 'n1' } }), Status.FAILED_PRECONDITION, 'USE_DPOP_NONCE'],
    ] as const;
    for (const [error, tokenEndpoint, reason] of cases) {
      expect(toGrpcStatus(error).code).toBe(tokenEndpoint);
      const resource = toGrpcStatus(error, true);
      expect(resource.code).toBe(Status.UNAUTHENTICATED);
      expect(errorInfoOf({ metadata: resource.metadata })).toMatchObject({ reason });
    }
    // Other errors keep their mapping either way.
    expect(toGrpcStatus(new InvalidScope('x'), true).code).toBe(Status.INVALID_ARGUMENT);
  });
});
