// Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).
//
// Who authorizes what:
// - Registration (POST) needs an admin access token. It is forwarded as-is to the client service's
//   admin RPCs on a connection WITHOUT the mesh credential, so the client service alone decides
//   whether that token may register clients (scope authmesh.admin): the gateway never lends its
//   own authority to an HTTP caller. Every registration gets a registration access token
//   (RFC 7591 §3.2.1), generated and hashed by the client service and shown once here.
// - Management (GET/PUT/DELETE /oauth2/register/:client_id, RFC 7592 §2) accepts either an admin
//   access token (same admin RPCs as above; an admin may learn that a client does not exist: 404)
//   or the client's registration access token (RFC 7592 §3). The latter goes to the client
//   service's internal registration RPCs over the mesh connection (`peers`), with the token IN the
//   request: the client service checks it against the stored hash and acts in the same call, for
//   that client only, and limits a token-authorized PUT to RFC 7591 metadata that never widens
//   what an admin approved (client-registration.ts there). The mesh credential therefore adds
//   nothing an HTTP caller could use without a valid registration token, and the gateway holds no
//   rule and never sees a hash. A bad token and an unknown client both answer 401 invalid_token
//   (RFC 7592 §2.1).
// - Which of the two a Bearer token is, is decided by its shape only: access tokens of this issuer
//   are JWS compact JWTs (with dots), registration access tokens are 43 base64url characters
//   (without). A token sent the wrong way simply fails there as invalid_token.
// - Every successful PUT issues a new registration access token (RFC 7592 §2.2), whoever made it,
//   so the response always carries the one valid token; the previous one stops working.
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  Client as ClientMessage,
  ClientServiceService,
  ClientType,
  CreateClientRequest,
  type GrantType,
  type TokenEndpointAuthMethod,
  UpdateClientRequest,
  UpdateRegistrationRequest,
} from '../../gen/ts/authmesh/client/v1/client.js';
import { InvalidClientMetadata, InvalidRedirectUri, InvalidRequest, InvalidToken } from '../../services/core/errors/index.js';
import { authMethodName, authMethodValue, grantTypeNames, grantTypeValue } from '../../services/client/client-enums.js';
import { checkResponseTypes, parseBearer, TLS_CLIENT_AUTH_METADATA } from '../../services/core/oauth/index.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { SERVICE_FQN } from '../../services/mesh-deps.js';
import { mediaTypeOf, registerEndpoint } from '../endpoint.js';
import type { GatewayContext, RouteModule } from '../gateway.js';

/** RFC 9126 §6, RFC 9101 §10.5 and OIDC Registration §2 request_object_signing_alg (Client message fields 60-62). */
const REQUEST_POLICY_FIELDS = ['require_pushed_authorization_requests', 'require_signed_request_object', 'request_object_signing_alg'];

/** The OpenID Connect Registration 1.0 §2 fields of this server (Client message fields 22-26). */
const OIDC_REGISTERED_FIELDS = ['id_token_signed_response_alg', 'default_max_age', 'require_auth_time', 'subject_type', 'sector_identifier_uri'];

/** The RFC 7591 fields a registration may set (client_type follows from the auth method). */
/** RFC 8705 §2.1.2 and §3.4 client metadata (Client message fields 50-55). */
const MTLS_REGISTERED_FIELDS = [...TLS_CLIENT_AUTH_METADATA, 'tls_client_certificate_bound_access_tokens'];

const REGISTERED_FIELDS = [...MTLS_REGISTERED_FIELDS, 'client_name', 'client_type', 'redirect_uris', 'grant_types', 'scopes', 'token_endpoint_auth_method', 'jwks', 'client_uri', 'logo_uri', 'contacts', 'userinfo_signed_response_alg', 'post_logout_redirect_uris', 'backchannel_logout_uri', 'backchannel_logout_session_required', 'dpop_bound_access_tokens', ...OIDC_REGISTERED_FIELDS, ...REQUEST_POLICY_FIELDS];


