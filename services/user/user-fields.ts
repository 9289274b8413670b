// Rules for the fields of a user record as an admin supplies them.
import { InvalidRequest } from '../core/errors/index.js';

// Printable: no whitespace, no control, format, private-use or unassigned characters.
const USERNAME = /^[^\s\p{C}]{1,128}$/u;
// The user id becomes the `sub` claim of tokens (RFC 7519 §4.1.2: a StringOrURI); keep it to
// printable ASCII without spaces so it is unambiguous in logs, URLs and headers.
const USER_ID = /^[\x21-\x7e]{1,128}$/;
const ROLE = /^[\x21-\x7e]{1,64}$/;
const MAX_ROLES = 64;
const MAX_EMAIL = 254;
const MAX_DISPLAY_NAME = 200;

export function assertUsername(username: string): void {
  if (username === '') throw new InvalidRequest('username is required');
  if (!USERNAME.test(username)) throw new InvalidRequest('username must be 1 to 128 printable characters without spaces');
}

export function isPossibleUsername(username: string): boolean {
  return USERNAME.test(username);
}

export function assertUserId(userId: string): void {
  if (!USER_ID.test(userId)) throw new InvalidRequest('user_id must be 1 to 128 printable ASCII characters without spaces');
}

/** Email is informational; an empty string means none. */
export function checkEmail(email: string): string | undefined {
  if (email === '') return undefined;
  if (email.length > MAX_EMAIL || !/^[^\s@\p{C}]+@[^\s@\p{C}]+$/u.test(email)) {
    throw new InvalidRequest('email must be an address of the form name@domain, at most 254 characters');
  }
  return email;
}

export function checkDisplayName(name: string): string | undefined {
  if (name === '') return undefined;
  if ([...name].length > MAX_DISPLAY_NAME || /\p{Cc}/u.test(name)) {
    throw new InvalidRequest('display_name must be at most 200 characters without control characters');
  }
  return name;
}

export function checkRoles(roles: readonly string[]): string[] {
  if (roles.length > MAX_ROLES) throw new InvalidRequest(`at most ${MAX_ROLES} roles`);
  for (const role of roles) {
    if (!ROLE.test(role)) throw new InvalidRequest('each role must be 1 to 64 printable ASCII characters without spaces');
  }
  return [...new Set(roles)];
}

/**
 * The etag of a user is its version; a malformed one is refused rather than treated as stale so
 * a client bug is not mistaken for a concurrent edit.
 */
export function versionOfEtag(etag: string): number | undefined {
  if (etag === '') return undefined;
  if (!/^[1-9]\d{0,15}$/.test(etag)) throw new InvalidRequest('etag is malformed: send back the etag of the user as read');
  return Number(etag);
}
