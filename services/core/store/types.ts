// The domain model the stores persist. Secrets never appear here: only their hashes or
// ciphertexts, produced by the services that own them.
import type { StandardClaims } from '../oauth/oidc-claims.js';

export type ClientType = 'public' | 'confidential' | 'trusted';
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none' | 'tls_client_auth' | 'self_signed_tls_client_auth';

export interface Client {
  clientId: string;
  name: string;
  clientType: ClientType;
  redirectUris: string[];
  grantTypes: string[];
  /** The scopes this client may be granted. */
  scopes: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** sha256 hex of the secret, never the secret itself. */
  secretHash?: string;
  /** Still accepted until previousSecretExpiresAt, so rotation does not break running deployments. */
  previousSecretHash?: string;
  previousSecretExpiresAt?: Date;
  /** Public JWKS for private_key_jwt (RFC 7523). */
  jwks?: Record<string, unknown>;
  skipConsent: boolean;
  /** Default audiences of the tokens issued to this client. */
  audience: string[];
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /** RFC 7592 registration access token, hashed. */
  registrationAccessTokenHash?: string;
  /** RFC 7591 metadata without a column of its own (contacts, logo_uri, ...). */
  metadata: Record<string, string>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

// The OIDC Core §5.1 claims a user record stores: their shape is the claims rule's vocabulary.
export type { PostalAddress, StandardClaims } from '../oauth/oidc-claims.js';

export interface User {
  userId: string;
  /** Unique regardless of case. */
  username: string;
  email?: string;
  displayName?: string;
  roles: string[];
  /** An encoded KDF string; opaque to the store. */
  passwordHash: string;
  disabled: boolean;
  failedLoginCount: number;
  lockedUntil?: Date;
  passwordChangedAt: Date;
  /** OIDC standard claims; absent when none is set. */
  claims?: StandardClaims;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ServiceEndpoint {
  method: string;
  /** A path template such as /orders/{id}. */
  path: string;
  scope: string;
  /** Empty means any client holding the scope. */
  allowedClientIds: string[];
}

/** A protected API (resource server). */
export interface Service {
  serviceId: string;
  name: string;
  description: string;
  /** Unique, e.g. https://api.example.com. */
  audience: string;
  endpoints: ServiceEndpoint[];
  /** RFC 9728 §2 / RFC 9449 §7.1: the service accepts only DPoP-bound access tokens. */
  dpopBoundAccessTokensRequired: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export type SigningAlg = 'ES256' | 'RS256' | 'EdDSA';
export type KeyStatus = 'next' | 'active' | 'retired';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: Record<string, unknown>;
  /** Ciphertext under the master key; opaque to the store. */
  encryptedPrivateKey: string;
  status: KeyStatus;
  createdAt: Date;
  activatedAt?: Date;
  retiredAt?: Date;
  /** A retired key stays published in the JWKS until tokens signed with it have expired. */
  deleteAfter?: Date;
}

export interface RefreshToken {
  tokenHash: string;
  familyId: string;
  clientId: string;
  userId?: string;
  scope: string[];
  audience: string[];
  authTime?: Date;
  createdAt: Date;
  expiresAt: Date;
  /** Set when the token was exchanged for its successor. */
  rotatedAt?: Date;
  revokedAt?: Date;
  /** tokenHash of the successor. */
  replacedBy?: string;
  /**
   * OIDC Core §5.5: the standard claim names the authorization request's `claims` parameter asked
   * for in the ID Token; a rotation copies them to the successor. Undefined when none.
   */
  idTokenClaims?: string[];
  /**
   * RFC 9449 §5: the JWK SHA-256 thumbprint of the DPoP key the token is bound to (public clients
   * that used DPoP); a successor inherits it, so every refresh of the family needs that key.
   */
  dpopJkt?: string;
  /**
   * RFC 8705 §4: the x5t#S256 of the client certificate the token is bound to (public clients
   * that used mutual TLS); a successor inherits it.
   */
  certificateThumbprint?: string;
}

/** Remembered consent of a user for a client. */
export interface Consent {
  userId: string;
  clientId: string;
  scopes: string[];
  /**
   * The (resource, scope) pairs approved, each `<resource> <scope>` (RFC 8707 §2.1; resource ''
   * for requests that named none): core/oauth/remembered-consent.ts writes and reads them, the
   * store keeps them as given. Empty in consents stored before migration 0016.
   */
  resourceScopes: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface AuditEvent {
  id: string;
  at: Date;
  /** e.g. login.success, login.failure, token.issued, token.revoked, refresh.reuse_detected, client.created */
  type: string;
  actor?: string;
  subject?: string;
  clientId?: string;
  ip?: string;
  /** Never secrets or tokens. */
  details: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  /** '' when there are no more items. */
  nextPageToken: string;
}

export interface PageRequest {
  /** Default 50, at most 1000 (larger values are clamped). */
  pageSize?: number;
  /** Opaque; from a previous page of the same listing. */
  pageToken?: string;
}

/**
 * A partial update. Fields left undefined stay as they are; an optional field set to null is
 * cleared. Spreading objects thus never erases a value by accident.
 */
export type Patch<T, Fixed extends keyof T> = {
  [K in Exclude<keyof T, Fixed>]?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K];
};

/** What a caller supplies to create an entity: version and timestamps come from the store. */
export type NewClient = Omit<Client, 'version' | 'createdAt' | 'updatedAt'>;
export type ClientPatch = Patch<Client, 'clientId' | 'version' | 'createdAt' | 'updatedAt'>;

export type NewUser = Omit<User, 'version' | 'createdAt' | 'updatedAt' | 'failedLoginCount' | 'lockedUntil' | 'passwordChangedAt'> &
  Partial<Pick<User, 'failedLoginCount' | 'lockedUntil' | 'passwordChangedAt'>>;
export type UserPatch = Patch<User, 'userId' | 'version' | 'createdAt' | 'updatedAt'>;

export type NewService = Omit<Service, 'version' | 'createdAt' | 'updatedAt'>;
export type ServicePatch = Patch<Service, 'serviceId' | 'version' | 'createdAt' | 'updatedAt'>;

export type NewSigningKey = Omit<SigningKey, 'createdAt'> & { createdAt?: Date };

export type NewConsent = Omit<Consent, 'createdAt' | 'updatedAt'> & { at?: Date };

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at' | 'details'> & { at?: Date; details?: Record<string, unknown> };

/**
 * What a revocation names: an access token by its jti (RFC 7009 §2, RFC 9068 §2.2 jti), or a
 * grant by its identifier (the gid claim), which revokes every access token issued from it
 * (RFC 6749 §4.1.2 code replay, §10.4 / RFC 9700 §4.14.2 refresh-token reuse, RFC 7009 §2.1).
 */
export type RevocationKind = 'access_token' | 'grant';

export interface Revocation {
  kind: RevocationKind;
  /** The identifier revoked (for 'access_token', the jti; for 'grant', the gid); at most 255 characters. */
  id: string;
  /** The grid bucket it belongs to, a non-negative 32-bit integer chosen by the caller. */
  bucket: number;
  revokedAt: Date;
  /** When what it revokes would have expired anyway; the record is pruned after. */
  expiresAt: Date;
}

export type NewRevocation = Omit<Revocation, 'revokedAt'> & { revokedAt?: Date };

/** An access token a grant produced (RFC 9068 jti, and its exp as a Date). */
export interface GrantAccessToken {
  grantId: string;
  jti: string;
  expiresAt: Date;
}
