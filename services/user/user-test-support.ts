// Fixtures for the user service tests. Users for login-heavy tests are seeded straight into the
// store with cheap scrypt parameters (verification honours stored parameters); every hash the
// service itself writes still costs the full OWASP setting.
import { randomBytes } from 'node:crypto';
import type { Store, User } from '../core/store/index.js';
import { hashPassword } from './password-hash.js';
import { uniqueId } from '../../test/support/ids.js';

export const CHEAP_PARAMS = { ln: 10, r: 8, p: 1 };

export async function seedUser(store: Store, opts: { username?: string; password?: string; disabled?: boolean } = {}): Promise<User & { password: string }> {
  const password = opts.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const user = await store.users.create({
    userId: uniqueId('usr'),
    username: opts.username ?? uniqueId('user'),
    roles: [],
    passwordHash: await hashPassword(password, CHEAP_PARAMS),
    disabled: opts.disabled ?? false,
  });
  return { ...user, password };
}

export async function seedClient(store: Store, clientId = uniqueId('cli')): Promise<string> {
  await store.clients.create({
    clientId,
    name: clientId,
    clientType: 'confidential',
    redirectUris: ['https://app.example.com/cb'],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'read'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    skipConsent: false,
    audience: [],
    metadata: {},
  });
  return clientId;
}

/** Settles a promise into its error (or fails the test if it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; description: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; description: string };
  }
  throw new Error('expected the call to fail');
}
