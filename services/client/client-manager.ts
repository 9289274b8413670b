// The client registry's domain logic, shared by the gRPC adapter and (later) the gateway's RFC 7591
// registration endpoint: creation with generated secrets, versioned updates, rotation with a
// grace period, deletion, and client authentication (RFC 6749 §2.3, RFC 7523).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { createAuditSampler } from '../audit-sampler.js';
import { Conflict, InvalidClient, InvalidRequest, InvalidToken, NotFound } from '../core/errors/index.js';
import { createReadThroughCache, datesToJson, jsonWithDates, type ReadThroughCache } from '../core/grid/index.js';
import {
  assertSubjectUnchanged,
  chainIsTrusted,
  constantTimeEqual,
  generateId,
  generateSecret,
  hashToken,
  pemCertificates,
  readCertificateIdentity,
  selfSignedCertificateMatches,
  tlsClientAuthMatches,
  type SubjectClient,
} from '../core/oauth/index.js';
import { X509Certificate } from 'node:crypto';
import type { Client, ClientPatch, NewClient, Page, PageRequest } from '../core/store/types.js';
import type { MeshDeps } from '../mesh-deps.js';
import { assertionClientId, verifyClientAssertion, type AssertionInput } from './client-assertion.js';
import {
  assertClientId,
  draftOf,
  isValidClientId,
  DRAFT_META_KEYS,
  META_REFRESH_REUSE_GRACE,
  META_SECRET_ROTATED_AT,
  oidcMetadataOf,
  tlsClientAuthExpectationOf,
  usesSecret,
  validateDraft,
  type ClientDraft,
  type ClientDraftField,
} from './client-draft.js';
import { registrationUpdateDraft } from './client-registration.js';

export const MAX_SECRET_GRACE_SECONDS = 604_800;

/** Presented client credentials (RFC 6749 §2.3.1, RFC 7523 §2.2), as the token endpoint saw them. */
export type PresentedCredentials =
  | { kind: 'secret'; clientId: string; clientSecret: string; method: string }
  | ({ kind: 'assertion' } & AssertionInput)
  | { kind: 'client_id'; clientId: string }
  /** RFC 8705 §2: the client_id and the TLS client certificate (DER) the edge forwarded, with the chain the client sent. */
  | { kind: 'mutual_tls'; clientId: string; certificate: Buffer; chain: Buffer[] };

export interface ClientCreated {
  client: Client;
  /** The plaintext secret, for secret-based clients only; never stored, shown once. */
  clientSecret?: string;
  /** The plaintext RFC 7592 registration access token, when one was asked for; shown once. */
  registrationAccessToken?: string;
}

export interface CreateClientOptions {
  /** Use this secret instead of generating one (the bootstrap admin client from configuration). */
  presetSecret?: string;
  actor?: string;
  /** Generate a registration access token (RFC 7591 §3.2.1) with the client. */
  issueRegistrationToken?: boolean;
}

export interface ClientUpdated {
  client: Client;
  /** The new registration access token, when one was asked for; the previous one stops working. */
  registrationAccessToken?: string;
}

