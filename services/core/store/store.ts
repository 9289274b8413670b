import type { AuditStore } from './audit-store.js';
import type { ClientStore } from './client-store.js';
import type { ConsentStore } from './consent-store.js';
import type { KeyStore } from './key-store.js';
import type { RefreshTokenStore } from './refresh-token-store.js';
import type { GrantTokenStore, RevocationStore } from './revocation-store.js';
import type { ServiceStore } from './service-store.js';
import type { UserStore } from './user-store.js';

/** Every role a service may need; a service keeps only the ones it owns. */
export interface Store {
  clients: ClientStore;
  users: UserStore;
  services: ServiceStore;
  keys: KeyStore;
  refreshTokens: RefreshTokenStore;
  consents: ConsentStore;
  revocations: RevocationStore;
  grantTokens: GrantTokenStore;
  audit: AuditStore;
  /**
   * One cheap round trip to the database (`SELECT 1`), for readiness (services/core/health):
   * resolves when it answers, rejects with a domain error (TemporarilyUnavailable when the
   * database cannot be reached) otherwise. Reads and writes no table.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
