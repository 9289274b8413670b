// What the authorization endpoint must ask of the user before it may answer (OpenID Connect
// Core 1.0 §3.1.2.1 prompt and max_age, §3.1.2.3 authentication, §3.1.2.4 consent, §3.1.2.6
// errors): log in (again), consent, or nothing. Pure: the caller brings the session and the clock.
import { ConsentRequired, LoginRequired } from '../errors/index.js';
import type { Prompt } from './oidc-request.js';

export interface InteractionInput {
  /** The checked prompt values (parsePrompt). */
  prompt: readonly Prompt[];
  /** max_age in seconds, when the request had one. */
  maxAge?: number | undefined;
  /** The user's active login session; undefined when there is none. */
  session?: { userId: string; authTime: Date } | undefined;
  /**
   * Whether a verified id_token_hint names the session's user (its sub is that user's subject
   * for the client); undefined when the request had no hint.
   */
  idTokenHintMatches?: boolean | undefined;
  /**
   * Whether the sub value the `claims` parameter requests (OIDC Core §5.5.1) is the session user's
   * subject for the client (subjectRequestMatches); undefined when no sub value is requested.
   */
  subjectClaimMatches?: boolean | undefined;
  /** True when the scopes need the user's consent (not remembered, the client does not skip it). */
  consentNeeded: boolean;
  now: Date;
}

export type LoginReason = 'no_session' | 'prompt_login' | 'max_age' | 'id_token_hint' | 'claims_sub';
export type Interaction = { kind: 'login'; reason: LoginReason } | { kind: 'consent' } | { kind: 'none' };

/**
 * Whole seconds since the authentication (auth_time is kept in seconds, OIDC Core §2); a time in
 * the future counts as 0.
 */
export function authenticationAge(authTime: Date, now: Date): number {
  return Math.max(0, Math.floor(now.getTime() / 1000) - Math.floor(authTime.getTime() / 1000));
}

/** Why the user must log in (again), or undefined when the session may answer. */
function loginReason(input: InteractionInput): LoginReason | undefined {
  const { session } = input;
  if (session === undefined) return 'no_session';
  // OIDC Core §3.1.2.1: prompt=login asks to reauthenticate; select_account is served by the
  // login page, where the user chooses which account to sign in with.
  if (input.prompt.includes('login') || input.prompt.includes('select_account')) return 'prompt_login';
  if (input.maxAge !== undefined) {
    // OIDC Core §3.1.2.1 (errata set 2): "max_age=0 is equivalent to the prompt=login request
    // parameter", even within the second of the login (afterFreshLogin replaces it once satisfied).
    if (input.maxAge === 0) return 'max_age';
    // OIDC Core §3.1.2.1: max_age: "If the elapsed time is greater than this value, the OP MUST attempt to actively re-authenticate".
    if (authenticationAge(session.authTime, input.now) > input.maxAge) return 'max_age';
  }
  // OIDC Core §3.1.2.1: id_token_hint names the user the client expects; another user must log in as them.
  if (input.idTokenHintMatches === false) return 'id_token_hint';
  // OIDC Core §5.5.1: a requested sub value allows "a positive response [only] if the End-User
  // identified by that sub value has an active session or has been Authenticated as a result of the request".
  if (input.subjectClaimMatches === false) return 'claims_sub';
  return undefined;
}

const LOGIN_REQUIRED_DESCRIPTION: Readonly<Record<LoginReason, string>> = {
  no_session: 'the user must log in',
  prompt_login: 'the user must log in',
  max_age: 'the user must log in',
  id_token_hint: 'the logged-in user is not the one id_token_hint names',
  claims_sub: 'the logged-in user is not the one the claims parameter names by sub',
};

/**
 * Decides the interaction an authorization request needs.
 * @returns login (with why), consent, or none (the code may be issued at once)
 * @throws LoginRequired / ConsentRequired when prompt=none forbids the interaction needed
 *   (OIDC Core §3.1.2.6), to be redirected to the client with state and iss
 */
export function decideInteraction(input: InteractionInput): Interaction {
  const none = input.prompt.includes('none');
  const reason = loginReason(input);
  if (reason !== undefined) {
    // OIDC Core §3.1.2.6: prompt=none and the user would have to authenticate → login_required.
    if (none) throw new LoginRequired(LOGIN_REQUIRED_DESCRIPTION[reason]);
    return { kind: 'login', reason };
  }
  // OIDC Core §3.1.2.1: prompt=consent asks for consent even when it was given before.
  const consent = input.consentNeeded || input.prompt.includes('consent');
  if (consent) {
    // OIDC Core §3.1.2.6: prompt=none and consent would be needed → consent_required.
    if (none) throw new ConsentRequired('the user must consent to the requested scopes');
    return { kind: 'consent' };
  }
  return { kind: 'none' };
}

/**
 * max_age of a request once the user has just logged in for it: longer than a login or consent
 * page lives (15 minutes), so the fresh login always satisfies it, and explicit, so that a client's
 * default_max_age (which only stands in for a missing max_age) cannot send the user round again.
 */
export const FRESH_LOGIN_MAX_AGE_SECONDS = 1800;

/**
 * The OIDC parameters of a request once the user has just logged in for it: prompt=login and
 * select_account are satisfied (removed); max_age becomes FRESH_LOGIN_MAX_AGE_SECONDS (the login
 * is as fresh as can be, and a small max_age or default_max_age must not send the user round
 * again while the page loads); an id_token_hint naming another user is dropped because the user
 * chose the account they logged in with. Values are the raw strings of the request; the rest of
 * the request is unchanged.
 */
export function afterFreshLogin<T extends { prompt: string; max_age: string; id_token_hint: string }>(params: T): T {
  const prompt = params.prompt
    .split(' ')
    .filter((p) => p !== '' && p !== 'login' && p !== 'select_account')
    .join(' ');
  return { ...params, prompt, max_age: String(FRESH_LOGIN_MAX_AGE_SECONDS), id_token_hint: '' };
}

/**
 * The authorization request to continue with once the user picked an account in the chooser
 * (OIDC Core §3.1.2.1 prompt=select_account): select_account is answered, and an id_token_hint is
 * dropped (the user chose, possibly someone else than the hint names). max_age and prompt=login
 * still apply to the chosen session. Pure: returns a copy.
 */
export function afterAccountChoice<T extends { prompt: string; id_token_hint: string }>(params: T): T {
  const prompt = params.prompt
    .split(' ')
    .filter((p) => p !== '' && p !== 'select_account')
    .join(' ');
  return { ...params, prompt, id_token_hint: '' };
}
