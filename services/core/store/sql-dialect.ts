import type { AuthmeshError } from '../errors/index.js';
import type { SqlStatements } from './sql-statements.js';

export interface CompiledStatement {
  /** SQL with the engine's positional placeholders. */
  text: string;
  /** The argument name behind each placeholder, in order. */
  names: string[];
}

/** What differs between SQL engines; repositories see only this. */
export interface SqlDialect {
  readonly name: string;
  readonly statements: SqlStatements;
  /** Turns `:name` placeholders into positional ones. */
  compile(sql: string): CompiledStatement;
  /** A string list as the engine stores it (a native array, or JSON text). */
  encodeArray(values: readonly string[]): unknown;
  /** Driver errors become domain errors here, with descriptions that never carry SQL or values. */
  mapError(err: unknown): AuthmeshError;
}
