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
  close(): Promise<void>;
}
