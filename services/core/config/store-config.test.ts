import { describe, expect, it } from 'vitest';
import { loadConfig, redactDatabaseUrl } from './index.js';
import { configProblems } from '../../../test/support/config.js';

const PG = 'postgres://authmesh:s3cret-pw@127.0.0.1:55432/authmesh';

const problems = configProblems;

describe('store configuration', () => {
  it('defaults to the embedded store', () => {
    expect(loadConfig({})).toMatchObject({ store: 'embedded', databaseUrl: undefined });
  });

  it('accepts a server store with a URL of its scheme', () => {
    expect(loadConfig({ AUTHMESH_STORE: 'postgres', AUTHMESH_DATABASE_URL: PG })).toMatchObject({ store: 'postgres', databaseUrl: PG });
    expect(loadConfig({ AUTHMESH_STORE: 'mysql', AUTHMESH_DATABASE_URL: 'mariadb://a:b@db:3306/authmesh' }).store).toBe('mysql');
  });

  it.each([
    [{ AUTHMESH_STORE: 'oracle' }, /AUTHMESH_STORE="oracle": expected embedded, postgres, mysql/],
    [{ AUTHMESH_STORE: 'postgres' }, /AUTHMESH_DATABASE_URL: required with AUTHMESH_STORE=postgres/],
    [{ AUTHMESH_STORE: 'mysql', AUTHMESH_DATABASE_URL: PG }, /expected a mysql:\/\/ or mariadb:\/\/ URL/],
    [{ AUTHMESH_STORE: 'postgres', AUTHMESH_DATABASE_URL: 'postgres://u:s3cret-pw@127.0.0.1:5432' }, /names no database/],
    [{ AUTHMESH_STORE: 'postgres', AUTHMESH_DATABASE_URL: 'not a url s3cret-pw' }, /not a URL/],
    [{ AUTHMESH_DATABASE_URL: PG }, /set, but AUTHMESH_STORE="embedded" uses no database server/],
  ])('reports %j clearly, without the password', (env, expected) => {
    const found = problems(env);
    expect(found.join('\n')).toMatch(expected);
    expect(found.join('\n')).not.toContain('s3cret-pw');
  });

  it('redacts passwords in the URL and its query', () => {
    expect(redactDatabaseUrl(PG)).toBe('postgres://authmesh:***@127.0.0.1:55432/authmesh');
    expect(redactDatabaseUrl('postgres://h/db?password=s3cret-pw&sslmode=require')).not.toContain('s3cret-pw');
  });
});
