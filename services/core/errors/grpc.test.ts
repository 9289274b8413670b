// The gRPC mapping keeps error trailers far below HTTP/2 header-list limits (issue 10 §2 c).
import { describe, expect, it } from 'vitest';
import { boundedErrorMetadata, errorInfoOf, MAX_ERROR_METADATA_CHARS, toGrpcStatus } from './grpc.js';
import { InvalidScope } from './vocabulary.js';

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
