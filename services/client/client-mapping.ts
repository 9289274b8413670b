// Between the proto contract (enums, FieldMask paths) and the domain vocabulary (RFC strings).
import {
  Client as ClientMessage,
  ClientType as ClientTypeEnum,
  type GrantType as GrantTypeEnum,
  TokenEndpointAuthMethod as AuthMethodEnum,
} from '../../gen/ts/authmesh/client/v1/client.js';
import { InvalidClientMetadata } from '../core/errors/index.js';
import { resolveUpdateMask } from '../core/rpc/index.js';
import type { Client } from '../core/store/types.js';
import { authMethodName, authMethodValue, clientTypeName, clientTypeValue, grantTypeName, grantTypeValue } from './client-enums.js';
import { CLIENT_DRAFT_FIELDS, draftOf, META_SECRET_ROTATED_AT, type ClientDraft, type ClientDraftField } from './client-draft.js';

/** Domain client type; '' for UNSPECIFIED (rejected by validation). */
export function clientTypeOf(value: ClientTypeEnum): string {
  if (value === ClientTypeEnum.CLIENT_TYPE_UNSPECIFIED) return '';
  const t = clientTypeName(value);
  if (t === undefined) throw new InvalidClientMetadata('client_type must be PUBLIC, CONFIDENTIAL or TRUSTED');
  return t;
}

/** Domain auth method; '' for UNSPECIFIED (the default applies). */
export function authMethodOf(value: AuthMethodEnum): string {
  if (value === AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_UNSPECIFIED) return '';
  const m = authMethodName(value);
  if (m === undefined) throw new InvalidClientMetadata('unsupported token_endpoint_auth_method');
  return m;
}

export function grantTypeOf(value: GrantTypeEnum): string {
  const g = grantTypeName(value);
  if (g === undefined) throw new InvalidClientMetadata('grant_types contains an unspecified or unsupported grant type');
  return g;
}