/** OpenID Connect Registration 1.0 §2 metadata, as the Client message fields. */
interface OidcRegisteredMetadata {
  idTokenSignedResponseAlg: string;
  defaultMaxAge: number | undefined;
  requireAuthTime: boolean;
  subjectType: string;
  sectorIdentifierUri: string;
}

function parseOidcMetadata(b: Record<string, unknown>): OidcRegisteredMetadata {
  const maxAge = b.default_max_age;
  // OpenID Connect Registration §2: default_max_age is a number of seconds.
  if (maxAge !== undefined && maxAge !== null && (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 0 || maxAge > 2_147_483_647)) {
    throw new InvalidClientMetadata('default_max_age must be a non-negative whole number of seconds');
  }
  const requireAuthTime = b.require_auth_time;
  // OpenID Connect Registration §2: require_auth_time is a boolean.
  if (requireAuthTime !== undefined && requireAuthTime !== null && typeof requireAuthTime !== 'boolean') throw new InvalidClientMetadata('require_auth_time must be a boolean');
  return {
    idTokenSignedResponseAlg: stringField(b, 'id_token_signed_response_alg'),
    defaultMaxAge: typeof maxAge === 'number' ? maxAge : undefined,
    requireAuthTime: requireAuthTime === true,
    subjectType: stringField(b, 'subject_type'),
    sectorIdentifierUri: stringField(b, 'sector_identifier_uri'),
  };
}

/** RFC 7591 §2 client metadata as the Client message fields it maps to. */
interface RegisteredMetadata extends OidcRegisteredMetadata {
  clientName: string;
  redirectUris: string[];
  grantTypes: GrantType[];
  scopes: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  authMethodName: string;
  jwks: Record<string, unknown> | undefined;
  clientUri: string;
  logoUri: string;
  contacts: string[];
  /** OIDC Registration §2; '' for JSON UserInfo responses. */
  userinfoSignedResponseAlg: string;
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string;
  backchannelLogoutSessionRequired: boolean;
  /** RFC 9449 §5.2: every token request of the client must carry a DPoP proof. */
  dpopBoundAccessTokens: boolean;
  /** RFC 8705 §2.1.2: what a tls_client_auth certificate carries ('' when not set). */
  tlsClientAuthSubjectDn: string;
  tlsClientAuthSanDns: string;
  tlsClientAuthSanUri: string;
  tlsClientAuthSanIp: string;
  tlsClientAuthSanEmail: string;
  /** RFC 8705 §3.4. */
  tlsClientCertificateBoundAccessTokens: boolean;
  /** RFC 9126 §6 require_pushed_authorization_requests. */
  requirePushedAuthorizationRequests: boolean;
  /** RFC 9101 §10.5 require_signed_request_object. */
  requireSignedRequestObject: boolean;
  /** OIDC Registration §2 request_object_signing_alg; '' for the server's allow-list. */
  requestObjectSigningAlg: string;
}

/** Longest string metadata value accepted at the edge (the scope bound of the OAuth endpoints). */
const MAX_STRING_METADATA = 4096;

function stringField(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (v === undefined || v === null) return '';
  // RFC 7591 §3.2.2: a metadata value of the wrong type is invalid_client_metadata.
  if (typeof v !== 'string') throw new InvalidClientMetadata(`${name} must be a string`);
  // RFC 7591 §3.2.2: so is one too long to be a real value (the client service has tighter per-field bounds).
  if (v.length > MAX_STRING_METADATA) throw new InvalidClientMetadata(`${name} must be at most ${MAX_STRING_METADATA} characters`);
  return v;
}

function stringArray(body: Record<string, unknown>, name: string, error: new (d: string) => Error = InvalidClientMetadata): string[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string') || v.length > 100) throw new error(`${name} must be an array of strings`);
  return v as string[];
}

function booleanField(body: Record<string, unknown>, name: string): boolean {
  const v = body[name];
  if (v === undefined || v === null) return false;
  // RFC 7591 §3.2.2: a metadata value of the wrong type is invalid_client_metadata.
  if (typeof v !== 'boolean') throw new InvalidClientMetadata(`${name} must be a boolean`);
  return v;
}