export interface ClientManager {
  create(clientId: string, draft: ClientDraft, options?: CreateClientOptions): Promise<ClientCreated>;
  /** @throws NotFound */
  get(clientId: string): Promise<Client>;
  /** undefined when the client does not exist. */
  find(clientId: string): Promise<Client | undefined>;
  list(request: PageRequest): Promise<Page<Client>>;
  /** Changes `fields` of the client to the draft's values. etag '' skips the concurrency check. */
  update(
    clientId: string,
    draft: ClientDraft,
    fields: readonly ClientDraftField[],
    etag: string,
    actor?: string,
    options?: { issueRegistrationToken?: boolean },
  ): Promise<ClientUpdated>;
  delete(clientId: string, actor?: string): Promise<void>;
  rotateSecret(clientId: string, graceSeconds: number, actor?: string): Promise<ClientCreated & { clientSecret: string }>;
  /**
   * Checks the credentials (RFC 6749 §2.3). A failure is audited once, as client.auth_failed with
   * the client (when registered) and `remoteIp` (when given: an IPv4/IPv6 address).
   * @throws InvalidClient, always with the same description.
   */
  authenticate(credentials: PresentedCredentials | undefined, remoteIp?: string): Promise<Client>;
  /** RFC 7592 §3: the client this registration access token manages. @throws InvalidToken, always the same. */
  authorizeRegistration(clientId: string, registrationAccessToken: string): Promise<Client>;
  /**
   * RFC 7592 §2.2 under a registration access token: replaces the RFC 7591 fields within the
   * limits of client-registration.ts and rotates the token, in one versioned write.
   * @throws InvalidToken, always the same; InvalidClientMetadata.
   */
  updateRegistration(clientId: string, registrationAccessToken: string, draft: ClientDraft): Promise<Required<ClientUpdated> & { clientSecret?: string }>;
  /** RFC 7592 §2.3 under a registration access token. @throws InvalidToken, always the same. */
  deleteRegistration(clientId: string, registrationAccessToken: string): Promise<void>;
}

// A hash nobody can match: unknown clients compare against it so they take as long as known ones.
const DUMMY_HASH = hashToken(randomBytes(32).toString('base64url'));

/**
 * Constant-time equality of two hashToken digests (64 hex characters each, so lengths reveal
 * nothing). On every client authentication: comparing the digests directly saves the two
 * SHA-256 rounds per comparison that constantTimeEqual spends to equalise arbitrary lengths.
 */
function digestsEqual(presented: string, stored: string): boolean {
  const a = Buffer.from(presented, 'hex');
  const b = Buffer.from(stored, 'hex');
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}
const DATE_FIELDS = ['previousSecretExpiresAt', 'createdAt', 'updatedAt'] as const;

export function createClientCache(deps: Pick<MeshDeps, 'grid' | 'store'>): ReadThroughCache<Client> {
  return createReadThroughCache<Client>({
    grid: deps.grid,
    name: 'clients',
    load: async (id) => {
      try {
        return await deps.store.clients.get(id);
      } catch (err) {
        if (err instanceof NotFound) return undefined;
        throw err;
      }
    },
    toJson: (c) => datesToJson(c),
    fromJson: (j) => jsonWithDates<Client>(j, DATE_FIELDS),
    // The store's optimistic-concurrency version (the etag): a rotation's copy never loses to an older update's.
    version: (c) => c.version,
  });
}

function parseEtag(etag: string): number | undefined {
  if (etag === '') return undefined;
  // A stale or foreign etag cannot name the current version: report it as a conflict.
  if (!/^[1-9]\d{0,9}$/.test(etag)) throw new Conflict('the etag does not match the current version of the client');
  return Number(etag);
}