export function authMethodEnum(method: string): AuthMethodEnum {
  return authMethodValue(method) ?? AuthMethodEnum.TOKEN_ENDPOINT_AUTH_METHOD_UNSPECIFIED;
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
    refreshTokenReuseGraceSeconds: m.refreshTokenReuseGraceSeconds,
    clientUri: m.clientUri,
    logoUri: m.logoUri,
    contacts: [...m.contacts],
    idTokenSignedResponseAlg: m.idTokenSignedResponseAlg,
    defaultMaxAge: m.defaultMaxAge,
    requireAuthTime: m.requireAuthTime,
    subjectType: m.subjectType,
    sectorIdentifierUri: m.sectorIdentifierUri,
    userinfoSignedResponseAlg: m.userinfoSignedResponseAlg,
    postLogoutRedirectUris: [...m.postLogoutRedirectUris],
    backchannelLogoutUri: m.backchannelLogoutUri,
    backchannelLogoutSessionRequired: m.backchannelLogoutSessionRequired,
    dpopBoundAccessTokens: m.dpopBoundAccessTokens,
    tlsClientAuthSubjectDn: m.tlsClientAuthSubjectDn,
    tlsClientAuthSanDns: m.tlsClientAuthSanDns,
    tlsClientAuthSanUri: m.tlsClientAuthSanUri,
    tlsClientAuthSanIp: m.tlsClientAuthSanIp,
    tlsClientAuthSanEmail: m.tlsClientAuthSanEmail,
    tlsClientCertificateBoundAccessTokens: m.tlsClientCertificateBoundAccessTokens,
    requirePushedAuthorizationRequests: m.requirePushedAuthorizationRequests,
    requireSignedRequestObject: m.requireSignedRequestObject,
    requestObjectSigningAlg: m.requestObjectSigningAlg,
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
  refresh_token_reuse_grace_seconds: 'refreshTokenReuseGraceSeconds',
  client_uri: 'clientUri',
  logo_uri: 'logoUri',
  contacts: 'contacts',
  id_token_signed_response_alg: 'idTokenSignedResponseAlg',
  default_max_age: 'defaultMaxAge',
  require_auth_time: 'requireAuthTime',
  subject_type: 'subjectType',
  sector_identifier_uri: 'sectorIdentifierUri',
  userinfo_signed_response_alg: 'userinfoSignedResponseAlg',
  post_logout_redirect_uris: 'postLogoutRedirectUris',
  backchannel_logout_uri: 'backchannelLogoutUri',
  backchannel_logout_session_required: 'backchannelLogoutSessionRequired',
  dpop_bound_access_tokens: 'dpopBoundAccessTokens',
  tls_client_auth_subject_dn: 'tlsClientAuthSubjectDn',
  tls_client_auth_san_dns: 'tlsClientAuthSanDns',
  tls_client_auth_san_uri: 'tlsClientAuthSanUri',
  tls_client_auth_san_ip: 'tlsClientAuthSanIp',
  tls_client_auth_san_email: 'tlsClientAuthSanEmail',
  tls_client_certificate_bound_access_tokens: 'tlsClientCertificateBoundAccessTokens',
  require_pushed_authorization_requests: 'requirePushedAuthorizationRequests',
  require_signed_request_object: 'requireSignedRequestObject',
  request_object_signing_alg: 'requestObjectSigningAlg',
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
    clientType: clientTypeValue(c.clientType) ?? ClientTypeEnum.CLIENT_TYPE_UNSPECIFIED,
    redirectUris: c.redirectUris,
    grantTypes: c.grantTypes.map(grantTypeValue).filter((g): g is GrantTypeEnum => g !== undefined),
    scopes: c.scopes,
    tokenEndpointAuthMethod: authMethodEnum(c.tokenEndpointAuthMethod),
    jwks: c.jwks,
    skipConsent: c.skipConsent,
    requirePkce: d.requirePkce,
    audience: c.audience,
    accessTokenTtlSeconds: c.accessTokenTtlSeconds ?? 0,
    refreshTokenTtlSeconds: c.refreshTokenTtlSeconds ?? 0,
    refreshTokenReuseGraceSeconds: d.refreshTokenReuseGraceSeconds,
    clientUri: d.clientUri,
    logoUri: d.logoUri,
    contacts: d.contacts,
    idTokenSignedResponseAlg: d.idTokenSignedResponseAlg,
    defaultMaxAge: d.defaultMaxAge,
    requireAuthTime: d.requireAuthTime,
    subjectType: d.subjectType,
    sectorIdentifierUri: d.sectorIdentifierUri,
    userinfoSignedResponseAlg: d.userinfoSignedResponseAlg,
    postLogoutRedirectUris: d.postLogoutRedirectUris,
    backchannelLogoutUri: d.backchannelLogoutUri,
    backchannelLogoutSessionRequired: d.backchannelLogoutSessionRequired,
    dpopBoundAccessTokens: d.dpopBoundAccessTokens,
    tlsClientAuthSubjectDn: d.tlsClientAuthSubjectDn,
    tlsClientAuthSanDns: d.tlsClientAuthSanDns,
    tlsClientAuthSanUri: d.tlsClientAuthSanUri,
    tlsClientAuthSanIp: d.tlsClientAuthSanIp,
    tlsClientAuthSanEmail: d.tlsClientAuthSanEmail,
    tlsClientCertificateBoundAccessTokens: d.tlsClientCertificateBoundAccessTokens,
    requirePushedAuthorizationRequests: d.requirePushedAuthorizationRequests,
    requireSignedRequestObject: d.requireSignedRequestObject,
    requestObjectSigningAlg: d.requestObjectSigningAlg,
    createTime: c.createdAt,
    updateTime: c.updatedAt,
    secretRotateTime: c.secretHash !== undefined && rotated !== undefined ? new Date(rotated) : undefined,
    etag: String(c.version),
  });
}
