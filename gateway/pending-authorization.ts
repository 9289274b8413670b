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
  /** RFC 9101: a request object; RFC 9126: a pushed request's URN. Resolved by the code service. */
  request: string;
  request_uri: string;
  /** RFC 9449 §10: the thumbprint of the DPoP key the code is bound to. */
  dpop_jkt: string;
  /** RFC 8707 §2.1: the resource indicators, the one parameter that may repeat; [] when none. */
  resource: string[];
}

/** The parameters sent at most once (every one but resource). */
export type SingleAuthorizationParam = Exclude<keyof AuthorizationParams, 'resource'>;

/** RFC 8707 §2.1: the authorization request parameter that may be sent more than once. */
export const RESOURCE_PARAM = 'resource';

export const AUTHORIZATION_PARAM_NAMES: ReadonlyArray<SingleAuthorizationParam> = [
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
  /**
   * The parameters came from a pushed request (RFC 9126) or a signed request object (RFC 9101):
   * they continue through this gateway's sealed envelopes, never again as plain query parameters
   * (which a client required to push or sign may not send).
   */
  resolved?: boolean | undefined;
}

interface Envelope {
  p: AuthorizationParams;
  /** expiry, epoch seconds */
  e: number;
  /** SHA-256 of the CSRF token the form carries */
  c: string;
  u?: string;
  s?: string[];
  /** resolved (see PendingAuthorization) */
  r?: 1;
  /** 'resume': a continuation of the authorization endpoint, not a form's pending request */
  k?: 'resume';
}

/** The query parameter carrying a sealed continuation back to the authorization endpoint. */
export const RESUME_PARAM = 'authmesh_continue';
// The CSRF-token stand-in of continuations: not a token (those are random base64url), so a form's
// sealed field never opens as a continuation nor the reverse (the kind is signed too).
const RESUME_BINDING = 'authmesh resume';

const fingerprint = (csrfToken: string) => createHash('sha256').update(csrfToken, 'utf8').digest('base64url');

export function createPendingAuthorizations(cookieSecret: string, now: () => Date = () => new Date()) {
  // A key of its own, derived from the cookie secret, so a signature made here means nothing elsewhere.
  const key = createHmac('sha256', cookieSecret).update('authmesh pending authorization v1').digest();
  const sign = (data: string) => createHmac('sha256', key).update(data, 'utf8').digest('base64url');
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  function sealEnvelope(pending: PendingAuthorization, binding: string, kind?: 'resume'): string {
    const envelope: Envelope = { p: pending.params, e: nowSeconds() + PENDING_TTL_SECONDS, c: fingerprint(binding) };
    if (pending.userId !== undefined) envelope.u = pending.userId;
    if (pending.scopes !== undefined) envelope.s = pending.scopes;
    if (pending.resolved === true) envelope.r = 1;
    if (kind !== undefined) envelope.k = kind;
    const data = Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64url');
    return `${data}.${sign(data)}`;
  }

  function openEnvelope(sealed: string, binding: string, kind?: 'resume'): PendingAuthorization | undefined {
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
    if (typeof envelope.c !== 'string' || !constantTimeEqual(envelope.c, fingerprint(binding))) return undefined;
    if (envelope.k !== kind) return undefined;
    const params = { resource: [] as string[] } as unknown as AuthorizationParams;
    for (const name of AUTHORIZATION_PARAM_NAMES) {
      const v = envelope.p?.[name];
      params[name] = typeof v === 'string' ? v : '';
    }
    const resource: unknown = envelope.p?.resource;
    params.resource = Array.isArray(resource) ? resource.filter((r): r is string => typeof r === 'string') : [];
    return { params, userId: envelope.u, scopes: Array.isArray(envelope.s) ? envelope.s.filter((s) => typeof s === 'string') : undefined, resolved: envelope.r === 1 };
  }

  return {
    seal(pending: PendingAuthorization, csrfToken: string): string {
      return sealEnvelope(pending, csrfToken);
    },
    /** The pending request, or undefined when the field was altered, expired or belongs to another CSRF token. */
    open(sealed: string, csrfToken: string): PendingAuthorization | undefined {
      return openEnvelope(sealed, csrfToken);
    },
    /**
     * A continuation of a resolved request (pushed or signed) back to the authorization endpoint
     * after login, consent restart, logout or account choice: the parameters, sealed and short-lived,
     * instead of plain query parameters. Its request_uri was spent; this is the server's own state.
     */
    sealResume(params: AuthorizationParams): string {
      return sealEnvelope({ params, resolved: true }, RESUME_BINDING, 'resume');
    },
    /** The parameters of a continuation, or undefined when altered, expired or not a continuation. */
    openResume(sealed: string): AuthorizationParams | undefined {
      return openEnvelope(sealed, RESUME_BINDING, 'resume')?.params;
    },
  };
}

export type PendingAuthorizations = ReturnType<typeof createPendingAuthorizations>;
