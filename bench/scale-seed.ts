// The large data set of `npm run bench:scale`: N users and M clients in an embedded store (a
// PGlite data directory that authmesh then opens), made in minutes, not hours. One template user
// and one template client go through the project's own Store (so every column is exactly what
// authmesh writes), then SQL copies them in batches with generate_series, varying only ids,
// names and secret hashes. All users share the template's scrypt password hash (one KDF run
// instead of a million; each hash still carries its own salt format, and login is not measured).
// Seeded client i has the secret `scale-secret-<i>` (stored as SHA-256 hex, like every secret):
// benchmark data, not for a deployment.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { hashToken } from '../services/core/oauth/secrets.js';
import { createPgliteStore } from '../services/core/store/pglite-store.js';
import { hashPassword } from '../services/user/password-hash.js';

export interface SeedCounts {
  users: number;
  clients: number;
}

const BATCH = 50_000;

/**
 * Seeds `counts` into the embedded store under `dataDir` (authmesh's AUTHMESH_DATA_DIR; the store
 * is its `pglite` folder). Skips the work when the directory was already seeded with the same
 * counts (a `seeded.json` marker), so a seeded set can be reused with BENCH_SCALE_DIR; throws when
 * it holds other counts or an unfinished seed.
 * `log` receives progress lines. Returns the seconds spent.
 */
export async function seedScaleData(dataDir: string, counts: SeedCounts, log: (line: string) => void): Promise<number> {
  const marker = join(dataDir, 'seeded.json');
  const wanted = JSON.stringify(counts);
  if (existsSync(marker)) {
    const had = readFileSync(marker, 'utf8').trim();
    if (had !== wanted) throw new Error(`${dataDir} holds a data set of ${had}, not ${wanted}: choose another BENCH_SCALE_DIR`);
    log(`reusing the data set in ${dataDir}`);
    return 0;
  }
  if (existsSync(join(dataDir, 'pglite'))) throw new Error(`${dataDir} has a store but no complete seed (interrupted?): remove it or choose another BENCH_SCALE_DIR`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const t0 = performance.now();
  const pgliteDir = join(dataDir, 'pglite');
  const store = await createPgliteStore({ dataDir: pgliteDir });
  try {
    await store.users.create({
      userId: 'scale-template-user',
      username: 'scale-template-user',
      roles: [],
      passwordHash: await hashPassword('scale-template-password'),
      disabled: false,
    });
    await store.clients.create({
      clientId: 'scale-template-client',
      name: 'scale template client',
      clientType: 'confidential',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      scopes: ['api:read'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secretHash: hashToken('scale-template-secret'),
      skipConsent: false,
      audience: [],
      metadata: {},
    });
  } finally {
    await store.close();
  }
  log(`templates written (${Math.round((performance.now() - t0) / 1000)} s)`);
  const pg = await PGlite.create({ dataDir: pgliteDir });
  try {
    for (let from = 1; from <= counts.users; from += BATCH) {
      const to = Math.min(counts.users, from + BATCH - 1);
      await pg.query(
        `INSERT INTO users (user_id, username, email, display_name, roles, password_hash, disabled, failed_login_count,
           locked_until, password_changed_at, version, created_at, updated_at)
         SELECT 'scale-user-' || i, 'scale-user-' || i, email, display_name, roles, password_hash, disabled, failed_login_count,
           locked_until, password_changed_at, version, created_at, updated_at
         FROM users, generate_series($1::int, $2::int) AS i WHERE user_id = 'scale-template-user'`,
        [from, to],
      );
      log(`users ${to}/${counts.users} (${Math.round((performance.now() - t0) / 1000)} s)`);
    }
    for (let from = 1; from <= counts.clients; from += BATCH) {
      const to = Math.min(counts.clients, from + BATCH - 1);
      await pg.query(
        `INSERT INTO clients (client_id, name, client_type, redirect_uris, grant_types, scopes, token_endpoint_auth_method,
           secret_hash, previous_secret_hash, previous_secret_expires_at, jwks, skip_consent, audience,
           access_token_ttl_seconds, refresh_token_ttl_seconds, registration_access_token_hash, metadata, version,
           created_at, updated_at)
         SELECT 'scale-client-' || i, 'scale client ' || i, client_type, redirect_uris, grant_types, scopes, token_endpoint_auth_method,
           encode(sha256(convert_to('scale-secret-' || i, 'UTF8')), 'hex'), previous_secret_hash, previous_secret_expires_at, jwks,
           skip_consent, audience, access_token_ttl_seconds, refresh_token_ttl_seconds, registration_access_token_hash, metadata,
           version, created_at, updated_at
         FROM clients, generate_series($1::int, $2::int) AS i WHERE client_id = 'scale-template-client'`,
        [from, to],
      );
      log(`clients ${to}/${counts.clients} (${Math.round((performance.now() - t0) / 1000)} s)`);
    }
    await pg.exec('ANALYZE users; ANALYZE clients;');
  } finally {
    await pg.close();
  }
  writeFileSync(marker, `${wanted}\n`);
  return (performance.now() - t0) / 1000;
}
