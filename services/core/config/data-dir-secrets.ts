// Embedded mode needs a master key and a mesh secret without any setup. When they are not given
// in the environment they are generated once into the data directory with mode 0600 and a
// warning: production must pass them explicitly (a secret on the same disk as the data it
// protects defends only against leaked database dumps, not a leaked disk).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { Config } from './index.js';

function readOrCreate(dataDir: string, file: string, make: () => string, log: Logger, envName: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  log.warn({ path }, `${envName} is not set: generated one into the data directory (set ${envName} in production)`);
  return value;
}

export function resolveMasterKey(config: Config, log: Logger): Buffer {
  if (config.masterKey) return config.masterKey;
  const b64 = readOrCreate(config.dataDir, 'master.key', () => randomBytes(32).toString('base64'), log, 'AUTHMESH_MASTER_KEY');
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) throw new Error(`${join(config.dataDir, 'master.key')} does not hold a 32-byte base64 key`);
  return key;
}

export function resolveMeshSecret(config: Config, log: Logger): string {
  if (config.meshSecret) return config.meshSecret;
  return readOrCreate(config.dataDir, 'mesh.secret', () => randomBytes(32).toString('base64url'), log, 'AUTHMESH_MESH_SECRET');
}

export function resolveCookieSecret(config: Config, log: Logger): string {
  if (config.cookieSecret) return config.cookieSecret;
  return readOrCreate(config.dataDir, 'cookie.secret', () => randomBytes(32).toString('base64url'), log, 'AUTHMESH_COOKIE_SECRET');
}
