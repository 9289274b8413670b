import { describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../errors/index.js';
import { describeCause, errnoInWords, errnoOf, formatStartupFailure, StartupError } from './startup-error.js';

const sysError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('errnoOf', () => {
  it.each([
    ['on the error itself', sysError('EACCES', "EACCES: permission denied, mkdir '/srv/data'"), 'EACCES'],
    ['in the cause chain', new TemporarilyUnavailable('x', { cause: new Error('y', { cause: sysError('ENOENT', 'no such file') }) }), 'ENOENT'],
    ['in an AggregateError (happy eyeballs)', new AggregateError([sysError('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432')], ''), 'ECONNREFUSED'],
    ['only in the message (grpc-js bind)', new Error('No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:50051]'), 'EADDRINUSE'],
    ['none', new Error('Unable to connect to any cluster.'), undefined],
    ['an upper-case word that is no errno', new Error('ERROR in EXPORT'), undefined],
  ])('%s', (_name, err, expected) => {
    expect(errnoOf(err)).toBe(expected);
  });
});

describe('errnoInWords', () => {
  it("gives the operating system's words, and resolver codes too", () => {
    expect(errnoInWords('EADDRINUSE')).toBe('address already in use');
    expect(errnoInWords('ENOTFOUND')).toBe('host name not found');
    expect(errnoInWords('EWHATEVER')).toBeUndefined();
  });
});

describe('formatStartupFailure', () => {
  it('never hides the cause of an unexpected failure (the fresh-clone "could not be opened" message)', () => {
    const err = new TemporarilyUnavailable('the embedded database could not be opened', {
      cause: sysError('ENOENT', "ENOENT: no such file or directory, mkdir './data/pglite'"),
    });
    const { text, exitCode } = formatStartupFailure(err);
    expect(text).toBe("authmesh failed to start: ENOENT (no such file or directory): ENOENT: no such file or directory, mkdir './data/pglite'");
    expect(exitCode).toBe(1);
  });

  it('shows every message of a chain without an errno', () => {
    expect(describeCause(new Error('outer', { cause: new Error('inner') }))).toBe('outer: caused by: inner');
  });

  it('prints a StartupError as what failed, the reason and the fix, with its exit status', () => {
    const err = new StartupError({
      failed: 'cannot create the data directory /srv/authmesh/data',
      cause: sysError('EACCES', "EACCES: permission denied, mkdir '/srv/authmesh'"),
      fix: 'set AUTHMESH_DATA_DIR to a directory this user can write',
      exitCode: 2,
    });
    expect(formatStartupFailure(err)).toEqual({
      text: [
        'authmesh failed to start: cannot create the data directory /srv/authmesh/data',
        "  reason: EACCES (permission denied): EACCES: permission denied, mkdir '/srv/authmesh'",
        '  fix: set AUTHMESH_DATA_DIR to a directory this user can write',
      ].join('\n'),
      exitCode: 2,
    });
  });
});
