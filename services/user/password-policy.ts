// What a new password must satisfy. NIST SP 800-63B §5.1.1.2: length, not composition rules —
// at least 12 characters (above NIST's floor of 8, per OWASP's current advice for single-factor
// accounts), a generous maximum so passphrases fit, and no password equal to the account name.
import { InvalidRequest } from '../core/errors/index.js';
import { normalize } from './password-hash.js';

export const PASSWORD_MIN_CHARS = 12;
export const PASSWORD_MAX_CHARS = 1024;

/** @throws InvalidRequest naming the rule that failed (never echoing the password). */
export function assertPasswordPolicy(password: string, username: string, field = 'password'): void {
  if (password === '') throw new InvalidRequest(`${field} is required`);
  // NIST SP 800-63B §5.1.1.2: length is counted in characters (code points) after normalisation.
  const chars = [...normalize(password)].length;
  if (chars < PASSWORD_MIN_CHARS) throw new InvalidRequest(`${field} must be at least ${PASSWORD_MIN_CHARS} characters long`);
  if (chars > PASSWORD_MAX_CHARS) throw new InvalidRequest(`${field} must be at most ${PASSWORD_MAX_CHARS} characters long`);
  // NIST SP 800-63B §5.1.1.2: reject passwords derived from the context, here the username.
  if (normalize(password).toLowerCase() === normalize(username).toLowerCase()) {
    throw new InvalidRequest(`${field} must not be the username`);
  }
}

/** A quick bound for passwords being checked (not set): generous, since normalisation may shrink input. */
export function isPlausiblePassword(password: string): boolean {
  return password.length > 0 && password.length <= PASSWORD_MAX_CHARS * 4;
}
