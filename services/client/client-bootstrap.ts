// The first admin client, so a fresh installation can obtain a token for the admin RPCs
// (client_credentials with scope authmesh.admin). Created once; never changed on later starts.
import { AlreadyExists } from '../core/errors/index.js';
import { ADMIN_SCOPE, READ_SCOPE } from '../core/rpc/index.js';
import { constantTimeEqual, hashToken } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientManager } from './client-manager.js';
import { serverClientDraft } from './client-draft.js';

export async function bootstrapAdminClient(deps: Pick<MeshDeps, 'config' | 'log'>, clients: ClientManager): Promise<void> {
  const { adminClientId, adminClientSecret } = deps.config;
  const existing = await clients.find(adminClientId);
  if (existing) {
    if (adminClientSecret !== undefined && !constantTimeEqual(hashToken(adminClientSecret), existing.secretHash ?? '')) {
      deps.log.warn({ clientId: adminClientId }, 'AUTHMESH_ADMIN_CLIENT_SECRET does not match the existing admin client; rotate its secret with RotateClientSecret');
    }
    return;
  }
  let created;
  try {
    created = await clients.create(
      adminClientId,
      serverClientDraft({
        name: 'authmesh admin',
        clientType: 'confidential',
        redirectUris: [],
        grantTypes: ['client_credentials'],
        scopes: [ADMIN_SCOPE, READ_SCOPE],
        tokenEndpointAuthMethod: 'client_secret_basic',
      }),
      { presetSecret: adminClientSecret, actor: 'bootstrap' },
    );
  } catch (err) {
    // Another instance created it first.
    if (err instanceof AlreadyExists) return;
    throw err;
  }
  deps.log.info({ clientId: adminClientId }, 'bootstrap admin client created');
  if (adminClientSecret === undefined && created.clientSecret !== undefined) {
    // Shown once on the terminal, never through the logger (log lines are shipped and kept).
    process.stdout.write(
      `\nauthmesh: bootstrap admin client created\n  client_id:     ${adminClientId}\n  client_secret: ${created.clientSecret}\n` +
        '  (shown once; set AUTHMESH_ADMIN_CLIENT_SECRET to choose it)\n\n',
    );
  }
}
