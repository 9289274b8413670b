import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from '../log/index.js';

/**
 * Who may call a method. Every method of every service declares one, checked before the handler
 * runs (fail closed: a method without a declaration cannot be registered).
 * - public: anyone (JWKS).
 * - internal: only the mesh's own credential (service-to-service RPCs).
 * - client: the OAuth client authenticates inside the request body (token endpoint RPCs).
 * - scopes: a bearer access token issued by this server holding at least one of these scopes;
 *   `allowMesh` also admits the mesh credential.
 */
export type Access =
  | { kind: 'public' }
  | { kind: 'internal' }
  | { kind: 'client' }
  | { kind: 'scopes'; anyOf: string[]; allowMesh?: boolean };

export const PUBLIC: Access = { kind: 'public' };
export const INTERNAL: Access = { kind: 'internal' };
export const CLIENT_AUTHENTICATED: Access = { kind: 'client' };
export const ADMIN_SCOPE = 'authmesh.admin';
export const READ_SCOPE = 'authmesh.read';
export const ADMIN_WRITE: Access = { kind: 'scopes', anyOf: [ADMIN_SCOPE] };
export const ADMIN_READ: Access = { kind: 'scopes', anyOf: [ADMIN_SCOPE, READ_SCOPE] };

/** The authenticated caller of an RPC. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'mesh' }
  | { kind: 'token'; subject: string; clientId: string; scopes: string[]; jti: string };

/** Decides who is calling. Implementations verify JWTs and the mesh credential. */
export interface Authenticator {
  /** `method` is the full gRPC path of the call (e.g. /authmesh.key.v1.KeyService/GetJwks). */
  authenticate(metadata: Metadata, access: Access, method?: string): Promise<Principal>;
}

export interface CallContext {
  /** Full method path, e.g. /authmesh.key.v1.KeyService/GetJwks. */
  method: string;
  metadata: Metadata;
  principal: Principal;
  /** The caller's deadline; outgoing calls made for this call should not outlive it. */
  deadline: Date | undefined;
  /** Aborted when the caller cancels or the deadline passes. */
  signal: AbortSignal;
  peer: string;
  log: Logger;
}
/** Admin reads that other services of the mesh also make (e.g. code reads a client). */
export const ADMIN_READ_OR_MESH: Access = { kind: 'scopes', anyOf: [ADMIN_SCOPE, READ_SCOPE], allowMesh: true };
