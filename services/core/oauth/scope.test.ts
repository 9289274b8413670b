import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { InvalidScope } from '../errors/index.js';
import { difference, formatScope, grantScope, intersect, isSubset, narrowScope, parseScope } from './scope.js';

describe('parseScope', () => {
  it.each([
    ['undefined', undefined, []],
    ['empty', '', []],
    ['one token', 'read', ['read']],
    ['several tokens', 'read write admin', ['read', 'write', 'admin']],
    ['duplicates, order kept', 'write read write', ['write', 'read']],
    ['URI-shaped tokens', 'https://api.example.com/read openid', ['https://api.example.com/read', 'openid']],
    ['every allowed punctuation', "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", ["!#$%&'()*+,-./:;<=>?@[]^_`{|}~"]],
  ])('parses %s', (_name, input, expected) => {
    expect(parseScope(input)).toEqual(expected);
  });

  it.each([
    ['a double quote', 'read "write"'],
    ['a backslash', 'read\\write'],
    ['a double space', 'read  write'],
    ['a leading space', ' read'],
    ['a trailing space', 'read '],
    ['only a space', ' '],
    ['a tab', 'read\twrite'],
    ['a newline', 'read\nwrite'],
    ['a control character', 'read\x01'],
    ['DEL', 'read\x7f'],
    ['non-ASCII', 'lecture écriture'],
  ])('rejects %s with invalid_scope', (_name, input) => {
    const err = thrown(() => parseScope(input));
    expect(err).toBeInstanceOf(InvalidScope);
    expect(err.code).toBe('invalid_scope');
  });
});

describe('formatScope', () => {
  it.each([
    [[], ''],
    [['read'], 'read'],
    [['read', 'write'], 'read write'],
    [['read', 'write', 'read'], 'read write'],
  ])('formats %j as %j', (input, expected) => {
    expect(formatScope(input)).toBe(expected);
  });

  it('round-trips with parseScope', () => {
    expect(parseScope(formatScope(['a', 'b:c', 'd/e']))).toEqual(['a', 'b:c', 'd/e']);
  });
});

describe('set operations', () => {
  it.each([
    [[], ['a'], true],
    [['a'], ['a', 'b'], true],
    [['a', 'b'], ['b', 'a'], true],
    [['a', 'c'], ['a', 'b'], false],
    [['a'], [], false],
  ])('isSubset(%j, %j) is %s', (a, b, expected) => {
    expect(isSubset(a, b)).toBe(expected);
  });

  it.each([
    [['a', 'b', 'c'], ['c', 'a'], ['a', 'c']],
    [['a', 'a'], ['a'], ['a']],
    [['a'], [], []],
    [[], ['a'], []],
  ])('intersect(%j, %j) is %j', (a, b, expected) => {
    expect(intersect(a, b)).toEqual(expected);
  });

  it.each([
    [['a', 'b', 'c'], ['b'], ['a', 'c']],
    [['a'], ['a'], []],
  ])('difference(%j, %j) is %j', (a, b, expected) => {
    expect(difference(a, b)).toEqual(expected);
  });
});

describe('grantScope', () => {
  it.each([
    ['a subset', ['read'], ['read', 'write'], undefined, ['read']],
    ['the whole allowance', ['write', 'read'], ['read', 'write'], undefined, ['write', 'read']],
    ['nothing requested → everything allowed', [], ['read', 'write'], undefined, ['read', 'write']],
    ['nothing requested → the default', [], ['read', 'write'], ['read'], ['read']],
    ['nothing requested → the default within the allowance', [], ['read'], ['read', 'admin'], ['read']],
    ['nothing requested and nothing allowed', [], [], undefined, []],
  ])('grants %s', (_name, requested, allowed, defaultScope, expected) => {
    expect(grantScope({ requested, allowed, defaultScope })).toEqual(expected);
  });

  it.each([
    ['one scope too many', ['read', 'admin'], ['read'], 'admin'],
    ['all outside', ['admin', 'root'], ['read'], 'admin root'],
    ['anything when nothing is allowed', ['read'], [], 'read'],
  ])('rejects %s with invalid_scope naming the offenders', (_name, requested, allowed, offending) => {
    const err = thrown(() => grantScope({ requested, allowed }));
    expect(err).toBeInstanceOf(InvalidScope);
    expect(err.code).toBe('invalid_scope');
    expect(err.description).toContain(offending);
    expect(err.metadata.scope).toBe(offending);
  });
});

describe('narrowScope', () => {
  it.each([
    ['omitted → the original', [], ['read', 'write'], ['read', 'write']],
    ['a narrower scope', ['read'], ['read', 'write'], ['read']],
    ['the same scope', ['write', 'read'], ['read', 'write'], ['write', 'read']],
  ])('accepts %s', (_name, requested, original, expected) => {
    expect(narrowScope(requested, original)).toEqual(expected);
  });

  it.each([
    ['a wider scope', ['read', 'admin'], ['read']],
    ['a disjoint scope', ['admin'], ['read']],
    ['any scope when the original was empty', ['read'], []],
  ])('rejects %s with invalid_scope', (_name, requested, original) => {
    const err = thrown(() => narrowScope(requested, original));
    expect(err).toBeInstanceOf(InvalidScope);
    expect(err.code).toBe('invalid_scope');
  });
});
