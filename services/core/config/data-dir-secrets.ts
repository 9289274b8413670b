// Embedded mode needs a master key and a mesh secret without any setup. When they are not given
// in the environment they are generated once into the data directory with mode 0600 and a
// warning: production must pass them explicitly (a secret on the same disk as the data it
// protects defends only against leaked database dumps, not a leaked disk).
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import { octalMode, prepareDataDir } from './data-dir.js';
import type { Config } from './index.js';
import { StartupError, errnoOf } from './startup-error.js';

function readOrCreate(dataDir: string, file: string, make: () => string, log: Logger, envName: string): string {
  const path = join(prepareDataDir(dataDir), file);
  const cannot = (what: string, err: unknown) =>
    new StartupError({
      failed: `cannot ${what} ${path}`,
      cause: err,
      fix:
        errnoOf(err) === 'EACCES' || errnoOf(err) === 'EPERM'
          ? `give this user read and write access to it (mode 0600), or set ${envName}`
          : `set ${envName}, or remove the file to have a new one generated (only before any data depends on it)`,
      exitCode: 2,
    });
  let mode: number | undefined;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw cannot('read', err);
  }
  if (mode !== undefined) {
    if ((mode & 0o077) !== 0) {
      throw new StartupError({
        failed: `the secret file ${path} is open to other users`,
        reason: `mode ${octalMode(mode)} gives group or others access to it`,
        fix: `run \`chmod 600 ${path}\` (and consider it leaked if others could read it), or set ${envName}`,
        exitCode: 2,
      });
    }
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw cannot('read', err);
    }
  }
  const value = make();
  try {
    // wx: never overwrite a secret that appeared meanwhile; 0600 from the first byte.
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw cannot('write', err);
  }
  log.warn({ path }, `${envName} is not set: generated one into the data directory (set ${envName} in production)`);
  return value;
}

/** The 32-byte key that encrypts private signing keys: AUTHMESH_MASTER_KEY, or generated into the data dir. */
export function resolveMasterKey(config: Config, log: Logger): Buffer {
  if (config.masterKey) return config.masterKey;
  const b64 = readOrCreate(config.dataDir, 'master.key', () => randomBytes(32).toString('base64'), log, 'AUTHMESH_MASTER_KEY');
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) {
    throw new StartupError({
      failed: `the master key file ${join(config.dataDir, 'master.key')} is not usable`,
      reason: `it holds ${key.length} bytes once base64-decoded; a master key is 32`,
      fix: 'restore the file from a backup, or set AUTHMESH_MASTER_KEY to the key the signing keys were encrypted with',
      exitCode: 2,
    });
  }
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

/** The salt of pairwise subject identifiers (OIDC Core §8.1): AUTHMESH_PAIRWISE_SALT, or generated into the data dir. */
export function resolvePairwiseSalt(config: Config, log: Logger): string {
  if (config.pairwiseSalt) return config.pairwiseSalt;
  return readOrCreate(config.dataDir, 'pairwise.salt', () => randomBytes(32).toString('base64url'), log, 'AUTHMESH_PAIRWISE_SALT');
}
