import { describe, expect, it } from 'vitest';
import { toOAuthJson } from './oauth-json.js';
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidClient, SlowDown } from './vocabulary.js';

describe('toOAuthJson: the token endpoint answers RFC 6749 §5.2 statuses', () => {
  it.each([
    // RFC 8628 §3.5: the device grant's polling answers are token endpoint errors: 400.
    ['authorization_pending', new AuthorizationPending(), 400],
    ['expired_token', new ExpiredToken(), 400],
    ['the device grant slow_down (no retry_after)', new SlowDown('polling too fast'), 400],
    ['access_denied', new AccessDenied('the user denied the authorization request'), 400],
    // RFC 6585 §4: the failed-authentication throttle keeps its 429 with Retry-After.
    ['the throttle slow_down (retry_after)', new SlowDown('too many', { metadata: { retry_after: '30' } }), 429],
    ['invalid_client', new InvalidClient(), 401],
  ])('%s', (_name, error, status) => {
    const { status: got, body } = toOAuthJson(error, 'token');
    expect(got).toBe(status);
    expect(body.error).toBe(error.code);
  });

  it('keeps the other endpoints unchanged (access_denied 403, slow_down 429)', () => {
    expect(toOAuthJson(new AccessDenied()).status).toBe(403);
    expect(toOAuthJson(new SlowDown()).status).toBe(429);
    expect(toOAuthJson(new AuthorizationPending()).status).toBe(400);
  });
});
