// A fresh identifier for test data (client ids, usernames, service names …), so tests sharing a
// store or a grid never collide: `<prefix>-<12 hex digits>`.
import { randomBytes } from 'node:crypto';

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
