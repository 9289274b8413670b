import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { checkResponseTypes } from './response-types.js';

describe('RFC 7591 §2.1 grant_types and response_types agree', () => {
  it.each([
    // [grant_types, response_types sent, registered]
    [['client_credentials'], [], []],
    [['client_credentials'], undefined, []],
    [['client_credentials', 'refresh_token'], [], []],
    [['authorization_code'], ['code'], ['code']],
    [['authorization_code'], undefined, ['code']],
    [['authorization_code', 'refresh_token', 'client_credentials'], ['code', 'code'], ['code']],
  ] as const)('accepts grant_types %j with response_types %j as %j', (grants, responses, registered) => {
    expect(checkResponseTypes(grants, responses)).toEqual(registered);
  });

  it.each([
    [['client_credentials'], ['code'], 'response_types code requires the authorization_code grant in grant_types'],
    [['authorization_code'], [], 'grant_types authorization_code requires response_types code'],
    [['authorization_code'], ['token'], 'response_types may only contain code'],
    [['authorization_code'], ['code', 'id_token'], 'response_types may only contain code'],
  ] as const)('refuses grant_types %j with response_types %j', (grants, responses, description) => {
    expect(thrown(() => checkResponseTypes(grants, responses))).toMatchObject({ code: 'invalid_client_metadata', description });
  });
});