function parseMetadata(body: unknown): RegisteredMetadata {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidClientMetadata('the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  // RFC 7591 §2: token_endpoint_auth_method defaults to client_secret_basic.
  const authMethodName = stringField(b, 'token_endpoint_auth_method') || 'client_secret_basic';
  const method = authMethodValue(authMethodName);
  if (method === undefined) throw new InvalidClientMetadata('token_endpoint_auth_method is not supported');
  // RFC 7591 §2: grant_types defaults to ["authorization_code"].
  const grantNames = stringArray(b, 'grant_types') ?? ['authorization_code'];
  const grantTypes = grantNames.map((g) => {
    const value = grantTypeValue(g);
    if (value === undefined) throw new InvalidClientMetadata('grant_types contains an unsupported grant type');
    return value;
  });
  // RFC 7591 §2.1: response_types must agree with grant_types (core/oauth/response-types.ts).
  checkResponseTypes(grantNames, stringArray(b, 'response_types'));
  // Keys are registered by value only: fetching a jwks_uri would make the gateway fetch URLs for strangers.
  if (b.jwks_uri !== undefined) throw new InvalidClientMetadata('jwks_uri is not supported; register the keys with jwks');
  const jwks = b.jwks;
  if (jwks !== undefined && jwks !== null && (typeof jwks !== 'object' || Array.isArray(jwks))) throw new InvalidClientMetadata('jwks must be a JWK Set object');
  const scope = stringField(b, 'scope');
  return {
    clientName: stringField(b, 'client_name'),
    redirectUris: stringArray(b, 'redirect_uris', InvalidRedirectUri) ?? [],
    grantTypes,
    // RFC 7591 §2: scope is a space-separated list.
    scopes: scope.split(' ').filter(Boolean),
    tokenEndpointAuthMethod: method,
    authMethodName,
    jwks: (jwks ?? undefined) as Record<string, unknown> | undefined,
    clientUri: stringField(b, 'client_uri'),
    logoUri: stringField(b, 'logo_uri'),
    contacts: stringArray(b, 'contacts') ?? [],
    ...parseOidcMetadata(b),
    userinfoSignedResponseAlg: stringField(b, 'userinfo_signed_response_alg'),
    // OpenID Connect RP-Initiated Logout 1.0 §3.1 and Back-Channel Logout 1.0 §2.2 client metadata.
    postLogoutRedirectUris: stringArray(b, 'post_logout_redirect_uris') ?? [],
    backchannelLogoutUri: stringField(b, 'backchannel_logout_uri'),
    backchannelLogoutSessionRequired: booleanField(b, 'backchannel_logout_session_required'),
    // RFC 9449 §5.2: dpop_bound_access_tokens is a boolean, false when omitted.
    dpopBoundAccessTokens: booleanField(b, 'dpop_bound_access_tokens'),
    // RFC 8705 §2.1.2, §3.4 client metadata; the client service checks the values.
    tlsClientAuthSubjectDn: stringField(b, 'tls_client_auth_subject_dn'),
    tlsClientAuthSanDns: stringField(b, 'tls_client_auth_san_dns'),
    tlsClientAuthSanUri: stringField(b, 'tls_client_auth_san_uri'),
    tlsClientAuthSanIp: stringField(b, 'tls_client_auth_san_ip'),
    tlsClientAuthSanEmail: stringField(b, 'tls_client_auth_san_email'),
    tlsClientCertificateBoundAccessTokens: booleanField(b, 'tls_client_certificate_bound_access_tokens'),
    // RFC 9126 §6, RFC 9101 §10.5, OIDC Registration §2 (the allow-list is the client service's).
    requirePushedAuthorizationRequests: booleanField(b, 'require_pushed_authorization_requests'),
    requireSignedRequestObject: booleanField(b, 'require_signed_request_object'),
    requestObjectSigningAlg: stringField(b, 'request_object_signing_alg'),
  };
}

/** RFC 7591 §3.2.1: the client information response (secrets only when just issued). */
function clientInformation(c: ClientMessage, issuer: string, clientSecret: string, registrationAccessToken = ''): Record<string, unknown> {
  const grantTypes: string[] = grantTypeNames(c.grantTypes);
  const out: Record<string, unknown> = {
    client_id: c.clientId,
    ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
    ...(c.createTime ? { client_id_issued_at: Math.floor(c.createTime.getTime() / 1000) } : {}),
    // RFC 7591 §3.2.1 / RFC 7592 §3: the credential for the client configuration endpoint, shown once.
    ...(registrationAccessToken ? { registration_access_token: registrationAccessToken } : {}),
    // RFC 7592 §3: where the client's registration is read, replaced and deleted.
    registration_client_uri: `${issuer}/oauth2/register/${encodeURIComponent(c.clientId)}`,
    token_endpoint_auth_method: authMethodName(c.tokenEndpointAuthMethod) ?? 'client_secret_basic',
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: [...c.redirectUris],
  };
  if (c.clientName) out.client_name = c.clientName;
  if (c.scopes.length > 0) out.scope = c.scopes.join(' ');
  if (c.clientUri) out.client_uri = c.clientUri;
  if (c.logoUri) out.logo_uri = c.logoUri;
  if (c.contacts.length > 0) out.contacts = [...c.contacts];
  if (c.postLogoutRedirectUris.length > 0) out.post_logout_redirect_uris = [...c.postLogoutRedirectUris];
  if (c.backchannelLogoutUri) {
    out.backchannel_logout_uri = c.backchannelLogoutUri;
    out.backchannel_logout_session_required = c.backchannelLogoutSessionRequired;
  }
  if (c.jwks) out.jwks = c.jwks;
  // OpenID Connect Registration §3.2: the registered values, defaults included.
  if (c.idTokenSignedResponseAlg) out.id_token_signed_response_alg = c.idTokenSignedResponseAlg;
  if (c.defaultMaxAge !== undefined) out.default_max_age = c.defaultMaxAge;
  if (c.requireAuthTime) out.require_auth_time = true;
  out.subject_type = c.subjectType || 'public';
  if (c.sectorIdentifierUri) out.sector_identifier_uri = c.sectorIdentifierUri;
  if (c.userinfoSignedResponseAlg) out.userinfo_signed_response_alg = c.userinfoSignedResponseAlg;
  // RFC 9449 §5.2: the registered value, default (false) included.
  out.dpop_bound_access_tokens = c.dpopBoundAccessTokens;
  // RFC 8705 §2.1.2, §3.4: the registered mutual-TLS metadata.
  const tls: [string, string][] = [
    ['tls_client_auth_subject_dn', c.tlsClientAuthSubjectDn],
    ['tls_client_auth_san_dns', c.tlsClientAuthSanDns],
    ['tls_client_auth_san_uri', c.tlsClientAuthSanUri],
    ['tls_client_auth_san_ip', c.tlsClientAuthSanIp],
    ['tls_client_auth_san_email', c.tlsClientAuthSanEmail],
  ];
  for (const [k, v] of tls) if (v) out[k] = v;
  if (c.tlsClientCertificateBoundAccessTokens) out.tls_client_certificate_bound_access_tokens = true;
  // RFC 9126 §6, RFC 9101 §10.5, OIDC Registration §2: the registered request policy.
  if (c.requirePushedAuthorizationRequests) out.require_pushed_authorization_requests = true;
  if (c.requireSignedRequestObject) out.require_signed_request_object = true;
  if (c.requestObjectSigningAlg) out.request_object_signing_alg = c.requestObjectSigningAlg;
  return out;
}

/** RFC 6750 §2.1: the caller's Bearer token from the Authorization header. */
function bearerOf(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (typeof header !== 'string') throw new InvalidToken('an access token with the authmesh.admin scope is required (RFC 7591 §3)');
  // This endpoint tolerates spaces after the token.
  const token = parseBearer(header.replace(/ +$/, ''));
  if (!token) throw new InvalidToken('the Authorization header is not a Bearer token');
  return token;
}

/** onRequest hook: RFC 7591 §3.1 registration requests are JSON. */
async function requireJsonBody(req: FastifyRequest): Promise<void> {
  if (req.method !== 'POST' && req.method !== 'PUT') return;
  if (mediaTypeOf(req) !== 'application/json') throw new InvalidRequest('the request body must be application/json');
}

/**
 * The Bearer token of a management request, told apart by shape (see the header comment): an
 * access token of this issuer is a JWS (RFC 7515 §7.1, dot-separated), a registration access
 * token is opaque base64url.
 */
function managementCredential(req: FastifyRequest): { kind: 'access_token' | 'registration_access_token'; token: string } {
  const token = bearerOf(req);
  return { kind: token.includes('.') ? 'access_token' : 'registration_access_token', token };
}

// RFC 7591 §3.2.1: responses carrying credentials must not be cached.
const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

export const registrationRoutes: RouteModule = ({ app, config, grpcAddress, peers }: GatewayContext) => {
  // A client of the client service with no mesh credential: only the caller's token speaks.
  const clients = createRpcClient(ClientServiceService, SERVICE_FQN.client, grpcAddress('client'));
  app.addHook('onClose', async () => clients.close());

  const toMessage = (m: RegisteredMetadata, clientId: string, clientType: ClientType) =>
    ClientMessage.fromPartial({
      clientId,
      clientName: m.clientName,
      clientType,
      redirectUris: m.redirectUris,
      grantTypes: m.grantTypes,
      scopes: m.scopes,
      tokenEndpointAuthMethod: m.tokenEndpointAuthMethod,
      jwks: m.jwks,
      clientUri: m.clientUri,
      logoUri: m.logoUri,
      contacts: m.contacts,
      idTokenSignedResponseAlg: m.idTokenSignedResponseAlg,
      defaultMaxAge: m.defaultMaxAge,
      requireAuthTime: m.requireAuthTime,
      subjectType: m.subjectType,
      sectorIdentifierUri: m.sectorIdentifierUri,
      userinfoSignedResponseAlg: m.userinfoSignedResponseAlg,
      postLogoutRedirectUris: m.postLogoutRedirectUris,
      backchannelLogoutUri: m.backchannelLogoutUri,
      backchannelLogoutSessionRequired: m.backchannelLogoutSessionRequired,
      dpopBoundAccessTokens: m.dpopBoundAccessTokens,
      tlsClientAuthSubjectDn: m.tlsClientAuthSubjectDn,
      tlsClientAuthSanDns: m.tlsClientAuthSanDns,
      tlsClientAuthSanUri: m.tlsClientAuthSanUri,
      tlsClientAuthSanIp: m.tlsClientAuthSanIp,
      tlsClientAuthSanEmail: m.tlsClientAuthSanEmail,
      tlsClientCertificateBoundAccessTokens: m.tlsClientCertificateBoundAccessTokens,
      requirePushedAuthorizationRequests: m.requirePushedAuthorizationRequests,
      requireSignedRequestObject: m.requireSignedRequestObject,
      requestObjectSigningAlg: m.requestObjectSigningAlg,
    });

  const clientIdParam = (req: FastifyRequest) => (req.params as { client_id: string }).client_id;

  registerEndpoint(app, {
    url: '/oauth2/register',
    corsOrigins: config.corsOrigins,
    onRequest: [requireJsonBody],
    handlers: {
      POST: async (req, reply) => {
        const bearer = bearerOf(req);
        const m = parseMetadata(req.body);
        // A client that does not authenticate is public (RFC 6749 §2.1); any other is confidential.
        const type = m.authMethodName === 'none' ? ClientType.CLIENT_TYPE_PUBLIC : ClientType.CLIENT_TYPE_CONFIDENTIAL;
        const res = await clients.createClient(CreateClientRequest.fromPartial({ client: toMessage(m, '', type), issueRegistrationAccessToken: true }), { bearer });
        (req as { clientId?: string }).clientId = res.client!.clientId;
        // RFC 7591 §3.2.1: 201 Created with the client information and the registration access token.
        return noStore(reply)
          .code(201)
          .type('application/json')
          .send(clientInformation(res.client!, config.issuer, res.clientSecret, res.registrationAccessToken));
      },
    },
  });

  registerEndpoint(app, {
    url: '/oauth2/register/:client_id',
    corsOrigins: config.corsOrigins,
    onRequest: [requireJsonBody],
    handlers: {
      // RFC 7592 §2.1: read the current registration.
      GET: async (req, reply) => {
        const cred = managementCredential(req);
        const clientId = clientIdParam(req);
        const client =
          cred.kind === 'access_token'
            ? (await clients.getClient({ clientId }, { bearer: cred.token })).client!
            : (await peers.client.authorizeRegistration({ clientId, registrationAccessToken: cred.token })).client!;
        return noStore(reply).type('application/json').send(clientInformation(client, config.issuer, ''));
      },
      // RFC 7592 §2.2: replace the metadata with the request's (omitted fields take their defaults).
      PUT: async (req, reply) => {
        const cred = managementCredential(req);
        const clientId = clientIdParam(req);
        const m = parseMetadata(req.body);
        // RFC 7592 §2.2: the body's client_id MUST equal the client's.
        if ((req.body as Record<string, unknown>).client_id !== clientId) throw new InvalidRequest('client_id in the body must match the client being updated');
        if (cred.kind === 'registration_access_token') {
          // The client service checks the token, derives client_type, refuses any widening and
          // rotates the token in one write; the gateway only relays the RFC 7591 fields.
          const res = await peers.client.updateRegistration(
            UpdateRegistrationRequest.fromPartial({ client: toMessage(m, clientId, ClientType.CLIENT_TYPE_UNSPECIFIED), registrationAccessToken: cred.token }),
          );
          return noStore(reply).type('application/json').send(clientInformation(res.client!, config.issuer, res.clientSecret, res.registrationAccessToken));
        }
        const bearer = cred.token;
        const current = (await clients.getClient({ clientId }, { bearer })).client!;
        // An admin's choice of trusted survives a re-registration; switching to none makes the client public.
        const type =
          m.authMethodName === 'none'
            ? ClientType.CLIENT_TYPE_PUBLIC
            : current.clientType === ClientType.CLIENT_TYPE_TRUSTED
              ? ClientType.CLIENT_TYPE_TRUSTED
              : ClientType.CLIENT_TYPE_CONFIDENTIAL;
        const updated = await clients.updateClient(
          UpdateClientRequest.fromPartial({
            client: { ...toMessage(m, clientId, type), etag: current.etag },
            updateMask: REGISTERED_FIELDS,
            // RFC 7592 §2.2: a new registration access token with every successful update.
            issueRegistrationAccessToken: true,
          }),
          { bearer },
        );
        let client = updated.client!;
        let secret = '';
        // A client that now authenticates with a secret but has none yet gets one (RFC 7592 §2.2 allows issuing a new secret).
        const secretBased = m.authMethodName === 'client_secret_basic' || m.authMethodName === 'client_secret_post';
        if (secretBased && client.secretRotateTime === undefined) {
          const rotated = await clients.rotateClientSecret({ clientId, previousSecretGraceSeconds: 0 }, { bearer });
          client = rotated.client!;
          secret = rotated.clientSecret;
        }
        return noStore(reply).type('application/json').send(clientInformation(client, config.issuer, secret, updated.registrationAccessToken));
      },
      // RFC 7592 §2.3: 204 No Content once deleted.
      DELETE: async (req, reply) => {
        const cred = managementCredential(req);
        const clientId = clientIdParam(req);
        if (cred.kind === 'access_token') await clients.deleteClient({ clientId }, { bearer: cred.token });
        else await peers.client.deleteRegistration({ clientId, registrationAccessToken: cred.token });
        return noStore(reply).code(204).send();
      },
    },
  });
};
