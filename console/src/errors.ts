// Server errors in plain words. The admin RPCs answer with a Connect error whose
// google.rpc.ErrorInfo reason is the RFC error code in capitals (services/core/errors): the
// sentence shown comes from the reason, the server's description follows it, and the form field it
// concerns is told from the reason or from the field name the description starts with.

/** What the console shows for an error: a sentence, and the form field it belongs to, if any. */
export interface ShownError {
  message: string;
  field?: string;
}

const PLAIN: Record<string, string> = {
  INVALID_REQUEST: 'The request was not accepted',
  INVALID_REDIRECT_URI: 'A redirect URI is not acceptable',
  INVALID_CLIENT_METADATA: 'A client setting is not acceptable',
  INVALID_SCOPE: 'A scope is not acceptable',
  INVALID_TOKEN: 'Your session has ended: sign in again',
  INSUFFICIENT_SCOPE: 'You are not an administrator: your token lacks the authmesh.admin scope',
  ACCESS_DENIED: 'Not allowed',
  NOT_FOUND: 'It no longer exists (someone may have deleted it)',
  ALREADY_EXISTS: 'One with that name already exists',
  CONFLICT: 'Someone changed it meanwhile: reload and try again',
  TEMPORARILY_UNAVAILABLE: 'The server is busy or a service is down: try again shortly',
  SERVER_ERROR: 'The server failed: the operator can find the cause in its log',
};

/** Form fields by the names the server's descriptions use (proto field names). */
const FIELDS = ['redirect_uris', 'client_name', 'scopes', 'grant_types', 'post_logout_redirect_uris', 'audience', 'username', 'email', 'display_name', 'roles', 'password', 'new_password'];

/**
 * The plain-words form of an error: `reason` is the ErrorInfo reason ('' when none), `description`
 * the server's message. Pure, so it is unit-tested (test/console/errors.test.ts).
 */
export function describeError(reason: string, description: string): ShownError {
  const lead = PLAIN[reason] ?? (reason === '' ? 'The request failed' : `The request failed (${reason.toLowerCase()})`);
  const message = description === '' || description === lead ? lead : `${lead}: ${description}`;
  if (reason === 'INVALID_REDIRECT_URI') return { message, field: 'redirect_uris' };
  const named = FIELDS.find((f) => description.startsWith(`${f} `) || description.startsWith(`${f}:`) || description.includes(` ${f} `));
  if (named === 'new_password') return { message, field: 'password' };
  return named === undefined ? { message } : { message, field: named };
}
