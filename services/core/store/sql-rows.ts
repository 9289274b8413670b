import { ServerError } from '../errors/index.js';
import type { SqlRow } from './sql-client.js';

// Decoding of stored values. Lenient about representation (pg returns int8 as text, MySQL
// returns JSON columns as text and booleans as 0/1) so that every engine shares the mappers.

function corrupt(column: string): never {
  throw new ServerError(undefined, { cause: new Error(`unexpected stored value in column ${column}`) });
}

export function text(row: SqlRow, column: string): string {
  const v = row[column];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return corrupt(column);
}

export function optText(row: SqlRow, column: string): string | undefined {
  return row[column] === null || row[column] === undefined ? undefined : text(row, column);
}

export function int(row: SqlRow, column: string): number {
  const v = row[column];
  const n = typeof v === 'number' ? v : typeof v === 'string' || typeof v === 'bigint' ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : corrupt(column);
}

export function optInt(row: SqlRow, column: string): number | undefined {
  return row[column] === null || row[column] === undefined ? undefined : int(row, column);
}

export function bool(row: SqlRow, column: string): boolean {
  const v = row[column];
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  return corrupt(column);
}

export function date(row: SqlRow, column: string): Date {
  const v = row[column];
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
  return d !== undefined && !Number.isNaN(d.getTime()) ? d : corrupt(column);
}

export function optDate(row: SqlRow, column: string): Date | undefined {
  return row[column] === null || row[column] === undefined ? undefined : date(row, column);
}

function jsonValue(row: SqlRow, column: string): unknown {
  const v = row[column];
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return corrupt(column);
  }
}

export function stringArray(row: SqlRow, column: string): string[] {
  const v = jsonValue(row, column);
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : corrupt(column);
}

export function object<T extends object = Record<string, unknown>>(row: SqlRow, column: string): T {
  const v = jsonValue(row, column);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as T) : corrupt(column);
}

export function optObject<T extends object = Record<string, unknown>>(row: SqlRow, column: string): T | undefined {
  return row[column] === null || row[column] === undefined ? undefined : object<T>(row, column);
}

export function array<T>(row: SqlRow, column: string): T[] {
  const v = jsonValue(row, column);
  return Array.isArray(v) ? (v as T[]) : corrupt(column);
}

/** Copies only the defined entries, so absent optional fields stay absent rather than undefined. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
