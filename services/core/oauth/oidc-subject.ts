// Subject identifiers (OpenID Connect Core 1.0 §8): public (the user id, the same for every
// client) or pairwise (a different, unlinkable value per sector, §8.1). Pure.
import { createHash } from 'node:crypto';
import { InvalidClientMetadata, InvalidRedirectUri } from '../errors/index.js';

export const SUBJECT_TYPES = ['public', 'pairwise'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/** Shortest pairwise salt accepted, characters: it is the only secret between users and sectors. */
export const MIN_PAIRWISE_SALT_LENGTH = 32;

/** What the subject of a user for a client depends on. */
export interface SubjectClient {
  subjectType: SubjectType;
  /** The registered sector_identifier_uri; empty when none. */
  sectorIdentifierUri: string;
  redirectUris: readonly string[];
}

/**
 * The sector identifier of a client (OIDC Core §8.1): the host of its sector_identifier_uri when
 * registered, else the host of its redirect URIs, which must then all share one host.
 * @throws InvalidClientMetadata when there is neither a sector_identifier_uri nor a single redirect host
 */
export function sectorIdentifier(client: Pick<SubjectClient, 'sectorIdentifierUri' | 'redirectUris'>): string {
  if (client.sectorIdentifierUri !== '') return new URL(client.sectorIdentifierUri).host;
  const hosts = new Set(client.redirectUris.map((u) => new URL(u).host));
  // OIDC Core §8.1: without a sector_identifier_uri, the redirect_uris must share one host.
  if (hosts.size !== 1) throw new InvalidClientMetadata('a pairwise client with redirect URIs on several hosts needs a sector_identifier_uri');
  return [...hosts][0]!;
}

/**
 * Checks a client's subject metadata at registration. No outbound fetch is made, so a
 * sector_identifier_uri is accepted only when every redirect URI's host equals its host (the
 * document could list nothing else that this check would not already allow).
 * @throws InvalidClientMetadata for a non-https sector_identifier_uri, one on another host than a
 *   redirect URI, or a pairwise client whose sector cannot be determined
 */
export function validateSubjectMetadata(client: SubjectClient): void {
  if (client.sectorIdentifierUri !== '') {
    let url: URL;
    try {
      url = new URL(client.sectorIdentifierUri);
    } catch {
      throw new InvalidClientMetadata('sector_identifier_uri must be an absolute URL');
    }
    // OIDC Registration §2: sector_identifier_uri "MUST use the https scheme".
    if (url.protocol !== 'https:') throw new InvalidClientMetadata('sector_identifier_uri must use https');
    // OIDC Registration §5 would fetch the document and check each redirect_uri is listed; without
    // the fetch, only redirect URIs on the sector's own host can be vouched for.
    if (client.redirectUris.some((u) => new URL(u).host !== url.host)) {
      throw new InvalidClientMetadata('every redirect_uri must be on the host of sector_identifier_uri');
    }
  }
  if (client.subjectType === 'pairwise') sectorIdentifier(client);
}

/**
 * The `sub` of a user for a client (OIDC Core §8): the user id for public subjects; for pairwise,
 * base64url(SHA-256(sector identifier ‖ local account id ‖ salt)) (§8.1's suggested construction,
 * each part length-prefixed so that no two inputs concatenate alike).
 * @param salt the server's pairwise salt (AUTHMESH_PAIRWISE_SALT), at least MIN_PAIRWISE_SALT_LENGTH characters
 * @throws RangeError for a short salt (a configuration error); InvalidClientMetadata as sectorIdentifier
 */
export function subjectIdentifier(client: SubjectClient, userId: string, salt: string): string {
  if (client.subjectType === 'public') return userId;
  if (salt.length < MIN_PAIRWISE_SALT_LENGTH) throw new RangeError(`the pairwise salt must be at least ${MIN_PAIRWISE_SALT_LENGTH} characters`);
  const hash = createHash('sha256');
  for (const part of [sectorIdentifier(client), userId, salt]) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  }
  return hash.digest('base64url');
}

/**
 * Checks that an update of a client keeps the `sub` its users already have (OIDC Core §8.1: the
 * sub of a user for a client never changes; §12.2: a refreshed ID Token carries the same sub;
 * OIDC Registration §5: the sector is what the pairwise value is computed for). Refused: switching
 * subject_type, and changing a pairwise client's sector identifier (its sector_identifier_uri's
 * host or, without one, its redirect URIs' host). Applies to every updater, administrators
 * included: a client that must move to another sector is deleted and registered again.
 * @throws InvalidRedirectUri when the new redirect_uris alone move the sector; InvalidClientMetadata otherwise
 */
export function assertSubjectUnchanged(before: SubjectClient, after: SubjectClient): void {
  if (before.subjectType !== after.subjectType) {
    throw new InvalidClientMetadata('subject_type cannot change: the sub of every user of the client would change (register a new client instead)');
  }
  if (after.subjectType !== 'pairwise') return;
  let previous: string | undefined;
  try {
    previous = sectorIdentifier(before);
  } catch {
    // A stored client whose sector cannot be determined has no sub to keep.
    return;
  }
  if (sectorIdentifier(after) === previous) return;
  if (before.sectorIdentifierUri === '' && after.sectorIdentifierUri === '') {
    throw new InvalidRedirectUri('the redirect_uris of a pairwise client cannot move to another host: its sector, and every user\'s sub, would change (register a new client instead)');
  }
  throw new InvalidClientMetadata('the sector identifier of a pairwise client cannot change: every user\'s sub would change (register a new client instead)');
}
