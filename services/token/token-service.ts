// gRPC adapter of the token endpoint: authenticates the client through the client service, then
// dispatches to the grant, introspection (RFC 7662) or revocation (RFC 7009).
import type { ClientCredentials } from '../../gen/ts/authmesh/client/v1/client.js';
import {
  DecideDeviceAuthorizationResponse,
  DeviceAuthorizationResponse,
  IntrospectTokenResponse,
  LookupDeviceAuthorizationResponse,
  RevokeTokenResponse,
  TokenResponse,
  TokenServiceService,
} from '../../gen/ts/authmesh/token/v1/token.js';
import { hasErrorCode, InvalidClient, InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from '../core/errors/index.js';
import { buildIntrospectionResponse, inactiveIntrospection, mayIntrospect, type IntrospectionResponse } from '../core/oauth/index.js';
import { ADMIN_SCOPE, auditedAddress, type CallContext, CLIENT_AUTHENTICATED, INTERNAL, registration } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { createClientAuthThrottle } from './client-auth-throttle.js';
import { toClientView, type ClientView } from './client-view.js';
import { createDeviceFlow } from './device-flow.js';
import { createDpopBinding } from './dpop-binding.js';
import { assertCertificateFromEdge, assertCertificatePolicy, presentedCertificate } from './certificate-binding.js';
import * as grants from './grants.js';
import type { TokenMinter } from './token-minter.js';
import { annotate } from '../core/telemetry/index.js';

/**
 * The RFC grant_type of each grant the Token RPC carries (RFC 6749 §4, RFC 8693 §2.1, RFC 8628 §3.4):
 * the label of authmesh_tokens_issued_total and the oauth.grant_type span attribute.
 */
const GRANT_TYPE_OF_CASE = {
  authorizationCode: 'authorization_code',
  clientCredentials: 'client_credentials',
  refreshToken: 'refresh_token',
  password: 'password',
  tokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
} as const;

export const TOKEN_SERVICE_NAME = 'authmesh.token.v1.TokenService';


/** The client_id a request presents, for throttling only (nothing is trusted from it). */
function presentedClientId(credentials: ClientCredentials): string {
  const c = credentials.credential;
  switch (c?.$case) {
    case 'clientSecret':
      return c.value.clientId;
    case 'clientAssertion':
      return c.value.clientId;
    case 'clientId':
      return c.value;
    case 'mutualTls':
      return c.value.clientId;
    default:
      return '';
  }
}

export function createTokenRpc(deps: MeshDeps, minter: TokenMinter) {
  const throttle = createClientAuthThrottle(deps.grid, deps.log, {
    perClient: deps.config.clientAuthMaxFailures,
    perSource: deps.config.clientAuthMaxFailuresPerSource,
    now: deps.now,
  });
  const dpop = createDpopBinding(deps);
  const device = createDeviceFlow(deps);

  async function authenticate(call: Pick<CallContext, 'principal'>, credentials: ClientCredentials | undefined, remoteIp: string): Promise<ClientView> {
    // RFC 6749 §2.3: every token endpoint request identifies the client.
    if (!credentials?.credential) throw new InvalidClient('client authentication is required');
    // RFC 8705 §2: a certificate authenticates only as the edge forwarded it.
    assertCertificateFromEdge(call.principal.kind === 'mesh', credentials);
    const presented = presentedClientId(credentials);
    // Refused before any credential is looked at: a flood costs neither a lookup nor an audit row.
    throttle.assertAllowed(remoteIp, presented);
    try {
      // The client service audits a failure once, with the client and this address.
      const { client } = await deps.peers.client.authenticateClient({ credentials, remoteIp });
      if (!client) throw new InvalidClient('client authentication failed');
      return toClientView(client);
    } catch (err) {
      if (hasErrorCode(err, 'invalid_client')) {
        await throttle.recordFailure(remoteIp, presented);
      }
      throw err;
    }
  }

  async function introspect(client: ClientView, token: string, hint: string): Promise<IntrospectionResponse> {
    const now = deps.now();
    const asAccess = async () => {
      try {
        const claims = await deps.verifier.verify(token);
        // RFC 7662 §4: only the token's client, a client it is addressed to, or a registered
        // protected resource learns about it; anyone else hears what an unknown token gets.
        if (!mayIntrospect({ clientId: client.clientId, registeredScopes: client.scopes }, claims, ADMIN_SCOPE)) return inactiveIntrospection();
        return buildIntrospectionResponse(claims, { tokenType: 'Bearer', now });
      } catch (err) {
        if (hasErrorCode(err, 'invalid_token')) return inactiveIntrospection();
        throw err;
      }
    };
    const asRefresh = async () => {
      if (token.length > 512) return inactiveIntrospection();
      const { active, info } = await deps.peers.refreshToken.lookupRefreshToken({ refreshToken: token });
      // Refresh tokens are described only to the client they were issued to.
      if (!active || !info || info.clientId !== client.clientId) return inactiveIntrospection();
      return buildIntrospectionResponse(
        {
          iss: deps.config.issuer,
          sub: info.userId || info.clientId,
          aud: info.audience,
          exp: Math.floor((info.expireTime?.getTime() ?? 0) / 1000),
          iat: Math.floor((info.createTime?.getTime() ?? 0) / 1000),
          jti: info.tokenId,
          client_id: info.clientId,
          scope: info.scopes.join(' '),
        },
        { tokenType: 'refresh_token', now },
      );
    };
    // RFC 7662 §2.1: the hint only orders the search; an unknown hint is ignored.
    const looksLikeJwt = token.split('.').length === 3;
    const order = hint === 'refresh_token' || (!looksLikeJwt && hint !== 'access_token') ? [asRefresh, asAccess] : [asAccess, asRefresh];
    for (const attempt of order) {
      const res = await attempt();
      if (res.active) return res;
    }
    return inactiveIntrospection();
  }

  return registration(
    TOKEN_SERVICE_NAME,
    TokenServiceService,
    {
      async token(req, call) {
        const remoteIp = auditedAddress(call, req.remoteIp);
        // RFC 8705 §2: a certificate may authenticate the client; §3: it binds the tokens either way.
        assertCertificateFromEdge(call.principal.kind === 'mesh', req.client, req.clientCertificate);
        const tls = presentedCertificate(req.client, req.clientCertificate);
        const client = await authenticate(call, tls.credentials, remoteIp);
        assertCertificatePolicy(client, tls.thumbprint);
        // RFC 9449 §5: the proof is checked (and its jti spent) before the grant consumes anything.
        const bound = await dpop.check(req.dpop, client);
        const jkt = bound.jkt;
        // RFC 9449 §6.1: every access token this request mints carries cnf.jkt.
        // RFC 8705 §3.1: and cnf.x5t#S256 when the request came with a client certificate.
        const x5t = tls.thumbprint;
        const mint =
          jkt === undefined && x5t === undefined ? minter : { ...minter, mint: (input: Parameters<TokenMinter['mint']>[0]) => minter.mint({ ...input, dpopJkt: jkt, certificateThumbprint: x5t }) };
        const ctx = { deps, minter: mint, client, remoteIp, dpopJkt: jkt, certificateThumbprint: x5t };
        const g = req.grant;
        let res: TokenResponse;
        if (g) annotate({ 'oauth.grant_type': GRANT_TYPE_OF_CASE[g.$case] });
        switch (g?.$case) {
          case 'authorizationCode':
            res = await grants.authorizationCodeGrant(ctx, g.value);
            break;
          case 'clientCredentials':
            res = await grants.clientCredentialsGrant(ctx, g.value);
            break;
          case 'refreshToken':
            res = await grants.refreshTokenGrant(ctx, g.value);
            break;
          case 'password':
            res = await grants.passwordGrant(ctx, g.value);
            break;
          case 'tokenExchange':
            res = await grants.tokenExchangeGrant(ctx, g.value);
            break;
          case 'deviceCode':
            res = await device.grant(ctx, g.value);
            break;
          default:
            // RFC 6749 §5.2: no grant (or one we do not know) is unsupported_grant_type.
            throw new UnsupportedGrantType('grant_type is missing or not supported');
        }
        deps.metrics.tokenIssued(GRANT_TYPE_OF_CASE[g.$case], client.clientType);
        // RFC 9449 §5: a bound access token is of type DPoP; §8: the nonce for the next proof.
        return TokenResponse.fromPartial({ ...res, tokenType: jkt === undefined ? 'Bearer' : 'DPoP', dpopNonce: bound.nonce });
      },

      async introspectToken(req, call) {
        const client = await authenticate(call, req.client, auditedAddress(call, req.remoteIp));
        // RFC 7662 §2.1: the caller must be authorized to introspect; public clients cannot keep
        // the credentials that would make that meaningful.
        if (client.clientType === 'public') throw new UnauthorizedClient('public clients may not introspect tokens');
        if (!req.token) throw new InvalidRequest('token is required');
        const r = await introspect(client, req.token, req.tokenTypeHint);
        if (!r.active) return IntrospectTokenResponse.fromPartial({ active: false });
        return IntrospectTokenResponse.fromPartial({
          active: true,
          scope: r.scope ?? '',
          clientId: r.client_id,
          username: r.username ?? '',
          tokenType: r.token_type ?? '',
          exp: r.exp,
          iat: r.iat,
          nbf: r.nbf ?? 0,
          sub: r.sub,
          aud: r.aud === undefined ? [] : typeof r.aud === 'string' ? [r.aud] : r.aud,
          iss: r.iss,
          jti: r.jti,
          act: r.act ? { ...r.act } : undefined,
          // RFC 9449 §6.2: the confirmation of a DPoP-bound token.
          // RFC 8705 §3.2: and the x5t#S256 of a certificate-bound one.
          cnf: r.cnf ? { jkt: r.cnf.jkt ?? '', x5tS256: r.cnf['x5t#S256'] ?? '' } : undefined,
        });
      },

      async revokeToken(req, call) {
        const client = await authenticate(call, req.client, auditedAddress(call, req.remoteIp));
        // RFC 7009 §2.1: token is REQUIRED.
        if (!req.token) throw new InvalidRequest('token is required');
        const tryRefresh = async () => {
          if (req.token.length > 512) return false;
          // One call: the refresh-token service finds the token by value, checks that it belongs
          // to this client and revokes its family, and says which family that was.
          const { revoked, familyId } = await deps.peers.refreshToken.revokeRefreshTokenValue({ refreshToken: req.token, clientId: client.clientId });
          // RFC 7009 §2.1: revoking a refresh token should also invalidate the access tokens of
          // the same grant.
          if (revoked && familyId) await minter.revokeGrant(familyId);
          return revoked;
        };
        const tryAccess = async () => {
          try {
            const claims = await deps.verifier.verify(req.token);
            // RFC 7009 §2.1: only the client the token was issued to may revoke it.
            if (claims.client_id !== client.clientId) return false;
            await deps.verifier.revoke(claims);
            await deps.audit({ type: 'token.revoked', subject: claims.sub, clientId: client.clientId, details: { jti: claims.jti } });
            return true;
          } catch (err) {
            if (hasErrorCode(err, 'invalid_token')) return false;
            throw err;
          }
        };
        const order = req.tokenTypeHint === 'access_token' ? [tryAccess, tryRefresh] : [tryRefresh, tryAccess];
        for (const attempt of order) if (await attempt()) break;
        // RFC 7009 §2.2: an invalid or unknown token is not an error: answer 200 either way.
        return RevokeTokenResponse.fromPartial({});
      },

      async deviceAuthorization(req, call) {
        const client = await authenticate(call, req.client, auditedAddress(call, req.remoteIp));
        return DeviceAuthorizationResponse.fromPartial(await device.authorize(client, req.scope, req.resource));
      },

      async lookupDeviceAuthorization(req, call) {
        const found = await device.lookup(req.userCode, auditedAddress(call, req.remoteIp), req.browserKey);
        return LookupDeviceAuthorizationResponse.fromPartial(found);
      },

      async decideDeviceAuthorization(req) {
        await device.decide({
          userCode: req.userCode,
          approve: req.approve,
          userId: req.userId,
          authTime: req.authTime,
          sessionId: req.sessionId,
          amr: req.amr,
          scopes: req.scopes,
        });
        return DecideDeviceAuthorizationResponse.fromPartial({});
      },
    },
    {
      token: CLIENT_AUTHENTICATED,
      introspectToken: CLIENT_AUTHENTICATED,
      revokeToken: CLIENT_AUTHENTICATED,
      deviceAuthorization: CLIENT_AUTHENTICATED,
      // The verification page's calls: only the gateway (the mesh credential) makes them.
      lookupDeviceAuthorization: INTERNAL,
      decideDeviceAuthorization: INTERNAL,
    },
  );
}
