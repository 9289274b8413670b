// The data directory (AUTHMESH_DATA_DIR, ./data by default) holds the embedded database and the
// generated master key and secrets. It is created on first use with every missing parent, mode
// 0700, whatever part of the path already exists; a directory that exists must be private to
// this user and writable, or start-up stops with the path, the reason and the fix.
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { StartupError, errnoOf } from './startup-error.js';

const VARIABLE = 'AUTHMESH_DATA_DIR';

/** Octal, as chmod and ls show it: 0o755 → "0755". */
export function octalMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function fixFor(errno: string | undefined, path: string): string {
  switch (errno) {
    case 'EACCES':
    case 'EPERM':
      return `give this user (uid ${process.getuid?.() ?? '?'}) write access to ${path}, or set ${VARIABLE} to a directory it can write`;
    case 'EROFS':
      return `set ${VARIABLE} to a directory on a writable file system`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `a part of the path is a file, not a directory: move it away, or set ${VARIABLE} to another path`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `free space on that file system, or set ${VARIABLE} to a directory on another one`;
    default:
      return `set ${VARIABLE} to a directory this user can create and write`;
  }
}

/**
 * Makes `dir` usable as a data directory (or a directory inside one) and returns its absolute
 * path: creates it and every missing parent with mode 0700; checks that it is a directory, that
 * neither group nor others have any access to it (it holds keys), and that this user can write
 * it. Idempotent.
 *
 * @throws StartupError (exit status 2) naming the path, the errno in words and AUTHMESH_DATA_DIR.
 */
export function prepareDataDir(dir: string): string {
  const path = resolve(dir);
  try {
    // recursive: every missing parent too, each created with this mode (less the umask).
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    // The first missing ancestor is the one that could not be made; say which.
    throw new StartupError({
      failed: `cannot create the data directory ${path}`,
      cause: err,
      fix: fixFor(errnoOf(err), firstExistingAncestor(path)),
      exitCode: 2,
    });
  }
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isDirectory()) {
      throw new StartupError({ failed: `the data directory ${path} is not a directory`, reason: 'it is a file', fix: fixFor('ENOTDIR', path), exitCode: 2 });
    }
    mode = st.mode;
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw new StartupError({ failed: `cannot read the data directory ${path}`, cause: err, fix: fixFor(errnoOf(err), path), exitCode: 2 });
  }
  if ((mode & 0o077) !== 0) {
    throw new StartupError({
      failed: `the data directory ${path} is open to other users`,
      reason: `mode ${octalMode(mode)} gives group or others access to the keys and database it holds`,
      fix: `run \`chmod 700 ${path}\`, or set ${VARIABLE} to a private directory (authmesh creates a missing one with mode 0700)`,
      exitCode: 2,
    });
  }
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StartupError({ failed: `the data directory ${path} is not writable`, cause: err, fix: fixFor(errnoOf(err), path), exitCode: 2 });
  }
  return path;
}

function firstExistingAncestor(path: string): string {
  let p = path;
  for (;;) {
    const parent = dirname(p);
    try {
      statSync(parent);
      return parent;
    } catch {
      if (parent === p) return p;
      p = parent;
    }
  }
}

/**
 * Claims `dir` (a prepared data directory) for this process's embedded database: the embedded
 * database is single-user, and a second process opening the same files would corrupt them. The
 * claim is a file `authmesh.lock` (mode 0600) holding this process's pid; a claim whose process
 * is gone (a crash, or a container restarted with the same pid) is taken over. Returns the
 * function that releases the claim.
 *
 * @throws StartupError (exit status 2) when a running process holds the claim, naming its pid.
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, 'authmesh.lock');
  const mine = `${process.pid}\n`;
  // Two processes taking over the same stale claim at once: one creates the file, the other
  // then finds it held by a running process.
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST' || attempt >= 3) {
        throw new StartupError({ failed: `cannot claim the data directory ${dir}`, cause: err, fix: fixFor(errnoOf(err), dir), exitCode: 2 });
      }
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
      throw new StartupError({
        failed: `the data directory ${dir} is in use by another authmesh process (pid ${holder})`,
        reason: `${path} names a running process, and the embedded database allows one process at a time`,
        fix: `stop that process, or set ${VARIABLE} to another directory; if no authmesh uses it (the pid now belongs to something else), delete ${path}`,
        exitCode: 2,
      });
    }
    // A stale claim: its process is gone.
    rmSync(path, { force: true });
  }
  return () => {
    try {
      if (readFileSync(path, 'utf8') === mine) rmSync(path, { force: true });
    } catch {
      // already gone
    }
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return errnoOf(err) === 'EPERM';
  }
}