export function createClientManager(deps: Pick<MeshDeps, 'grid' | 'store' | 'config' | 'audit' | 'now' | 'log'>): ClientManager {
  const cache = createClientCache(deps);
  // OpenID Connect Registration §2: a client may only ask for the alg its ID Tokens are signed with.
  // RFC 8705: the mutual-TLS methods only where the edge terminates mutual TLS.
  const draftOptions = { idTokenAlgs: [deps.config.signingAlg], mutualTls: deps.config.mtlsEdgeSecret !== undefined };
  const jtiMap = deps.grid.map<number>('assertion-jti');
  // RFC 8705 §2.1: the CAs a tls_client_auth certificate must chain to (AUTHMESH_MTLS_CA).
  const mtlsAnchors = pemCertificates(deps.config.mtlsCaPem ?? '').map((der) => new X509Certificate(der));
  // Repeated failures are summarised, so junk traffic cannot grow the audit table without bound.
  const sampler = createAuditSampler(deps.grid, deps.log);

  // One event per failure, with the client and the address: sampled per (client, address), so one
  // source failing first cannot hide every later address for the client (review 9 F2), and per
  // address for unknown client ids (junk ids from one address are summarised). The sampler's
  // global cap bounds the rows whatever the number of keys.
  const recordAuthFailure = async (clientId: string | undefined, method: string, ip: string | undefined) => {
    const key = `client:${clientId ?? '-'}|ip:${ip ?? '-'}`;
    const sample = await sampler.sample(key);
    if (sample === 'record') await deps.audit({ type: 'client.auth_failed', clientId, ip, details: { method } });
    else if (sample !== 'skip') {
      const scope = sample === 'suppress_key' ? (clientId !== undefined ? 'client_source' : 'source') : 'all';
      await deps.audit({ type: 'client.auth_failed_suppressed', clientId, ip, details: { method, scope } });
    }
  };

  /**
   * Audits a failed authentication and throws invalid_client. `clientId` is given only for a
   * registered client: an unknown one may be a secret sent in the wrong place (issue 11 item 11),
   * so it never reaches the audit trail.
   */
  const authFailed = (clientId: string | undefined, method: string, ip?: string): never => {
    void recordAuthFailure(clientId && isValidClientId(clientId) ? clientId : undefined, method, ip !== undefined && isIP(ip) !== 0 ? ip : undefined);
    // RFC 6749 §5.2: invalid_client, without revealing which part was wrong.
    throw new InvalidClient('client authentication failed');
  };

  // RFC 7592 §2.1: an unknown client, a client without a token and a wrong token look the same,
  // so the answer never tells whether a client_id exists.
  const registrationRefused = (clientId: string): never => {
    void deps.audit({ type: 'client.registration_auth_failed', clientId: isValidClientId(clientId) ? clientId : undefined });
    throw new InvalidToken('the registration access token is not valid for this client');
  };

  /** Constant-time check of a presented registration access token against the stored hash. */
  function registrationTokenMatches(client: Client | undefined, token: string): boolean {
    const stored = client?.registrationAccessTokenHash;
    // The comparison always runs so unknown clients and clients without a token take as long.
    const equal = constantTimeEqual(hashToken(token.slice(0, 1024)), stored ?? DUMMY_HASH);
    return equal && stored !== undefined && token !== '' && token.length <= 1024;
  }

  const subjectClientOf = (c: Pick<Client, 'metadata' | 'redirectUris'>): SubjectClient => {
    const { subjectType, sectorIdentifierUri } = oidcMetadataOf(c);
    return { subjectType, sectorIdentifierUri, redirectUris: c.redirectUris };
  };

  /** The patch that stores a validated draft over the current client (admin and RFC 7592 updates). */
  function patchFor(current: Client, merged: ClientDraft): ClientPatch {
    const v = validateDraft(merged, draftOptions);
    // OIDC Core §8.1, §12.2: an update (admin or RFC 7592) never changes the sub users already have.
    assertSubjectUnchanged(subjectClientOf(current), subjectClientOf({ metadata: v.extra, redirectUris: v.fields.redirectUris }));
    const keepSecret = usesSecret(v.fields.tokenEndpointAuthMethod);
    const metadata = { ...current.metadata, ...v.extra };
    for (const k of [...DRAFT_META_KEYS, META_REFRESH_REUSE_GRACE]) if (!(k in v.extra)) delete metadata[k];
    if (!keepSecret) delete metadata[META_SECRET_ROTATED_AT];
    return {
      ...v.fields,
      jwks: v.fields.jwks ?? null,
      accessTokenTtlSeconds: v.fields.accessTokenTtlSeconds ?? null,
      refreshTokenTtlSeconds: v.fields.refreshTokenTtlSeconds ?? null,
      // A client that no longer authenticates with a secret must not keep a usable one.
      ...(keepSecret ? {} : { secretHash: null, previousSecretHash: null, previousSecretExpiresAt: null }),
      metadata,
    };
  }

  async function get(clientId: string): Promise<Client> {
    if (!isValidClientId(clientId)) throw new NotFound('client not found');
    const client = await cache.get(clientId);
    if (!client) throw new NotFound('client not found');
    return client;
  }

  /** Writes a patch computed from the current version; retries when no etag pinned the version. */
  async function updateWith(
    clientId: string,
    etag: string,
    compute: (current: Client) => ClientPatch,
  ): Promise<{ before: Client; after: Client }> {
    const expected = parseEtag(etag);
    for (let attempt = 0; ; attempt++) {
      const current = await deps.store.clients.get(clientId);
      if (expected !== undefined && expected !== current.version) throw new Conflict('the etag does not match the current version of the client');
      const patch = compute(current);
      try {
        // The patch was validated against this version, so it must land on exactly this version.
        const after = await deps.store.clients.update(clientId, patch, current.version);
        await cache.put(clientId, after);
        return { before: current, after };
      } catch (err) {
        if (!(err instanceof Conflict) || expected !== undefined || attempt >= 2) throw err;
      }
    }
  }

  return {
    async create(clientId, draft, options = {}) {
      const id = clientId === '' ? generateId('c') : clientId;
      assertClientId(id);
      const v = validateDraft(draft, draftOptions);
      const now = deps.now();
      const secret = usesSecret(v.fields.tokenEndpointAuthMethod) ? (options.presetSecret ?? generateSecret()) : undefined;
      // RFC 7591 §3.2.1: 256 random bits, kept only as a hash like a client secret.
      const registrationAccessToken = options.issueRegistrationToken ? generateSecret() : undefined;
      const record: NewClient = {
        clientId: id,
        ...v.fields,
        // A client secret is 256 random bits, so a fast SHA-256 cannot be brute-forced and keeps
        // authentication to one cheap comparison; a slow KDF is for low-entropy passwords only.
        secretHash: secret === undefined ? undefined : hashToken(secret),
        registrationAccessTokenHash: registrationAccessToken === undefined ? undefined : hashToken(registrationAccessToken),
        metadata: { ...v.extra, ...(secret === undefined ? {} : { [META_SECRET_ROTATED_AT]: now.toISOString() }) },
      };
      const client = await deps.store.clients.create(record);
      await cache.put(id, client);
      await deps.audit({
        type: 'client.created',
        actor: options.actor,
        clientId: id,
        details: { clientType: client.clientType, registrationTokenIssued: registrationAccessToken !== undefined },
      });
      return {
        client,
        ...(secret === undefined ? {} : { clientSecret: secret }),
        ...(registrationAccessToken === undefined ? {} : { registrationAccessToken }),
      };
    },

    get,

    async find(clientId) {
      if (!isValidClientId(clientId)) return undefined;
      return cache.get(clientId);
    },

    list(request) {
      return deps.store.clients.list(request);
    },

    async update(clientId, draft, fields, etag, actor, options = {}) {
      if (!isValidClientId(clientId)) throw new NotFound('client not found');
      // RFC 7592 §2.2: a new registration access token replaces the previous one in the same write.
      const registrationAccessToken = options.issueRegistrationToken ? generateSecret() : undefined;
      const { after } = await updateWith(clientId, etag, (current) => {
        const merged: ClientDraft = { ...draftOf(current) };
        for (const f of fields) (merged as unknown as Record<string, unknown>)[f] = draft[f];
        const patch = patchFor(current, merged);
        return registrationAccessToken === undefined ? patch : { ...patch, registrationAccessTokenHash: hashToken(registrationAccessToken) };
      });
      await deps.audit({ type: 'client.updated', actor, clientId, details: { fields: [...fields], registrationTokenIssued: registrationAccessToken !== undefined } });
      return registrationAccessToken === undefined ? { client: after } : { client: after, registrationAccessToken };
    },

    async authorizeRegistration(clientId, token) {
      const client = isValidClientId(clientId) ? await cache.get(clientId) : undefined;
      if (!registrationTokenMatches(client, token) || !client) return registrationRefused(clientId);
      return client;
    },

    async updateRegistration(clientId, token, draft) {
      if (!isValidClientId(clientId)) return registrationRefused(clientId);
      const registrationAccessToken = generateSecret();
      let clientSecret: string | undefined;
      let after: Client;
      try {
        ({ after } = await updateWith(clientId, '', (current) => {
          // Checked against the very version this write replaces: a token rotated concurrently
          // fails the version check, and the retry sees the new hash and refuses.
          if (!registrationTokenMatches(current, token)) return registrationRefused(clientId);
          const patch = patchFor(current, registrationUpdateDraft(current, draft));
          // RFC 7592 §2.2: a client that now authenticates with a secret but has none gets one.
          const needsSecret = usesSecret(patch.tokenEndpointAuthMethod ?? current.tokenEndpointAuthMethod) && current.secretHash === undefined;
          clientSecret = needsSecret ? generateSecret() : undefined;
          return {
            ...patch,
            ...(clientSecret === undefined
              ? {}
              : { secretHash: hashToken(clientSecret), metadata: { ...patch.metadata, [META_SECRET_ROTATED_AT]: deps.now().toISOString() } }),
            registrationAccessTokenHash: hashToken(registrationAccessToken),
          };
        }));
      } catch (err) {
        if (err instanceof NotFound) return registrationRefused(clientId);
        throw err;
      }
      await deps.audit({
        type: 'client.updated',
        actor: `registration:${clientId}`,
        clientId,
        details: { via: 'registration_access_token', registrationTokenIssued: true, secretIssued: clientSecret !== undefined },
      });
      return { client: after, registrationAccessToken, ...(clientSecret === undefined ? {} : { clientSecret }) };
    },

    async deleteRegistration(clientId, token) {
      const current = isValidClientId(clientId) ? await deps.store.clients.get(clientId).catch((err: unknown) => {
        if (err instanceof NotFound) return undefined;
        throw err;
      }) : undefined;
      if (!registrationTokenMatches(current, token) || !current) return registrationRefused(clientId);
      try {
        await deps.store.refreshTokens.revokeByClient(clientId, deps.now());
        await deps.store.clients.delete(clientId);
      } catch (err) {
        // Deleted concurrently: the token no longer manages anything.
        if (err instanceof NotFound) return registrationRefused(clientId);
        throw err;
      }
      await cache.evict(clientId);
      await deps.audit({ type: 'client.deleted', actor: `registration:${clientId}`, clientId, details: { via: 'registration_access_token' } });
    },

    async delete(clientId, actor) {
      if (!isValidClientId(clientId)) throw new NotFound('client not found');
      await deps.store.clients.get(clientId);
      await deps.store.refreshTokens.revokeByClient(clientId, deps.now());
      await deps.store.clients.delete(clientId);
      await cache.evict(clientId);
      await deps.audit({ type: 'client.deleted', actor, clientId });
    },

    async rotateSecret(clientId, graceSeconds, actor) {
      if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_SECRET_GRACE_SECONDS) {
        throw new InvalidRequest(`previous_secret_grace_seconds must be 0 to ${MAX_SECRET_GRACE_SECONDS}`);
      }
      if (!isValidClientId(clientId)) throw new NotFound('client not found');
      const secret = generateSecret();
      const { after } = await updateWith(clientId, '', (current) => {
        if (!usesSecret(current.tokenEndpointAuthMethod)) {
          throw new InvalidRequest('the client does not authenticate with a client secret');
        }
        const now = deps.now();
        const keepPrevious = graceSeconds > 0 && current.secretHash !== undefined;
        return {
          secretHash: hashToken(secret),
          previousSecretHash: keepPrevious ? current.secretHash : null,
          previousSecretExpiresAt: keepPrevious ? new Date(now.getTime() + graceSeconds * 1000) : null,
          metadata: { ...current.metadata, [META_SECRET_ROTATED_AT]: now.toISOString() },
        };
      });
      await deps.audit({ type: 'client.secret_rotated', actor, clientId, details: { previousSecretGraceSeconds: graceSeconds } });
      return { client: after, clientSecret: secret };
    },

    async authenticate(credentials, remoteIp) {
      const failed = (clientId: string | undefined, method: string): never => authFailed(clientId, method, remoteIp);
      if (credentials === undefined) return failed(undefined, 'none');
      switch (credentials.kind) {
        case 'secret': {
          const { clientId, clientSecret, method } = credentials;
          const client = isValidClientId(clientId) && clientSecret.length <= 1024 ? await cache.get(clientId) : undefined;
          const presented = hashToken(clientSecret);
          // Both comparisons always run so known and unknown clients take the same time.
          const current = digestsEqual(presented, client?.secretHash ?? DUMMY_HASH);
          const previousValid = client?.previousSecretHash !== undefined && (client.previousSecretExpiresAt?.getTime() ?? 0) > deps.now().getTime();
          const previous = digestsEqual(presented, previousValid ? (client?.previousSecretHash ?? DUMMY_HASH) : DUMMY_HASH) && previousValid;
          if (!client || clientSecret === '' || !(current || previous)) return failed(client?.clientId, method);
          // RFC 6749 §2.3: a client uses the one authentication method it registered.
          if (client.tokenEndpointAuthMethod !== method || client.clientType === 'public') return failed(client.clientId, method);
          return client;
        }
        case 'assertion': {
          const clientId = assertionClientId(credentials);
          const client = clientId === undefined || !isValidClientId(clientId) ? undefined : await cache.get(clientId);
          // RFC 7523 §2.2: only a client registered for private_key_jwt may authenticate this way.
          if (!client || client.tokenEndpointAuthMethod !== 'private_key_jwt' || client.jwks === undefined) {
            return failed(client?.clientId, 'private_key_jwt');
          }
          try {
            await verifyClientAssertion(credentials.clientAssertion, {
              clientId: client.clientId,
              jwks: client.jwks,
              issuer: deps.config.issuer,
              jtiMap,
              now: deps.now(),
            });
          } catch (err) {
            if (err instanceof InvalidClient) return failed(client.clientId, 'private_key_jwt');
            throw err;
          }
          return client;
        }
        case 'mutual_tls': {
          const client = isValidClientId(credentials.clientId) ? await cache.get(credentials.clientId) : undefined;
          // RFC 8705 §2: no certificate, no mutual-TLS authentication.
          if (!client || credentials.certificate.length === 0) return failed(client?.clientId, 'mutual_tls');
          const method = client.tokenEndpointAuthMethod;
          // RFC 8705 §4: a public client presents a certificate only to have its tokens bound to it.
          if (method === 'none' && client.clientType === 'public') return client;
          if (method === 'tls_client_auth') {
            const expected = tlsClientAuthExpectationOf(client);
            let matches = false;
            try {
              // RFC 8705 §2.1: a certificate chaining to a trusted CA, carrying the registered subject DN or SAN.
              matches = expected !== undefined && chainIsTrusted(credentials.certificate, credentials.chain, mtlsAnchors, deps.now()) && tlsClientAuthMatches(expected, readCertificateIdentity(credentials.certificate));
            } catch (err) {
              if (!(err instanceof InvalidRequest)) throw err;
            }
            return matches ? client : failed(client.clientId, method);
          }
          // RFC 8705 §2.2: the certificate's key must be one the client registered in jwks; no chain.
          if (method === 'self_signed_tls_client_auth') {
            return selfSignedCertificateMatches(credentials.certificate, client.jwks) ? client : failed(client.clientId, method);
          }
          // RFC 6749 §2.3: a client uses the one authentication method it registered.
          return failed(client.clientId, 'mutual_tls');
        }
        case 'client_id': {
          const client = isValidClientId(credentials.clientId) ? await cache.get(credentials.clientId) : undefined;
          // RFC 6749 §2.1 / §3.2.1: only a public client (method none) may present just its id.
          if (!client || client.clientType !== 'public' || client.tokenEndpointAuthMethod !== 'none') {
            return failed(client?.clientId, 'none');
          }
          return client;
        }
      }
    },
  };
}
