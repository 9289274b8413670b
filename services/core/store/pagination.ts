import { InvalidRequest } from '../errors/index.js';
import type { Page, PageRequest } from './types.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export function pageSizeOf(request: PageRequest | undefined): number {
  const size = request?.pageSize;
  if (size === undefined || size === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidRequest('page_size must be a non-negative integer');
  return Math.min(size, MAX_PAGE_SIZE);
}

/**
 * A page token is base64url JSON of the listing's name and the sort key of the last item seen.
 * The name makes a token from one listing invalid in another instead of silently skipping rows.
 */
export function encodePageToken(listing: string, key: readonly string[]): string {
  return Buffer.from(JSON.stringify([listing, ...key]), 'utf8').toString('base64url');
}

/** The sort key after which to continue, or undefined for the first page. @throws InvalidRequest */
export function decodePageToken(listing: string, token: string | undefined, arity: number): string[] | undefined {
  if (token === undefined || token === '') return undefined;
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidRequest('invalid page_token');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== arity + 1 ||
    parsed[0] !== listing ||
    !parsed.every((part) => typeof part === 'string')
  ) {
    throw new InvalidRequest('invalid page_token');
  }
  return parsed.slice(1) as string[];
}

/** A date inside a page token. @throws InvalidRequest */
export function pageTokenDate(iso: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new InvalidRequest('invalid page_token');
  return d;
}

/** Builds a page from up to size+1 fetched items: the extra one only tells that more exist. */
export function toPage<T>(fetched: T[], size: number, listing: string, keyOf: (item: T) => string[]): Page<T> {
  if (fetched.length <= size) return { items: fetched, nextPageToken: '' };
  const items = fetched.slice(0, size);
  return { items, nextPageToken: encodePageToken(listing, keyOf(items[items.length - 1] as T)) };
}
