// Between the proto contract (enums, FieldMask paths) and the domain vocabulary (RFC strings).
import {
  Client as ClientMessage,
  ClientType as ClientTypeEnum,
  GrantType as GrantTypeEnum,
  TokenEndpointAuthMethod as AuthMethodEnum,
} from '../../gen/ts/authmesh/client/v1/client.js';
import { InvalidClientMetadata } from '../core/errors/index.js';
import { TOKEN_EXCHANGE_GRANT } from '../core/oauth/index.js';
import { resolveUpdateMask } from '../core/rpc/index.js';
import type { Client } from '../core/store/types.js';
import { CLIENT_DRAFT_FIELDS, draftOf, META_SECRET_ROTATED_AT, type ClientDraft, type ClientDraftField } from './client-draft.js';

const CLIENT_TYPES: Record<string, ClientTypeEnum> = {
  public: ClientTypeEnum.CLIENT_TYPE_PUBLIC,
  confidential: ClientTypeEnum.CLIENT_TYPE_CONFIDENTIAL,
  trusted: ClientTypeEnum.CLIENT_TYPE_TRUSTED,
};
const AUTH_METHODS: Record<string, AuthMethodEnum> = {
  client_secret_basic: AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
  client_secret_post: AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST,
  private_key_jwt: AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
  none: AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
};
const GRANT_TYPES: Record<string, GrantTypeEnum> = {
  authorization_code: GrantTypeEnum.GRANT_TYPE_AUTHORIZATION_CODE,
  client_credentials: GrantTypeEnum.GRANT_TYPE_CLIENT_CREDENTIALS,
  refresh_token: GrantTypeEnum.GRANT_TYPE_REFRESH_TOKEN,
  password: GrantTypeEnum.GRANT_TYPE_PASSWORD,
  [TOKEN_EXCHANGE_GRANT]: GrantTypeEnum.GRANT_TYPE_TOKEN_EXCHANGE,
};

function reverse<E extends number>(table: Record<string, E>, value: E): string | undefined {
  return Object.entries(table).find(([, v]) => v === value)?.[0];
}

/** Domain client type; '' for UNSPECIFIED (rejected by validation). */
export function clientTypeOf(value: ClientTypeEnum): string {
  if (value === ClientTypeEnum.CLIENT_TYPE_UNSPECIFIED) return '';
  const t = reverse(CLIENT_TYPES, value);
  if (t === undefined) throw new InvalidClientMetadata('client_type must be PUBLIC, CONFIDENTIAL or TRUSTED');
  return t;
}

/** Domain auth method; '' for UNSPECIFIED (the default applies). */
export function authMethodOf(value: AuthMethodEnum): string {
  if (value === AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_UNSPECIFIED) return '';
  const m = reverse(AUTH_METHODS, value);
  if (m === undefined) throw new InvalidClientMetadata('unsupported token_endpoint_auth_method');
  return m;
}

export function grantTypeOf(value: GrantTypeEnum): string {
  const g = reverse(GRANT_TYPES, value);
  if (g === undefined) throw new InvalidClientMetadata('grant_types contains an unspecified or unsupported grant type');
  return g;
}

export function authMethodEnum(method: string): AuthMethodEnum {
  return AUTH_METHODS[method] ?? AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_UNSPECIFIED;
}

/** A proto client (admin input) as a domain draft. */
export function draftFromMessage(m: ClientMessage): ClientDraft {
  return {
    name: m.clientName,
    clientType: clientTypeOf(m.clientType),
    redirectUris: [...m.redirectUris],
    grantTypes: m.grantTypes.map(grantTypeOf),
    scopes: [...m.scopes],
    tokenEndpointAuthMethod: authMethodOf(m.tokenEndpointAuthMethod),
    jwks: m.jwks,
    skipConsent: m.skipConsent,
    requirePkce: m.requirePkce,
    audience: [...m.audience],
    accessTokenTtlSeconds: m.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: m.refreshTokenTtlSeconds,
    clientUri: m.clientUri,
    logoUri: m.logoUri,
    contacts: [...m.contacts],
  };
}

// Proto field names (FieldMask paths, AIP-161) of the mutable fields and their draft properties.
const MASK_FIELDS: Record<string, ClientDraftField> = {
  client_name: 'name',
  client_type: 'clientType',
  redirect_uris: 'redirectUris',
  grant_types: 'grantTypes',
  scopes: 'scopes',
  token_endpoint_auth_method: 'tokenEndpointAuthMethod',
  jwks: 'jwks',
  skip_consent: 'skipConsent',
  require_pkce: 'requirePkce',
  audience: 'audience',
  access_token_ttl_seconds: 'accessTokenTtlSeconds',
  refresh_token_ttl_seconds: 'refreshTokenTtlSeconds',
  client_uri: 'clientUri',
  logo_uri: 'logoUri',
  contacts: 'contacts',
};
const NOT_UPDATABLE = ['client_id', 'create_time', 'update_time', 'secret_rotate_time', 'etag'];

/** The draft fields an update_mask names; every mutable field for an empty mask. */
export function fieldsOfMask(paths: readonly string[] | undefined): ClientDraftField[] {
  return resolveUpdateMask(paths, { fields: MASK_FIELDS, immutable: NOT_UPDATABLE, all: CLIENT_DRAFT_FIELDS }).fields;
}

/** The stored client as the proto message; never any secret or hash. */
export function toClientMessage(c: Client): ClientMessage {
  const d = draftOf(c);
  const rotated = c.metadata[META_SECRET_ROTATED_AT];
  return ClientMessage.fromPartial({
    clientId: c.clientId,
    clientName: c.name,
    clientType: CLIENT_TYPES[c.clientType] ?? ClientTypeEnum.CLIENT_TYPE_UNSPECIFIED,
    redirectUris: c.redirectUris,
    grantTypes: c.grantTypes.map((g) => GRANT_TYPES[g]).filter((g): g is GrantTypeEnum => g !== undefined),
    scopes: c.scopes,
    tokenEndpointAuthMethod: authMethodEnum(c.tokenEndpointAuthMethod),
    jwks: c.jwks,
    skipConsent: c.skipConsent,
    requirePkce: d.requirePkce,
    audience: c.audience,
    accessTokenTtlSeconds: c.accessTokenTtlSeconds ?? 0,
    refreshTokenTtlSeconds: c.refreshTokenTtlSeconds ?? 0,
    clientUri: d.clientUri,
    logoUri: d.logoUri,
    contacts: d.contacts,
    createTime: c.createdAt,
    updateTime: c.updatedAt,
    secretRotateTime: c.secretHash !== undefined && rotated !== undefined ? new Date(rotated) : undefined,
    etag: String(c.version),
  });
}
