// Resource fields as command-line flags: one table per resource (client, user, service) says
// which flag sets which field and under which update_mask path (proto snake_case, AIP-134), so
// `create` and `update` accept the same flags and `update` changes exactly the fields given.
import { Option, type Command } from 'commander';
import {
  Client,
  clientTypeFromJSON,
  grantTypeFromJSON,
  tokenEndpointAuthMethodFromJSON,
  type ClientType,
  type GrantType,
  type TokenEndpointAuthMethod,
} from '../gen/ts/authmesh/client/v1/client.js';
import { Service, type Endpoint } from '../gen/ts/authmesh/service/v1/service.js';
import { User } from '../gen/ts/authmesh/user/v1/user.js';
import { UsageError } from './connection.js';

type Kind = 'string' | 'list' | 'scopes' | 'int' | 'bool';

/** One flag: commander's flags text, its help, the update_mask path, and how its value is read. */
export interface FieldFlag<T> {
  flags: string;
  description: string;
  path: string;
  kind: Kind;
  set: (target: T, value: never) => void;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Adds the flags to a command (lists repeat: `--scope a --scope b`; booleans get a `--no-` twin). */
export function addFieldFlags<T>(command: Command, fields: readonly FieldFlag<T>[]): Command {
  for (const f of fields) {
    const option = new Option(f.flags, f.description);
    if (f.kind === 'list' || f.kind === 'scopes') option.argParser(collect);
    command.addOption(option);
    if (f.kind === 'bool') command.addOption(new Option(f.flags.replace(/^--/, '--no-'), `unset: ${f.description}`).hideHelp());
  }
  return command;
}

function intOf(flag: string, raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

/**
 * The fields the command line set, applied to `target`, and their update_mask paths. A list flag
 * given an empty value (`--audience ''`) sets the list to empty; scopes may be given
 * space-separated in one flag (RFC 6749 §3.3 scope syntax).
 */
export function applyFieldFlags<T>(opts: Record<string, unknown>, fields: readonly FieldFlag<T>[], target: T): string[] {
  const paths: string[] = [];
  for (const f of fields) {
    const key = new Option(f.flags).attributeName();
    const raw = opts[key];
    if (raw === undefined) continue;
    const flag = f.flags.split(' ')[0]!;
    let value: unknown;
    switch (f.kind) {
      case 'string':
      case 'bool':
        value = raw;
        break;
      case 'int':
        value = intOf(flag, raw as string);
        break;
      case 'list':
        value = (raw as string[]).filter((v) => v !== '');
        break;
      case 'scopes':
        value = (raw as string[]).flatMap((v) => v.split(' ')).filter((v) => v !== '');
        break;
    }
    f.set(target, value as never);
    paths.push(f.path);
  }
  return paths;
}

/** Reads a resource from a proto JSON file (`-` for stdin) with `fromJSON`; its keys become mask paths. */
export function fromJsonFile<T>(text: string, what: string, fromJSON: (o: unknown) => T): { value: T; paths: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--file: the ${what} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--file: the ${what} must be a JSON object`);
  try {
    return { value: fromJSON(parsed), paths: Object.keys(parsed).map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
  } catch (err) {
    throw new UsageError(`--file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** An enum value by its RFC name (`client_secret_basic`) or proto name (`TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC`). */
function enumOf<E>(flag: string, raw: string, prefix: string, fromJSON: (o: unknown) => E, aliases: Record<string, string> = {}): E {
  const name = (aliases[raw] ?? raw).toUpperCase().replace(/-/g, '_');
  try {
    const value = fromJSON(name.startsWith(prefix) ? name : `${prefix}${name}`);
    if ((value as unknown as number) > 0) return value;
  } catch {
    // falls through to the usage error
  }
  throw new UsageError(`${flag}: unknown value ${JSON.stringify(raw.slice(0, 80))}`);
}

const GRANT_ALIASES: Record<string, string> = {
  // RFC 8693 §2.1 and RFC 8628 §3.4 name these grants by URN.
  'urn:ietf:params:oauth:grant-type:token-exchange': 'token_exchange',
  'urn:ietf:params:oauth:grant-type:device_code': 'device_code',
};

export const CLIENT_FIELDS: readonly FieldFlag<Client>[] = [
  { flags: '--name <client_name>', description: 'name shown on the consent page', path: 'client_name', kind: 'string', set: (c, v: string) => (c.clientName = v) },
  {
    flags: '--type <client_type>',
    description: 'public, confidential or trusted',
    path: 'client_type',
    kind: 'string',
    set: (c, v: string) => (c.clientType = enumOf<ClientType>('--type', v, 'CLIENT_TYPE_', clientTypeFromJSON)),
  },
  { flags: '--redirect-uri <uri>', description: 'redirect URI, exact match (repeat for more)', path: 'redirect_uris', kind: 'list', set: (c, v: string[]) => (c.redirectUris = v) },
  {
    flags: '--grant <grant_type>',
    description: 'grant the client may use: authorization_code, client_credentials, refresh_token, token_exchange, device_code, password (repeat for more)',
    path: 'grant_types',
    kind: 'list',
    set: (c, v: string[]) => (c.grantTypes = v.map((g) => enumOf<GrantType>('--grant', g, 'GRANT_TYPE_', grantTypeFromJSON, GRANT_ALIASES))),
  },
  { flags: '--scope <scope>', description: 'scope the client may ask for (space-separated or repeated)', path: 'scopes', kind: 'scopes', set: (c, v: string[]) => (c.scopes = v) },
  {
    flags: '--auth-method <method>',
    description: 'token endpoint auth method: client_secret_basic, client_secret_post, private_key_jwt, none, tls_client_auth, self_signed_tls_client_auth',
    path: 'token_endpoint_auth_method',
    kind: 'string',
    set: (c, v: string) => (c.tokenEndpointAuthMethod = enumOf<TokenEndpointAuthMethod>('--auth-method', v, 'TOKEN_ENDPOINT_AUTH_METHOD_', tokenEndpointAuthMethodFromJSON)),
  },
  { flags: '--audience <audience>', description: 'default audience of its tokens (repeat for more)', path: 'audience', kind: 'list', set: (c, v: string[]) => (c.audience = v) },
  { flags: '--skip-consent', description: 'first-party: no consent page (--no-skip-consent to unset)', path: 'skip_consent', kind: 'bool', set: (c, v: boolean) => (c.skipConsent = v) },
  { flags: '--require-pkce', description: 'PKCE required (--no-require-pkce to unset, confidential clients only)', path: 'require_pkce', kind: 'bool', set: (c, v: boolean) => (c.requirePkce = v) },
  { flags: '--access-token-ttl <seconds>', description: 'access token lifetime (0: server default)', path: 'access_token_ttl_seconds', kind: 'int', set: (c, v: number) => (c.accessTokenTtlSeconds = v) },
  { flags: '--refresh-token-ttl <seconds>', description: 'refresh token lifetime (0: server default)', path: 'refresh_token_ttl_seconds', kind: 'int', set: (c, v: number) => (c.refreshTokenTtlSeconds = v) },
  { flags: '--client-uri <uri>', description: 'home page (RFC 7591 client_uri)', path: 'client_uri', kind: 'string', set: (c, v: string) => (c.clientUri = v) },
  { flags: '--logo-uri <uri>', description: 'logo on the consent page (RFC 7591 logo_uri)', path: 'logo_uri', kind: 'string', set: (c, v: string) => (c.logoUri = v) },
  { flags: '--contact <contact>', description: 'contact (repeat for more)', path: 'contacts', kind: 'list', set: (c, v: string[]) => (c.contacts = v) },
  {
    flags: '--post-logout-redirect-uri <uri>',
    description: 'RP-initiated logout redirect URI (repeat for more)',
    path: 'post_logout_redirect_uris',
    kind: 'list',
    set: (c, v: string[]) => (c.postLogoutRedirectUris = v),
  },
  {
    flags: '--dpop-bound-access-tokens',
    description: 'tokens must be DPoP-bound (RFC 9449 §5.2)',
    path: 'dpop_bound_access_tokens',
    kind: 'bool',
    set: (c, v: boolean) => (c.dpopBoundAccessTokens = v),
  },
];

export const USER_FIELDS: readonly FieldFlag<User>[] = [
  { flags: '--username <username>', description: 'login name', path: 'username', kind: 'string', set: (u, v: string) => (u.username = v) },
  { flags: '--email <email>', description: 'e-mail address', path: 'email', kind: 'string', set: (u, v: string) => (u.email = v) },
  { flags: '--display-name <name>', description: 'name shown to people', path: 'display_name', kind: 'string', set: (u, v: string) => (u.displayName = v) },
  { flags: '--given-name <name>', description: 'OpenID given_name', path: 'given_name', kind: 'string', set: (u, v: string) => (u.givenName = v) },
  { flags: '--family-name <name>', description: 'OpenID family_name', path: 'family_name', kind: 'string', set: (u, v: string) => (u.familyName = v) },
  { flags: '--role <role>', description: 'role (repeat for more)', path: 'roles', kind: 'list', set: (u, v: string[]) => (u.roles = v) },
  { flags: '--disabled', description: 'cannot sign in (--no-disabled to enable)', path: 'disabled', kind: 'bool', set: (u, v: boolean) => (u.disabled = v) },
  { flags: '--email-verified', description: 'the e-mail address is verified', path: 'email_verified', kind: 'bool', set: (u, v: boolean) => (u.emailVerified = v) },
];

/** `METHOD PATH [SCOPE]`, e.g. `GET /orders/{id} orders.read`. */
function endpointOf(raw: string): Endpoint {
  const parts = raw.trim().split(/\s+/);
  if (parts.length < 2 || parts.length > 3) throw new UsageError(`--endpoint must be "METHOD PATH [SCOPE]", got ${JSON.stringify(raw.slice(0, 120))}`);
  return { method: parts[0]!.toUpperCase(), path: parts[1]!, scope: parts[2] ?? '', allowedClientIds: [] };
}

export const SERVICE_FIELDS: readonly FieldFlag<Service>[] = [
  { flags: '--name <display_name>', description: 'name shown to people', path: 'display_name', kind: 'string', set: (s, v: string) => (s.displayName = v) },
  { flags: '--description <text>', description: 'what the API is for', path: 'description', kind: 'string', set: (s, v: string) => (s.description = v) },
  { flags: '--audience <audience>', description: 'the aud value of tokens for this API (RFC 9068 §3)', path: 'audience', kind: 'string', set: (s, v: string) => (s.audience = v) },
  {
    flags: '--endpoint <endpoint>',
    description: '"METHOD PATH [SCOPE]" (repeat for more; the first match decides)',
    path: 'endpoints',
    kind: 'list',
    set: (s, v: string[]) => (s.endpoints = v.map(endpointOf)),
  },
  {
    flags: '--dpop-required',
    description: 'only DPoP-bound tokens are accepted (RFC 9449 §7)',
    path: 'dpop_bound_access_tokens_required',
    kind: 'bool',
    set: (s, v: boolean) => (s.dpopBoundAccessTokensRequired = v),
  },
];

export const emptyClient = (): Client => Client.fromPartial({});
export const emptyUser = (): User => User.fromPartial({});
export const emptyService = (): Service => Service.fromPartial({});
