import { StartupError, errnoOf } from './core/config/startup-error.js';

/**
 * A listen that failed at start (gRPC, HTTP or the metrics listener), as a StartupError with the address, the errno in
 * words and the variables that move it. Exit status 2: the machine or the configuration must
 * change (another process has the port, the host is not an address of this machine).
 */
export function listenFailure(what: 'gRPC' | 'HTTP' | 'metrics', address: string, portVariable: string, hostVariable: string, err: unknown): StartupError {
  const errno = errnoOf(err);
  const fix =
    errno === 'EADDRINUSE'
      ? `stop the process listening there (e.g. \`ss -ltnp | grep ${address.split(':').at(-1)}\` shows it), or set ${portVariable} to a free port (0 picks one)`
      : errno === 'EADDRNOTAVAIL' || errno === 'ENOTFOUND' || errno === 'EAI_AGAIN'
        ? `set ${hostVariable} to an address of this machine (127.0.0.1 by default)`
        : errno === 'EACCES' || errno === 'EPERM'
          ? `ports below 1024 need privileges: set ${portVariable} to 1024 or above`
          : `set ${hostVariable} and ${portVariable} to an address this machine can listen on`;
  return new StartupError({ failed: `cannot listen for ${what} on ${address}`, cause: err, fix, exitCode: 2 });
}
