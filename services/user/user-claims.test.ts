// Validation of the OIDC standard claims an admin sets on a user (OIDC Core §5.1), as a table.
import { describe, expect, it } from 'vitest';
import { User } from '../../gen/ts/authmesh/user/v1/user.js';
import { applyClaimFields, checkBirthdate, CLAIM_FIELDS } from './user-claims.js';

const ALL = new Set<string>(CLAIM_FIELDS);
const noEmail = { changed: false, resulting: undefined };
const apply = (over: Partial<User>) => applyClaimFields(undefined, User.fromPartial(over), ALL, noEmail);

describe('standard claim validation', () => {
  it.each([
    ['given_name', { givenName: 'Zoë' }, { givenName: 'Zoë' }],
    ['a URL on http', { website: 'http://zoe.example/blog' }, { website: 'http://zoe.example/blog' }],
    ['a URL on https', { picture: 'https://cdn.example/z.png' }, { picture: 'https://cdn.example/z.png' }],
    ['a year-only birthdate', { birthdate: '1990' }, { birthdate: '1990' }],
    ['a full birthdate', { birthdate: '2000-02-29' }, { birthdate: '2000-02-29' }],
    ['a birthdate without the year', { birthdate: '0000-02-29' }, { birthdate: '0000-02-29' }],
    ['a zone name', { zoneinfo: 'America/Argentina/Buenos_Aires' }, { zoneinfo: 'America/Argentina/Buenos_Aires' }],
    ['UTC', { zoneinfo: 'UTC' }, { zoneinfo: 'UTC' }],
    ['a locale', { locale: 'fr-CA' }, { locale: 'fr-CA' }],
    ['an E.164 number with extension', { phoneNumber: '+15551234567;ext=42' }, { phoneNumber: '+15551234567;ext=42' }],
    ['a verified phone', { phoneNumber: '+447700900123', phoneNumberVerified: true }, { phoneNumber: '+447700900123', phoneNumberVerified: true }],
    ['a multi-line street address', { address: { streetAddress: '1 Main St\nApt 2', country: 'US' } }, { address: { streetAddress: '1 Main St\nApt 2', country: 'US' } }],
    ['nothing at all', {}, undefined],
    ['an address of empty members', { address: { locality: '' } }, undefined],
  ] as [string, Partial<User>, unknown][])('accepts %s', (_name, over, expected) => {
    expect(apply(over)).toEqual(expected);
  });

  it.each([
    ['a javascript: profile URL', { profile: 'javascript:alert(1)' }, 'profile must be an http or https URL'],
    ['a data: picture', { picture: 'data:image/png;base64,AAAA' }, 'picture must be an http or https URL'],
    ['a URL with credentials', { website: 'https://u:p@zoe.example' }, 'without credentials'],
    ['a relative URL', { website: '/me' }, 'website must be an http or https URL'],
    ['a too long URL', { website: `https://e.example/${'a'.repeat(2100)}` }, 'at most 2048'],
    ['a birthdate in another format', { birthdate: '28/02/1990' }, 'birthdate must be YYYY-MM-DD'],
    ['an impossible date', { birthdate: '1990-02-30' }, 'birthdate'],
    ['month 13', { birthdate: '1990-13-01' }, 'birthdate'],
    ['year 0000 alone', { birthdate: '0000' }, 'birthdate'],
    ['a zone with spaces', { zoneinfo: 'Europe/ Paris' }, 'zoneinfo must be a time zone name'],
    ['a zone path traversal', { zoneinfo: '../etc/passwd' }, 'zoneinfo'],
    ['a locale with spaces', { locale: 'en US' }, 'locale must be a BCP 47 language tag'],
    ['a national phone number', { phoneNumber: '0123456789' }, 'phone_number must be an E.164 number'],
    ['a phone number with 16 digits', { phoneNumber: '+1234567890123456' }, 'phone_number'],
    ['a control character in a name', { givenName: 'Zo\u0007e' }, 'given_name must be at most 200 characters without control characters'],
    ['a line break in a name', { familyName: 'A\nB' }, 'family_name'],
    ['a 201-character nickname', { nickname: 'n'.repeat(201) }, 'nickname must be at most 200'],
    ['a blank gender', { gender: '   ' }, 'gender'],
    ['a control character in the address', { address: { locality: 'Par\u0000is' } }, 'address.locality'],
    ['email_verified without an email', { emailVerified: true }, 'email_verified needs an email'],
    ['phone_number_verified without a phone number', { phoneNumberVerified: true }, 'phone_number_verified needs a phone_number'],
  ] as [string, Partial<User>, string][])('refuses %s with a clear invalid_request', (_name, over, message) => {
    expect(() => apply(over)).toThrow(expect.objectContaining({ code: 'invalid_request', message: expect.stringContaining(message) }));
  });

  it('keeps members not named in the update and clears named ones sent empty', () => {
    const current = { givenName: 'Ann', familyName: 'Lee', locale: 'en' };
    const next = applyClaimFields(current, User.fromPartial({ givenName: '', nickname: 'Annie' }), new Set(['given_name', 'nickname']), noEmail);
    expect(next).toEqual({ familyName: 'Lee', locale: 'en', nickname: 'Annie' });
  });

  it('never carries email_verified over a change of email unless the same update sets it', () => {
    const current = { emailVerified: true, phoneNumber: '+15550000001', phoneNumberVerified: true };
    const changed = { changed: true, resulting: 'new@example.com' };
    expect(applyClaimFields(current, User.fromPartial({}), new Set(['given_name']), changed)).toEqual({ phoneNumber: '+15550000001', phoneNumberVerified: true });
    expect(applyClaimFields(current, User.fromPartial({ emailVerified: true }), new Set(['email_verified']), changed)?.emailVerified).toBe(true);
  });

  it('never carries phone_number_verified over a change of phone number unless the same update sets it', () => {
    const current = { phoneNumber: '+15550000001', phoneNumberVerified: true };
    const next = applyClaimFields(current, User.fromPartial({ phoneNumber: '+15550000002' }), new Set(['phone_number']), noEmail);
    expect(next).toEqual({ phoneNumber: '+15550000002' });
    const same = applyClaimFields(current, User.fromPartial({ phoneNumber: '+15550000001' }), new Set(['phone_number']), noEmail);
    expect(same).toEqual(current);
  });

  it('checks birthdates on the calendar', () => {
    expect(checkBirthdate('2024-02-29')).toBe('2024-02-29');
    expect(() => checkBirthdate('2023-02-29')).toThrow(/birthdate/);
    expect(checkBirthdate('')).toBeUndefined();
  });
});
