// Expand and contract (issue 18): during a rolling upgrade the previous version keeps serving on
// the schema the new version migrates to (test/e2e/schema-compat.test.ts runs that). So a migration
// only expands: new tables, nullable or defaulted columns, wider constraints, data fixes. Removing
// or changing what the previous version reads or writes (dropping or renaming a table or column,
// changing a type, tightening NULL) is a contract step: it ships in a later release than the code
// that stopped using it, in a file whose first line says so: `-- contract: <what no longer uses it>`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MYSQL_MIGRATIONS_DIR, POSTGRES_MIGRATIONS_DIR } from './migrations.js';

/** Statements of a migration without comments, upper-cased and with whitespace collapsed. */
function statements(script: string): string[] {
  return script
    .replace(/--[^\n]*/g, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split(';')
    .map((s) => s.replace(/\s+/g, ' ').trim().toUpperCase())
    .filter((s) => s !== '');
}

/** What in `statement` would break the previous version still serving, or undefined. */
function contractingChange(statement: string): string | undefined {
  if (/^DROP (TABLE|VIEW)\b/.test(statement)) return 'drops a table';
  if (/\bDROP (COLUMN\b|(?!CONSTRAINT|INDEX|DEFAULT)[A-Z_]+ *(,|$))/.test(statement) && /^ALTER TABLE\b/.test(statement)) return 'drops a column';
  if (/\bRENAME\b/.test(statement)) return 'renames a table or column';
  if (/\bALTER COLUMN \S+ (SET DATA )?TYPE\b/.test(statement) || /\bMODIFY (COLUMN )?\S+ /.test(statement) || /\bCHANGE (COLUMN )?\S+ /.test(statement)) return 'changes a column type';
  if (/\bSET NOT NULL\b/.test(statement)) return 'makes a column NOT NULL';
  for (const add of statement.split(/\bADD (?:COLUMN )?(?:IF NOT EXISTS )?/).slice(1)) {
    const column = add.split(/,(?![^(]*\))/)[0]!;
    if (/^(CONSTRAINT|INDEX|KEY|PRIMARY|UNIQUE|FOREIGN|CHECK)\b/.test(column)) continue;
    if (/\bNOT NULL\b/.test(column) && !/\bDEFAULT\b/.test(column) && !/\bGENERATED\b/.test(column)) return 'adds a NOT NULL column without a default';
  }
  return undefined;
}

describe('migrations only expand (rolling upgrades, issue 18)', () => {
  it.each([
    ['ALTER TABLE CLIENTS DROP COLUMN LOGO_URI', 'drops a column'],
    ['ALTER TABLE CLIENTS RENAME COLUMN NAME TO CLIENT_NAME', 'renames a table or column'],
    ['ALTER TABLE USERS ALTER COLUMN EMAIL TYPE VARCHAR(64)', 'changes a column type'],
    ['ALTER TABLE USERS MODIFY EMAIL VARCHAR(64) NOT NULL', 'changes a column type'],
    ['ALTER TABLE USERS ALTER COLUMN EMAIL SET NOT NULL', 'makes a column NOT NULL'],
    ['ALTER TABLE USERS ADD COLUMN ROLE TEXT NOT NULL', 'adds a NOT NULL column without a default'],
    ['DROP TABLE CONSENTS', 'drops a table'],
  ])('flags %j', (statement, why) => {
    expect(contractingChange(statement)).toBe(why);
  });

  it.each([
    'ALTER TABLE USERS ADD COLUMN ROLE TEXT NOT NULL DEFAULT \'USER\'',
    'ALTER TABLE USERS ADD COLUMN NICKNAME TEXT',
    'ALTER TABLE CLIENTS DROP CONSTRAINT CLIENTS_AUTH_METHOD_CHECK, ADD CONSTRAINT CLIENTS_AUTH_METHOD_CHECK CHECK (A IN (\'X\', \'Y\'))',
    'CREATE TABLE T (ID BIGINT NOT NULL, PRIMARY KEY (ID))',
    'UPDATE AUDIT_EVENTS SET DETAILS = DETAILS - \'USERNAME\' WHERE TYPE = \'LOGIN.FAILURE\'',
  ])('lets %j through', (statement) => {
    expect(contractingChange(statement)).toBeUndefined();
  });

  for (const dir of [POSTGRES_MIGRATIONS_DIR, MYSQL_MIGRATIONS_DIR]) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.sql') && !n.startsWith('0001_'))) {
      it(`${dir.split('/').slice(-1)[0]}/${name} only expands, or says it is a contract step`, () => {
        const script = readFileSync(join(dir, name), 'utf8');
        if (/^-- contract: \S/.test(script)) return;
        const problems = statements(script)
          .map((s) => [s.slice(0, 120), contractingChange(s)] as const)
          .filter(([, why]) => why !== undefined);
        expect(problems).toEqual([]);
      });
    }
  }
});
