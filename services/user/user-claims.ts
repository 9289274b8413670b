// The OpenID Connect standard claims of a user (OIDC Core §5.1) as an admin supplies them in the
// User message: validation with one clear error per bad member, and the mapping between the
// message's flat fields and the stored StandardClaims object.
import type { Address, User as UserMessage } from '../../gen/ts/authmesh/user/v1/user.js';
import { InvalidRequest } from '../core/errors/index.js';
import type { PostalAddress, StandardClaims } from '../core/store/index.js';

/** The User message fields holding standard claims, as update_mask paths (proto names). */
export const CLAIM_FIELDS = [
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'email_verified',
  'phone_number',
  'phone_number_verified',
  'address',
] as const;
export type ClaimField = (typeof CLAIM_FIELDS)[number];

const MAX_TEXT = 200;
const MAX_MULTILINE = 1000;
const MAX_URL = 2048;

type TextField = 'given_name' | 'family_name' | 'middle_name' | 'nickname' | 'preferred_username' | 'gender';
const TEXT_FIELDS: Record<TextField, keyof StandardClaims> = {
  given_name: 'givenName',
  family_name: 'familyName',
  middle_name: 'middleName',
  nickname: 'nickname',
  preferred_username: 'preferredUsername',
  gender: 'gender',
};
const URL_FIELDS = { profile: 'profile', picture: 'picture', website: 'website' } as const;

// OIDC Core §5.1: birthdate is ISO 8601 YYYY-MM-DD, YYYY alone when only the year is known,
// 0000-MM-DD when the year is withheld.
const BIRTHDATE = /^(\d{4})(?:-(\d{2})-(\d{2}))?$/;
// OIDC Core §5.1 zoneinfo: a zoneinfo database name such as Europe/Paris or America/Los_Angeles.
const ZONEINFO = /^(?:[A-Za-z][A-Za-z0-9_+-]{0,30})(?:\/[A-Za-z0-9][A-Za-z0-9_+-]{0,30}){0,2}$/;
// OIDC Core §5.1 locale: a BCP 47 language tag (RFC 5646 shape: language, then subtags of 1–8
// alphanumerics); the underscore form is accepted by §5.1 for compatibility.
const LOCALE = /^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,7}$/;
// OIDC Core §5.1 phone_number: E.164 is recommended: + and up to 15 digits, first not 0; an
// RFC 3966 extension may follow.
const PHONE = /^\+[1-9]\d{1,14}(?:;ext=\d{1,10})?$/;

function plainText(field: string, value: string, max: number, multiline = false): string | undefined {
  if (value === '') return undefined;
  const bad = multiline ? /[\p{Cc}]/u.test(value.replace(/\r?\n/g, '')) : /\p{Cc}/u.test(value);
  if ([...value].length > max || bad || value.trim() === '') {
    throw new InvalidRequest(`${field} must be at most ${max} characters without control characters${multiline ? ' (line breaks allowed)' : ''}`);
  }
  return value;
}

function httpUrl(field: string, value: string): string | undefined {
  if (value === '') return undefined;
  let url: URL | undefined;
  try {
    url = value.length <= MAX_URL ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  // OIDC Core §5.1: profile, picture and website are URLs; only web URLs are safe to show.
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    throw new InvalidRequest(`${field} must be an http or https URL without credentials, at most ${MAX_URL} characters`);
  }
  return value;
}

/** @throws InvalidRequest unless YYYY, YYYY-MM-DD (a real calendar date) or 0000-MM-DD. */
export function checkBirthdate(value: string): string | undefined {
  if (value === '') return undefined;
  const m = BIRTHDATE.exec(value);
  const bad = () => new InvalidRequest('birthdate must be YYYY-MM-DD, YYYY, or 0000-MM-DD (OIDC Core §5.1)');
  if (!m) throw bad();
  if (m[2] !== undefined) {
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    // Year 0000 (withheld) is checked against a leap year so 0000-02-29 is allowed.
    const d = new Date(Date.UTC(year === 0 ? 2000 : year, month - 1, day));
    if (month < 1 || month > 12 || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) throw bad();
  } else if (m[1] === '0000') {
    throw bad();
  }
  return value;
}

function checkPattern(field: string, value: string, pattern: RegExp, what: string): string | undefined {
  if (value === '') return undefined;
  if (!pattern.test(value)) throw new InvalidRequest(`${field} must be ${what}`);
  return value;
}

