// PKCE (RFC 7636) with the RFC 9700 hardening: S256 only, and protection against downgrade.
import { createHash } from 'node:crypto';
import { InvalidGrant, InvalidRequest } from '../errors/index.js';
import { constantTimeEqual } from './secrets.js';

/** The only method we accept: 'plain' gives no protection if the request is observed (RFC 9700 §2.1.1). */
export const CODE_CHALLENGE_METHODS = ['S256'] as const;
export type CodeChallengeMethod = (typeof CODE_CHALLENGE_METHODS)[number];

// RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters without padding.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
// RFC 7636 §4.1: code-verifier = 43*128unreserved.
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export function isCodeChallengeMethod(value: string): value is CodeChallengeMethod {
  return (CODE_CHALLENGE_METHODS as readonly string[]).includes(value);
}

/**
 * Checks a code_challenge at the authorization endpoint and returns its method. Throws
 * InvalidRequest, which RFC 7636 §4.4.1 says is the error for a bad or unsupported challenge.
 */
export function validateCodeChallenge(challenge: string, method?: string): CodeChallengeMethod {
  // RFC 7636 §4.3: an absent code_challenge_method means 'plain', which we do not support.
  const effective = method === undefined || method === '' ? 'plain' : method;
  // RFC 9700 §2.1.1: 'plain' must not be used; only S256 protects an observed request.
  if (!isCodeChallengeMethod(effective)) {
    throw new InvalidRequest(`code_challenge_method must be S256 (got ${effective === 'plain' ? 'plain or none' : 'an unsupported method'})`);
  }
  // RFC 7636 §4.2: the S256 challenge is the 43-character base64url of a SHA-256 digest.
  if (!S256_CHALLENGE.test(challenge)) {
    throw new InvalidRequest('code_challenge must be 43 base64url characters for S256');
  }
  return effective;
}

/** True when the verifier has the RFC 7636 §4.1 shape. */
export function isValidCodeVerifier(verifier: string): boolean {
  return CODE_VERIFIER.test(verifier);
}

/** Throws InvalidGrant for a code_verifier outside the RFC 7636 §4.1 grammar. */
export function validateCodeVerifier(verifier: string): void {
  // RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
  if (!isValidCodeVerifier(verifier)) {
    throw new InvalidGrant('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');
  }
}

/** The S256 challenge of a verifier: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2). */
export function computeS256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export interface PkceProof {
  verifier: string;
  challenge: string;
  method: CodeChallengeMethod | string;
}

/** Verifies a code_verifier against the challenge stored with the code; throws InvalidGrant. */
export function verifyPkce({ verifier, challenge, method }: PkceProof): void {
  validateCodeVerifier(verifier);
  // RFC 9700 §2.1.1: a code issued for another method cannot be redeemed here.
  if (!isCodeChallengeMethod(method)) throw new InvalidGrant('the code was issued with an unsupported code_challenge_method');
  // RFC 7636 §4.6: compare the transformed verifier with the stored challenge, in constant time.
  if (!constantTimeEqual(computeS256Challenge(verifier), challenge)) {
    throw new InvalidGrant('code_verifier does not match the code_challenge');
  }
}

export interface PkceDowngradeInput {
  /** The code_challenge stored with the code, absent when the authorization request had none. */
  challenge?: string | undefined;
  /** The code_challenge_method stored with the code. */
  method?: string | undefined;
  /** The code_verifier sent to the token endpoint. */
  verifier?: string | undefined;
}

/**
 * Token-endpoint PKCE check including downgrade protection: verifies the proof when the code
 * carries a challenge, and refuses a verifier for a code that was issued without one.
 */
export function pkceDowngradeCheck({ challenge, method, verifier }: PkceDowngradeInput): void {
  const hasChallenge = challenge !== undefined && challenge !== '';
  const hasVerifier = verifier !== undefined && verifier !== '';
  if (hasChallenge) {
    // RFC 7636 §4.5 / RFC 9700 §2.1.1: a code bound to a challenge needs the verifier.
    if (!hasVerifier) throw new InvalidGrant('code_verifier is required for this code');
    verifyPkce({ verifier, challenge, method: method ?? 'plain' });
    return;
  }
  // RFC 9700 §2.1.1: a verifier for a code issued without a challenge signals a downgrade attack.
  if (hasVerifier) throw new InvalidGrant('code_verifier was sent but the code was issued without a code_challenge');
}
