// The console's plain-words errors (console/src/errors.ts): the sentence from the ErrorInfo reason,
// the server's description after it, and the form field it belongs to.
import { describe, expect, it } from 'vitest';
import { describeError } from '../../console/src/errors.js';

describe('console errors in plain words', () => {
  it.each([
    {
      reason: 'INVALID_REDIRECT_URI',
      description: 'http redirect URIs are allowed only on loopback (127.0.0.1 or [::1]); use https',
      shown: { message: 'A redirect URI is not acceptable: http redirect URIs are allowed only on loopback (127.0.0.1 or [::1]); use https', field: 'redirect_uris' },
    },
    {
      reason: 'INVALID_CLIENT_METADATA',
      description: 'client_name must be at most 200 characters without control characters',
      shown: { message: 'A client setting is not acceptable: client_name must be at most 200 characters without control characters', field: 'client_name' },
    },
    { reason: 'INVALID_REQUEST', description: 'new_password must be 12 to 1024 characters', shown: { message: 'The request was not accepted: new_password must be 12 to 1024 characters', field: 'password' } },
    { reason: 'INSUFFICIENT_SCOPE', description: '', shown: { message: 'You are not an administrator: your token lacks the authmesh.admin scope' } },
    { reason: 'CONFLICT', description: 'the client changed since it was read', shown: { message: 'Someone changed it meanwhile: reload and try again: the client changed since it was read' } },
    { reason: 'SOMETHING_NEW', description: 'details', shown: { message: 'The request failed (something_new): details' } },
    { reason: '', description: '', shown: { message: 'The request failed' } },
  ])('$reason: $shown.message', ({ reason, description, shown }) => {
    expect(describeError(reason, description)).toEqual(shown);
  });
});