function checkAddress(address: Address | undefined): PostalAddress | undefined {
  if (address === undefined) return undefined;
  const out: PostalAddress = {};
  const set = <K extends keyof PostalAddress>(key: K, value: string | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  set('formatted', plainText('address.formatted', address.formatted, MAX_MULTILINE, true));
  set('streetAddress', plainText('address.street_address', address.streetAddress, MAX_MULTILINE, true));
  set('locality', plainText('address.locality', address.locality, MAX_TEXT));
  set('region', plainText('address.region', address.region, MAX_TEXT));
  set('postalCode', plainText('address.postal_code', address.postalCode, MAX_TEXT));
  set('country', plainText('address.country', address.country, MAX_TEXT));
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * Applies the named claim fields of a User message onto the stored claims and returns the new
 * object (undefined when nothing is left). Fields not named keep their stored value; a named
 * field sent empty (or false) clears it.
 *
 * The verified flags are never carried over a change of what they verify (OIDC Core §5.1
 * email_verified/phone_number_verified mean the End-User's address or number was verified): when
 * the email changed and email_verified is not among `fields`, email_verified is cleared; likewise
 * phone_number_verified when phone_number changes without it.
 * @throws InvalidRequest naming the first bad member.
 */
export function applyClaimFields(
  current: StandardClaims | undefined,
  message: UserMessage,
  fields: ReadonlySet<string>,
  email: { changed: boolean; resulting: string | undefined },
): StandardClaims | undefined {
  const next: StandardClaims = { ...(current ?? {}) };
  const put = <K extends keyof StandardClaims>(key: K, value: StandardClaims[K] | undefined) => {
    if (value === undefined) delete next[key];
    else next[key] = value;
  };
  for (const [field, key] of Object.entries(TEXT_FIELDS) as [TextField, keyof StandardClaims][]) {
    if (fields.has(field)) put(key, plainText(field, message[camel(field)] as string, MAX_TEXT));
  }
  for (const [field, key] of Object.entries(URL_FIELDS) as [keyof typeof URL_FIELDS, keyof typeof URL_FIELDS][]) {
    if (fields.has(field)) put(key, httpUrl(field, message[key]));
  }
  if (fields.has('birthdate')) put('birthdate', checkBirthdate(message.birthdate));
  if (fields.has('zoneinfo')) put('zoneinfo', checkPattern('zoneinfo', message.zoneinfo, ZONEINFO, 'a time zone name such as Europe/Paris'));
  if (fields.has('locale')) put('locale', checkPattern('locale', message.locale, LOCALE, 'a BCP 47 language tag such as en-US'));
  if (fields.has('address')) put('address', checkAddress(message.address));
  const phoneBefore = next.phoneNumber;
  if (fields.has('phone_number')) {
    put('phoneNumber', checkPattern('phone_number', message.phoneNumber, PHONE, 'an E.164 number such as +15551234567 (optionally ;ext=123)'));
  }
  if (fields.has('email_verified')) put('emailVerified', message.emailVerified || undefined);
  else if (email.changed) delete next.emailVerified;
  if (fields.has('phone_number_verified')) put('phoneNumberVerified', message.phoneNumberVerified || undefined);
  else if (next.phoneNumber !== phoneBefore) delete next.phoneNumberVerified;
  if (next.emailVerified && email.resulting === undefined) throw new InvalidRequest('email_verified needs an email');
  if (next.phoneNumberVerified && next.phoneNumber === undefined) throw new InvalidRequest('phone_number_verified needs a phone_number');
  return Object.keys(next).length === 0 ? undefined : next;
}

function camel(field: string): keyof UserMessage {
  return field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof UserMessage;
}

/** The claim fields of a User message for stored claims (empty strings and false when unset). */
export function claimFieldsOf(claims: StandardClaims | undefined): Partial<UserMessage> {
  const c = claims ?? {};
  return {
    givenName: c.givenName ?? '',
    familyName: c.familyName ?? '',
    middleName: c.middleName ?? '',
    nickname: c.nickname ?? '',
    preferredUsername: c.preferredUsername ?? '',
    profile: c.profile ?? '',
    picture: c.picture ?? '',
    website: c.website ?? '',
    gender: c.gender ?? '',
    birthdate: c.birthdate ?? '',
    zoneinfo: c.zoneinfo ?? '',
    locale: c.locale ?? '',
    emailVerified: c.emailVerified ?? false,
    phoneNumber: c.phoneNumber ?? '',
    phoneNumberVerified: c.phoneNumberVerified ?? false,
    address:
      c.address === undefined
        ? undefined
        : {
            formatted: c.address.formatted ?? '',
            streetAddress: c.address.streetAddress ?? '',
            locality: c.address.locality ?? '',
            region: c.address.region ?? '',
            postalCode: c.address.postalCode ?? '',
            country: c.address.country ?? '',
          },
  };
}
