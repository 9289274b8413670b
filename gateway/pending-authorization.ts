// The authorization request waiting for the user to log in or consent, carried in a hidden form
// field rather than in server state: several tabs can each have their own pending request, and no
// gateway instance needs to remember anything. The field is an HMAC-signed, short-lived envelope
// bound to the form's CSRF token (and, on the consent page, to the user it was shown to), so it
// cannot be altered (what the user consented to is exactly what gets issued), replayed with
// another browser's token, or kept around. The code service validates the request again anyway.
import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../services/core/oauth/index.js';

/** Long enough to type a password, short enough that an abandoned page goes stale. */
export const PENDING_TTL_SECONDS = 15 * 60;

/** The parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3) as received. */
export interface AuthorizationParams {
  response_type: string;
  client_id: string;
  redirect_uri: string;
  scope: string;
  state: string;
  code_challenge: string;
  code_challenge_method: string;
  nonce: string;
  /** OpenID Connect Core §3.1.2.1 parameters. */
  prompt: string;
  max_age: string;
  login_hint: string;
  id_token_hint: string;
  ui_locales: string;
  claims_locales: string;
  /** OpenID Connect Core §5.5: the claims request, JSON. */
  claims: string;
  /** OpenID Connect Core §6: recognized so that the code service refuses them clearly. */
  request: string;
  request_uri: string;
  /** RFC 9449 §10: the thumbprint of the DPoP key the code is bound to. */
  dpop_jkt: string;
}

export const AUTHORIZATION_PARAM_NAMES: ReadonlyArray<keyof AuthorizationParams> = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'prompt',
  'max_age',
  'login_hint',
  'id_token_hint',
  'ui_locales',
  'claims_locales',
  'claims',
  'request',
  'request_uri',
  'dpop_jkt',
];

export interface PendingAuthorization {
  params: AuthorizationParams;
  /** The user the consent page was shown to; absent on the login page. */
  userId?: string | undefined;
  /** The scopes the consent page showed. */
  scopes?: string[] | undefined;
}

interface Envelope {
  p: AuthorizationParams;
  /** expiry, epoch seconds */
  e: number;
  /** SHA-256 of the CSRF token the form carries */
  c: string;
  u?: string;
  s?: string[];
}

const fingerprint = (csrfToken: string) => createHash('sha256').update(csrfToken, 'utf8').digest('base64url');

export function createPendingAuthorizations(cookieSecret: string, now: () => Date = () => new Date()) {
  // A key of its own, derived from the cookie secret, so a signature made here means nothing elsewhere.
  const key = createHmac('sha256', cookieSecret).update('authmesh pending authorization v1').digest();
  const sign = (data: string) => createHmac('sha256', key).update(data, 'utf8').digest('base64url');
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  return {
    seal(pending: PendingAuthorization, csrfToken: string): string {
      const envelope: Envelope = { p: pending.params, e: nowSeconds() + PENDING_TTL_SECONDS, c: fingerprint(csrfToken) };
      if (pending.userId !== undefined) envelope.u = pending.userId;
      if (pending.scopes !== undefined) envelope.s = pending.scopes;
      const data = Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64url');
      return `${data}.${sign(data)}`;
    },
    /** The pending request, or undefined when the field was altered, expired or belongs to another CSRF token. */
    open(sealed: string, csrfToken: string): PendingAuthorization | undefined {
      const dot = sealed.indexOf('.');
      if (dot <= 0) return undefined;
      const data = sealed.slice(0, dot);
      if (!constantTimeEqual(sign(data), sealed.slice(dot + 1))) return undefined;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as Envelope;
      } catch {
        return undefined;
      }
      if (typeof envelope.e !== 'number' || envelope.e < nowSeconds()) return undefined;
      if (typeof envelope.c !== 'string' || !constantTimeEqual(envelope.c, fingerprint(csrfToken))) return undefined;
      const params = {} as AuthorizationParams;
      for (const name of AUTHORIZATION_PARAM_NAMES) {
        const v = envelope.p?.[name];
        params[name] = typeof v === 'string' ? v : '';
      }
      return { params, userId: envelope.u, scopes: Array.isArray(envelope.s) ? envelope.s.filter((s) => typeof s === 'string') : undefined };
    },
  };
}

export type PendingAuthorizations = ReturnType<typeof createPendingAuthorizations>;
